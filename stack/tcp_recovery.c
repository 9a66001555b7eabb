/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loss recovery on the ACK path: when fast recovery starts (RACK's time rule on SACK
 * connections, RFC 8985; the duplicate-ACK count otherwise, RFC 5681/6582/6675), partial ACKs,
 * lost retransmissions, and the undo of a spurious recovery (RFC 3708): when D-SACKs (RFC 2883)
 * name every retransmission, or sooner by the echoed timestamp (Eifel, RFC 3522).
 * tcp_input.c calls in here; retransmissions themselves go out from tcp_output.c.
 */
#include "tcp_impl.h"
#include "tcp_rack.h"

static void mark_rxt(struct tcp_sock *ts, uint32_t una)
{
	ts->rxt_una = una;
	ts->rxt_mark = ts->snd_max;
	ts->rxt_marked = true;
}

void tcp_enter_recovery(struct tpa_stack *s, struct tcp_sock *ts)
{
	uint32_t flight = ts->snd_max - ts->snd_una;
	ts->recover = ts->snd_max;
	ts->high_rxt = ts->snd_una;
	ts->rescue_valid = false;
	ts->flags |= TSF_IN_RECOVERY;
	ts->tmr[TT_TLP] = 0;
	bool sack = (ts->flags & TSF_SACK_OK) != 0;
	/* Undo needs the receiver to report duplicates: SACK with D-SACK. */
	ts->undo_valid = sack;
	ts->undo_n = 0;
	ts->undo_marker = ts->snd_una;
	ts->undo_cwnd = ts->cc.cwnd;
	ts->undo_ssthresh = ts->cc.ssthresh;
	tcp_cc_enter_recovery(&ts->cc, flight, s->now_ns / 1000, sack);
	tcp_trace_recovery(s, ts, tcp_rack_on(ts) ? TPA_TRACE_CAUSE_RACK : TPA_TRACE_CAUSE_FAST);
	STAT_INC(s, tcp_fast_retransmit);
	uint32_t mss = tcp_eff_mss(s, ts);
	if (tcp_rack_on(ts)) {
		/* The first segment RACK marked lost goes now (RFC 6675 4.3), the rest with the
		 * output pass as the pipe allows. */
		uint32_t seq, len;
		if (tcp_rack_next_lost(ts, mss, &seq, &len) &&
		    tcp_send_segment(s, ts, seq, len, true) == 0)
			ts->high_rxt = seq + len;
		tcp_sock_mark_pending(s, ts, 0);
		tcp_arm_rtx(s, ts);
		return;
	}
	uint32_t len = mss;
	if (sack)
		len = tcp_sack_unsacked_len(&ts->scoreboard, ts->snd_una, ts->snd_una + mss);
	if (!len)
		len = mss;
	uint32_t out = ts->snd_max - ts->snd_una;
	if (len > out)
		len = out;
	if (tcp_send_segment(s, ts, ts->snd_una, len, true) == 0)
		ts->high_rxt = ts->snd_una + len;
	mark_rxt(ts, ts->snd_una);
	tcp_arm_rtx(s, ts);
}

void tcp_exit_recovery(struct tpa_stack *s, struct tcp_sock *ts)
{
	ts->flags &= ~TSF_IN_RECOVERY;
	ts->rxt_marked = false;
	tcp_cc_exit_recovery(&ts->cc, ts->snd_max - ts->snd_una, s->now_ns / 1000);
	tcp_trace_event(s, ts, TPA_TRACE_RECOVERY_END);
	tcp_rack_exit_recovery(ts);
}

/* SACK recovery without RACK: the first hole's retransmission was lost if data sent after it
 * is SACKed while the hole is still there. Send it again rather than wait for the RTO. (With
 * RACK the retransmission's own time tells.) */
void tcp_check_lost_retransmit(struct tpa_stack *s, struct tcp_sock *ts)
{
	if (tcp_rack_on(ts) || !ts->rxt_marked || ts->snd_una != ts->rxt_una ||
	    tcp_sack_empty(&ts->scoreboard) ||
	    !seq_gt(tcp_sack_high_sacked(&ts->scoreboard), ts->rxt_mark))
		return;
	uint32_t mss = tcp_eff_mss(s, ts);
	uint32_t len = tcp_sack_unsacked_len(&ts->scoreboard, ts->snd_una, ts->snd_una + mss);
	if (!len)
		return;
	if (tcp_send_segment(s, ts, ts->snd_una, len, true) == 0) {
		ts->rxt_mark = ts->snd_max;
		if (seq_lt(ts->high_rxt, ts->snd_una + len))
			ts->high_rxt = ts->snd_una + len;
	}
}

