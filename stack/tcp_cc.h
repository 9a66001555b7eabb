/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Congestion control, selectable per socket: NewReno (RFC 5681 + RFC 6582 + RFC 3465 ABC) and
 * CUBIC (RFC 9438). State lives in a fixed-size struct tcp_cc_state (no malloc per socket).
 *
 * Contract:
 * - Pure: time comes in as now_us (any monotonic microsecond clock), nothing else is read.
 * - Units: cwnd, ssthresh, flight, acked are BYTES; mss is the sender's SMSS in bytes.
 * - The caller (TCP) detects the events and calls the tcp_cc_* wrappers below; the wrappers do
 *   the algorithm-independent parts (slow start with ABC L = 2*SMSS, NewReno fast-recovery
 *   window inflation/deflation, RFC 5681 restart window, cwnd-limited check) and dispatch to
 *   the algorithm's ops for what differs (congestion-avoidance growth, the reduction on loss
 *   and RTO, idle handling).
 * - Event protocol for one connection:
 *     tcp_cc_init() once the SMSS is known (after the handshake).
 *     tcp_cc_on_ack() for every ACK that advances snd_una while NOT in fast recovery.
 *     tcp_cc_enter_recovery() when fast retransmit starts (DupThresh dupACKs or SACK loss).
 *       In recovery: tcp_cc_on_dupack() per further dupACK (only matters without SACK),
 *       tcp_cc_on_partial_ack() per partial ACK, tcp_cc_exit_recovery() on the ACK that
 *       covers the recovery point.
 *     tcp_cc_on_rto() when the retransmission timer fires (also ends any recovery).
 *     tcp_cc_after_idle() before sending when nothing was in flight for a while.
 * - With SACK (RFC 6675) the sender limits itself by pipe <= cwnd; cwnd is set to ssthresh on
 *   entry and not inflated. Without SACK (RFC 6582) cwnd is inflated by dupACKs.
 */
#ifndef TPA_TCP_CC_H
#define TPA_TCP_CC_H

#include <stdbool.h>
#include <stdint.h>

#include "tpa/stack.h"

struct tcp_cc_state;

/* CUBIC's private state (RFC 9438 section 4 variable names in comments). */
struct tcp_cc_cubic {
	uint64_t epoch_start_us; /* t_epoch, valid while in_epoch */
	double k_s;              /* K, seconds */
	double w_max;            /* W_max, segments */
	double w_est;            /* W_est, segments (Reno-friendly estimate) */
	double cwnd_prior;       /* cwnd (segments) just before the last reduction */
	double cwnd_epoch;       /* cwnd (segments) when the epoch started */
	double grow_carry;       /* fractional bytes of growth not yet added to cwnd */
	bool in_epoch;           /* a congestion-avoidance epoch is running */
	bool after_rto;          /* next epoch follows a timeout: K = 0, W_max = cwnd_epoch */
};

struct tcp_cc_state {
	const struct tcp_cc_ops *ops;
	uint32_t cwnd;         /* bytes */
	uint32_t ssthresh;     /* bytes; UINT32_MAX until the first loss */
	uint32_t mss;          /* SMSS, bytes */
	uint32_t initial_cwnd; /* IW, bytes: also the RFC 5681 restart window bound */
	uint32_t ca_acked;     /* bytes acked toward the next +1 SMSS in congestion avoidance */
	bool in_recovery;
	bool recovery_sack; /* this recovery uses SACK/pipe (no window inflation) */
	union {
		struct tcp_cc_cubic cubic;
		uint64_t reserve[12];
	} u;
};

/* Per-algorithm hooks. Called only through the tcp_cc_* wrappers. */
struct tcp_cc_ops {
	const char *name;
	enum tpa_cc_algo algo;
	/* Reset private state (cwnd/ssthresh/mss already set). */
	void (*init)(struct tcp_cc_state *st);
	/* Congestion avoidance (cwnd >= ssthresh, not in recovery, cwnd-limited): grow cwnd for
	 * `acked` newly acknowledged bytes. srtt_us may be 0 when unknown. */
	void (*cong_avoid)(struct tcp_cc_state *st, uint32_t acked, uint64_t now_us,
	                   uint32_t srtt_us);
	/* Fast retransmit: return the new ssthresh (bytes) and update private state. */
	uint32_t (*ssthresh_on_loss)(struct tcp_cc_state *st, uint32_t flight, uint64_t now_us);
	/* Retransmission timeout: return the new ssthresh; when !reduce (repeated timeout, or
	 * the window was already reduced by the recovery in progress) return st->ssthresh. */
	uint32_t (*ssthresh_on_rto)(struct tcp_cc_state *st, uint32_t flight, uint64_t now_us,
	                            bool reduce);
	/* Fast recovery ended (cwnd already set). May be NULL. */
	void (*recovery_done)(struct tcp_cc_state *st, uint64_t now_us);
	/* Transmission resumes after idle_us with nothing in flight. May be NULL. */
	void (*after_idle)(struct tcp_cc_state *st, uint64_t idle_us, uint64_t now_us);
};

extern const struct tcp_cc_ops tcp_cc_newreno_ops;
extern const struct tcp_cc_ops tcp_cc_cubic_ops;

/* The ops for an algorithm from stack.h; NULL if the value is not a known algorithm. */
const struct tcp_cc_ops *tcp_cc_by_algo(enum tpa_cc_algo algo);
/* By name as used by TCP_CONGESTION ("reno"/"newreno", "cubic"); NULL if unknown. */
const struct tcp_cc_ops *tcp_cc_by_name(const char *name);

