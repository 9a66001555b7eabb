/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RFC 6298 retransmission timeout estimator for one connection.
 *
 * Contract:
 * - Pure: no clock reads, no globals. RTT samples come in as microseconds measured by the caller.
 * - Units: srtt/rttvar/rto are microseconds (the stack clock is ns; the timer wheel converts).
 * - Karn's rule is the CALLER's job: feed tcp_rtt_sample() only RTTs measured on segments that
 *   were never retransmitted, or RTTs from RFC 7323 timestamp echoes (TSecr of an ACK that
 *   acknowledges new data), which are unambiguous even across retransmissions.
 * - Backoff: tcp_rtt_on_timeout() doubles the RTO (capped at max). The backed-off RTO is kept
 *   until tcp_rtt_reset_backoff() (call it when an ACK acknowledges new data) or a new sample.
 * - Every RTO is clamped to [min, max] from the config (RFC 6298 2.4/2.5).
 */
#ifndef TPA_TCP_RTT_H
#define TPA_TCP_RTT_H

#include <stdbool.h>
#include <stdint.h>

/* G, the clock granularity of RFC 6298 section 2: the timer wheel fires with ~1 ms resolution. */
#define TCP_RTT_GRANULARITY_US 1000u
/* RFC 6298 5.7: RTO used once established if the SYN (or SYN-ACK) had to be retransmitted. */
#define TCP_RTT_SYN_FALLBACK_US 3000000u

struct tcp_rtt {
	uint32_t srtt_us;     /* smoothed RTT; 0 until the first sample */
	uint32_t rttvar_us;   /* RTT variation */
	uint32_t base_rto_us; /* SRTT + max(G, 4*RTTVAR), clamped; no backoff applied */
	uint32_t rto_us;      /* current RTO = base_rto_us << backoff, clamped to max */
	uint32_t min_rto_us;
	uint32_t max_rto_us;
	uint8_t backoff; /* number of consecutive doublings since the last reset */
	bool has_sample; /* false until the first RTT measurement */
};

/* min_ms/max_ms/initial_ms from struct tpa_tcp_params. Bad values are sanitised rather than
 * rejected: a zero min becomes G, max < min becomes min, initial is clamped into [min, max]. */
void tcp_rtt_init(struct tcp_rtt *r, uint32_t min_ms, uint32_t max_ms, uint32_t initial_ms);

/* An RTO clamped to [min, max]. */
static inline uint32_t tcp_rtt_clamp(const struct tcp_rtt *r, uint64_t rto)
{
	if (rto < r->min_rto_us)
		return r->min_rto_us;
	if (rto > r->max_rto_us)
		return r->max_rto_us;
	return (uint32_t)rto;
}

/* One RTT measurement (see Karn's rule above). A zero sample is treated as 1 us. First sample:
 * SRTT = R, RTTVAR = R/2. Later: RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, SRTT = 7/8 SRTT + 1/8 R.
 * Recomputes the RTO and clears the backoff (a fresh sample proves the path is responsive).
 * Inline: once per request of a request/response connection. */
static inline void tcp_rtt_sample(struct tcp_rtt *r, uint32_t rtt_us)
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
	r->base_rto_us = tcp_rtt_clamp(
	        r, (uint64_t)r->srtt_us +
	                   (var4 > TCP_RTT_GRANULARITY_US ? var4 : TCP_RTT_GRANULARITY_US));
	r->backoff = 0;
	r->rto_us = r->base_rto_us;
}

/* The retransmission timer expired: RTO doubles (RFC 6298 5.5), capped at max_rto_us. */
void tcp_rtt_on_timeout(struct tcp_rtt *r);

/* An ACK acknowledged new data: forget the backoff, RTO back to the estimator's value. */
void tcp_rtt_reset_backoff(struct tcp_rtt *r);

/* RFC 6298 5.7: call when the connection becomes established; if the SYN/SYN-ACK was
 * retransmitted and no RTT sample was taken, the base RTO becomes 3 s (clamped to max). */
void tcp_rtt_established(struct tcp_rtt *r, bool syn_retransmitted);

static inline uint32_t tcp_rtt_rto_us(const struct tcp_rtt *r)
{
	return r->rto_us;
}
static inline uint64_t tcp_rtt_rto_ns(const struct tcp_rtt *r)
{
	return (uint64_t)r->rto_us * 1000u;
}
static inline uint32_t tcp_rtt_srtt_us(const struct tcp_rtt *r)
{
	return r->srtt_us;
}
static inline uint32_t tcp_rtt_rttvar_us(const struct tcp_rtt *r)
{
	return r->rttvar_us;
}

#endif