/* A partial ACK in recovery (acked bytes, still below the recovery point). */
void tcp_recovery_partial_ack(struct tpa_stack *s, struct tcp_sock *ts, uint32_t acked)
{
	bool sack = (ts->flags & TSF_SACK_OK) != 0;
	tcp_cc_on_partial_ack(&ts->cc, acked);
	if (!sack) {
		/* RFC 6582: retransmit the next hole right away. */
		uint32_t len = tcp_eff_mss(s, ts);
		if (len > ts->snd_max - ts->snd_una)
			len = ts->snd_max - ts->snd_una;
		tcp_send_segment(s, ts, ts->snd_una, len, true);
		return;
	}
	/* The hole now at snd_una was retransmitted already (it lies below high_rxt): watch
	 * that retransmission from here on. */
	if (seq_lt(ts->snd_una, ts->high_rxt) && ts->rxt_una != ts->snd_una)
		mark_rxt(ts, ts->snd_una);
	tcp_check_lost_retransmit(s, ts);
}

/* Reordering of `bytes` was observed: allow for it (never lower, at most the cap). */
void tcp_reordering_seen(struct tpa_stack *s, struct tcp_sock *ts, uint32_t bytes)
{
	uint32_t segs = bytes / tcp_eff_mss(s, ts) + 1;
	if (segs > TCP_MAX_REORDERING)
		segs = TCP_MAX_REORDERING;
	if (segs > ts->reordering) {
		ts->reordering = (uint16_t)segs;
		STAT_INC(s, tcp_reordering_seen);
	}
}

/* The last recovery was spurious: give the window back and allow for `dist` bytes of
 * reordering (at least half as much again as before, at most TCP_MAX_REORDERING segments). */
static void undo(struct tpa_stack *s, struct tcp_sock *ts, uint32_t dist)
{
	ts->undo_valid = false;
	ts->undo_n = 0;
	ts->rack.reordering_seen = true;
	STAT_INC(s, tcp_spurious_rtx_undone);
	uint32_t mss = tcp_eff_mss(s, ts);
	uint32_t grown = (uint32_t)(ts->reordering + ts->reordering / 2) * mss;
	tcp_reordering_seen(s, ts, dist > grown ? dist : grown);
	tcp_cc_undo(&ts->cc, ts->undo_cwnd, ts->undo_ssthresh);
	tcp_trace_event(s, ts, TPA_TRACE_UNDO);
	if (ts->flags & TSF_IN_RECOVERY) {
		ts->flags &= ~TSF_IN_RECOVERY;
		ts->rxt_marked = false;
		ts->recover = ts->snd_una;
	}
}

/*
 * A D-SACK (RFC 2883) reports data that arrived twice. When it covers data the last fast
 * recovery retransmitted, one of those retransmissions was unneeded; when all of them were
 * (RFC 3708), the "loss" was reordering: give the window back and wait longer before calling
 * a hole lost (as Linux raises tp->reordering): by how far the D-SACKed data trailed the
 * highest SACKed byte, at least by half, at most TCP_MAX_REORDERING segments. RACK widens its
 * reordering window on any D-SACK (RFC 8985 6.2).
 */
void tcp_dsack_seen(struct tpa_stack *s, struct tcp_sock *ts, const struct tcp_sack_block *b)
{
	STAT_INC(s, tcp_dsack_rx);
	tcp_rack_on_dsack(ts);
	/* Duplicates from before the episode (a go-back-N after a timeout resends what the
	 * receiver had) say nothing about its retransmissions. */
	if (!ts->undo_valid || !ts->undo_n || seq_lt(b->start, ts->undo_marker))
		return;
	uint8_t i = 0;
	while (i < ts->undo_n &&
	       !(seq_geq(ts->undo_rtx[i], b->start) && seq_lt(ts->undo_rtx[i], b->end)))
		i++;
	if (i == ts->undo_n)
		return;                  /* not one of ours: a duplicate the network made */
	ts->rack.reordering_seen = true; /* a retransmission proven unneeded: reordering */
	ts->undo_rtx[i] = ts->undo_rtx[--ts->undo_n];
	if (ts->undo_n)
		return;
	uint32_t high_sacked = tcp_sack_empty(&ts->scoreboard)
	                               ? ts->snd_una
	                               : tcp_sack_high_sacked(&ts->scoreboard);
	undo(s, ts, seq_gt(high_sacked, b->start) ? high_sacked - b->start : 0);
}

