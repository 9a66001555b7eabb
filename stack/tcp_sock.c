/* SPDX-License-Identifier: BSD-3-Clause */
/* Socket table: ids, 4-tuple hash, per-port bind chains, steering references, lifetime. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include "tcp_impl.h"
#include "tcp_isn.h"

struct tcp_sock *tcp_sock_alloc(struct tpa_stack *s)
{
	struct tcp_layer *tl = tcp_of(s);
	if (!tl->free_count)
		return NULL;
	struct tcp_sock *ts = stack_zalloc(s, 1, sizeof(*ts));
	if (!ts)
		return NULL;
	uint32_t id = tl->free_ids[tl->free_head];
	tl->free_head = (tl->free_head + 1) % tl->max_socks;
	tl->free_count--;
	ts->id = (int)id;
	ts->state = TPA_TCP_CLOSED;
	ts->hash_next = ts->bind_next = TCP_NO_SOCK;
	ts->listener = ts->acc_head = ts->acc_tail = ts->acc_next = ts->syn_head = TCP_NO_SOCK;
	const struct tpa_tcp_params *p = &s->cfg.tcp;
	ts->sndbuf_max = p->sndbuf;
	ts->rcvbuf_max = p->rcvbuf;
	ts->cc_algo = (uint8_t)p->cc;
	ts->ka_idle_s = p->keepalive_idle_s;
	ts->ka_intvl_s = p->keepalive_intvl_s;
	ts->ka_cnt = p->keepalive_cnt;
	tcp_rtt_init(&ts->rtt, p->rto_min_ms, p->rto_max_ms, p->rto_initial_ms);
	tcp_sack_init(&ts->scoreboard);
	ts->snd_mss = TCP_DEFAULT_MSS;
	tl->socks[id] = ts;
	tl->nsocks++;
	return ts;
}

void tcp_sock_release_buffers(struct tpa_stack *s, struct tcp_sock *ts)
{
	tcp_rxq_clear(s, &ts->rq);
	tcp_rxq_clear(s, &ts->ooo);
	stack_free(s, ts->rq.v);
	stack_free(s, ts->ooo.v);
	memset(&ts->rq, 0, sizeof(ts->rq));
	memset(&ts->ooo, 0, sizeof(ts->ooo));
	ts->ooo_bytes = 0;
	ts->rcv_queued = 0;
	stack_free(s, ts->sb.buf);
	memset(&ts->sb, 0, sizeof(ts->sb));
	tcp_rack_free(s, &ts->rack);
}

void tcp_sock_free(struct tpa_stack *s, struct tcp_sock *ts)
{
	struct tcp_layer *tl = tcp_of(s);
	tcp_timer_cancel(&tl->timers, &ts->wheel);
	if (ts->flags & TSF_HASHED)
		tcp_sock_hash_del(s, ts);
	if (ts->flags & TSF_BOUND)
		tcp_sock_bind_del(s, ts);
	if (ts->flags & TSF_STEERED)
		tcp_sock_steer(s, ts, false);
	if ((ts->flags & TSF_EPHEMERAL) && s->cfg.hooks.port_release)
		s->cfg.hooks.port_release(s->cfg.hooks.ctx, rte_be_to_cpu_16(ts->lport));
	tcp_sock_release_buffers(s, ts);
	/* Remove from the end-of-burst list. */
	if (ts->flags & TSF_IN_PENDING) {
		for (uint32_t i = 0; i < tl->npending; i++)
			if (tl->pending[i] == ts->id)
				tl->pending[i] = TCP_NO_SOCK;
	}
	tl->socks[ts->id] = NULL;
	uint32_t tail = (tl->free_head + tl->free_count) % tl->max_socks;
	tl->free_ids[tail] = (uint32_t)ts->id;
	tl->free_count++;
	tl->nsocks--;
	stack_free(s, ts);
}

void tcp_sock_hash_add(struct tpa_stack *s, struct tcp_sock *ts)
{
	struct tcp_layer *tl = tcp_of(s);
	uint32_t b = tcp_tuple_hash(tl, ts->laddr, ts->lport, ts->raddr, ts->rport);
	ts->hash_next = tl->hash[b];
	tl->hash[b] = ts->id;
	ts->flags |= TSF_HASHED;
	tcp_trace_open(s, ts);
}

void tcp_sock_hash_del(struct tpa_stack *s, struct tcp_sock *ts)
{
	struct tcp_layer *tl = tcp_of(s);
	uint32_t b = tcp_tuple_hash(tl, ts->laddr, ts->lport, ts->raddr, ts->rport);
	int *pp = &tl->hash[b];
	while (*pp != TCP_NO_SOCK) {
		if (*pp == ts->id) {
			*pp = ts->hash_next;
			break;
		}
		pp = &tl->socks[*pp]->hash_next;
	}
	ts->hash_next = TCP_NO_SOCK;
	ts->flags &= ~TSF_HASHED;
}

