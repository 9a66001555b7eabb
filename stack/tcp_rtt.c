/* SPDX-License-Identifier: BSD-3-Clause */
/* RFC 6298 RTO estimator; see tcp_rtt.h for the contract. */
#include "tcp_rtt.h"

static uint32_t ms_to_us(uint32_t ms)
{
	uint64_t us = (uint64_t)ms * 1000u;
	return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static uint32_t clamp_rto(const struct tcp_rtt *r, uint64_t rto)
{
	if (rto < r->min_rto_us)
		return r->min_rto_us;
	if (rto > r->max_rto_us)
		return r->max_rto_us;
	return (uint32_t)rto;
}

/* The backed-off RTO, computed from the base so doubling never loses precision to the cap. */
static void apply_backoff(struct tcp_rtt *r)
{
	uint64_t rto = r->base_rto_us;
	for (unsigned i = 0; i < r->backoff && rto < r->max_rto_us; i++)
		rto *= 2;
	r->rto_us = clamp_rto(r, rto);
}

void tcp_rtt_init(struct tcp_rtt *r, uint32_t min_ms, uint32_t max_ms, uint32_t initial_ms)
{
	*r = (struct tcp_rtt){0};
	r->min_rto_us = min_ms ? ms_to_us(min_ms) : TCP_RTT_GRANULARITY_US;
	r->max_rto_us = ms_to_us(max_ms);
	if (r->max_rto_us < r->min_rto_us)
		r->max_rto_us = r->min_rto_us;
	r->base_rto_us = clamp_rto(r, ms_to_us(initial_ms));
	r->rto_us = r->base_rto_us;
}

void tcp_rtt_sample(struct tcp_rtt *r, uint32_t rtt_us)
{
	if (rtt_us == 0)
		rtt_us = 1;
	if (!r->has_sample) {
		/* RFC 6298 2.2 */
		r->srtt_us = rtt_us;
		r->rttvar_us = rtt_us / 2;
		r->has_sample = true;
	} else {
		/* RFC 6298 2.3: RTTVAR first, with the old SRTT. */
		uint32_t err = r->srtt_us > rtt_us ? r->srtt_us - rtt_us : rtt_us - r->srtt_us;
		r->rttvar_us = (uint32_t)(((uint64_t)r->rttvar_us * 3 + err) / 4);
		r->srtt_us = (uint32_t)(((uint64_t)r->srtt_us * 7 + rtt_us) / 8);
	}
	uint64_t var4 = (uint64_t)r->rttvar_us * 4;
	r->base_rto_us = clamp_rto(r, (uint64_t)r->srtt_us + (var4 > TCP_RTT_GRANULARITY_US
	                                                              ? var4
	                                                              : TCP_RTT_GRANULARITY_US));
	r->backoff = 0;
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
		r->base_rto_us = clamp_rto(r, TCP_RTT_SYN_FALLBACK_US);
	r->backoff = 0;
	r->rto_us = r->base_rto_us;
}
