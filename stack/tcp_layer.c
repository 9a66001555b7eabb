/* SPDX-License-Identifier: BSD-3-Clause */
/* The TCP layer as the rest of the stack sees it: creation, segment entry, end-of-burst work
 * (coalesced ACKs, output, readiness hooks, deferred frees) and timers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "ipv4.h"
#include "tcp_impl.h"
#include "tcp_rack.h"
#include "tcp_sack.h"
#include "tcp_layer.h"

int tcp_layer_create(struct tpa_stack *s)
{
	struct tcp_layer *tl = stack_zalloc(s, 1, sizeof(*tl));
	if (!tl)
		return -ENOMEM;
	uint32_t n = s->cfg.max_sockets;
	uint32_t hsize = 1024;
	while (hsize < n && hsize < (1u << 24))
		hsize <<= 1;
	tl->s = s;
	tl->max_socks = n;
	uint32_t room = rte_pktmbuf_data_room_size(s->cfg.pool);
	s->seg_room = room > RTE_PKTMBUF_HEADROOM + TCP_HDR_LEN + TCP_MAX_OPT_LEN
	                      ? room - RTE_PKTMBUF_HEADROOM - TCP_HDR_LEN - TCP_MAX_OPT_LEN
	                      : 64;
	tl->socks = stack_zalloc(s, n, sizeof(*tl->socks));
	tl->free_ids = stack_alloc(s, sizeof(*tl->free_ids) * n);
	tl->hash = stack_alloc(s, sizeof(*tl->hash) * hsize);
	tl->pending = stack_alloc(s, sizeof(*tl->pending) * ((size_t)n * 2 + 64));
	if (!tl->socks || !tl->free_ids || !tl->hash || !tl->pending) {
		stack_free(s, tl->socks);
		stack_free(s, tl->free_ids);
		stack_free(s, tl->hash);
		stack_free(s, tl->pending);
		stack_free(s, tl);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++)
		tl->free_ids[i] = i;
	tl->free_count = n;
	/* Every byte 0xff makes every entry TCP_NO_SOCK: one memset instead of a loop over the
	 * 64K ports (a quarter of each fuzz execution, which creates a stack per input). */
	_Static_assert(TCP_NO_SOCK == -1, "empty table entries are all ones");
	memset(tl->hash, 0xff, sizeof(*tl->hash) * hsize);
	tl->hash_mask = hsize - 1;
	memset(tl->bind_head, 0xff, sizeof(tl->bind_head));
	memcpy(tl->isn_key, s->cfg.isn_key, sizeof(tl->isn_key));
	tl->eph_next = (uint16_t)(32768 + (tl->isn_key[0] << 8 | tl->isn_key[1]) % 28232);
	tcp_wheel_init(&tl->timers, stack_now(s));
	s->tcp = tl;
	return 0;
}

void tcp_layer_destroy(struct tpa_stack *s)
{
	struct tcp_layer *tl = tcp_of(s);
	if (!tl)
		return;
	/* Free everything without telling anyone (no packets, no hooks). */
	for (uint32_t i = 0; i < tl->max_socks; i++) {
		struct tcp_sock *ts = tl->socks[i];
		if (!ts)
			continue;
		tcp_sock_release_buffers(s, ts);
		stack_free(s, ts);
	}
	stack_free(s, tl->socks);
	stack_free(s, tl->free_ids);
	stack_free(s, tl->hash);
	stack_free(s, tl->pending);
	stack_free(s, tl);
	s->tcp = NULL;
}

void tcp_input(struct tpa_stack *s, struct rte_mbuf *m, const struct ipv4_rx_meta *meta)
{
	tcp_of(s)->in_burst = true;
	tcp_input_segment(s, m, meta);
}

static bool synchronized(const struct tcp_sock *ts)
{
	return ts->state != TPA_TCP_CLOSED && ts->state != TPA_TCP_LISTEN &&
	       ts->state != TPA_TCP_SYN_SENT;
}

/* False when tcp_output would find nothing to do: established, every byte queued already
 * sent, no FIN, no recovery, no ACK forced. That is the usual case at the end of a receive
 * burst (a request arrived; its reply is not written yet), and the call costs ~100
 * instructions per request. */
static bool output_may_send(const struct tcp_sock *ts)
{
	return ts->state != TPA_TCP_ESTABLISHED || ts->snd_nxt != ts->snd_una + ts->sb.len ||
	       (ts->flags & (TSF_SHUT_WR | TSF_IN_RECOVERY | TSF_ACK_NOW));
}

