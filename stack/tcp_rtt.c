/* SPDX-License-Identifier: BSD-3-Clause */
/* RFC 6298 RTO estimator; see tcp_rtt.h for the contract. */
#include "tcp_rtt.h"

static uint32_t ms_to_us(uint32_t ms)
{
	uint64_t us = (uint64_t)ms * 1000u;
	return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* The backed-off RTO, computed from the base so doubling never loses precision to the cap. */
static void apply_backoff(struct tcp_rtt *r)
{
	uint64_t rto = r->base_rto_us;
	for (unsigned i = 0; i < r->backoff && rto < r->max_rto_us; i++)
		rto *= 2;
	r->rto_us = tcp_rtt_clamp(r, rto);
}

void tcp_rtt_init(struct tcp_rtt *r, uint32_t min_ms, uint32_t max_ms, uint32_t initial_ms)
{
	*r = (struct tcp_rtt){0};
	r->min_rto_us = min_ms ? ms_to_us(min_ms) : TCP_RTT_GRANULARITY_US;
	r->max_rto_us = ms_to_us(max_ms);
	if (r->max_rto_us < r->min_rto_us)
		r->max_rto_us = r->min_rto_us;
	r->base_rto_us = tcp_rtt_clamp(r, ms_to_us(initial_ms));
	r->rto_us = r->base_rto_us;
}

void tcp_rtt_on_timeout(struct tcp_rtt *r)
{
	/* Once at the cap further doublings change nothing; keep counting for the caller's
	 * benefit but bound the counter so it never wraps. */
	if (r->backoff < UINT8_MAX)
		r->backoff++;
	apply_backoff(r);
}

void tcp_rtt_reset_backoff(struct tcp_rtt *r)
{
	r->backoff = 0;
	r->rto_us = r->base_rto_us;
}

void tcp_rtt_established(struct tcp_rtt *r, bool syn_retransmitted)
{
	if (syn_retransmitted && !r->has_sample && r->base_rto_us < TCP_RTT_SYN_FALLBACK_US)
		r->base_rto_us = tcp_rtt_clamp(r, TCP_RTT_SYN_FALLBACK_US);
	r->backoff = 0;
	r->rto_us = r->base_rto_us;
}