/*
 * Eifel detection (RFC 3522) with timestamps, in a recovery: every segment it retransmitted is
 * now acknowledged, and the ACK echoes a TSval older than the first retransmission: the
 * originals arrived, the retransmissions were not needed. Undone at once, an RTT before their
 * D-SACKs would tell (as Linux's tcp_packet_delayed). Only in recovery: the receiver holds
 * out-of-order data then and acknowledges every segment at once, so its TS.Recent is the
 * TSval of what filled the hole (a delayed ACK after a tail loss would echo an older one).
 * Timestamps tick in milliseconds: a retransmission within the original's tick proves
 * nothing and is never undone this way.
 */
void tcp_recovery_eifel(struct tpa_stack *s, struct tcp_sock *ts, const struct tcp_opts *o)
{
	if (!(ts->flags & TSF_IN_RECOVERY) || !ts->undo_valid || !ts->undo_n ||
	    !(ts->flags & TSF_TS_OK) || !o->has_ts || !o->tsecr ||
	    !seq_lt(o->tsecr, ts->undo_tsval))
		return;
	for (uint8_t i = 0; i < ts->undo_n; i++)
		if (!seq_lt(ts->undo_rtx[i], ts->snd_una))
			return;
	STAT_INC(s, tcp_spurious_rtx_eifel);
	undo(s, ts, ts->snd_una - ts->undo_marker);
}

/* A duplicate ACK (or one SACKing new data) without RACK: enough of them, a lost hole or a
 * SACKed tail loss probe start fast recovery. */
void tcp_recovery_dupack(struct tpa_stack *s, struct tcp_sock *ts)
{
	bool sack = (ts->flags & TSF_SACK_OK) != 0;
	if (ts->flags & TSF_IN_RECOVERY) {
		if (!sack)
			tcp_cc_on_dupack(&ts->cc);
		return;
	}
	if (tcp_rack_on(ts))
		return; /* RACK decides after the ACK (tcp_recovery_after_ack) */
	uint32_t mss = tcp_eff_mss(s, ts);
	bool lost =
	        sack && tcp_sack_is_lost(&ts->scoreboard, ts->snd_una, mss, tcp_dupthresh(s, ts));
	/* The tail loss probe came back SACKed: what precedes it is lost (RFC 8985 7.4). */
	bool probe_sacked = sack && ts->tlp_sent && !tcp_sack_empty(&ts->scoreboard) &&
	                    seq_geq(tcp_sack_high_sacked(&ts->scoreboard), ts->snd_max);
	/* RFC 6582 3.2 step 1: no new recovery for duplicates of the old episode (after an RTO,
	 * recover = snd_max then), unless fresh SACK information proves a new loss. */
	bool new_episode = seq_gt(ts->snd_una, ts->recover) ||
	                   (ts->snd_una == ts->recover && ts->recover == ts->iss + 1) || lost ||
	                   probe_sacked;
	if ((ts->dupacks >= tcp_dupthresh(s, ts) || lost || probe_sacked) && new_episode)
		tcp_enter_recovery(s, ts);
}

/* RACK found a loss (on an ACK or when its timer fired): recovery starts unless it is on, or
 * the sender is still resending everything after a timeout. */
void tcp_recovery_on_loss(struct tpa_stack *s, struct tcp_sock *ts)
{
	if (!(ts->flags & TSF_IN_RECOVERY) && ts->snd_nxt == ts->snd_max)
		tcp_enter_recovery(s, ts);
	tcp_sock_mark_pending(s, ts, 0);
}

/* Every ACK of a SACK connection ends here: RACK's deliveries, the probe's outcome, the loss
 * rule. dsack: the ACK's first block was a D-SACK. */
void tcp_recovery_after_ack(struct tpa_stack *s, struct tcp_sock *ts, const struct tcp_opts *o,
                            uint32_t ack, bool advanced, bool dsack, bool new_sack)
{
	if (!tcp_rack_on(ts))
		return;
	unsigned first = dsack ? 1 : 0;
	tcp_rack_on_ack(s, ts, o->sack + first, o->nsack - first, o->has_ts ? o->tsecr : 0);
	bool dsack_probe = dsack && ts->rack.tlp_on && seq_lt(o->sack[0].start, ts->rack.tlp_end) &&
	                   seq_geq(o->sack[0].end, ts->rack.tlp_end);
	tcp_tlp_on_ack(s, ts, ack, advanced, dsack_probe, new_sack);
	if (ts->snd_una == ts->snd_max) {
		ts->tmr[TT_REO] = 0;
		return;
	}
	if (tcp_rack_detect_loss(s, ts))
		tcp_recovery_on_loss(s, ts);
}