void tcp_end_of_burst(struct tpa_stack *s)
{
	struct tcp_layer *tl = tcp_of(s);
	/* Every entry is the id of a socket that was live when it was marked. */
	for (uint32_t i = 0; i < tl->npending; i++) {
		struct tcp_sock *ts = tl->socks[tl->pending[i]];
		if (!ts || !(ts->flags & TSF_IN_PENDING) || (ts->flags & TSF_FREE_PENDING))
			continue;
		uint32_t f = ts->flags;
		ts->flags &= ~(TSF_IN_PENDING | TSF_EV_PENDING);
		if (output_may_send(ts))
			tcp_output(s, ts);
		if (synchronized(ts) && ts->state != TPA_TCP_SYN_RECV) {
			if ((ts->flags & TSF_ACK_NOW) ||
			    (ts->rcv_nxt != ts->last_ack_sent && s->cfg.tcp.delack_ms == 0))
				tcp_send_ack(s, ts);
			else if (ts->rcv_nxt != ts->last_ack_sent && !ts->tmr[TT_DELACK])
				tcp_timer_set(s, ts, TT_DELACK,
				              s->now_ns +
				                      (uint64_t)s->cfg.tcp.delack_ms * 1000000ull);
		} else if ((ts->flags & TSF_ACK_NOW) && ts->state == TPA_TCP_SYN_RECV) {
			tcp_send_ack(s, ts);
		}
		ts->flags &= ~TSF_ACK_NOW;
		if ((f & TSF_EV_PENDING) && !(ts->flags & TSF_USER_CLOSED))
			tcp_sock_raise_event(s, ts);
	}
	/* Frees last: earlier entries may have referred to these sockets (the list is walked
	 * again only when the burst closed one). */
	for (uint32_t i = 0; tl->frees_pending && i < tl->npending; i++) {
		struct tcp_sock *ts = tcp_sock_get(s, tl->pending[i]);
		if (ts && (ts->flags & TSF_FREE_PENDING)) {
			ts->flags &= ~(TSF_IN_PENDING | TSF_FREE_PENDING);
			tcp_sock_free(s, ts);
		}
	}
	tl->npending = 0;
	tl->frees_pending = false;
	tl->in_burst = false;
}

static void rto_fired(struct tpa_stack *s, struct tcp_sock *ts)
{
	const struct tpa_tcp_params *p = &s->cfg.tcp;
	if (ts->persist) {
		/* Zero-window probe; the peer answering keeps the connection alive. */
		/* A peer that keeps answering keeps a connection alive, but not one nobody
		 * will ever use again (Linux kills such orphans too). */
		if ((ts->flags & TSF_USER_CLOSED) && ++ts->persist_probes > p->data_retries) {
			tcp_send_rst(s, ts);
			tcp_sock_abort(s, ts, ETIMEDOUT);
			return;
		}
		tcp_rtt_on_timeout(&ts->rtt);
		if (ts->snd_wnd) {
			/* The window is open: a local failure stopped the send, so send again (a
			 * new failure re-arms the timer, backed off). */
			ts->persist = false;
			tcp_output(s, ts);
			return;
		}
		STAT_INC(s, tcp_zero_window_probe);
		tcp_send_probe(s, ts);
		tcp_arm_rtx(s, ts);
		return;
	}
	if (ts->state == TPA_TCP_SYN_SENT || ts->state == TPA_TCP_SYN_RECV) {
		uint32_t max = ts->state == TPA_TCP_SYN_SENT ? p->syn_retries : p->synack_retries;
		if (ts->retries >= max) {
			tcp_sock_abort(s, ts, ETIMEDOUT);
			return;
		}
		ts->retries++;
		ts->syn_retransmitted = true;
		STAT_INC(s, tcp_retransmit);
		tcp_rtt_on_timeout(&ts->rtt);
		tcp_trace_rto(s, ts, true);
		tcp_arm_rtx(s, ts);
		tcp_send_syn(s, ts, NULL);
		return;
	}
	if (ts->snd_una == ts->snd_max)
		return;
	if (!ts->first_rto_ns)
		ts->first_rto_ns = s->now_ns;
	bool too_long = ts->user_timeout_ms &&
	                s->now_ns - ts->first_rto_ns >= (uint64_t)ts->user_timeout_ms * 1000000ull;
	if (ts->retries >= p->data_retries || too_long) {
		tcp_sock_abort(s, ts, ETIMEDOUT);
		return;
	}
	STAT_INC(s, tcp_rto_timeout);
	tcp_cc_on_rto(&ts->cc, ts->snd_max - ts->snd_una, s->now_ns / 1000, ts->retries > 0);
	ts->retries++;
	tcp_rtt_on_timeout(&ts->rtt);
	tcp_trace_rto(s, ts, false);
	ts->flags &= ~(TSF_IN_RECOVERY | TSF_RTT_TIMING);
	ts->undo_valid = false;
	/* A timeout means loss went unseen: whatever reordering we allowed for may have hidden
	 * it (Linux resets tp->reordering the same way). */
	ts->reordering = TCP_SACK_DUPTHRESH;
	ts->tmr[TT_TLP] = 0;
	ts->tlp_sent = true; /* no probe while backing off */
	ts->recover = ts->snd_max;
	ts->dupacks = 0;
	tcp_sack_clear(&ts->scoreboard);
	tcp_rack_on_rto(ts);
	/* Go back N: everything from snd_una is sent again as the window allows. */
	ts->snd_nxt = ts->snd_una;
	uint32_t len = tcp_eff_mss(s, ts);
	uint32_t out = ts->snd_max - ts->snd_una;
	if (len > out)
		len = out;
	tcp_arm_rtx(s, ts);
	if (tcp_send_segment(s, ts, ts->snd_una, len, true) == 0)
		ts->snd_nxt = ts->snd_una + len;
}