struct tcp_sock *tcp_sock_listener(struct tpa_stack *s, uint32_t laddr, uint16_t lport)
{
	struct tcp_layer *tl = tcp_of(s);
	struct tcp_sock *wild = NULL;
	for (int id = tl->bind_head[rte_be_to_cpu_16(lport)]; id != TCP_NO_SOCK;) {
		struct tcp_sock *ts = tl->socks[id];
		if (ts->state == TPA_TCP_LISTEN) {
			if (ts->laddr == laddr)
				return ts;
			if (ts->laddr == 0)
				wild = ts;
		}
		id = ts->bind_next;
	}
	return wild;
}

void tcp_sock_bind_add(struct tpa_stack *s, struct tcp_sock *ts)
{
	struct tcp_layer *tl = tcp_of(s);
	uint16_t p = rte_be_to_cpu_16(ts->lport);
	ts->bind_next = tl->bind_head[p];
	tl->bind_head[p] = ts->id;
	ts->flags |= TSF_BOUND;
}

void tcp_sock_bind_del(struct tpa_stack *s, struct tcp_sock *ts)
{
	struct tcp_layer *tl = tcp_of(s);
	int *pp = &tl->bind_head[rte_be_to_cpu_16(ts->lport)];
	while (*pp != TCP_NO_SOCK) {
		if (*pp == ts->id) {
			*pp = ts->bind_next;
			break;
		}
		pp = &tl->socks[*pp]->bind_next;
	}
	ts->bind_next = TCP_NO_SOCK;
	ts->flags &= ~TSF_BOUND;
}

int tcp_sock_bind_check(struct tpa_stack *s, struct tcp_sock *ts, uint32_t laddr, uint16_t lport)
{
	struct tcp_layer *tl = tcp_of(s);
	for (int id = tl->bind_head[rte_be_to_cpu_16(lport)]; id != TCP_NO_SOCK;) {
		struct tcp_sock *o = tl->socks[id];
		id = o->bind_next;
		if (o == ts)
			continue;
		if (o->laddr && laddr && o->laddr != laddr)
			continue;
		/* SO_REUSEADDR lets a new socket share the port with connections that are only
		 * finishing (TIME_WAIT or closed by their user), never with a listener. */
		if ((ts->flags & TSF_REUSEADDR) && o->state != TPA_TCP_LISTEN &&
		    (o->state == TPA_TCP_TIME_WAIT || (o->flags & TSF_USER_CLOSED)))
			continue;
		return -EADDRINUSE;
	}
	return 0;
}

int tcp_sock_pick_port(struct tpa_stack *s, struct tcp_sock *ts, uint16_t *port)
{
	const struct tpa_stack_hooks *h = &s->cfg.hooks;
	if (h->port_reserve) {
		uint16_t p = 0;
		int rc = h->port_reserve(h->ctx, s->cfg.ipv4_addr, &p);
		if (rc < 0)
			return rc;
		if (p == 0)
			return -EADDRNOTAVAIL;
		ts->flags |= TSF_EPHEMERAL;
		*port = p;
		return 0;
	}
	/* No owner to ask: take a free port of the Linux default ephemeral range ourselves. */
	struct tcp_layer *tl = tcp_of(s);
	const uint16_t lo = 32768, hi = 60999;
	for (uint32_t i = 0; i <= (uint32_t)(hi - lo); i++) {
		uint16_t p = tl->eph_next;
		tl->eph_next = tl->eph_next >= hi ? lo : tl->eph_next + 1;
		if (p < lo || p > hi)
			continue;
		if (tl->bind_head[p] == TCP_NO_SOCK && tl->steer_ref[p] == 0) {
			*port = p;
			return 0;
		}
	}
	return -EADDRNOTAVAIL;
}

void tcp_sock_steer(struct tpa_stack *s, struct tcp_sock *ts, bool on)
{
	struct tcp_layer *tl = tcp_of(s);
	uint16_t p = rte_be_to_cpu_16(ts->lport);
	const struct tpa_stack_hooks *h = &s->cfg.hooks;
	if (on) {
		if (ts->flags & TSF_STEERED)
			return;
		ts->flags |= TSF_STEERED;
		if (tl->steer_ref[p]++ == 0 && h->port_steer)
			h->port_steer(h->ctx, p, 1);
	} else {
		if (!(ts->flags & TSF_STEERED))
			return;
		ts->flags &= ~TSF_STEERED;
		if (--tl->steer_ref[p] == 0 && h->port_steer)
			h->port_steer(h->ctx, p, 0);
	}
}

