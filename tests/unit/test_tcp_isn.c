/* SPDX-License-Identifier: BSD-3-Clause */
/* RFC 6528 ISNs: M + SipHash(flow, key), M a 4 us clock. */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "siphash.h"
#include "tcp_isn.h"

static const uint8_t key_a[16] = {0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
                                  0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

#define LADDR (htonl(0x0a000001))
#define RADDR (htonl(0x0a000002))
#define LPORT (htons(6379))
#define RPORT (htons(40000))
#define T0    123456788000ull /* a multiple of 4 us */

START_TEST(flow_key_layout)
{
	uint8_t flow[TCP_ISN_FLOW4_LEN];
	ck_assert_uint_eq(tcp_isn_flow4(flow, LADDR, LPORT, RADDR, RPORT), TCP_ISN_FLOW4_LEN);
	static const uint8_t expect[TCP_ISN_FLOW4_LEN] = {10, 0, 0,    1,    10,   0,
	                                                  0,  2, 0x18, 0xeb, 0x9c, 0x40};
	ck_assert_mem_eq(flow, expect, sizeof(expect));
}
END_TEST

/* The construction, checked against SipHash directly: F = SipHash(flow || 0x01). */
START_TEST(known_answer)
{
	uint8_t msg[TCP_ISN_FLOW4_LEN + 1];
	tcp_isn_flow4(msg, LADDR, LPORT, RADDR, RPORT);
	msg[TCP_ISN_FLOW4_LEN] = 0x01;
	uint32_t f = (uint32_t)siphash24(key_a, msg, sizeof(msg));
	ck_assert_uint_eq(tcp_isn4(key_a, LADDR, LPORT, RADDR, RPORT, 0), f);
	ck_assert_uint_eq(tcp_isn4(key_a, LADDR, LPORT, RADDR, RPORT, 4000 * 1000ull), f + 1000);
}
END_TEST

START_TEST(deterministic)
{
	ck_assert_uint_eq(tcp_isn4(key_a, LADDR, LPORT, RADDR, RPORT, T0),
	                  tcp_isn4(key_a, LADDR, LPORT, RADDR, RPORT, T0));
}
END_TEST

START_TEST(tuples_differ)
{
	uint32_t base = tcp_isn4(key_a, LADDR, LPORT, RADDR, RPORT, T0);
	ck_assert_uint_ne(base, tcp_isn4(key_a, htonl(0x0a000003), LPORT, RADDR, RPORT, T0));
	ck_assert_uint_ne(base, tcp_isn4(key_a, LADDR, htons(6380), RADDR, RPORT, T0));
	ck_assert_uint_ne(base, tcp_isn4(key_a, LADDR, LPORT, htonl(0x0a000004), RPORT, T0));
	ck_assert_uint_ne(base, tcp_isn4(key_a, LADDR, LPORT, RADDR, htons(40001), T0));
	/* Swapping the ends is a different flow too. */
	ck_assert_uint_ne(base, tcp_isn4(key_a, RADDR, RPORT, LADDR, LPORT, T0));
	/* Consecutive client ports do not give consecutive ISNs. */
	uint32_t next = tcp_isn4(key_a, LADDR, LPORT, RADDR, htons(40001), T0);
	ck_assert_uint_ne(next - base, 1);
}
END_TEST

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

START_TEST(many_ports_no_collisions)
{
	/* 4096 client ports: a 32-bit PRF gives no collision here with high probability, and the
	 * inputs are fixed, so the outcome is deterministic. */
	enum { N = 4096 };
	static uint32_t isn[N];
	for (int i = 0; i < N; i++)
		isn[i] = tcp_isn4(key_a, LADDR, LPORT, RADDR, htons((uint16_t)(20000 + i)), T0);
	qsort(isn, N, sizeof(isn[0]), cmp_u32);
	int collisions = 0;
	for (int i = 1; i < N; i++)
		collisions += isn[i] == isn[i - 1];
	ck_assert_int_eq(collisions, 0);
}
END_TEST

START_TEST(advances_with_time)
{
	uint32_t a = tcp_isn4(key_a, LADDR, LPORT, RADDR, RPORT, T0);
	/* One tick per 4 us: sub-tick time changes nothing. */
	ck_assert_uint_eq(tcp_isn4(key_a, LADDR, LPORT, RADDR, RPORT, T0 + 3999), a);
	ck_assert_uint_eq(tcp_isn4(key_a, LADDR, LPORT, RADDR, RPORT, T0 + 4000) - a, 1);
	/* 250000 per second, monotonic over a minute (modulo 2^32). */
	uint32_t prev = a;
	for (uint64_t s = 1; s <= 60; s++) {
		uint32_t now = tcp_isn4(key_a, LADDR, LPORT, RADDR, RPORT, T0 + s * 1000000000ull);
		ck_assert_uint_eq(now - a, 250000u * s);
		ck_assert((int32_t)(now - prev) > 0);
		prev = now;
	}
}
END_TEST

START_TEST(key_dependence)
{
	uint8_t key_b[16];
	memcpy(key_b, key_a, sizeof(key_b));
	key_b[15] ^= 0x80;
	ck_assert_uint_ne(tcp_isn4(key_a, LADDR, LPORT, RADDR, RPORT, T0),
	                  tcp_isn4(key_b, LADDR, LPORT, RADDR, RPORT, T0));
	static const uint8_t zero[16] = {0};
	ck_assert_uint_ne(tcp_isn4(key_a, LADDR, LPORT, RADDR, RPORT, T0),
	                  tcp_isn4(zero, LADDR, LPORT, RADDR, RPORT, T0));
}
END_TEST

START_TEST(ipv6_sized_and_oversized_flows)
{
	uint8_t flow6[TCP_ISN_FLOW_MAX], big[100];
	memset(flow6, 0xab, sizeof(flow6));
	memset(big, 0xab, sizeof(big));
	uint32_t a = tcp_isn(key_a, flow6, sizeof(flow6), T0);
	flow6[0] ^= 1;
	ck_assert_uint_ne(a, tcp_isn(key_a, flow6, sizeof(flow6), T0));
	uint32_t b = tcp_isn(key_a, big, sizeof(big), T0);
	big[99] ^= 1;
	ck_assert_uint_ne(b, tcp_isn(key_a, big, sizeof(big), T0));
	ck_assert_uint_eq(tcp_isn(key_a, big, sizeof(big), T0 + 8000) -
	                          tcp_isn(key_a, big, sizeof(big), T0),
	                  2);
}
END_TEST

START_TEST(ts_offset_independent_of_isn)
{
	uint8_t flow[TCP_ISN_FLOW4_LEN];
	tcp_isn_flow4(flow, LADDR, LPORT, RADDR, RPORT);
	uint32_t off = tcp_ts_offset(key_a, flow, sizeof(flow));
	ck_assert_uint_eq(off, tcp_ts_offset(key_a, flow, sizeof(flow)));
	ck_assert_uint_ne(off, tcp_isn(key_a, flow, sizeof(flow), 0));
	flow[11] ^= 1;
	ck_assert_uint_ne(off, tcp_ts_offset(key_a, flow, sizeof(flow)));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_isn");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, flow_key_layout);
	tcase_add_test(tc, known_answer);
	tcase_add_test(tc, deterministic);
	tcase_add_test(tc, tuples_differ);
	tcase_add_test(tc, many_ports_no_collisions);
	tcase_add_test(tc, advances_with_time);
	tcase_add_test(tc, key_dependence);
	tcase_add_test(tc, ipv6_sized_and_oversized_flows);
	tcase_add_test(tc, ts_offset_independent_of_isn);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
