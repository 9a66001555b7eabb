/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RFC 6528 initial sequence numbers: ISN = M + F(local ip, local port, remote ip, remote port,
 * secret key), with M a timer ticking every 4 microseconds and F = SipHash-2-4 keyed with the
 * stack's 16-byte secret (cfg.isn_key, which the stack's owner draws).
 *
 * Contract: pure (time comes in as now_ns, the key from the caller). Same flow and key give
 * ISNs that advance with time like the RFC 793 clock, so a new incarnation of a connection
 * starts above the old one's sequence space; different flows or keys are unpredictable.
 * The flow key is a byte string so IPv6 (16-byte addresses) drops in without an API change.
 */
#ifndef TPA_TCP_ISN_H
#define TPA_TCP_ISN_H

#include <stddef.h>
#include <stdint.h>

#include "siphash.h"

/* Canonical IPv4 flow key: fields in network byte order, packed into 12 bytes. */
#define TCP_ISN_FLOW4_LEN 12
/* Room for an IPv6 flow key (16 + 16 + 2 + 2). */
#define TCP_ISN_FLOW_MAX 36

/* Build the IPv4 flow key; returns its length (TCP_ISN_FLOW4_LEN). All arguments are in
 * network byte order, as they sit in the headers. */
size_t tcp_isn_flow4(uint8_t out[TCP_ISN_FLOW4_LEN], uint32_t laddr_be, uint16_t lport_be,
                     uint32_t raddr_be, uint16_t rport_be);

/* ISN for any flow key (flow_len <= TCP_ISN_FLOW_MAX is expected; longer keys still work). */
uint32_t tcp_isn(const uint8_t key[SIPHASH_KEY_LEN], const uint8_t *flow, size_t flow_len,
                 uint64_t now_ns);

/* Convenience for IPv4 (network byte order arguments). */
uint32_t tcp_isn4(const uint8_t key[SIPHASH_KEY_LEN], uint32_t laddr_be, uint16_t lport_be,
                  uint32_t raddr_be, uint16_t rport_be, uint64_t now_ns);

/* A per-flow secret 32-bit offset for RFC 7323 timestamps (Appendix: randomised TSval per
 * connection), derived from the same key but independent of the ISN (domain-separated). */
uint32_t tcp_ts_offset(const uint8_t key[SIPHASH_KEY_LEN], const uint8_t *flow, size_t flow_len);

#endif