bool tcp_sock_events_general_only;

uint32_t tcp_sock_events_general(const struct tcp_sock *ts)
{
	uint32_t ev = 0;
	switch (ts->state) {
	case TPA_TCP_LISTEN:
		return ts->acc_count ? TPA_EV_IN : 0;
	case TPA_TCP_SYN_SENT:
	case TPA_TCP_SYN_RECV:
		return 0;
	case TPA_TCP_CLOSED:
		/* Linux: a closed socket is HUP and writable (the write fails at once). */
		ev = TPA_EV_HUP | TPA_EV_OUT;
		if (ts->soerror)
			ev |= TPA_EV_ERR;
		if (ts->soerror || (ts->flags & (TSF_RESET | TSF_FIN_RCVD | TSF_WAS_CONNECTED)))
			ev |= TPA_EV_IN | TPA_EV_RDHUP;
		if (ts->rcv_queued)
			ev |= TPA_EV_IN;
		return ev;
	default:
		break;
	}
	if (ts->rcv_queued || (ts->flags & (TSF_FIN_RCVD | TSF_SHUT_RD)))
		ev |= TPA_EV_IN;
	if (ts->flags & (TSF_FIN_RCVD | TSF_SHUT_RD))
		ev |= TPA_EV_RDHUP;
	if (ts->soerror)
		ev |= TPA_EV_ERR;
	if (ts->flags & TSF_SHUT_WR) {
		ev |= TPA_EV_OUT;
		if (ts->flags & (TSF_FIN_RCVD | TSF_SHUT_RD))
			ev |= TPA_EV_HUP;
	} else if (tcp_sndbuf_space(ts) > 0) {
		ev |= TPA_EV_OUT;
	}
	return ev;
}

void tcp_sock_notify(struct tpa_stack *s, struct tcp_sock *ts)
{
	if (ts->flags & TSF_USER_CLOSED)
		return;
	if (tcp_of(s)->in_burst) {
		tcp_sock_mark_pending(s, ts, TSF_EV_PENDING);
		return;
	}
	tcp_sock_raise_event(s, ts);
}

void tcp_sock_state_fill(const struct tcp_sock *ts, struct tpa_sock_state *st)
{
	st->events = tcp_sock_events(ts);
	st->rcv_queued = ts->state == TPA_TCP_LISTEN ? ts->acc_count : ts->rcv_queued;
	st->snd_queued = ts->sb.len;
	st->sndbuf = ts->sndbuf_max;
}

void tcp_sock_raise_event(struct tpa_stack *s, const struct tcp_sock *ts)
{
	const struct tpa_stack_hooks *h = &s->cfg.hooks;
	if (!h->sock_event)
		return;
	struct tpa_sock_state st;
	tcp_sock_state_fill(ts, &st);
	h->sock_event(h->sock_event_ctx, ts->id, &st); /* resolved at create */
}

void tcp_sock_mark_pending(struct tpa_stack *s, struct tcp_sock *ts, uint32_t flag)
{
	struct tcp_layer *tl = tcp_of(s);
	ts->flags |= flag;
	if (ts->flags & TSF_IN_PENDING)
		return;
	ts->flags |= TSF_IN_PENDING;
	tl->pending[tl->npending++] = ts->id;
}

void tcp_set_state(struct tpa_stack *s, struct tcp_sock *ts, int state)
{
	if (state == TPA_TCP_ESTABLISHED && ts->state != TPA_TCP_ESTABLISHED)
		STAT_INC(s, tcp_conn_established);
	tcp_trace_state(s, ts, state);
	ts->state = (uint8_t)state;
}

static bool unlink_child(struct tpa_stack *s, int *head, int *tail, int id)
{
	int *pp = head;
	int prev = TCP_NO_SOCK;
	while (*pp != TCP_NO_SOCK) {
		struct tcp_sock *c = tcp_of(s)->socks[*pp];
		if (*pp == id) {
			*pp = c->acc_next;
			if (tail && *tail == id)
				*tail = prev;
			c->acc_next = TCP_NO_SOCK;
			return true;
		}
		prev = *pp;
		pp = &c->acc_next;
	}
	return false;
}

/* Remove a child from its listener's queues. */
static void detach_from_listener(struct tpa_stack *s, struct tcp_sock *ts)
{
	struct tcp_sock *l = tcp_sock_get(s, ts->listener);
	ts->listener = TCP_NO_SOCK;
	if (!l)
		return;
	if (unlink_child(s, &l->syn_head, NULL, ts->id))
		l->syn_count--;
	else if (unlink_child(s, &l->acc_head, &l->acc_tail, ts->id))
		l->acc_count--;
}

