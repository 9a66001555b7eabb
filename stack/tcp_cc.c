/* SPDX-License-Identifier: BSD-3-Clause */
/* Algorithm-independent congestion control (RFC 5681, RFC 6582, RFC 3465); see tcp_cc.h. */
#include <string.h>

#include "tcp_cc.h"

/* Keeps cwnd arithmetic far from uint32_t overflow; no window we could use is that large. */
#define TCP_CC_CWND_MAX    (1u << 30)
#define TCP_CC_DEFAULT_MSS 536u

const struct tcp_cc_ops *tcp_cc_by_algo(enum tpa_cc_algo algo)
{
	switch (algo) {
	case TPA_CC_NEWRENO:
		return &tcp_cc_newreno_ops;
	case TPA_CC_CUBIC:
		return &tcp_cc_cubic_ops;
	}
	return NULL;
}

const struct tcp_cc_ops *tcp_cc_by_name(const char *name)
{
	if (!name)
		return NULL;
	if (!strcmp(name, "reno") || !strcmp(name, "newreno"))
		return &tcp_cc_newreno_ops;
	if (!strcmp(name, "cubic"))
		return &tcp_cc_cubic_ops;
	return NULL;
}

static void set_cwnd(struct tcp_cc_state *st, uint64_t cwnd)
{
	if (cwnd < st->mss)
		cwnd = st->mss;
	if (cwnd > TCP_CC_CWND_MAX)
		cwnd = TCP_CC_CWND_MAX;
	st->cwnd = (uint32_t)cwnd;
}

void tcp_cc_init(struct tcp_cc_state *st, const struct tcp_cc_ops *ops, uint32_t mss,
                 uint32_t initial_cwnd_segs)
{
	memset(st, 0, sizeof(*st));
	st->ops = ops ? ops : &tcp_cc_newreno_ops;
	st->mss = mss ? mss : TCP_CC_DEFAULT_MSS;
	if (initial_cwnd_segs == 0)
		initial_cwnd_segs = 1;
	set_cwnd(st, (uint64_t)initial_cwnd_segs * st->mss);
	st->initial_cwnd = st->cwnd;
	st->ssthresh = UINT32_MAX;
	st->ops->init(st);
}

void tcp_cc_set_ops(struct tcp_cc_state *st, const struct tcp_cc_ops *ops)
{
	st->ops = ops ? ops : &tcp_cc_newreno_ops;
	memset(&st->u, 0, sizeof(st->u));
	st->ops->init(st);
}

void tcp_cc_on_ack(struct tcp_cc_state *st, uint32_t acked, uint32_t flight, uint64_t now_us,
                   uint32_t srtt_us)
{
	/* Nothing acknowledged, recovery, or a window the sender does not use: slow start only
	 * while the sender actually used a good part of the window, congestion avoidance only
	 * when at most a segment of it was left unused. */
	if (tcp_cc_ack_idle(st, acked, flight))
		return;
	if (st->cwnd < st->ssthresh) {
		uint32_t step = acked < 2 * st->mss ? acked : 2 * st->mss;
		uint32_t room = st->ssthresh - st->cwnd;
		if (step < room) {
			set_cwnd(st, (uint64_t)st->cwnd + step);
			return;
		}
		/* Crossing ssthresh: the rest of this ACK counts toward congestion avoidance. */
		set_cwnd(st, st->ssthresh);
		acked -= room < acked ? room : acked;
		if (acked == 0 || (uint64_t)flight + st->mss < st->cwnd)
			return;
	}
	st->ops->cong_avoid(st, acked, now_us, srtt_us);
	set_cwnd(st, st->cwnd);
}

void tcp_cc_enter_recovery(struct tcp_cc_state *st, uint32_t flight, uint64_t now_us, bool sack)
{
	if (st->in_recovery)
		return;
	uint32_t ssthresh = st->ops->ssthresh_on_loss(st, flight, now_us);
	if (ssthresh < 2 * st->mss)
		ssthresh = 2 * st->mss;
	st->ssthresh = ssthresh;
	set_cwnd(st, (uint64_t)ssthresh + (sack ? 0 : 3ull * st->mss));
	st->ca_acked = 0;
	st->in_recovery = true;
	st->recovery_sack = sack;
}

void tcp_cc_on_dupack(struct tcp_cc_state *st)
{
	if (st->in_recovery && !st->recovery_sack)
		set_cwnd(st, (uint64_t)st->cwnd + st->mss);
}

void tcp_cc_on_partial_ack(struct tcp_cc_state *st, uint32_t acked)
{
	if (!st->in_recovery || st->recovery_sack)
		return;
	uint64_t cwnd = st->cwnd > acked ? st->cwnd - acked : 0;
	if (acked >= st->mss)
		cwnd += st->mss;
	set_cwnd(st, cwnd);
}

void tcp_cc_exit_recovery(struct tcp_cc_state *st, uint32_t flight, uint64_t now_us)
{
	if (!st->in_recovery)
		return;
	uint64_t limit = (uint64_t)(flight > st->mss ? flight : st->mss) + st->mss;
	set_cwnd(st, limit < st->ssthresh ? limit : st->ssthresh);
	st->in_recovery = false;
	st->ca_acked = 0;
	if (st->ops->recovery_done)
		st->ops->recovery_done(st, now_us);
}

void tcp_cc_undo(struct tcp_cc_state *st, uint32_t prior_cwnd, uint32_t prior_ssthresh)
{
	if (prior_cwnd > st->cwnd)
		set_cwnd(st, prior_cwnd);
	if (prior_ssthresh > st->ssthresh)
		st->ssthresh = prior_ssthresh;
	st->in_recovery = false;
	st->ca_acked = 0;
	if (st->ops == &tcp_cc_cubic_ops)
		st->u.cubic.in_epoch = false; /* the next epoch starts from the restored window */
}

void tcp_cc_on_rto(struct tcp_cc_state *st, uint32_t flight, uint64_t now_us, bool repeated)
{
	bool reduce = !repeated && !st->in_recovery;
	uint32_t ssthresh = st->ops->ssthresh_on_rto(st, flight, now_us, reduce);
	if (reduce && ssthresh < 2 * st->mss)
		ssthresh = 2 * st->mss;
	st->ssthresh = ssthresh;
	set_cwnd(st, st->mss);
	st->ca_acked = 0;
	st->in_recovery = false;
	st->recovery_sack = false;
}

void tcp_cc_after_idle(struct tcp_cc_state *st, uint64_t idle_us, uint32_t rto_us, uint64_t now_us)
{
	if (st->in_recovery)
		return;
	if (idle_us > rto_us && st->cwnd > st->initial_cwnd) {
		set_cwnd(st, st->initial_cwnd);
		st->ca_acked = 0;
	}
	if (st->ops->after_idle)
		st->ops->after_idle(st, idle_us, now_us);
}
