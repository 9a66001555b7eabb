/* SPDX-License-Identifier: BSD-3-Clause */
/* TCP input: validation of received segments and the RFC 9293 3.10.7 event processing, with
 * RFC 5961 (challenge ACKs, ACK validation), RFC 7323 (PAWS) and RFC 5681/6582/6675 loss
 * detection. Sending is deferred to the end of the burst (tcp_end_of_burst). */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include "checksum.h"
#include "tcp_syncookie.h"
#include "ipv4.h"
#include "tcp_impl.h"
#include "tcp_input.h"
#include "tcp_rack.h"

void tcp_input_drop(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

static void want_output(struct tpa_stack *s, struct tcp_sock *ts)
{
	tcp_sock_mark_pending(s, ts, 0);
}

static void ack_now(struct tpa_stack *s, struct tcp_sock *ts)
{
	tcp_sock_mark_pending(s, ts, TSF_ACK_NOW);
}

#define TCP_CHALLENGE_ACK_LIMIT 1000 /* per second, Linux's default */

static void challenge_ack(struct tpa_stack *s, struct tcp_sock *ts)
{
	struct tcp_layer *tl = tcp_of(s);
	if (s->now_ns - tl->challenge_epoch_ns >= 1000000000ull) {
		tl->challenge_epoch_ns = s->now_ns;
		tl->challenge_count = 0;
	}
	if (tl->challenge_count >= TCP_CHALLENGE_ACK_LIMIT)
		return;
	tl->challenge_count++;
	STAT_INC(s, tcp_challenge_ack);
	ack_now(s, ts);
}

void tcp_negotiate(struct tpa_stack *s, struct tcp_sock *ts, const struct tcp_opts *o)
{
	const struct tpa_tcp_params *p = &s->cfg.tcp;
	ts->peer_mss = o->has_mss && o->mss ? o->mss : TCP_DEFAULT_MSS;
	if (p->window_scaling && o->has_wscale) {
		ts->flags |= TSF_WS_OK;
		ts->snd_wscale = o->wscale;
	} else {
		ts->snd_wscale = 0;
		ts->rcv_wscale = 0;
	}
	if (p->sack && o->sack_ok)
		ts->flags |= TSF_SACK_OK;
	if (p->timestamps && o->has_ts) {
		ts->flags |= TSF_TS_OK;
		ts->ts_recent = o->tsval;
		ts->ts_recent_age = s->now_ns;
	}
}

/* Quick-ACK mode (RFC 1122 4.2.3.2 allows ACKing more often than every second segment): after
 * a silence longer than an RTO the peer restarts from a small congestion window (RFC 5681 4.1,
 * or its retransmission timeout collapsed it to one segment), and a delayed ACK would idle it
 * for the whole timer. Enough segments to cover half our window, at most TCP_MAX_QUICKACKS.
 * Not at connection start: measured in the simulation, acknowledging every segment of the
 * initial slow start made bulk transfers slower (a burstier ramp into the bottleneck queue). */
void tcp_enter_quickack(const struct tpa_stack *s, struct tcp_sock *ts)
{
	uint32_t mss = ts->snd_mss ? ts->snd_mss : TCP_DEFAULT_MSS;
	uint32_t n = tcp_rcv_window(ts) / (2 * mss);
	if (n < 2)
		n = 2;
	if (n > TCP_MAX_QUICKACKS)
		n = TCP_MAX_QUICKACKS;
	if (s->cfg.tcp.delack_ms && ts->quickacks < n)
		ts->quickacks = n;
}

/* Everything after the handshake completes on either side. */
void tcp_conn_established(struct tpa_stack *s, struct tcp_sock *ts)
{
	uint32_t mss = ipv4_max_l4_len(s) - TCP_HDR_LEN;
	if (ts->peer_mss && ts->peer_mss < mss)
		mss = ts->peer_mss;
	if (ts->user_mss && ts->user_mss < mss)
		mss = ts->user_mss;
	if (mss < 64)
		mss = 64;
	ts->snd_mss = mss;
	ts->flags |= TSF_WAS_CONNECTED;
	tcp_set_state(s, ts, TPA_TCP_ESTABLISHED);
	tcp_cc_init(&ts->cc, tcp_cc_by_algo((enum tpa_cc_algo)ts->cc_algo), tcp_eff_mss(s, ts),
	            s->cfg.tcp.initial_cwnd_segs);
	tcp_rtt_established(&ts->rtt, ts->syn_retransmitted);
	ts->reordering = TCP_SACK_DUPTHRESH;
	tcp_rack_init(&ts->rack, ts->snd_una);
	ts->recover = ts->snd_una;
	ts->snd_sml = ts->snd_una;
	ts->retries = 0;
	ts->tmr[TT_RTX] = 0;
	ts->last_rx_ns = s->now_ns;
	if (ts->flags & TSF_KEEPALIVE)
		tcp_timer_set(s, ts, TT_KEEPALIVE,
		              s->now_ns + (uint64_t)ts->ka_idle_s * 1000000000ull);
}

uint32_t tcp_pick_wscale(uint32_t rcvbuf)
{
	uint8_t ws = 0;
	while (ws < TCP_MAX_WSCALE && (rcvbuf >> ws) > 65535)
		ws++;
	return ws;
}

/* ---- SYN_SENT ----------------------------------------------------------------------- */

static void syn_sent_input(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m,
                           const struct ipv4_rx_meta *meta, struct seg *g)
{
	bool ack_ok = false;
	if (g->flags & TCP_ACK) {
		if (seq_leq(g->ack, ts->iss) || seq_gt(g->ack, ts->snd_max)) {
			if (!(g->flags & TCP_RST))
				tcp_send_rst_for(s, meta, &g->th, g->seglen);
			goto out;
		}
		ack_ok = true;
	}
	if (g->flags & TCP_RST) {
		if (ack_ok) {
			STAT_INC(s, tcp_rst_rx);
			tcp_sock_abort(s, ts, ECONNREFUSED);
		}
		goto out;
	}
	if (!(g->flags & TCP_SYN))
		goto out;
	ts->irs = g->seq;
	ts->rcv_nxt = g->seq + 1;
	ts->rcv_adv_edge = ts->rcv_nxt;
	tcp_negotiate(s, ts, &g->o);
	ts->snd_wl1 = g->seq;
	ts->snd_wl2 = g->ack;
	if (ack_ok) {
		ts->snd_una = g->ack;
		if (seq_lt(ts->snd_nxt, ts->snd_una))
			ts->snd_nxt = ts->snd_una;
		ts->snd_wnd = g->wnd; /* SYN: unscaled */
		ts->max_snd_wnd = ts->snd_wnd;
		/* Karn: a retransmitted SYN gives no sample. */
		if (!ts->syn_retransmitted) {
			tcp_rtt_sample(&ts->rtt, tcp_rtt_elapsed_us(s, ts->rtt_start_ns));
		}
		ts->flags &= ~TSF_RTT_TIMING;
		tcp_conn_established(s, ts);
		ack_now(s, ts);
		tcp_sock_notify(s, ts);
	} else {
		/* Simultaneous open: answer with SYN-ACK on our ISN. */
		ts->snd_wnd = g->wnd;
		ts->max_snd_wnd = ts->snd_wnd;
		ts->state = TPA_TCP_SYN_RECV;
		tcp_send_syn(s, ts, &g->o);
	}
out:
	tcp_input_drop(m);
}

/* ---- synchronized states ------------------------------------------------------------ */

static bool seq_acceptable(const struct tcp_sock *ts, const struct seg *g)
{
	uint32_t wnd = seq_gt(ts->rcv_adv_edge, ts->rcv_nxt) ? ts->rcv_adv_edge - ts->rcv_nxt : 0;
	uint32_t seq = g->seq, len = g->seglen;
	if (len == 0) {
		if (wnd == 0)
			return seq == ts->rcv_nxt;
		return seq_in_range(seq, ts->rcv_nxt, ts->rcv_nxt + wnd);
	}
	if (wnd == 0)
		return false;
	return seq_in_range(seq, ts->rcv_nxt, ts->rcv_nxt + wnd) ||
	       seq_in_range(seq + len - 1, ts->rcv_nxt, ts->rcv_nxt + wnd);
}

static void enter_time_wait(struct tpa_stack *s, struct tcp_sock *ts)
{
	tcp_set_state(s, ts, TPA_TCP_TIME_WAIT);
	ts->tmr[TT_RTX] = ts->tmr[TT_KEEPALIVE] = ts->tmr[TT_DELACK] = ts->tmr[TT_TLP] = 0;
	ts->tmr[TT_REO] = 0;
	tcp_rack_free(s, &ts->rack);
	ts->persist = false;
	tcp_timer_set(s, ts, TT_LINGER, s->now_ns + (uint64_t)s->cfg.tcp.time_wait_ms * 1000000ull);
	/* Nothing will be sent any more. */
	stack_free(s, ts->sb.buf);
	memset(&ts->sb, 0, sizeof(ts->sb));
	tcp_rxq_clear(s, &ts->ooo);
	ts->ooo_bytes = 0;
}

static void fin_acked(struct tpa_stack *s, struct tcp_sock *ts)
{
	switch (ts->state) {
	case TPA_TCP_FIN_WAIT1:
		tcp_set_state(s, ts, TPA_TCP_FIN_WAIT2);
		if (ts->flags & TSF_USER_CLOSED)
			tcp_timer_set(s, ts, TT_LINGER,
			              s->now_ns + (uint64_t)s->cfg.tcp.fin_wait2_ms * 1000000ull);
		break;
	case TPA_TCP_CLOSING:
		enter_time_wait(s, ts);
		break;
	case TPA_TCP_LAST_ACK:
		tcp_sock_closed(s, ts);
		break;
	default:
		break;
	}
}

/* An ACK that acknowledges new data (RFC 9293 3.10.7.4, RFC 5681, 6582, 6675, 8985). */
static void ack_new_data(struct tpa_stack *s, struct tcp_sock *ts, struct seg *g, bool sack)
{
	/* The hole at snd_una filled with data SACKed above it and nothing retransmitted
	 * (no recovery, probe or go-back-N after a timeout ever covered it):
	 * the network reordered (Linux's tcp_check_sack_reordering). Wait that long
	 * before calling such a hole lost. */
	if (sack && !(ts->flags & TSF_IN_RECOVERY) && !ts->tlp_sent &&
	    seq_geq(ts->snd_una, ts->recover) && !tcp_sack_empty(&ts->scoreboard))
		tcp_reordering_seen(s, ts, tcp_sack_high_sacked(&ts->scoreboard) - ts->snd_una);
	uint32_t acked = g->ack - ts->snd_una;
	uint32_t flight = ts->snd_max - ts->snd_una;
	uint32_t dend = ts->snd_una + ts->sb.len;
	bool fin_ack =
	        (ts->flags & TSF_FIN_SENT) && !(ts->flags & TSF_FIN_ACKED) && seq_gt(g->ack, dend);
	tcp_ack_take(s, ts, g->ack);
	if (fin_ack)
		ts->flags |= TSF_FIN_ACKED;
	bool dsack = false;
	if (sack)
		dsack = tcp_sack_update(&ts->scoreboard, ts->snd_una, ts->snd_max, g->o.sack,
		                        g->o.nsack)
		                .dsack;
	if (dsack)
		tcp_dsack_seen(s, ts, &g->o.sack[0]);
	tcp_recovery_eifel(s, ts, &g->o);
	if (!(ts->flags & TSF_IN_RECOVERY))
		tcp_cc_on_ack(&ts->cc, acked, flight, s->now_ns / 1000, tcp_rtt_srtt_us(&ts->rtt));
	else if (seq_geq(g->ack, ts->recover))
		tcp_exit_recovery(s, ts);
	else
		tcp_recovery_partial_ack(s, ts, acked);
	if (sack)
		tcp_recovery_after_ack(s, ts, &g->o, g->ack, true, dsack, false);
	tcp_ack_settle(s, ts);
	tcp_sock_mark_pending(s, ts, TSF_EV_PENDING);
	if (fin_ack)
		fin_acked(s, ts);
}

/* An ACK at snd_una: a duplicate ACK, or new SACK information (RFC 5681, 6675). */
static void ack_at_snd_una(struct tpa_stack *s, struct tcp_sock *ts, struct seg *g, uint32_t wnd,
                           bool sack)
{
	uint32_t newly_sacked = 0;
	bool dsack = false;
	if (sack && g->o.nsack) {
		struct tcp_sack_update_result r = tcp_sack_update(
		        &ts->scoreboard, ts->snd_una, ts->snd_max, g->o.sack, g->o.nsack);
		newly_sacked = r.newly_sacked;
		dsack = r.dsack;
		if (r.dsack)
			tcp_dsack_seen(s, ts, &g->o.sack[0]);
		if (ts->flags & TSF_IN_RECOVERY)
			tcp_check_lost_retransmit(s, ts);
	}
	/* RFC 5681 duplicate ACK: nothing new, same window, data outstanding; with SACK
	 * also any ACK that SACKs new data (RFC 6675 section 2), data-carrying or not. */
	bool classic = g->dlen == 0 && !(g->flags & (TCP_SYN | TCP_FIN)) && wnd == ts->snd_wnd;
	if ((classic || newly_sacked) && ts->snd_max != ts->snd_una) {
		ts->dupacks++;
		STAT_INC(s, tcp_dup_ack_rx);
		tcp_recovery_dupack(s, ts);
	}
	if (sack)
		tcp_recovery_after_ack(s, ts, &g->o, g->ack, false, dsack, newly_sacked != 0);
}

/* Window update (RFC 9293 3.10.7.4, SND.WL1/WL2 rule). */
static void update_snd_wnd(struct tcp_sock *ts, const struct seg *g, uint32_t wnd)
{
	if (seq_lt(ts->snd_wl1, g->seq) ||
	    (ts->snd_wl1 == g->seq && seq_leq(ts->snd_wl2, g->ack))) {
		bool opened = ts->snd_wnd == 0 && wnd > 0;
		ts->snd_wnd = wnd;
		ts->snd_wl1 = g->seq;
		ts->snd_wl2 = g->ack;
		if (wnd > ts->max_snd_wnd)
			ts->max_snd_wnd = wnd;
		if (opened)
			ts->persist_probes = 0;
		if (opened && ts->persist) {
			ts->persist = false;
			ts->tmr[TT_RTX] = 0;
			ts->probes = 0;
			tcp_rtt_reset_backoff(&ts->rtt);
		}
	}
}

/* RFC 5961 5.2 discards data whose ACK trails snd_una by more than the peer's largest window,
 * against blind injection. In a busy two-way transfer a segment the network held back a few
 * milliseconds trails by more than that (Linux's autotuned windows hide it): discarding it
 * makes a loss. Such a segment still echoes a TSval we sent within the last RTO, which a blind
 * injector would have to guess among 2^32 (the clock offset is keyed per connection): with
 * that echo, and only with data, it is taken. */
static bool stale_ack_reordered(const struct tpa_stack *s, const struct tcp_sock *ts,
                                const struct seg *g)
{
	return g->dlen && g->o.has_ts && (ts->flags & TSF_TS_OK) &&
	       tcp_ts_now(s, ts) - g->o.tsecr <= tcp_rtt_rto_us(&ts->rtt) / 1000;
}

static bool process_ack(struct tpa_stack *s, struct tcp_sock *ts, struct seg *g)
{
	/* (called for duplicates too: the window-update rule below ignores their old seq) */
	/* RFC 5961 5.2: acceptable ACKs lie in [snd_una - max_snd_wnd, snd_max]. */
	if (seq_gt(g->ack, ts->snd_max)) {
		ack_now(s, ts);
		STAT_INC(s, tcp_drop_out_of_window);
		return false;
	}
	if (seq_lt(g->ack, ts->snd_una - ts->max_snd_wnd)) {
		if (stale_ack_reordered(s, ts, g)) {
			STAT_INC(s, tcp_stale_ack_data_rx);
			return true; /* its data is taken, its ACK field is history */
		}
		ack_now(s, ts);
		STAT_INC(s, tcp_drop_out_of_window);
		return false;
	}
	uint32_t wnd = g->wnd << ts->snd_wscale;
	bool sack = (ts->flags & TSF_SACK_OK) != 0;
	if (seq_gt(g->ack, ts->snd_una))
		ack_new_data(s, ts, g, sack);
	else if (g->ack == ts->snd_una)
		ack_at_snd_una(s, ts, g, wnd, sack);
	else if (sack && g->o.nsack && tcp_sack_is_dsack(g->o.sack, g->o.nsack, g->ack)) {
		/* An ACK the network held back may still report a duplicate. */
		tcp_dsack_seen(s, ts, &g->o.sack[0]);
	}
	update_snd_wnd(ts, g, wnd);
	tcp_trace_window(s, ts);
	want_output(s, ts);
	return true;
}

/* RFC 2883: remember a duplicate so that the next ACK reports it. */
static void note_dsack(struct tcp_sock *ts, uint32_t start, uint32_t end)
{
	if (!(ts->flags & TSF_SACK_OK) || !seq_lt(start, end))
		return;
	ts->dsack_pending = true;
	ts->dsack_start = start;
	ts->dsack_end = end;
}

static void process_data(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m,
                         struct seg *g)
{
	uint32_t seq = g->seq;
	uint32_t off = g->hlen;
	uint32_t len = g->dlen;
	if (g->flags & TCP_SYN) {
		seq++;
	}
	/* Trim what we already have and what lies beyond the window. */
	if (seq_lt(seq, ts->rcv_nxt)) {
		uint32_t cut = ts->rcv_nxt - seq;
		note_dsack(ts, seq, cut >= len ? seq + len : ts->rcv_nxt);
		ack_now(s, ts); /* a duplicate is answered at once (RFC 5681 4.2) */
		if (cut >= len) {
			STAT_INC(s, tcp_dup_segment_rx);
			ack_now(s, ts);
			tcp_input_drop(m);
			return;
		}
		seq += cut;
		off += cut;
		len -= cut;
	}
	uint32_t edge = seq_gt(ts->rcv_adv_edge, ts->rcv_nxt) ? ts->rcv_adv_edge : ts->rcv_nxt;
	if (seq_gt(seq + len, edge)) {
		uint32_t over = seq + len - edge;
		len = over >= len ? 0 : len - over;
		g->flags &= (uint8_t)~TCP_FIN; /* the FIN lies beyond the window */
		if (!len) {
			ack_now(s, ts);
			tcp_input_drop(m);
			return;
		}
	}
	if (ts->flags & TSF_SHUT_RD) {
		/* Linux acknowledges and discards data after SHUT_RD. */
		if (seq == ts->rcv_nxt)
			ts->rcv_nxt += len;
		ack_now(s, ts);
		tcp_input_drop(m);
		return;
	}
	if (seq == ts->rcv_nxt) {
		bool had_ooo = ts->ooo.count != 0;
		/* After a silence longer than an RTO the peer restarts from a small window
		 * (after idle or a timeout): acknowledge at once until it has grown again.
		 */
		if (ts->last_data_rx_ns &&
		    s->now_ns - ts->last_data_rx_ns > tcp_rtt_rto_ns(&ts->rtt))
			tcp_enter_quickack(s, ts);
		ts->last_data_rx_ns = s->now_ns;
		ts->rcv_nxt += len;
		tcp_rcv_queue(s, ts, m, off, len);
		if (ts->state == TPA_TCP_CLOSED)
			return;
		if (had_ooo) {
			tcp_ooo_drain(s, ts);
			ack_now(s, ts); /* a filled hole is acknowledged at once */
		}
		ts->segs_unacked++;
		if (ts->quickacks) {
			ts->quickacks--;
			ack_now(s, ts);
		} else if (ts->segs_unacked >= 2 || s->cfg.tcp.delack_ms == 0) {
			ack_now(s, ts);
		} else
			want_output(s, ts);
		tcp_sock_mark_pending(s, ts, TSF_EV_PENDING);
		return;
	}
	/* Out of order: hold it (bounded) and send a duplicate ACK with SACK at once. */
	bool dup = false;
	STAT_INC(s, tcp_ooo_rx);
	int rc = tcp_ooo_insert(s, ts, m, seq, off, len, &dup);
	if (rc < 0) {
		if (dup) {
			STAT_INC(s, tcp_dup_segment_rx);
			note_dsack(ts, seq, seq + len);
		} else
			STAT_INC(s, tcp_drop_ooo_limit);
		tcp_input_drop(m);
	}
	g->flags &= (uint8_t)~TCP_FIN; /* processed when the data before it arrives */
	ack_now(s, ts);
}

static void process_fin(struct tpa_stack *s, struct tcp_sock *ts)
{
	ts->rcv_nxt++;
	ts->flags |= TSF_FIN_RCVD;
	ack_now(s, ts);
	switch (ts->state) {
	case TPA_TCP_SYN_RECV:
	case TPA_TCP_ESTABLISHED:
		tcp_set_state(s, ts, TPA_TCP_CLOSE_WAIT);
		break;
	case TPA_TCP_FIN_WAIT1:
		/* Our FIN not acknowledged yet (else we would be in FIN_WAIT2). */
		tcp_set_state(s, ts, TPA_TCP_CLOSING);
		break;
	case TPA_TCP_FIN_WAIT2:
		enter_time_wait(s, ts);
		break;
	case TPA_TCP_TIME_WAIT:
		/* Retransmitted FIN: restart the 2 MSL wait. */
		tcp_timer_set(s, ts, TT_LINGER,
		              s->now_ns + (uint64_t)s->cfg.tcp.time_wait_ms * 1000000ull);
		break;
	default:
		break;
	}
	tcp_sock_mark_pending(s, ts, TSF_EV_PENDING);
}

/* RFC 7323 5.3 PAWS: a segment whose timestamp is older than TS.Recent is an old duplicate,
 * except a pure ACK the network merely reordered (Linux's tcp_disordered_ack, widened to
 * old acknowledgement numbers): in sequence, no data, timestamp within one RTO of
 * TS.Recent. Its SACK blocks may report a duplicate (D-SACK) that no later ACK repeats. */
static bool paws_reject(const struct tpa_stack *s, const struct tcp_sock *ts, const struct seg *g)
{
	if (!g->o.has_ts || (g->flags & TCP_RST) ||
	    !seq_lt(g->o.tsval, ts->ts_recent - PAWS_TOLERANCE_TICKS) ||
	    s->now_ns - ts->ts_recent_age >= 24ull * 24 * 3600 * 1000000000ull)
		return false;
	bool pure = !g->dlen && !(g->flags & (TCP_SYN | TCP_FIN)) && (g->flags & TCP_ACK);
	uint32_t rto_ms = tcp_rtt_rto_us(&ts->rtt) / 1000;
	return !(pure && g->seq == ts->rcv_nxt && seq_leq(g->ack, ts->snd_una) &&
	         ts->ts_recent - g->o.tsval <= rto_ms);
}

/* SYN_RECV's two exceptions to the checks below (true: the segment was consumed). */
static bool syn_recv_exception(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m,
                               struct seg *g)
{
	/* Simultaneous open (RFC 9293 figure 7): the peer's SYN-ACK repeats its SYN's
	 * sequence number, which the window check would discard; it completes our
	 * handshake. */
	if (ts->state == TPA_TCP_SYN_RECV && ts->listener == TCP_NO_SOCK &&
	    (g->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == (TCP_SYN | TCP_ACK) &&
	    g->seq == ts->irs && g->ack == ts->iss + 1) {
		ts->snd_una = g->ack;
		ts->snd_wnd = g->wnd; /* SYN: unscaled */
		ts->max_snd_wnd = ts->snd_wnd;
		ts->snd_wl1 = g->seq;
		ts->snd_wl2 = g->ack;
		tcp_conn_established(s, ts);
		ack_now(s, ts);
		tcp_sock_notify(s, ts);
		tcp_input_drop(m);
		return true;
	}
	/* A retransmitted SYN: our SYN-ACK was lost. It lies below rcv_nxt, so the checks
	 * below would only ACK it, which a peer in SYN_SENT ignores, and the handshake
	 * would wait for our own SYN-ACK timer. Answer it with the SYN-ACK again. Karn: no
	 * RTT sample from the handshake now. */
	if (ts->state == TPA_TCP_SYN_RECV && ts->listener != TCP_NO_SOCK &&
	    (g->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN && g->seq == ts->irs) {
		ts->tmr[TT_RTX] = 0;
		ts->syn_retransmitted = true;
		tcp_send_syn(s, ts, &g->o);
		tcp_input_drop(m);
		return true;
	}
	return false;
}

/* PAWS, the sequence check, RST, SYN and ACK presence (RFC 9293 3.10.7.4 first to fifth,
 * RFC 5961, RFC 7323): true when the segment was consumed here. */
static bool refused_or_reset(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m,
                             struct seg *g)
{
	bool ts_ok = (ts->flags & TSF_TS_OK) != 0;
	if (ts_ok && paws_reject(s, ts, g)) {
		STAT_INC(s, tcp_drop_paws);
		/* An old duplicate is reported as one (RFC 2883), as any other. */
		if (g->dlen && seq_lt(g->seq, ts->rcv_nxt))
			note_dsack(ts, g->seq,
			           seq_lt(g->seq + g->dlen, ts->rcv_nxt) ? g->seq + g->dlen
			                                                 : ts->rcv_nxt);
		ack_now(s, ts);
		tcp_input_drop(m);
		return true;
	}
	/* Sequence check. */
	if (!seq_acceptable(ts, g)) {
		if (!(g->flags & TCP_RST)) {
			bool old = seq_lt(g->seq + g->seglen, ts->rcv_nxt) ||
			           (g->seglen && seq_leq(g->seq + g->seglen, ts->rcv_nxt));
			ack_now(s, ts);
			if (!old) {
				STAT_INC(s, tcp_drop_out_of_window);
				tcp_input_drop(m);
				return true;
			}
			STAT_INC(s, tcp_dup_segment_rx);
			note_dsack(ts, g->seq, g->seq + g->dlen);
			/* An old duplicate still carries a current ACK (the peer
			 * retransmits from a rewound snd_nxt): use it, as BSD does, so both
			 * ends progress. */
			if ((g->flags & (TCP_ACK | TCP_SYN)) == TCP_ACK &&
			    ts->state != TPA_TCP_SYN_RECV && ts->state != TPA_TCP_TIME_WAIT)
				process_ack(s, ts, g);
		} else {
			STAT_INC(s, tcp_drop_out_of_window);
		}
		tcp_input_drop(m);
		return true;
	}
	/* RFC 5961 3.2: only an exact RST resets; an in-window one gets a challenge ACK. */
	if (g->flags & TCP_RST) {
		if (g->seq == ts->rcv_nxt) {
			STAT_INC(s, tcp_rst_rx);
			tcp_input_drop(m);
			if (ts->state == TPA_TCP_TIME_WAIT || ts->state == TPA_TCP_LAST_ACK ||
			    ts->state == TPA_TCP_CLOSING) {
				tcp_sock_closed(s, ts);
				return true;
			}
			int err = ECONNRESET;
			if (ts->state == TPA_TCP_SYN_RECV && ts->listener == TCP_NO_SOCK &&
			    !(ts->flags & TSF_ACCEPTED))
				err = ECONNREFUSED;
			else if (ts->state == TPA_TCP_CLOSE_WAIT)
				err = EPIPE;
			tcp_sock_abort(s, ts, err);
			return true;
		}
		challenge_ack(s, ts);
		tcp_input_drop(m);
		return true;
	}
	/* RFC 5961 4.2: a SYN in a synchronized state gets a challenge ACK. */
	if (g->flags & TCP_SYN) {
		challenge_ack(s, ts);
		tcp_input_drop(m);
		return true;
	}
	if (!(g->flags & TCP_ACK)) {
		tcp_input_drop(m);
		return true;
	}
	return false;
}

/* The ACK that completes a passive (or simultaneous) open: true when it was refused. */
static bool syn_recv_ack(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m,
                         struct seg *g)
{
	if (!seq_gt(g->ack, ts->snd_una) || seq_gt(g->ack, ts->snd_max)) {
		struct ipv4_rx_meta meta = {.src_be = ts->raddr, .dst_be = ts->laddr};
		tcp_send_rst_for(s, &meta, &g->th, g->seglen);
		tcp_input_drop(m);
		return true;
	}
	struct tcp_sock *l = tcp_sock_get(s, ts->listener);
	if (l && l->acc_count >= (uint32_t)l->backlog) {
		/* Accept queue full: act as if the ACK was lost (Linux does the same);
		 * the SYN-ACK retransmission gives the peer another chance. */
		STAT_INC(s, tcp_accept_queue_overflow);
		tcp_input_drop(m);
		return true;
	}
	ts->snd_una = g->ack;
	ts->snd_wnd = g->wnd << ts->snd_wscale;
	ts->max_snd_wnd = ts->snd_wnd;
	ts->snd_wl1 = g->seq;
	ts->snd_wl2 = g->ack;
	if (!ts->syn_retransmitted) {
		tcp_rtt_sample(&ts->rtt, tcp_rtt_elapsed_us(s, ts->rtt_start_ns));
	}
	tcp_conn_established(s, ts);
	if (l) {
		tcp_sock_child_established(s, l, ts);
		tcp_sock_mark_pending(s, l, TSF_EV_PENDING);
	} else {
		tcp_sock_notify(s, ts); /* simultaneous open */
	}
	return false;
}

/* Timestamps, data and FIN of an acceptable segment (RFC 9293 3.10.7.4 sixth to eighth). */
static void take_text(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m, struct seg *g)
{
	bool ts_ok = (ts->flags & TSF_TS_OK) != 0;
	/* RFC 7323 4.3: remember the peer's timestamp for our echoes. */
	if (ts_ok && g->o.has_ts && seq_leq(g->seq, ts->last_ack_sent) &&
	    seq_geq(g->o.tsval, ts->ts_recent)) {
		ts->ts_recent = g->o.tsval;
		ts->ts_recent_age = s->now_ns;
	}
	bool fin = (g->flags & TCP_FIN) != 0;
	if (g->dlen) {
		switch (ts->state) {
		case TPA_TCP_ESTABLISHED:
		case TPA_TCP_FIN_WAIT1:
		case TPA_TCP_FIN_WAIT2:
			if (ts->flags & TSF_USER_CLOSED) {
				/* Nobody will read it: abort like Linux. */
				tcp_input_drop(m);
				tcp_send_rst(s, ts);
				tcp_sock_closed(s, ts);
				return;
			}
			process_data(s, ts, m, g);
			fin = (g->flags & TCP_FIN) != 0;
			m = NULL;
			if (ts->state == TPA_TCP_CLOSED)
				return;
			break;
		default:
			break; /* after the peer's FIN: ignore */
		}
	}
	if (m)
		tcp_input_drop(m);
	if (fin) {
		uint32_t fin_seq = g->seq + g->dlen;
		if (fin_seq == ts->rcv_nxt && !(ts->flags & TSF_FIN_RCVD))
			process_fin(s, ts);
		/* (a FIN after a hole: a duplicate ACK at once, RFC 5681 4.2) */
		else if (ts->state == TPA_TCP_TIME_WAIT || (ts->flags & TSF_FIN_RCVD) ||
		         seq_gt(fin_seq, ts->rcv_nxt))
			ack_now(s, ts);
	}
}

void tcp_established_input(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m,
                           struct seg *g)
{
	if (syn_recv_exception(s, ts, m, g) || refused_or_reset(s, ts, m, g))
		return;
	ts->last_rx_ns = s->now_ns;
	ts->probes = 0;
	if (ts->state == TPA_TCP_SYN_RECV && syn_recv_ack(s, ts, m, g))
		return;
	if (!process_ack(s, ts, g)) {
		tcp_input_drop(m);
		return;
	}
	if (ts->state == TPA_TCP_CLOSED) {
		tcp_input_drop(m);
		return;
	}
	take_text(s, ts, m, g);
}

/* A SYN for a TIME_WAIT connection may open a new incarnation (RFC 9293 3.10.7.4, RFC 6191)
 * when it is clearly newer than the old one. */
static bool time_wait_reusable(const struct tcp_sock *ts, const struct seg *g)
{
	if ((g->flags & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_SYN)
		return false;
	if ((ts->flags & TSF_TS_OK) && g->o.has_ts)
		return seq_gt(g->o.tsval, ts->ts_recent);
	return seq_gt(g->seq, ts->rcv_nxt);
}

/*
 * A full checksum must verify. On a virtual port a local sender may have left the checksum
 * to "hardware" that never ran (CHECKSUM_PARTIAL): the field then holds exactly the folded
 * pseudo-header sum, uncomplemented, which is what the kernel itself trusts from a local
 * peer. The pseudo header covers the addresses and the length, so a frame misdelivered or
 * truncated on the way still fails.
 */
static bool cksum_valid(struct tpa_stack *s, const struct rte_mbuf *m,
                        const struct ipv4_rx_meta *meta, uint32_t len, uint16_t field)
{
	uint32_t ph = tpa_csum_pseudo_ipv4(meta->src_be, meta->dst_be, IPPROTO_TCP, (uint16_t)len);
	/* The pseudo-header comparison first: on such a port nearly every segment is partial and
	 * the full sum (~170 instructions for a small request) would only fail. What is accepted
	 * is the same either way; a full checksum that equals the pseudo-header sum (the rest of
	 * the segment summing to zero) is merely counted as partial. */
	uint16_t pseudo_sum = (uint16_t)~tpa_csum_fold(ph);
	if (meta->l4_partial_ok && field == pseudo_sum) {
		STAT_INC(s, tcp_rx_csum_partial);
		return true;
	}
	if (tpa_csum_fold(tpa_csum_mbuf(m, 0, len, ph)) == 0)
		return true;
	STAT_INC(s, tcp_drop_cksum);
	return false;
}

static int parse(struct tpa_stack *s, struct rte_mbuf *m, const struct ipv4_rx_meta *meta,
                 struct seg *g)
{
	uint32_t len = m->pkt_len;
	if (len < TCP_HDR_LEN) {
		STAT_INC(s, tcp_drop_short);
		return -1;
	}
	uint8_t hdr[TCP_HDR_LEN + TCP_MAX_OPT_LEN];
	const uint8_t *h = rte_pktmbuf_read(m, 0, TCP_HDR_LEN, hdr);
	if (!h) {
		STAT_INC(s, tcp_drop_short);
		return -1;
	}
	memcpy(&g->th, h, TCP_HDR_LEN);
	g->hlen = (uint32_t)(g->th.off >> 4) * 4;
	if (g->hlen < TCP_HDR_LEN || g->hlen > len) {
		STAT_INC(s, tcp_drop_bad_offset);
		return -1;
	}
	if (!meta->l4_cksum_ok && !cksum_valid(s, m, meta, len, g->th.cksum))
		return -1;
	g->flags = g->th.flags & 0x3f;
	uint8_t f = g->flags;
	if (tcp_flags_refused(f)) {
		STAT_INC(s, tcp_drop_bad_flags);
		return -1;
	}
	if (g->hlen > TCP_HDR_LEN) {
		const uint8_t *o =
		        rte_pktmbuf_read(m, TCP_HDR_LEN, g->hlen - TCP_HDR_LEN, hdr + TCP_HDR_LEN);
		if (!o ||
		    tcp_options_parse(o, g->hlen - TCP_HDR_LEN, (f & TCP_SYN) != 0, &g->o) < 0) {
			STAT_INC(s, tcp_drop_bad_option);
			return -1;
		}
	} else {
		memset(&g->o, 0, sizeof(g->o));
	}
	g->seq = rte_be_to_cpu_32(g->th.seq);
	g->ack = rte_be_to_cpu_32(g->th.ack);
	g->wnd = rte_be_to_cpu_16(g->th.win);
	g->dlen = len - g->hlen;
	g->seglen = g->dlen + ((f & TCP_SYN) ? 1 : 0) + ((f & TCP_FIN) ? 1 : 0);
	g->tw_reuse = false;
	return 0;
}

void tcp_input_segment(struct tpa_stack *s, struct rte_mbuf *m, const struct ipv4_rx_meta *meta)
{
	struct seg g;
	STAT_INC(s, tcp_rx);
	if (parse(s, m, meta, &g) < 0) {
		tcp_input_drop(m);
		return;
	}
	struct tcp_sock *ts =
	        tcp_sock_lookup(s, meta->dst_be, g.th.dport, meta->src_be, g.th.sport);
	if (ts && ts->state == TPA_TCP_ESTABLISHED && tcp_fast_input(s, ts, m, &g))
		return;
	if (ts && ts->state == TPA_TCP_TIME_WAIT && time_wait_reusable(ts, &g)) {
		struct tcp_sock *l = tcp_sock_listener(s, meta->dst_be, g.th.dport);
		if (l) {
			g.tw_reuse = true;
			g.tw_snd_max = ts->snd_max;
			tcp_sock_closed(s, ts);
			tcp_listen_input(s, l, m, meta, &g);
			return;
		}
	}
	if (!ts) {
		struct tcp_sock *l = tcp_sock_listener(s, meta->dst_be, g.th.dport);
		if (l) {
			tcp_listen_input(s, l, m, meta, &g);
			return;
		}
		STAT_INC(s, tcp_drop_no_socket);
		tcp_send_rst_for(s, meta, &g.th, g.seglen);
		tcp_input_drop(m);
		return;
	}
	switch (ts->state) {
	case TPA_TCP_SYN_SENT:
		syn_sent_input(s, ts, m, meta, &g);
		return;
	case TPA_TCP_CLOSED:
	case TPA_TCP_LISTEN:
		STAT_INC(s, tcp_drop_no_socket);
		tcp_send_rst_for(s, meta, &g.th, g.seglen);
		tcp_input_drop(m);
		return;
	default:
		tcp_established_input(s, ts, m, &g);
		return;
	}
}
