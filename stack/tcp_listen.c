/* SPDX-License-Identifier: BSD-3-Clause */
/* TCP input in LISTEN (RFC 9293 3.10.7.2): a SYN makes a child in SYN_RECV with the listener's
 * options, or, with the SYN queue full, a SYN cookie (RFC 4987) and nothing kept; an ACK that
 * carries a valid cookie makes the established child; the accept queue bounds both. */
#include <rte_mbuf.h>

#include "ipv4.h"
#include "tcp_impl.h"
#include "tcp_input.h"
#include "tcp_syncookie.h"

/* A child of listener l for the flow of g, in SYN_RECV, with the listener's options. */
static struct tcp_sock *new_child(struct tpa_stack *s, struct tcp_sock *l,
                                  const struct ipv4_rx_meta *meta, const struct seg *g,
                                  const struct tcp_opts *o)
{
	struct tcp_sock *c = tcp_sock_alloc(s);
	if (!c)
		return NULL;
	c->laddr = meta->dst_be;
	c->raddr = meta->src_be;
	c->lport = g->th.dport;
	c->rport = g->th.sport;
	c->flags |= l->flags & (TSF_NODELAY | TSF_KEEPALIVE);
	c->sndbuf_max = l->sndbuf_max;
	c->rcvbuf_max = l->rcvbuf_max;
	c->user_mss = l->user_mss;
	c->cc_algo = l->cc_algo;
	c->ka_idle_s = l->ka_idle_s;
	c->ka_intvl_s = l->ka_intvl_s;
	c->ka_cnt = l->ka_cnt;
	c->user_timeout_ms = l->user_timeout_ms;
	c->rcv_wscale = (uint8_t)tcp_pick_wscale(c->rcvbuf_max);
	tcp_negotiate(s, c, o);
	tcp_sock_init_isn(s, c);
	/* RFC 1122 4.2.2.13: a connection reopened from TIME-WAIT starts above every sequence
	 * number the old one used, past a full unscaled window of it (as Linux does), whatever
	 * the RFC 6528 clock has advanced since. */
	if (g->tw_reuse && !seq_gt(c->iss, g->tw_snd_max + 65535)) {
		c->iss = g->tw_snd_max + 65536;
		c->recover = c->iss;
	}
	c->state = TPA_TCP_SYN_RECV;
	return c;
}

/* SYN queue full: answer with a SYN cookie (RFC 4987) and keep nothing. The SYN-ACK is built
 * on a scratch socket that never enters the table. */
static void send_syncookie(struct tpa_stack *s, struct tcp_sock *l, const struct ipv4_rx_meta *meta,
                           const struct seg *g)
{
	struct tcp_opts peer = g->o;
	if (!peer.has_ts) {
		/* Nowhere to keep them: a peer without timestamps gets neither (as with Linux). */
		peer.has_wscale = false;
		peer.sack_ok = false;
	}
	struct tcp_sock c;
	memset(&c, 0, sizeof(c));
	c.laddr = meta->dst_be;
	c.raddr = meta->src_be;
	c.lport = g->th.dport;
	c.rport = g->th.sport;
	c.rcvbuf_max = l->rcvbuf_max;
	c.user_mss = l->user_mss;
	c.rcv_wscale = (uint8_t)tcp_pick_wscale(c.rcvbuf_max);
	tcp_negotiate(s, &c, &peer);
	tcp_sock_init_isn(s, &c);
	uint16_t mss;
	c.iss = tcp_syncookie_make(tcp_of(s)->isn_key, c.laddr, c.lport, c.raddr, c.rport, g->seq,
	                           peer.has_mss ? peer.mss : 0, s->now_ns, &mss);
	/* The MSS we announce caps the peer's segments; the cookie remembers the peer's. */
	c.irs = g->seq;
	c.rcv_nxt = g->seq + 1;
	c.state = TPA_TCP_SYN_RECV;
	uint32_t ts_now = tcp_ts_now(s, &c);
	/* The peer's window scale: ours follows from the listener's buffer again. */
	uint32_t tsval = tcp_syncookie_tsval(
	        ts_now, (c.flags & TSF_WS_OK) ? c.snd_wscale : SYNCOOKIE_NO_WSCALE,
	        (c.flags & TSF_SACK_OK) != 0);
	c.ts_offset += tsval - ts_now;
	l->syncookie_until_ns = s->now_ns + TCP_SYNCOOKIE_LIFETIME_NS;
	STAT_INC(s, tcp_syncookies_sent);
	tcp_send_synack_stateless(s, &c, &peer);
}

