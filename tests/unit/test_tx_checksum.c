/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The transmit side's checksum pieces against a byte-at-a-time reference: the copy that sums
 * (every length, source and destination alignment), header words, a piece added at an odd
 * offset, and the send ring's copy+sum across the wrap with an odd first part.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "checksum.h"
#include "tcp_impl.h"

/* 16-bit big-endian words, odd byte padded, folded and complemented (host order). */
static uint16_t ref_csum(const uint8_t *d, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(d[i] << 8 | d[i + 1]);
	if (n & 1)
		s += (uint32_t)d[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint16_t ntoh16(uint16_t v)
{
	const uint8_t *b = (const uint8_t *)&v;
	return (uint16_t)(b[0] << 8 | b[1]);
}

START_TEST(copy_sums_and_copies_every_length_and_alignment)
{
	uint8_t src[1600], dst[1600 + 16];
	srand(11);
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)rand();
	for (size_t soff = 0; soff < 8; soff++)
		for (size_t doff = 0; doff < 8; doff += 3)
			for (size_t n = 0; n + soff <= sizeof(src) && n < 200; n++) {
				memset(dst, 0xa5, sizeof(dst));
				uint32_t sum = tpa_csum_copy(dst + doff, src + soff, n, 0);
				ck_assert_uint_eq(ntoh16(tpa_csum_fold(sum)),
				                  ref_csum(src + soff, n, 0));
				ck_assert_uint_eq(
				        ntoh16(tpa_csum_fold(sum)),
				        ntoh16(tpa_csum_fold(tpa_csum_partial(src + soff, n, 0))));
				ck_assert(memcmp(dst + doff, src + soff, n) == 0);
				/* Not a byte past the end. */
				ck_assert_uint_eq(dst[doff + n], 0xa5);
			}
	/* A full-sized segment of all ones exercises the carries. */
	memset(src, 0xff, sizeof(src));
	uint32_t sum = tpa_csum_copy(dst, src, 1448, 0xffffffffu);
	ck_assert_uint_eq(ntoh16(tpa_csum_fold(sum)),
	                  ntoh16(tpa_csum_fold(tpa_csum_partial(src, 1448, 0xffffffffu))));
}
END_TEST

START_TEST(header_words_match_partial)
{
	uint8_t h[60 + 4]; /* 15 words from an offset of up to 3 */
	srand(12);
	for (int iter = 0; iter < 500; iter++) {
		for (size_t i = 0; i < sizeof(h); i++)
			h[i] = (uint8_t)(iter & 1 ? 0xff : rand());
		unsigned n32 = 1 + (unsigned)rand() % 15;
		uint32_t start = (uint32_t)rand() * 2654435761u;
		ck_assert_uint_eq(tpa_csum_fold(tpa_csum_words(h + (iter % 4), n32, start)),
		                  tpa_csum_fold(tpa_csum_partial(h + (iter % 4), 4 * n32, start)));
	}
}
END_TEST

START_TEST(piece_at_odd_offset)
{
	uint8_t d[301];
	for (size_t i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)(i * 91 + 7);
	for (size_t cut = 0; cut <= sizeof(d); cut++) {
		uint32_t a = tpa_csum_partial(d, cut, 0);
		uint32_t b = tpa_csum_partial(d + cut, sizeof(d) - cut, 0);
		ck_assert_uint_eq(ntoh16(tpa_csum_fold(tpa_csum_add_at(a, b, cut))),
		                  ref_csum(d, sizeof(d), 0));
	}
}
END_TEST

/* What xmit puts in a segment: the ring's bytes from off, summed with what came before. */
START_TEST(send_ring_copy_across_the_wrap)
{
	enum { CAP = 64 };
	uint8_t ring[CAP], out[CAP], want[CAP];
	for (size_t i = 0; i < CAP; i++)
		ring[i] = (uint8_t)(i * 13 + 5);
	struct tcp_sock ts;
	memset(&ts, 0, sizeof(ts));
	ts.sb.buf = ring;
	ts.sb.cap = CAP;
	ts.sb.len = CAP;
	for (uint32_t head = 0; head < CAP; head++)
		for (uint32_t off = 0; off < 8; off++)
			for (uint32_t len = 0; off + len <= CAP; len += 3) {
				ts.sb.head = head;
				for (uint32_t i = 0; i < len; i++)
					want[i] = ring[(head + off + i) % CAP];
				uint32_t sum = tcp_sndbuf_copy_out_csum(&ts, off, out, len, 0x1234);
				ck_assert(memcmp(out, want, len) == 0);
				ck_assert_uint_eq(
				        ntoh16(tpa_csum_fold(sum)),
				        ntoh16(tpa_csum_fold(tpa_csum_partial(want, len, 0x1234))));
			}
}
END_TEST

static Suite *tx_checksum_suite(void)
{
	Suite *s = suite_create("tx_checksum");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, copy_sums_and_copies_every_length_and_alignment);
	tcase_add_test(tc, header_words_match_partial);
	tcase_add_test(tc, piece_at_odd_offset);
	tcase_add_test(tc, send_ring_copy_across_the_wrap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(tx_checksum_suite(), CK_NOFORK);
}
