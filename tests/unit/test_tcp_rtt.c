/* SPDX-License-Identifier: BSD-3-Clause */
/* RFC 6298 RTO estimator: hand-computed vectors for the section 2 rules, clamps, backoff. */
#include <check.h>
#include <stdlib.h>

#include "tcp_rtt.h"

START_TEST(initial_rto_before_samples)
{
	struct tcp_rtt r;
	tcp_rtt_init(&r, 200, 120000, 1000);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 1000000);
	ck_assert_uint_eq(tcp_rtt_rto_ns(&r), 1000000000ull);
	ck_assert(!r.has_sample);
	ck_assert_uint_eq(r.backoff, 0);
}
END_TEST

START_TEST(first_sample)
{
	struct tcp_rtt r;
	tcp_rtt_init(&r, 200, 120000, 1000);
	tcp_rtt_sample(&r, 100000);
	/* SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, 4*RTTVAR) = 100 + 200 ms. */
	ck_assert_uint_eq(tcp_rtt_srtt_us(&r), 100000);
	ck_assert_uint_eq(tcp_rtt_rttvar_us(&r), 50000);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 300000);
}
END_TEST

START_TEST(subsequent_samples)
{
	struct tcp_rtt r;
	tcp_rtt_init(&r, 200, 120000, 1000);
	tcp_rtt_sample(&r, 100000);
	tcp_rtt_sample(&r, 200000);
	/* RTTVAR = 3/4 * 50000 + 1/4 * |100000 - 200000| = 62500 (uses the OLD SRTT);
	 * SRTT = 7/8 * 100000 + 1/8 * 200000 = 112500; RTO = 112500 + 4 * 62500. */
	ck_assert_uint_eq(tcp_rtt_rttvar_us(&r), 62500);
	ck_assert_uint_eq(tcp_rtt_srtt_us(&r), 112500);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 362500);
	tcp_rtt_sample(&r, 80000);
	/* err = 32500: RTTVAR = (3 * 62500 + 32500) / 4 = 55000;
	 * SRTT = (7 * 112500 + 80000) / 8 = 108437 (integer); RTO = 108437 + 220000. */
	ck_assert_uint_eq(tcp_rtt_rttvar_us(&r), 55000);
	ck_assert_uint_eq(tcp_rtt_srtt_us(&r), 108437);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 328437);
}
END_TEST

START_TEST(granularity_floor)
{
	struct tcp_rtt r;
	tcp_rtt_init(&r, 1, 120000, 1000);
	/* A perfectly steady path: RTTVAR decays to 0, RTO = SRTT + G. */
	for (int i = 0; i < 100; i++)
		tcp_rtt_sample(&r, 50000);
	ck_assert_uint_eq(tcp_rtt_srtt_us(&r), 50000);
	ck_assert_uint_eq(tcp_rtt_rttvar_us(&r), 0);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 50000 + TCP_RTT_GRANULARITY_US);
}
END_TEST

START_TEST(min_clamp)
{
	struct tcp_rtt r;
	tcp_rtt_init(&r, 200, 120000, 1000);
	tcp_rtt_sample(&r, 10000);
	ck_assert_uint_eq(tcp_rtt_srtt_us(&r), 10000);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 200000); /* 30 ms raised to rto_min */
}
END_TEST

START_TEST(max_clamp)
{
	struct tcp_rtt r;
	tcp_rtt_init(&r, 200, 60000, 1000);
	tcp_rtt_sample(&r, 40000000); /* 40 s + 4 * 20 s = 120 s */
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 60000000);
}
END_TEST

START_TEST(zero_sample_is_tiny_not_ignored)
{
	struct tcp_rtt r;
	tcp_rtt_init(&r, 1, 120000, 1000);
	tcp_rtt_sample(&r, 0);
	ck_assert(r.has_sample);
	ck_assert_uint_eq(tcp_rtt_srtt_us(&r), 1);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 1 + TCP_RTT_GRANULARITY_US);
}
END_TEST

