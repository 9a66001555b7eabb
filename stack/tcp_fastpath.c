/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Header prediction (the fast path of FreeBSD's tcp_input, after Van Jacobson): the segment an
 * established connection usually receives, in-order data or an ACK, or both (a request that
 * acknowledges the previous reply), is taken here without the general validation and event
 * machinery of tcp_input.c.
 *
 * Contract: tcp_fast_input takes a segment only when every condition below holds, and then
 * leaves the connection, the counters, the end-of-burst work and what is sent exactly as
 * tcp_established_input would (tests/unit/test_tcp_fastpath.c runs both and compares). It does
 * the same steps in the same order, minus those the conditions make no-ops; anything else
 * returns false with nothing touched. The conditions:
 *   - ESTABLISHED; ACK set, PSH allowed, no SYN, FIN, RST or URG; SEG.SEQ == RCV.NXT;
 *   - not in recovery, no FIN sent or received, not closed by the user, no SHUT_RD;
 *   - no SACK blocks; the peer's window unchanged (no window update to judge);
 *   - timestamps as negotiated, the TSval not old enough for PAWS to look at it;
 *   - the ACK in [SND.UNA, SND.MAX]: new data acknowledged with an empty scoreboard, or
 *     nothing new acknowledged and either data carried or nothing outstanding (a duplicate
 *     ACK counts for recovery: general path);
 *   - data, if any, wholly inside the advertised window, no out-of-order data held.
 */
#include <rte_mbuf.h>

#include "tcp_impl.h"
#include "tcp_input.h"
#include "tcp_rack.h"

bool tcp_fastpath_off;

static bool predicted(const struct tcp_sock *ts, const struct seg *g)
{
	const uint32_t off =
	        TSF_IN_RECOVERY | TSF_FIN_SENT | TSF_FIN_RCVD | TSF_USER_CLOSED | TSF_SHUT_RD;
	if ((g->flags & ~TCP_PSH) != TCP_ACK || g->seq != ts->rcv_nxt || (ts->flags & off) ||
	    g->o.nsack || (g->wnd << ts->snd_wscale) != ts->snd_wnd)
		return false;
	if (ts->flags & TSF_TS_OK) {
		if (!g->o.has_ts || seq_lt(g->o.tsval, ts->ts_recent - PAWS_TOLERANCE_TICKS))
			return false;
	} else if (g->o.has_ts) {
		return false;
	}
	/* The ACK in [SND.UNA, SND.MAX] as one unsigned comparison (the flight is below 2^31);
	 * such an ACK is never below the general path's SND.UNA - MAX.SND.WND either (flight and
	 * window together stay below 2^31). */
	if (g->ack - ts->snd_una > ts->snd_max - ts->snd_una)
		return false;
	if (g->ack == ts->snd_una) {
		if (!g->dlen && ts->snd_max != ts->snd_una)
			return false;
	} else if (!tcp_sack_empty(&ts->scoreboard)) {
		return false;
	}
	if (g->dlen && (ts->ooo.count || !seq_gt(ts->rcv_adv_edge, ts->rcv_nxt) ||
	                g->dlen > ts->rcv_adv_edge - ts->rcv_nxt))
		return false;
	return true;
}

/* New data acknowledged: ack_new_data with an empty scoreboard, out of recovery, no FIN (its
 * mark for the event is the caller's). */
static void ack_advance(struct tpa_stack *s, struct tcp_sock *ts, const struct seg *g, bool sack)
{
	uint32_t acked = g->ack - ts->snd_una;
	uint32_t flight = ts->snd_max - ts->snd_una;
	tcp_ack_take(s, ts, g->ack);
	if (!tcp_cc_ack_idle(&ts->cc, acked, flight))
		tcp_cc_on_ack(&ts->cc, acked, flight, s->now_ns / 1000, tcp_rtt_srtt_us(&ts->rtt));
	if (sack) {
		if (tcp_rack_all_acked_one(&ts->rack, ts->snd_una, ts->snd_max, s->now_ns))
			ts->tmr[TT_REO] = 0;
		else
			tcp_rack_after_plain_ack(s, ts, g->ack, true, g->o.has_ts ? g->o.tsecr : 0);
	}
	tcp_ack_settle(s, ts);
}

/* In-order data inside the window: process_data's in-order branch. The general path marks
 * the segment's gathered marks (mark) before queueing the data and the data's own (the ACK and
 * the event) after; queueing marks no other socket, so one mark after it leaves the same flags
 * and the same pending list (unless the queueing closed the connection: then only the first). */
static void take_data(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m,
                      const struct seg *g, uint32_t mark)
{
	if (ts->last_data_rx_ns && s->now_ns - ts->last_data_rx_ns > tcp_rtt_rto_ns(&ts->rtt))
		tcp_enter_quickack(s, ts);
	ts->last_data_rx_ns = s->now_ns;
	ts->rcv_nxt += g->dlen;
	tcp_rcv_queue(s, ts, m, g->hlen, g->dlen);
	if (ts->state == TPA_TCP_CLOSED) {
		tcp_sock_mark_pending(s, ts, mark);
		return;
	}
	ts->segs_unacked++;
	mark |= TSF_EV_PENDING;
	if (ts->quickacks) {
		ts->quickacks--;
		mark |= TSF_ACK_NOW;
	} else if (ts->segs_unacked >= 2 || s->cfg.tcp.delack_ms == 0) {
		mark |= TSF_ACK_NOW;
	}
	tcp_sock_mark_pending(s, ts, mark);
}

bool tcp_fast_input(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m, struct seg *g)
{
	if (tcp_fastpath_off || !predicted(ts, g))
		return false;
	STAT_INC(s, tcp_rx_fast);
	ts->last_rx_ns = s->now_ns;
	ts->probes = 0;
	bool sack = (ts->flags & TSF_SACK_OK) != 0;
	uint32_t mark = 0;
	if (g->ack != ts->snd_una) {
		ack_advance(s, ts, g, sack);
		mark = TSF_EV_PENDING;
	} else if (sack) {
		tcp_rack_after_plain_ack(s, ts, g->ack, false, g->o.has_ts ? g->o.tsecr : 0);
	}
	/* The window-update rule with the window unchanged: only its sequence marks move. */
	if (seq_lt(ts->snd_wl1, g->seq) ||
	    (ts->snd_wl1 == g->seq && seq_leq(ts->snd_wl2, g->ack))) {
		uint32_t wnd = g->wnd << ts->snd_wscale;
		ts->snd_wl1 = g->seq;
		ts->snd_wl2 = g->ack;
		if (wnd > ts->max_snd_wnd)
			ts->max_snd_wnd = wnd;
	}
	tcp_trace_window(s, ts);
	if (ts->state == TPA_TCP_CLOSED) {
		tcp_sock_mark_pending(s, ts, mark);
		tcp_input_drop(m);
		return true;
	}
	if ((ts->flags & TSF_TS_OK) && seq_leq(g->seq, ts->last_ack_sent) &&
	    seq_geq(g->o.tsval, ts->ts_recent)) {
		ts->ts_recent = g->o.tsval;
		ts->ts_recent_age = s->now_ns;
	}
	/* (the ACK cannot have moved the state: no FIN was sent) */
	if (g->dlen) {
		take_data(s, ts, m, g, mark);
	} else {
		tcp_sock_mark_pending(s, ts, mark);
		tcp_input_drop(m);
	}
	return true;
}
