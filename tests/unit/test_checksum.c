/* SPDX-License-Identifier: BSD-3-Clause */
/* Internet checksum against known vectors, odd lengths, and mbuf chains split at odd offsets. */
#include <check.h>
#include <rte_mbuf.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "checksum.h"
#include "test_eal.h"

/* A real IPv4 header (RFC 1071-style example widely used): checksum 0xb861. */
static const uint8_t ipv4_hdr[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                     0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};

START_TEST(known_ipv4_header)
{
	uint16_t c = tpa_csum_fold(tpa_csum_partial(ipv4_hdr, sizeof(ipv4_hdr), 0));
	const uint8_t *b = (const uint8_t *)&c;
	ck_assert_uint_eq(b[0], 0xb8);
	ck_assert_uint_eq(b[1], 0x61);
	/* Verifying a header that carries its checksum folds to zero. */
	uint8_t h[20];
	memcpy(h, ipv4_hdr, 20);
	memcpy(h + 10, &c, 2);
	ck_assert_uint_eq(tpa_csum_fold(tpa_csum_partial(h, 20, 0)), 0);
}
END_TEST

START_TEST(rfc1071_example)
{
	/* RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (before complement). */
	const uint8_t d[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	uint16_t c = tpa_csum_fold(tpa_csum_partial(d, sizeof(d), 0));
	uint16_t sum = (uint16_t)~c;
	const uint8_t *b = (const uint8_t *)&sum;
	ck_assert_uint_eq(b[0], 0xdd);
	ck_assert_uint_eq(b[1], 0xf2);
}
END_TEST

/* Straightforward reference: 16-bit big-endian words, odd byte padded. */
static uint16_t ref_csum(const uint8_t *d, size_t n)
{
	uint32_t s = 0;
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

START_TEST(random_lengths_match_reference)
{
	uint8_t buf[2048];
	srand(7);
	for (int iter = 0; iter < 2000; iter++) {
		size_t n = (size_t)(rand() % (int)sizeof(buf));
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rand();
		ck_assert_uint_eq(ntoh16(tpa_csum_fold(tpa_csum_partial(buf, n, 0))),
		                  ref_csum(buf, n));
	}
	/* All-ones data exercises carry folding. */
	memset(buf, 0xff, sizeof(buf));
	ck_assert_uint_eq(ntoh16(tpa_csum_fold(tpa_csum_partial(buf, sizeof(buf), 0))),
	                  ref_csum(buf, sizeof(buf)));
}
END_TEST

/* The fold of any 32-bit running sum: two end-around-carry folds and the complement. */
static uint16_t ref_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

START_TEST(fold_matches_reference)
{
	static const uint32_t edge[] = {0,          1,          0xffff,     0x10000,    0x1fffe,
	                                0xfffe0001, 0xffff0000, 0xffff0001, 0xfffffffe, 0xffffffff,
	                                0x8000ffff, 0x00018000, 0x0001ffff, 0xffff8000};
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		ck_assert_uint_eq(tpa_csum_fold(edge[i]), ref_fold(edge[i]));
	/* Every high half against low halves at the edges and where hi + lo carries. */
	for (uint32_t hi = 0; hi <= 0xffff; hi++) {
		const uint32_t lows[] = {0, 1, 0x7fff, 0xfffe, 0xffff, 0xffff - hi, 0x10000 - hi};
		for (size_t k = 0; k < sizeof(lows) / sizeof(lows[0]); k++) {
			uint32_t sum = hi << 16 | (lows[k] & 0xffff);
			ck_assert_uint_eq(tpa_csum_fold(sum), ref_fold(sum));
		}
	}
}
END_TEST

/* The copying sums give tpa_csum_partial's sum and copy every byte, to one destination or two,
 * at every length and source alignment around the word sizes. */
START_TEST(copy_sums_match_partial)
{
	uint8_t src[600], d1[600], d2[600];
	srand(11);
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)rand();
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len + off <= 530; len += (len < 40 ? 1 : 37)) {
			uint32_t want = tpa_csum_partial(src + off, len, 0x1234);
			memset(d1, 0, sizeof(d1));
			ck_assert_uint_eq(tpa_csum_fold(tpa_csum_copy(d1, src + off, len, 0x1234)),
			                  tpa_csum_fold(want));
			ck_assert(memcmp(d1, src + off, len) == 0);
			ck_assert_uint_eq(d1[len], 0);
			memset(d1, 0, sizeof(d1));
			memset(d2, 0, sizeof(d2));
			ck_assert_uint_eq(
			        tpa_csum_fold(tpa_csum_copy2(d1, d2, src + off, len, 0x1234)),
			        tpa_csum_fold(want));
			ck_assert(memcmp(d1, src + off, len) == 0);
			ck_assert(memcmp(d2, src + off, len) == 0);
			ck_assert_uint_eq(d1[len], 0);
			ck_assert_uint_eq(d2[len], 0);
		}
}
END_TEST

START_TEST(mbuf_chain_odd_split)
{
	struct rte_mempool *mp = test_pool_create("csum_pool", 63);
	uint8_t data[1001];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 37 + 11);
	/* Split 1001 bytes into 3 + 500 + 498 segments: boundaries at odd offsets. */
	size_t parts[] = {3, 500, 498};
	struct rte_mbuf *head = NULL, *prev = NULL;
	size_t off = 0;
	for (int i = 0; i < 3; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		ck_assert_ptr_nonnull(m);
		memcpy(rte_pktmbuf_append(m, (uint16_t)parts[i]), data + off, parts[i]);
		off += parts[i];
		if (!head) {
			head = m;
		} else {
			prev->next = m;
			head->nb_segs++;
			head->pkt_len += m->data_len;
		}
		prev = m;
	}
	ck_assert_uint_eq(ntoh16(tpa_csum_fold(tpa_csum_mbuf(head, 0, 1001, 0))),
	                  ref_csum(data, 1001));
	/* From an offset inside the second segment. */
	ck_assert_uint_eq(ntoh16(tpa_csum_fold(tpa_csum_mbuf(head, 10, 900, 0))),
	                  ref_csum(data + 10, 900));
	rte_pktmbuf_free(head);
	rte_mempool_free(mp);
}
END_TEST

START_TEST(pseudo_header)
{
	/* 198.18.0.1 -> 198.18.0.2, TCP, length 20: fold(pseudo) matches the reference sum. */
	uint8_t ph[12] = {198, 18, 0, 1, 198, 18, 0, 2, 0, 6, 0, 20};
	uint32_t src, dst;
	memcpy(&src, ph, 4);
	memcpy(&dst, ph + 4, 4);
	ck_assert_uint_eq(ntoh16(tpa_csum_fold(tpa_csum_pseudo_ipv4(src, dst, 6, 20))),
	                  ref_csum(ph, 12));
}
END_TEST

static Suite *checksum_suite(void)
{
	Suite *s = suite_create("checksum");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, known_ipv4_header);
	tcase_add_test(tc, rfc1071_example);
	tcase_add_test(tc, random_lengths_match_reference);
	tcase_add_test(tc, fold_matches_reference);
	tcase_add_test(tc, copy_sums_match_partial);
	tcase_add_test(tc, mbuf_chain_odd_split);
	tcase_add_test(tc, pseudo_header);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(checksum_suite(), CK_NOFORK);
}