void tcp_sock_child_established(struct tpa_stack *s, struct tcp_sock *l, struct tcp_sock *c)
{
	if (unlink_child(s, &l->syn_head, NULL, c->id))
		l->syn_count--;
	c->acc_next = TCP_NO_SOCK;
	if (l->acc_tail != TCP_NO_SOCK)
		tcp_of(s)->socks[l->acc_tail]->acc_next = c->id;
	else
		l->acc_head = c->id;
	l->acc_tail = c->id;
	l->acc_count++;
}

void tcp_sock_child_add(struct tpa_stack *s, struct tcp_sock *l, struct tcp_sock *c)
{
	c->listener = l->id;
	c->acc_next = l->syn_head;
	l->syn_head = c->id;
	l->syn_count++;
}

struct tcp_sock *tcp_sock_accept_pop(struct tpa_stack *s, struct tcp_sock *l)
{
	if (l->acc_head == TCP_NO_SOCK)
		return NULL;
	struct tcp_sock *c = tcp_of(s)->socks[l->acc_head];
	unlink_child(s, &l->acc_head, &l->acc_tail, c->id);
	l->acc_count--;
	c->listener = TCP_NO_SOCK;
	c->flags |= TSF_ACCEPTED;
	return c;
}

void tcp_sock_closed(struct tpa_stack *s, struct tcp_sock *ts)
{
	struct tcp_layer *tl = tcp_of(s);
	if (ts->listener != TCP_NO_SOCK)
		detach_from_listener(s, ts);
	tcp_trace_state(s, ts, TPA_TCP_CLOSED);
	ts->state = TPA_TCP_CLOSED;
	for (int k = 0; k < TT_COUNT; k++)
		ts->tmr[k] = 0;
	tcp_timer_cancel(&tl->timers, &ts->wheel);
	if (ts->flags & TSF_HASHED)
		tcp_sock_hash_del(s, ts);
	/* The port stays bound while the user holds the socket (Linux keeps it too). */
	if (ts->flags & TSF_STEERED)
		tcp_sock_steer(s, ts, false);
	/* Unsent or unacked data can never go out now. */
	stack_free(s, ts->sb.buf);
	memset(&ts->sb, 0, sizeof(ts->sb));
	tcp_rxq_clear(s, &ts->ooo);
	ts->ooo_bytes = 0;
	if (!(ts->flags & TSF_USER_CLOSED))
		tcp_sock_notify(s, ts);
	else if (tl->in_burst) {
		tcp_sock_mark_pending(s, ts, TSF_FREE_PENDING); /* callers may still hold ts */
		tl->frees_pending = true;
	} else
		tcp_sock_free(s, ts);
}

void tcp_sock_abort(struct tpa_stack *s, struct tcp_sock *ts, int err)
{
	/* A reset after the peer's FIN reports EPIPE (Linux's tcp_reset), any other ECONNRESET. */
	if (err == ECONNRESET || err == EPIPE) {
		ts->flags |= TSF_RESET;
		STAT_INC(s, tcp_conn_reset);
	}
	if (err == ETIMEDOUT)
		STAT_INC(s, tcp_conn_timeout);
	tcp_trace_abort(s, ts, err);
	if (ts->listener != TCP_NO_SOCK && !(ts->flags & TSF_ACCEPTED)) {
		/* Still in the SYN queue: the connection simply disappears. */
		if (ts->state == TPA_TCP_SYN_RECV) {
			ts->flags |= TSF_USER_CLOSED;
			tcp_sock_closed(s, ts);
			return;
		}
		/* Already in the accept queue: it stays there, closed with its error, so accept()
		 * returns it and the first read reports the error, as on Linux. */
		int listener = ts->listener;
		ts->listener = TCP_NO_SOCK;
		if (err)
			ts->soerror = (uint8_t)err;
		tcp_sock_closed(s, ts);
		ts->listener = listener;
		return;
	}
	if (err)
		ts->soerror = (uint8_t)err;
	tcp_sock_closed(s, ts);
}

void tcp_sock_init_isn(struct tpa_stack *s, struct tcp_sock *ts)
{
	uint8_t flow[TCP_ISN_FLOW4_LEN];
	size_t n = tcp_isn_flow4(flow, ts->laddr, ts->lport, ts->raddr, ts->rport);
	ts->iss = tcp_isn(tcp_of(s)->isn_key, flow, n, s->now_ns);
	ts->ts_offset = tcp_ts_offset(tcp_of(s)->isn_key, flow, n);
	ts->recover = ts->iss;
}