static void keepalive_fired(struct tpa_stack *s, struct tcp_sock *ts)
{
	if (!(ts->flags & TSF_KEEPALIVE) ||
	    (ts->state != TPA_TCP_ESTABLISHED && ts->state != TPA_TCP_CLOSE_WAIT))
		return;
	uint64_t idle = (uint64_t)ts->ka_idle_s * 1000000000ull;
	uint64_t intvl = (uint64_t)ts->ka_intvl_s * 1000000000ull;
	if (ts->snd_una != ts->snd_max || ts->sb.len) {
		/* Data in flight: the retransmission timer watches the peer. */
		tcp_timer_set(s, ts, TT_KEEPALIVE, s->now_ns + idle);
		return;
	}
	if (s->now_ns - ts->last_rx_ns < idle) {
		tcp_timer_set(s, ts, TT_KEEPALIVE, ts->last_rx_ns + idle);
		return;
	}
	if (ts->probes >= ts->ka_cnt) {
		tcp_sock_abort(s, ts, ETIMEDOUT);
		return;
	}
	ts->probes++;
	STAT_INC(s, tcp_keepalive_probe);
	tcp_send_probe(s, ts);
	tcp_timer_set(s, ts, TT_KEEPALIVE, s->now_ns + (intvl ? intvl : 1000000000ull));
}

void tcp_sock_timer_fire(struct tpa_stack *s, struct tcp_sock *ts)
{
	uint64_t now = s->now_ns;
	int id = ts->id;
	for (int k = 0; k < TT_COUNT; k++) {
		if (!ts->tmr[k] || ts->tmr[k] > now)
			continue;
		ts->tmr[k] = 0;
		switch (k) {
		case TT_RTX:
			rto_fired(s, ts);
			break;
		case TT_DELACK:
			if (ts->rcv_nxt != ts->last_ack_sent && synchronized(ts))
				tcp_send_ack(s, ts);
			break;
		case TT_KEEPALIVE:
			keepalive_fired(s, ts);
			break;
		case TT_LINGER:
			tcp_sock_closed(s, ts);
			break;
		case TT_REO:
			if (synchronized(ts)) {
				tcp_rack_timer(s, ts);
				tcp_output(s, ts);
			}
			break;
		case TT_TLP:
			if (synchronized(ts) && !(ts->flags & TSF_IN_RECOVERY) && !ts->persist) {
				tcp_trace_tlp(s, ts);
				tcp_send_tlp(s, ts);
			}
			break;
		}
		/* The socket may be gone now. */
		if (tcp_sock_get(s, id) != ts || ts->state == TPA_TCP_CLOSED)
			return;
	}
	uint64_t next = 0;
	for (int k = 0; k < TT_COUNT; k++)
		if (ts->tmr[k] && (!next || ts->tmr[k] < next))
			next = ts->tmr[k];
	if (next)
		tcp_timer_arm(&tcp_of(s)->timers, &ts->wheel, next);
}

void tcp_run_timers(struct tpa_stack *s)
{
	struct tcp_layer *tl = tcp_of(s);
	struct tcp_timer *t;
	while ((t = tcp_wheel_expired(&tl->timers, s->now_ns)) != NULL) {
		struct tcp_sock *ts =
		        (struct tcp_sock *)((char *)t - offsetof(struct tcp_sock, wheel));
		tcp_sock_timer_fire(s, ts);
	}
}

uint64_t tcp_next_timer_ns(const struct tpa_stack *s)
{
	return tcp_wheel_next(&tcp_of(s)->timers);
}

uint32_t tcp_socket_count(const struct tpa_stack *s)
{
	return tcp_of(s)->nsocks;
}

uint32_t tcp_mbufs_held(const struct tpa_stack *s)
{
	return tcp_of(s)->mbufs_held;
}