/* An ACK to a listener: the third segment of a cookie handshake? Rebuild the connection from
 * the cookie and let the ACK (and any data on it) complete it. */
static bool syncookie_complete(struct tpa_stack *s, struct tcp_sock *l, struct rte_mbuf *m,
                               const struct ipv4_rx_meta *meta, struct seg *g)
{
	if (!s->cfg.tcp.syncookies || s->now_ns >= l->syncookie_until_ns ||
	    (g->flags & (TCP_SYN | TCP_RST)))
		return false;
	uint16_t mss;
	if (!tcp_syncookie_check(tcp_of(s)->isn_key, meta->dst_be, g->th.dport, meta->src_be,
	                         g->th.sport, g->seq - 1, g->ack - 1, s->now_ns, &mss)) {
		STAT_INC(s, tcp_syncookies_failed);
		return false;
	}
	if (l->acc_count >= (uint32_t)l->backlog) {
		STAT_INC(s, tcp_accept_queue_overflow);
		tcp_input_drop(m);
		return true; /* the peer retransmits; its data waits */
	}
	struct tcp_opts o = {.has_mss = true, .mss = mss};
	if (g->o.has_ts) {
		o.has_ts = true;
		o.tsval = g->o.tsval;
		uint8_t ws;
		bool sack;
		tcp_syncookie_ts_decode(g->o.tsecr, &ws, &sack);
		o.has_wscale = ws != SYNCOOKIE_NO_WSCALE && ws <= TCP_MAX_WSCALE;
		o.wscale = ws;
		o.sack_ok = sack;
	}
	struct tcp_sock *c = new_child(s, l, meta, g, &o);
	if (!c) {
		STAT_INC(s, tcp_drop_nomem);
		tcp_input_drop(m);
		return true;
	}
	if (!(c->flags & TSF_WS_OK))
		c->rcv_wscale = 0;
	c->irs = g->seq - 1;
	c->rcv_nxt = g->seq;
	c->iss = g->ack - 1;
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = g->ack;
	c->recover = c->iss;
	c->snd_wl1 = c->irs;
	c->snd_wl2 = c->iss;
	/* What the cookie SYN-ACK advertised (unscaled, as in every SYN). */
	c->rcv_adv_edge = c->rcv_nxt + (c->rcvbuf_max > 65535 ? 65535 : c->rcvbuf_max);
	c->syn_retransmitted = true; /* the SYN-ACK's send time is unknown: no RTT sample */
	tcp_sock_hash_add(s, c);
	tcp_sock_steer(s, c, true);
	tcp_sock_child_add(s, l, c);
	STAT_INC(s, tcp_syncookies_ok);
	tcp_established_input(s, c, m, g);
	return true;
}

void tcp_listen_input(struct tpa_stack *s, struct tcp_sock *l, struct rte_mbuf *m,
                      const struct ipv4_rx_meta *meta, struct seg *g)
{
	if (g->flags & TCP_RST)
		goto out;
	if (g->flags & TCP_ACK) {
		if (syncookie_complete(s, l, m, meta, g))
			return;
		/* While cookies are out, an ACK that fails the check may still belong to one:
		 * a client whose first segments were dropped (accept queue full) goes on with
		 * later ones, whose sequence numbers no longer name the cookie. A reset would
		 * kill it; silence lets it retransmit from its first byte, which does. */
		if (s->cfg.tcp.syncookies && s->now_ns < l->syncookie_until_ns &&
		    !(g->flags & TCP_RST))
			goto out;
		tcp_send_rst_for(s, meta, &g->th, g->seglen);
		goto out;
	}
	if (!(g->flags & TCP_SYN))
		goto out;
	if (l->acc_count >= (uint32_t)l->backlog) {
		STAT_INC(s, tcp_accept_queue_overflow);
		goto out;
	}
	if (l->syn_count >= (uint32_t)l->backlog) {
		STAT_INC(s, tcp_syn_queue_overflow);
		if (s->cfg.tcp.syncookies)
			send_syncookie(s, l, meta, g);
		goto out;
	}
	struct tcp_sock *c = new_child(s, l, meta, g, &g->o);
	if (!c) {
		STAT_INC(s, tcp_drop_nomem);
		goto out;
	}
	c->irs = g->seq;
	c->rcv_nxt = g->seq + 1;
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->snd_wnd = g->wnd; /* never scaled in a SYN */
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = g->seq;
	c->snd_wl2 = c->iss;
	tcp_sock_hash_add(s, c);
	tcp_sock_steer(s, c, true);
	tcp_sock_child_add(s, l, c);
	tcp_send_syn(s, c, &g->o);
out:
	tcp_input_drop(m);
}
