/* SPDX-License-Identifier: BSD-3-Clause */
/* NewReno (RFC 5681 + RFC 6582): the window rules beyond the generic ones in tcp_cc.c. */
#include "tcp_cc.h"

static void newreno_init(struct tcp_cc_state *st)
{
	(void)st;
}

/* RFC 3465 byte counting: one SMSS per cwnd's worth of acknowledged bytes, i.e. one SMSS per
 * RTT when the window is full, however the receiver spaces its ACKs. */
static void newreno_cong_avoid(struct tcp_cc_state *st, uint32_t acked, uint64_t now_us,
                               uint32_t srtt_us)
{
	(void)now_us;
	(void)srtt_us;
	uint64_t total = (uint64_t)st->ca_acked + acked;
	if (total >= st->cwnd) {
		total -= st->cwnd;
		st->cwnd += st->mss;
		/* A huge stretch ACK earns one increment, not a burst of them. */
		if (total >= st->cwnd)
			total = st->cwnd - 1;
	}
	st->ca_acked = (uint32_t)total;
}

/* RFC 5681 equation (4): ssthresh = max(FlightSize / 2, 2*SMSS). */
static uint32_t half_flight(const struct tcp_cc_state *st, uint32_t flight)
{
	uint32_t half = flight / 2;
	return half > 2 * st->mss ? half : 2 * st->mss;
}

static uint32_t newreno_ssthresh_on_loss(struct tcp_cc_state *st, uint32_t flight, uint64_t now_us)
{
	(void)now_us;
	return half_flight(st, flight);
}

static uint32_t newreno_ssthresh_on_rto(struct tcp_cc_state *st, uint32_t flight, uint64_t now_us,
                                        bool reduce)
{
	(void)now_us;
	return reduce ? half_flight(st, flight) : st->ssthresh;
}

const struct tcp_cc_ops tcp_cc_newreno_ops = {
        .name = "newreno",
        .algo = TPA_CC_NEWRENO,
        .init = newreno_init,
        .cong_avoid = newreno_cong_avoid,
        .ssthresh_on_loss = newreno_ssthresh_on_loss,
        .ssthresh_on_rto = newreno_ssthresh_on_rto,
        .recovery_done = NULL,
        .after_idle = NULL,
};
