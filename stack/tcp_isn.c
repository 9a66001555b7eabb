/* SPDX-License-Identifier: BSD-3-Clause */
/* RFC 6528 ISN generation; see tcp_isn.h for the contract. */
#include <string.h>

#include "tcp_isn.h"

/* Domain separation: the ISN and the timestamp offset must not be derivable from each other,
 * so each hashes the flow with a distinct one-byte tag appended. */
#define ISN_TAG_ISN 0x01
#define ISN_TAG_TS  0x02

size_t tcp_isn_flow4(uint8_t out[TCP_ISN_FLOW4_LEN], uint32_t laddr_be, uint16_t lport_be,
                     uint32_t raddr_be, uint16_t rport_be)
{
	memcpy(out, &laddr_be, 4);
	memcpy(out + 4, &raddr_be, 4);
	memcpy(out + 8, &lport_be, 2);
	memcpy(out + 10, &rport_be, 2);
	return TCP_ISN_FLOW4_LEN;
}

static uint64_t flow_hash(const uint8_t key[SIPHASH_KEY_LEN], const uint8_t *flow, size_t flow_len,
                          uint8_t tag)
{
	uint8_t buf[TCP_ISN_FLOW_MAX + 1];
	if (flow_len <= TCP_ISN_FLOW_MAX) {
		memcpy(buf, flow, flow_len);
		buf[flow_len] = tag;
		return siphash24(key, buf, flow_len + 1);
	}
	/* Oversized key (not expected): hash it, then hash the digest with the tag. */
	uint64_t h = siphash24(key, flow, flow_len);
	memcpy(buf, &h, sizeof(h));
	buf[sizeof(h)] = tag;
	return siphash24(key, buf, sizeof(h) + 1);
}

uint32_t tcp_isn(const uint8_t key[SIPHASH_KEY_LEN], const uint8_t *flow, size_t flow_len,
                 uint64_t now_ns)
{
	/* M: the RFC 793 clock, one tick per 4 microseconds, wrapping every ~4.77 hours. */
	uint32_t m = (uint32_t)(now_ns / 4000u);
	return m + (uint32_t)flow_hash(key, flow, flow_len, ISN_TAG_ISN);
}

uint32_t tcp_isn4(const uint8_t key[SIPHASH_KEY_LEN], uint32_t laddr_be, uint16_t lport_be,
                  uint32_t raddr_be, uint16_t rport_be, uint64_t now_ns)
{
	uint8_t flow[TCP_ISN_FLOW4_LEN];
	size_t len = tcp_isn_flow4(flow, laddr_be, lport_be, raddr_be, rport_be);
	return tcp_isn(key, flow, len, now_ns);
}

uint32_t tcp_ts_offset(const uint8_t key[SIPHASH_KEY_LEN], const uint8_t *flow, size_t flow_len)
{
	return (uint32_t)flow_hash(key, flow, flow_len, ISN_TAG_TS);
}