START_TEST(backoff_doubles_and_caps)
{
	struct tcp_rtt r;
	tcp_rtt_init(&r, 200, 2000, 1000);
	tcp_rtt_sample(&r, 100000); /* RTO 300 ms */
	tcp_rtt_on_timeout(&r);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 600000);
	ck_assert_uint_eq(r.backoff, 1);
	tcp_rtt_on_timeout(&r);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 1200000);
	tcp_rtt_on_timeout(&r);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 2000000); /* 2.4 s capped at 2 s */
	for (int i = 0; i < 1000; i++)
		tcp_rtt_on_timeout(&r);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 2000000);
	ck_assert_uint_eq(r.backoff, 255); /* saturates, never wraps back to 0 */
	/* The estimator itself was not disturbed by the backoff. */
	ck_assert_uint_eq(tcp_rtt_srtt_us(&r), 100000);
	tcp_rtt_reset_backoff(&r);
	ck_assert_uint_eq(r.backoff, 0);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 300000);
}
END_TEST

START_TEST(backoff_from_initial_rto)
{
	struct tcp_rtt r;
	tcp_rtt_init(&r, 200, 120000, 1000);
	for (int i = 0; i < 6; i++)
		tcp_rtt_on_timeout(&r);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 64000000);
	tcp_rtt_on_timeout(&r);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 120000000);
}
END_TEST

START_TEST(sample_clears_backoff)
{
	struct tcp_rtt r;
	tcp_rtt_init(&r, 200, 120000, 1000);
	tcp_rtt_on_timeout(&r);
	tcp_rtt_on_timeout(&r);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 4000000);
	tcp_rtt_sample(&r, 100000);
	ck_assert_uint_eq(r.backoff, 0);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 300000);
}
END_TEST

START_TEST(bad_config_is_sanitised)
{
	struct tcp_rtt r;
	tcp_rtt_init(&r, 0, 0, 0);
	ck_assert_uint_eq(r.min_rto_us, TCP_RTT_GRANULARITY_US);
	ck_assert_uint_ge(r.max_rto_us, r.min_rto_us);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), TCP_RTT_GRANULARITY_US);
	tcp_rtt_init(&r, 500, 100, 50);
	ck_assert_uint_eq(r.max_rto_us, 500000);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 500000);
	tcp_rtt_init(&r, 200, UINT32_MAX, UINT32_MAX); /* ms * 1000 would overflow */
	ck_assert_uint_eq(r.max_rto_us, UINT32_MAX);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), UINT32_MAX);
	tcp_rtt_on_timeout(&r);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), UINT32_MAX);
	tcp_rtt_sample(&r, UINT32_MAX); /* huge samples saturate instead of wrapping */
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), UINT32_MAX);
}
END_TEST

START_TEST(syn_fallback)
{
	struct tcp_rtt r;
	tcp_rtt_init(&r, 200, 120000, 1000);
	tcp_rtt_on_timeout(&r);
	tcp_rtt_established(&r, true);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), TCP_RTT_SYN_FALLBACK_US);
	ck_assert_uint_eq(r.backoff, 0);

	/* Not retransmitted: the initial RTO stays. */
	tcp_rtt_init(&r, 200, 120000, 1000);
	tcp_rtt_established(&r, false);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 1000000);

	/* A sample was taken (e.g. from timestamps): the estimate wins. */
	tcp_rtt_init(&r, 200, 120000, 1000);
	tcp_rtt_sample(&r, 100000);
	tcp_rtt_established(&r, true);
	ck_assert_uint_eq(tcp_rtt_rto_us(&r), 300000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_rtt");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, initial_rto_before_samples);
	tcase_add_test(tc, first_sample);
	tcase_add_test(tc, subsequent_samples);
	tcase_add_test(tc, granularity_floor);
	tcase_add_test(tc, min_clamp);
	tcase_add_test(tc, max_clamp);
	tcase_add_test(tc, zero_sample_is_tiny_not_ignored);
	tcase_add_test(tc, backoff_doubles_and_caps);
	tcase_add_test(tc, backoff_from_initial_rto);
	tcase_add_test(tc, sample_clears_backoff);
	tcase_add_test(tc, bad_config_is_sanitised);
	tcase_add_test(tc, syn_fallback);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