/* cwnd = initial_cwnd_segs * mss (RFC 6928 style; 0 segments means 1), ssthresh = UINT32_MAX.
 * ops NULL selects NewReno; mss 0 is treated as 536 (RFC 9293 default). */
void tcp_cc_init(struct tcp_cc_state *st, const struct tcp_cc_ops *ops, uint32_t mss,
                 uint32_t initial_cwnd_segs);

/* Switch algorithm mid-connection (TCP_CONGESTION on an open socket): cwnd, ssthresh, SMSS
 * and any recovery in progress carry over; only the algorithm's private state starts afresh.
 * ops NULL selects NewReno. */
void tcp_cc_set_ops(struct tcp_cc_state *st, const struct tcp_cc_ops *ops);

/* An ACK acknowledged `acked` new bytes outside fast recovery. flight: bytes that were
 * outstanding when the ACK arrived (before it removed any); cwnd only grows when the sender
 * was cwnd-limited (RFC 5681 / RFC 7661: slow start while flight >= cwnd/2, congestion
 * avoidance while flight + SMSS >= cwnd). srtt_us: current smoothed RTT, 0 if unknown.
 * Slow start: cwnd += min(acked, 2*SMSS) (RFC 3465, L = 2), not past ssthresh by more than
 * that step; congestion avoidance: algorithm-specific. */
void tcp_cc_on_ack(struct tcp_cc_state *st, uint32_t acked, uint32_t flight, uint64_t now_us,
                   uint32_t srtt_us);

/* Fast retransmit / start of loss recovery. flight: FlightSize (bytes outstanding) now.
 * ssthresh from the algorithm (NewReno: max(flight/2, 2*SMSS); CUBIC: max(0.7*flight,
 * 2*SMSS) with W_max/fast convergence); cwnd = ssthresh, plus 3*SMSS when !sack (RFC 6582). */
void tcp_cc_enter_recovery(struct tcp_cc_state *st, uint32_t flight, uint64_t now_us, bool sack);

/* A further duplicate ACK during recovery: cwnd += SMSS when the recovery is not SACK-based. */
void tcp_cc_on_dupack(struct tcp_cc_state *st);

/* RFC 6582 partial ACK of `acked` bytes: deflate cwnd by acked, add back SMSS if
 * acked >= SMSS (never below SMSS). No-op for SACK-based recovery (pipe governs). */
void tcp_cc_on_partial_ack(struct tcp_cc_state *st, uint32_t acked);

/* Full ACK (covers the recovery point). flight: bytes still outstanding after it.
 * cwnd = min(ssthresh, max(flight, SMSS) + SMSS) (RFC 6582 option 1: no burst). */
void tcp_cc_exit_recovery(struct tcp_cc_state *st, uint32_t flight, uint64_t now_us);
/* The reduction was for nothing (a spurious fast retransmission, RFC 3708): back to the
 * window from before it, recovery over. */
void tcp_cc_undo(struct tcp_cc_state *st, uint32_t prior_cwnd, uint32_t prior_ssthresh);

/* Retransmission timeout. flight: bytes outstanding when it fired. repeated: this segment
 * was already retransmitted by an RTO (backoff > 0) - ssthresh is not reduced again
 * (RFC 5681 section 3.1 note); nor is it when the timeout ends a fast recovery, whose
 * reduction already answered this congestion event. cwnd = 1 SMSS (loss window); leaves
 * recovery. */
void tcp_cc_on_rto(struct tcp_cc_state *st, uint32_t flight, uint64_t now_us, bool repeated);

/* About to send after nothing was in flight for idle_us. If idle_us > rto_us, cwnd is cut to
 * the restart window min(IW, cwnd) (RFC 5681 section 4.1). CUBIC also shifts its epoch so the
 * idle time does not count as growth time (RFC 9438 section 5.8). */
void tcp_cc_after_idle(struct tcp_cc_state *st, uint64_t idle_us, uint32_t rto_us, uint64_t now_us);

static inline uint32_t tcp_cc_cwnd(const struct tcp_cc_state *st)
{
	return st->cwnd;
}
static inline uint32_t tcp_cc_ssthresh(const struct tcp_cc_state *st)
{
	return st->ssthresh;
}
static inline bool tcp_cc_in_slow_start(const struct tcp_cc_state *st)
{
	return st->cwnd < st->ssthresh;
}
static inline bool tcp_cc_in_recovery(const struct tcp_cc_state *st)
{
	return st->in_recovery;
}
/* True when tcp_cc_on_ack(st, acked, flight, ...) would return at once: nothing acknowledged,
 * in recovery, or a window the sender does not use (slow start: under half of it in flight;
 * congestion avoidance: a segment or more of it unused). Lets the receive path skip the call. */
static inline bool tcp_cc_ack_idle(const struct tcp_cc_state *st, uint32_t acked, uint32_t flight)
{
	if (acked == 0 || st->in_recovery)
		return true;
	if (st->cwnd < st->ssthresh)
		return (uint64_t)flight * 2 < st->cwnd;
	return (uint64_t)flight + st->mss < st->cwnd;
}
static inline const char *tcp_cc_name(const struct tcp_cc_state *st)
{
	return st->ops->name;
}

#endif
