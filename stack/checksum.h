/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internet checksum (RFC 1071) over byte ranges and mbuf chains, and the IPv4 TCP/UDP
 * pseudo-header sum. Partial sums are 32-bit accumulators folded only at the end, so callers
 * can add pieces in any order (a pseudo header, then the segment).
 */
#ifndef TPA_CHECKSUM_H
#define TPA_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

struct rte_mbuf;

/* Add len bytes at data to a running sum. `odd` pieces (odd length) may only come last. */
uint32_t tpa_csum_partial(const void *data, size_t len, uint32_t sum);
/* Fold a running sum to 16 bits and complement it: the value to store in a header. */
uint16_t tpa_csum_fold(uint32_t sum);
/* Sum of the IPv4 pseudo header (addresses in network order, length in host order). */
uint32_t tpa_csum_pseudo_ipv4(uint32_t src_be, uint32_t dst_be, uint8_t proto, uint16_t len);
/* Sum len bytes of an mbuf chain starting at offset off (handles odd segment boundaries). */
uint32_t tpa_csum_mbuf(const struct rte_mbuf *m, uint32_t off, uint32_t len, uint32_t sum);

#endif
