/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internet checksum (RFC 1071) over byte ranges and mbuf chains, and the IPv4 TCP/UDP
 * pseudo-header sum. Partial sums are 32-bit accumulators folded only at the end, so callers
 * can add pieces in any order (a pseudo header, then the segment).
 */
#ifndef TPA_CHECKSUM_H
#define TPA_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>

struct rte_mbuf;

/* Add len bytes at data to a running sum. `odd` pieces (odd length) may only come last. */
uint32_t tpa_csum_partial(const void *data, size_t len, uint32_t sum);
/* Fold a running sum to 16 bits and complement it: the value to store in a header. Inline:
 * four instructions, called for every segment sent and received. */
static inline uint16_t tpa_csum_fold(uint32_t sum)
{
	/* The high half of sum + (sum rotated by 16) is hi + lo with the end-around carry of
	 * that addition already in it: the whole fold in one add. */
	uint32_t both = sum + ((sum >> 16) | (sum << 16));
	return (uint16_t) ~(both >> 16);
}
/* Sum of the IPv4 pseudo header (addresses in network order, length in host order). */
static inline uint32_t tpa_csum_pseudo_ipv4(uint32_t src_be, uint32_t dst_be, uint8_t proto,
                                            uint16_t len)
{
	uint64_t acc = (uint64_t)src_be + dst_be + rte_cpu_to_be_16(proto) + rte_cpu_to_be_16(len);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}
/* Copy len bytes from src to dst and add them to a running sum in the same pass: the payload
 * is read once instead of twice (memcpy, then tpa_csum_partial). Same sum as tpa_csum_partial. */
uint32_t tpa_csum_copy(void *dst, const void *src, size_t len, uint32_t sum);
/* The copy-and-sum of tpa_csum_copy (two destinations when both is true, d2 not written
 * otherwise): 64-bit words with the end-around carry added back at once, a one's complement
 * sum in 64 bits folding to the same 16-bit sum. Always inlined with a constant both, so each
 * caller gets the loop it needs. */
static inline __attribute__((always_inline)) uint32_t
tpa_csum_copy_body(uint8_t *d1, uint8_t *d2, bool both, const uint8_t *p, size_t len, uint32_t sum)
{
	uint64_t acc = sum;
	for (; len >= 8; p += 8, d1 += 8, d2 += both ? 8 : 0, len -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		memcpy(d1, &w, 8);
		if (both)
			memcpy(d2, &w, 8);
		acc += w;
		acc += acc < w;
	}
	uint64_t tail = 0;
	if (len >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		memcpy(d1, &w, 4);
		if (both)
			memcpy(d2, &w, 4);
		tail += w;
		p += 4, d1 += 4, d2 += both ? 4 : 0, len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		memcpy(d1, &w, 2);
		if (both)
			memcpy(d2, &w, 2);
		tail += w;
		p += 2, d1 += 2, d2 += both ? 2 : 0, len -= 2;
	}
	if (len) {
		/* The odd byte is the high-order byte of a 16-bit word in network order. */
		uint16_t w = 0;
		memcpy(&w, p, 1);
		*d1 = *p;
		if (both)
			*d2 = *p;
		tail += w;
	}
	acc += tail;
	acc += acc < tail;
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}
/* tpa_csum_copy() to two destinations at once: the bytes read once, written to both, summed.
 * Inline: the usual caller copies a short reply into its send ring and its segment. */
static inline uint32_t tpa_csum_copy2(void *dst1, void *dst2, const void *src, size_t len,
                                      uint32_t sum)
{
	return tpa_csum_copy_body(dst1, dst2, true, src, len, sum);
}
/* Add the sum of a piece that starts offset bytes into the checksummed data: a piece at an odd
 * offset has its bytes in the other halves of the 16-bit words. */
uint32_t tpa_csum_add_at(uint32_t sum, uint32_t piece, size_t offset);
/* Add a header of n32 32-bit words (any alignment) to a running sum. Inline: the headers
 * the stack builds have a length known at the call, so this is a few loads and adds. */
static inline uint32_t tpa_csum_words(const void *p, unsigned n32, uint32_t sum)
{
	const uint8_t *b = p;
	uint64_t acc = sum;
	/* Two words at a time, the end-around carry added back at once (add, adc). */
	for (; n32 >= 2; n32 -= 2, b += 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		acc += w;
		acc += acc < w;
	}
	if (n32) {
		uint32_t w;
		memcpy(&w, b, 4);
		acc += w;
		acc += acc < w;
	}
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}
/* Sum len bytes of an mbuf chain starting at offset off (handles odd segment boundaries). */
uint32_t tpa_csum_mbuf(const struct rte_mbuf *m, uint32_t off, uint32_t len, uint32_t sum);

#endif
