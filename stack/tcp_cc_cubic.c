/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUBIC (RFC 9438). Window arithmetic is in segments (doubles) like the RFC's formulas and
 * converted to bytes for struct tcp_cc_state; fractional growth is carried between ACKs.
 */
#include "tcp_cc.h"

#define CUBIC_C    0.4
#define CUBIC_BETA 0.7
/* RFC 9438 4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta), Reno-friendly for beta = 0.7. */
#define CUBIC_ALPHA (3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA))

/* Cube root by Newton's method (no libm): x >= 0. Bracketing first keeps the iteration
 * count small and independent of the magnitude of x. */
static double cube_root(double x)
{
	if (!(x > 0.0))
		return 0.0;
	double y = 1.0;
	while (y * y * y < x)
		y *= 2.0;
	while (y * y * y > x * 8.0)
		y *= 0.5;
	for (int i = 0; i < 60; i++) {
		double next = y - (y * y * y - x) / (3.0 * y * y);
		if (next == y)
			break;
		y = next;
	}
	return y;
}

static double segs(const struct tcp_cc_state *st, uint32_t bytes)
{
	return (double)bytes / (double)st->mss;
}

static double w_cubic(const struct tcp_cc_cubic *c, double t_s)
{
	double d = t_s - c->k_s;
	return CUBIC_C * d * d * d + c->w_max;
}

static void cubic_init(struct tcp_cc_state *st)
{
	st->u.cubic = (struct tcp_cc_cubic){0};
}

static void start_epoch(struct tcp_cc_state *st, uint64_t now_us)
{
	struct tcp_cc_cubic *c = &st->u.cubic;
	double cwnd = segs(st, st->cwnd);
	c->in_epoch = true;
	c->epoch_start_us = now_us;
	c->cwnd_epoch = cwnd;
	c->w_est = cwnd;
	c->grow_carry = 0.0;
	if (c->after_rto || c->w_max <= cwnd) {
		/* RFC 9438 4.8 after a timeout; or no reduction to recover from: plateau at the
		 * current window and probe upward right away. */
		c->k_s = 0.0;
		c->w_max = cwnd;
		c->after_rto = false;
	} else {
		c->k_s = cube_root((c->w_max - cwnd) / CUBIC_C);
	}
}

static void cubic_cong_avoid(struct tcp_cc_state *st, uint32_t acked, uint64_t now_us,
                             uint32_t srtt_us)
{
	struct tcp_cc_cubic *c = &st->u.cubic;
	if (!c->in_epoch)
		start_epoch(st, now_us);
	double cwnd = segs(st, st->cwnd);
	double acked_segs = segs(st, acked);
	double t = now_us > c->epoch_start_us ? (double)(now_us - c->epoch_start_us) / 1e6 : 0.0;
	double rtt = (double)srtt_us / 1e6;

	/* RFC 9438 4.3: the Reno-friendly estimate, at Reno's rate once it passed cwnd_prior. */
	double alpha = c->w_est >= c->cwnd_prior ? 1.0 : CUBIC_ALPHA;
	c->w_est += alpha * acked_segs / cwnd;

	double target_cwnd;
	if (w_cubic(c, t) < c->w_est) {
		/* Reno-friendly region (4.3). */
		target_cwnd = c->w_est;
	} else {
		/* Concave (4.4) or convex (4.5) region: aim at W_cubic one RTT ahead, bounded to
		 * [cwnd, 1.5 cwnd], and get there over one window of ACKs. */
		double target = w_cubic(c, t + rtt);
		if (target < cwnd)
			target = cwnd;
		if (target > 1.5 * cwnd)
			target = 1.5 * cwnd;
		target_cwnd = cwnd + (target - cwnd) / cwnd * acked_segs;
	}
	if (target_cwnd <= cwnd)
		return;
	double grow = (target_cwnd - cwnd) * (double)st->mss + c->grow_carry;
	if (grow > (double)(1u << 30))
		grow = (double)(1u << 30);
	uint32_t whole = (uint32_t)grow;
	c->grow_carry = grow - (double)whole;
	st->cwnd += whole;
}

/* RFC 9438 4.6/4.7: remember where the loss happened (W_max, lowered further when the window
 * had not recovered to the previous W_max: fast convergence), reduce to beta * flight. */
static uint32_t cubic_ssthresh_on_loss(struct tcp_cc_state *st, uint32_t flight, uint64_t now_us)
{
	struct tcp_cc_cubic *c = &st->u.cubic;
	(void)now_us;
	double cwnd = segs(st, st->cwnd);
	if (cwnd < c->w_max)
		c->w_max = cwnd * (1.0 + CUBIC_BETA) / 2.0;
	else
		c->w_max = cwnd;
	c->cwnd_prior = cwnd;
	c->in_epoch = false;
	c->grow_carry = 0.0;
	return (uint32_t)((double)flight * CUBIC_BETA);
}

static uint32_t cubic_ssthresh_on_rto(struct tcp_cc_state *st, uint32_t flight, uint64_t now_us,
                                      bool reduce)
{
	struct tcp_cc_cubic *c = &st->u.cubic;
	(void)now_us;
	c->in_epoch = false;
	c->after_rto = true;
	c->grow_carry = 0.0;
	if (!reduce)
		return st->ssthresh;
	c->cwnd_prior = segs(st, st->cwnd);
	return (uint32_t)((double)flight * CUBIC_BETA);
}

static void cubic_recovery_done(struct tcp_cc_state *st, uint64_t now_us)
{
	(void)now_us;
	st->u.cubic.in_epoch = false;
}

/* Idle time is not growth time (RFC 9438 5.8): shift the epoch by it, or, when the restart
 * window sent us back to slow start, let the next congestion-avoidance ACK open a new one. */
static void cubic_after_idle(struct tcp_cc_state *st, uint64_t idle_us, uint64_t now_us)
{
	struct tcp_cc_cubic *c = &st->u.cubic;
	if (!c->in_epoch)
		return;
	if (st->cwnd < st->ssthresh) {
		c->in_epoch = false;
		return;
	}
	c->epoch_start_us += idle_us;
	if (c->epoch_start_us > now_us)
		c->epoch_start_us = now_us;
}

const struct tcp_cc_ops tcp_cc_cubic_ops = {
        .name = "cubic",
        .algo = TPA_CC_CUBIC,
        .init = cubic_init,
        .cong_avoid = cubic_cong_avoid,
        .ssthresh_on_loss = cubic_ssthresh_on_loss,
        .ssthresh_on_rto = cubic_ssthresh_on_rto,
        .recovery_done = cubic_recovery_done,
        .after_idle = cubic_after_idle,
};
