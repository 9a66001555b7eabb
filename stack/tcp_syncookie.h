/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RFC 4987 SYN cookies: when a listener's SYN queue is full, the SYN-ACK's sequence number
 * carries the connection's state instead of a socket holding it, and the ACK that completes
 * the handshake rebuilds the connection. What is encoded is what Linux encodes:
 *   ISN    = counter (6 bits, one tick per 68.7 s) << 26 | MSS class (2 bits: 536, 1220, 1440,
 *            1460) << 24 | MAC(flow, peer ISN, counter, class) (24 bits, SipHash);
 *   TSval  = our timestamp with its low 5 bits replaced by the window scale (4 bits, 15 = none)
 *            and SACK-permitted (1 bit); only when the peer offered timestamps, so a peer
 *            without them gets neither window scaling nor SACK, as with Linux.
 * A cookie is accepted for up to three counter ticks (2 to 3 minutes).
 *
 * Contract: pure functions of (key, flow, time); the key is the stack's secret, separated from
 * the ISN's by domain. Unlike Linux's sum, every bit of the ISN is covered by the MAC: a blind
 * guess succeeds once in 16 million tries, and a neighbouring acknowledgment number never
 * passes as another MSS class.
 */
#ifndef TPA_TCP_SYNCOOKIE_H
#define TPA_TCP_SYNCOOKIE_H

#include <stdbool.h>
#include <stdint.h>

#include "siphash.h"

#define SYNCOOKIE_NO_WSCALE 15

/* The cookie for a SYN of flow (addresses and ports in network order) with sequence number
 * peer_isn and MSS option peer_mss (0 = none); *mss is the MSS it encodes. */
uint32_t tcp_syncookie_make(const uint8_t key[SIPHASH_KEY_LEN], uint32_t laddr_be,
                            uint16_t lport_be, uint32_t raddr_be, uint16_t rport_be,
                            uint32_t peer_isn, uint16_t peer_mss, uint64_t now_ns, uint16_t *mss);

/* Is cookie (the ACK's acknowledgment number - 1) ours for this flow and peer ISN (the ACK's
 * sequence number - 1), and young enough? Gives the encoded MSS. */
bool tcp_syncookie_check(const uint8_t key[SIPHASH_KEY_LEN], uint32_t laddr_be, uint16_t lport_be,
                         uint32_t raddr_be, uint16_t rport_be, uint32_t peer_isn, uint32_t cookie,
                         uint64_t now_ns, uint16_t *mss);

/* Our SYN-ACK TSval (ts_now: what the connection would send now) carrying the options. Never
 * later than ts_now, so the connection's next TSvals do not go backwards. */
uint32_t tcp_syncookie_tsval(uint32_t ts_now, uint8_t wscale, bool sack_ok);
/* The options back from the TSecr of the completing ACK. */
void tcp_syncookie_ts_decode(uint32_t tsecr, uint8_t *wscale, bool *sack_ok);

#endif
