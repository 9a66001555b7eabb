/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stack's side of tpa trace (tpa/trace.h: the layout and the contract). Each event site
 * is one call here; with no area attached, or for a connection without a ring, the call is one
 * load and a branch, and an event is one record of plain stores: no formatting, no allocation.
 */
#ifndef TPA_TCP_TRACE_H
#define TPA_TCP_TRACE_H

#include "tcp_impl.h"
#include "tpa/trace.h"

/* The connection enters the table: give it a ring (tcp_sock_hash_add). */
void tcp_trace_open(struct tpa_stack *s, struct tcp_sock *ts);
/* One record on ts's ring (ts->trace not NULL). */
void tcp_trace_put(const struct tpa_stack *s, struct tpa_trace_ring *r, uint8_t type, uint8_t a8,
                   uint16_t a16, uint32_t v0, uint32_t v1, uint32_t v2, uint32_t v3);

static inline void tcp_trace_state(const struct tpa_stack *s, const struct tcp_sock *ts, int state)
{
	if (ts->trace && state != ts->state)
		tcp_trace_put(s, ts->trace, TPA_TRACE_STATE, (uint8_t)state, ts->state, ts->snd_una,
		              ts->snd_nxt, ts->rcv_nxt, 0);
}

static inline void tcp_trace_rtx(const struct tpa_stack *s, const struct tcp_sock *ts, uint32_t seq,
                                 uint32_t len)
{
	if (ts->trace)
		tcp_trace_put(s, ts->trace, TPA_TRACE_RETRANSMIT, ts->trace->cause, 0, seq, len,
		              ts->cc.cwnd, ts->cc.ssthresh);
}

/* The retransmission timer fired (syn: on a SYN or SYN-ACK); after the cwnd reduction. */
static inline void tcp_trace_rto(const struct tpa_stack *s, const struct tcp_sock *ts, bool syn)
{
	if (!ts->trace)
		return;
	ts->trace->cause = TPA_TRACE_CAUSE_RTO;
	tcp_trace_put(s, ts->trace, TPA_TRACE_RTO, syn, (uint16_t)ts->retries,
	              tcp_rtt_rto_us(&ts->rtt) / 1000, ts->snd_una, ts->cc.cwnd, ts->cc.ssthresh);
}

/* Fast recovery starts (cause: enum tpa_trace_cause); after the cwnd reduction. */
static inline void tcp_trace_recovery(const struct tpa_stack *s, const struct tcp_sock *ts,
                                      uint8_t cause)
{
	if (!ts->trace)
		return;
	ts->trace->cause = cause;
	tcp_trace_put(s, ts->trace, TPA_TRACE_RECOVERY, cause, 0, ts->snd_una,
	              ts->snd_max - ts->snd_una, ts->cc.cwnd, ts->cc.ssthresh);
}

static inline void tcp_trace_event(const struct tpa_stack *s, const struct tcp_sock *ts,
                                   uint8_t type)
{
	if (ts->trace)
		tcp_trace_put(s, ts->trace, type, 0, 0, ts->snd_una, ts->snd_max, ts->cc.cwnd,
		              ts->cc.ssthresh);
}

static inline void tcp_trace_tlp(const struct tpa_stack *s, const struct tcp_sock *ts)
{
	if (!ts->trace)
		return;
	ts->trace->cause = TPA_TRACE_CAUSE_TLP;
	tcp_trace_put(s, ts->trace, TPA_TRACE_TLP, 0, 0, ts->snd_una, ts->snd_max, ts->cc.cwnd,
	              ts->cc.ssthresh);
}

/* After every window update (every ACK): an event when the peer's window closed or opened.
 * The common case is one compare with what the connection itself remembers, traced or not. */
static inline void tcp_trace_window(const struct tpa_stack *s, struct tcp_sock *ts)
{
	if (__builtin_expect((ts->snd_wnd == 0) != ts->trace_wnd_zero, 0)) {
		ts->trace_wnd_zero = ts->snd_wnd == 0;
		if (ts->trace)
			tcp_trace_put(s, ts->trace, TPA_TRACE_WINDOW, ts->snd_wnd == 0, 0,
			              ts->snd_wnd, ts->snd_una, ts->cc.cwnd, ts->cc.ssthresh);
	}
}

static inline void tcp_trace_abort(const struct tpa_stack *s, const struct tcp_sock *ts, int err)
{
	if (ts->trace)
		tcp_trace_put(s, ts->trace, TPA_TRACE_ABORT, 0, (uint16_t)err, ts->snd_una,
		              ts->snd_max, ts->cc.cwnd, ts->cc.ssthresh);
}

#endif
