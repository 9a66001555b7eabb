/* SPDX-License-Identifier: BSD-3-Clause */
#include "checksum.h"

#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include <string.h>

uint32_t tpa_csum_partial(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t acc = sum;

	/* 64-bit accumulation of 32-bit words: carries collect in the upper half. */
	while (len >= 8) {
		uint32_t w[2];
		memcpy(w, p, 8);
		acc += (uint64_t)w[0] + w[1];
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		acc += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		acc += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* The odd byte is the high-order byte of a 16-bit word in network order. */
		uint16_t w = 0;
		memcpy(&w, p, 1);
		acc += w;
	}
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

uint32_t tpa_csum_copy(void *dst, const void *src, size_t len, uint32_t sum)
{
	return tpa_csum_copy_body(dst, dst, false, src, len, sum);
}

/* Swap the bytes of a 16-bit-folded sum: used when a piece starts at an odd offset. */
static uint32_t csum_swap_odd(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ((sum & 0xff) << 8) | ((sum >> 8) & 0xff);
}

uint32_t tpa_csum_add_at(uint32_t sum, uint32_t piece, size_t offset)
{
	uint64_t acc = (uint64_t)sum + ((offset & 1) ? csum_swap_odd(piece) : piece);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

uint32_t tpa_csum_mbuf(const struct rte_mbuf *m, uint32_t off, uint32_t len, uint32_t sum)
{
	uint32_t done = 0;
	uint64_t acc = sum;

	while (m && off >= m->data_len) {
		off -= m->data_len;
		m = m->next;
	}
	while (m && len) {
		uint32_t n = m->data_len - off;
		if (n > len)
			n = len;
		uint32_t piece =
		        tpa_csum_partial(rte_pktmbuf_mtod_offset(m, const uint8_t *, off), n, 0);
		acc += (done & 1) ? csum_swap_odd(piece) : piece;
		done += n;
		len -= n;
		off = 0;
		m = m->next;
	}
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}
