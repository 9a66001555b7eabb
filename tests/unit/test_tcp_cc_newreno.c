/* SPDX-License-Identifier: BSD-3-Clause */
/* NewReno (RFC 5681, RFC 6582, RFC 3465) window arithmetic, SMSS = 1000 bytes. */
#include <check.h>
#include <stdlib.h>

#include "tcp_cc.h"

#define MSS 1000u

static void newreno(struct tcp_cc_state *st, uint32_t iw_segs)
{
	tcp_cc_init(st, tcp_cc_by_algo(TPA_CC_NEWRENO), MSS, iw_segs);
}

/* One round trip: the whole window acknowledged in `per_ack`-byte ACKs, window full. */
static void ack_window(struct tcp_cc_state *st, uint32_t per_ack)
{
	uint32_t window = tcp_cc_cwnd(st);
	for (uint32_t done = 0; done < window; done += per_ack)
		tcp_cc_on_ack(st, per_ack, window, 0, 0);
}

START_TEST(lookup)
{
	ck_assert_ptr_eq(tcp_cc_by_algo(TPA_CC_NEWRENO), &tcp_cc_newreno_ops);
	ck_assert_ptr_eq(tcp_cc_by_algo(TPA_CC_CUBIC), &tcp_cc_cubic_ops);
	ck_assert_ptr_null(tcp_cc_by_algo((enum tpa_cc_algo)42));
	ck_assert_ptr_eq(tcp_cc_by_name("reno"), &tcp_cc_newreno_ops);
	ck_assert_ptr_eq(tcp_cc_by_name("newreno"), &tcp_cc_newreno_ops);
	ck_assert_ptr_eq(tcp_cc_by_name("cubic"), &tcp_cc_cubic_ops);
	ck_assert_ptr_null(tcp_cc_by_name("bbr"));
	ck_assert_ptr_null(tcp_cc_by_name(NULL));
	ck_assert_str_eq(tcp_cc_newreno_ops.name, "newreno");
	ck_assert_int_eq(tcp_cc_newreno_ops.algo, TPA_CC_NEWRENO);
}
END_TEST

START_TEST(initial_window)
{
	struct tcp_cc_state st;
	newreno(&st, 10);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 10000);
	ck_assert_uint_eq(tcp_cc_ssthresh(&st), UINT32_MAX);
	ck_assert(tcp_cc_in_slow_start(&st));
	ck_assert(!tcp_cc_in_recovery(&st));
	ck_assert_str_eq(tcp_cc_name(&st), "newreno");
	/* Defaults for nonsense: NULL ops, zero MSS, zero segments. */
	tcp_cc_init(&st, NULL, 0, 0);
	ck_assert_ptr_eq(st.ops, &tcp_cc_newreno_ops);
	ck_assert_uint_eq(st.mss, 536);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 536);
}
END_TEST

START_TEST(slow_start_doubles_per_rtt)
{
	struct tcp_cc_state st;
	newreno(&st, 10);
	ack_window(&st, MSS); /* 10 ACKs, +1 SMSS each */
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 20000);
	ack_window(&st, MSS);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 40000);
	/* Delayed ACKs (2 segments each) still double it thanks to ABC with L = 2. */
	newreno(&st, 10);
	ack_window(&st, 2 * MSS);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 20000);
}
END_TEST

START_TEST(abc_limit_on_stretch_acks)
{
	struct tcp_cc_state st;
	newreno(&st, 10);
	tcp_cc_on_ack(&st, 8000, 10000, 0, 0); /* one ACK for 8 segments: at most 2 SMSS */
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 12000);
	tcp_cc_on_ack(&st, 500, 12000, 0, 0); /* a small segment: its own size */
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 12500);
	tcp_cc_on_ack(&st, 0, 12500, 0, 0); /* nothing new acknowledged */
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 12500);
}
END_TEST

START_TEST(no_growth_when_not_cwnd_limited)
{
	struct tcp_cc_state st;
	newreno(&st, 10);
	tcp_cc_on_ack(&st, 1000, 3000, 0, 0); /* the application only filled 3 of 10 */
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 10000);
	tcp_cc_on_ack(&st, 1000, 5000, 0, 0); /* half the window: still slow-start worthy */
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 11000);
}
END_TEST

/* cwnd 20000 / ssthresh 10000 reached through a loss at flight 20000. */
static void after_loss(struct tcp_cc_state *st)
{
	newreno(st, 20);
	tcp_cc_enter_recovery(st, 20000, 0, true);
	tcp_cc_exit_recovery(st, 20000, 0);
	ck_assert_uint_eq(tcp_cc_ssthresh(st), 10000);
	ck_assert_uint_eq(tcp_cc_cwnd(st), 10000);
}

START_TEST(congestion_avoidance_one_mss_per_rtt)
{
	struct tcp_cc_state st;
	after_loss(&st);
	ck_assert(!tcp_cc_in_slow_start(&st));
	for (int rtt = 1; rtt <= 10; rtt++) {
		ack_window(&st, MSS);
		ck_assert_uint_eq(tcp_cc_cwnd(&st), 10000 + rtt * MSS);
	}
	/* Same with delayed ACKs: byte counting is independent of ACK spacing. */
	after_loss(&st);
	for (int rtt = 1; rtt <= 5; rtt++) {
		uint32_t w = tcp_cc_cwnd(&st);
		for (uint32_t done = 0; done < w; done += 2 * MSS)
			tcp_cc_on_ack(&st, 2 * MSS, w, 0, 0);
		ck_assert_uint_eq(tcp_cc_cwnd(&st), 10000 + rtt * MSS);
	}
	/* An application-limited sender does not grow its window. */
	after_loss(&st);
	for (int i = 0; i < 100; i++)
		tcp_cc_on_ack(&st, MSS, 5000, 0, 0);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 10000);
}
END_TEST

START_TEST(slow_start_hands_over_at_ssthresh)
{
	struct tcp_cc_state st;
	after_loss(&st);
	tcp_cc_on_rto(&st, 10000, 0, false); /* ssthresh 5000, cwnd 1000 */
	ck_assert_uint_eq(tcp_cc_ssthresh(&st), 5000);
	tcp_cc_on_ack(&st, 2000, 1000, 0, 0);
	tcp_cc_on_ack(&st, 1000, 3000, 0, 0);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 4000);
	/* This ACK crosses ssthresh: 1000 bytes of it reach it, the other 1000 count toward
	 * congestion avoidance. */
	tcp_cc_on_ack(&st, 2000, 4000, 0, 0);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 5000);
	ck_assert_uint_eq(st.ca_acked, 1000);
	ck_assert(!tcp_cc_in_slow_start(&st));
}
END_TEST

START_TEST(fast_recovery_rfc6582)
{
	struct tcp_cc_state st;
	newreno(&st, 20);
	/* Three dupACKs at FlightSize 20000: ssthresh = 10000, cwnd = ssthresh + 3*SMSS. */
	tcp_cc_enter_recovery(&st, 20000, 0, false);
	ck_assert(tcp_cc_in_recovery(&st));
	ck_assert_uint_eq(tcp_cc_ssthresh(&st), 10000);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 13000);
	/* Entering twice is a caller slip: no second reduction. */
	tcp_cc_enter_recovery(&st, 13000, 0, false);
	ck_assert_uint_eq(tcp_cc_ssthresh(&st), 10000);
	/* Each further dupACK inflates by SMSS. */
	for (int i = 0; i < 4; i++)
		tcp_cc_on_dupack(&st);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 17000);
	/* ACKs are not growth while recovering. */
	tcp_cc_on_ack(&st, 5000, 17000, 0, 0);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 17000);
	/* Partial ACK of 3000: deflate by 3000, add back one SMSS. */
	tcp_cc_on_partial_ack(&st, 3000);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 15000);
	/* Partial ACK of exactly one SMSS: deflated and added back. */
	tcp_cc_on_partial_ack(&st, 1000);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 15000);
	/* Partial ACK of less than SMSS: deflate only. */
	tcp_cc_on_partial_ack(&st, 500);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 14500);
	/* Full ACK with 4000 bytes still out: min(ssthresh, max(4000, SMSS) + SMSS). */
	tcp_cc_exit_recovery(&st, 4000, 0);
	ck_assert(!tcp_cc_in_recovery(&st));
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 5000);
	ck_assert_uint_eq(tcp_cc_ssthresh(&st), 10000);

	/* Full ACK with a large flight: ssthresh. */
	newreno(&st, 20);
	tcp_cc_enter_recovery(&st, 20000, 0, false);
	tcp_cc_exit_recovery(&st, 15000, 0);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 10000);
	/* Nothing outstanding after the full ACK: one SMSS + SMSS. */
	newreno(&st, 20);
	tcp_cc_enter_recovery(&st, 20000, 0, false);
	tcp_cc_exit_recovery(&st, 0, 0);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 2000);
}
END_TEST

START_TEST(partial_ack_never_below_one_mss)
{
	struct tcp_cc_state st;
	newreno(&st, 4);
	tcp_cc_enter_recovery(&st, 4000, 0, false); /* ssthresh 2000, cwnd 5000 */
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 5000);
	tcp_cc_on_partial_ack(&st, 100000);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), MSS);
}
END_TEST

START_TEST(sack_recovery_no_inflation)
{
	struct tcp_cc_state st;
	newreno(&st, 20);
	tcp_cc_enter_recovery(&st, 20000, 0, true);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 10000);
	tcp_cc_on_dupack(&st);
	tcp_cc_on_partial_ack(&st, 3000);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 10000);
	tcp_cc_exit_recovery(&st, 9000, 0);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 10000);
	/* Calls outside recovery change nothing. */
	tcp_cc_on_dupack(&st);
	tcp_cc_on_partial_ack(&st, 3000);
	tcp_cc_exit_recovery(&st, 0, 0);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 10000);
}
END_TEST

START_TEST(ssthresh_floor_two_mss)
{
	struct tcp_cc_state st;
	newreno(&st, 10);
	tcp_cc_enter_recovery(&st, 1500, 0, true);
	ck_assert_uint_eq(tcp_cc_ssthresh(&st), 2000);
	newreno(&st, 10);
	tcp_cc_on_rto(&st, 0, 0, false);
	ck_assert_uint_eq(tcp_cc_ssthresh(&st), 2000);
}
END_TEST

START_TEST(rto_collapse)
{
	struct tcp_cc_state st;
	newreno(&st, 20);
	tcp_cc_on_rto(&st, 20000, 0, false);
	ck_assert_uint_eq(tcp_cc_ssthresh(&st), 10000);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), MSS); /* loss window */
	/* The retransmission times out again: ssthresh is not halved once more. */
	tcp_cc_on_rto(&st, 20000, 0, true);
	ck_assert_uint_eq(tcp_cc_ssthresh(&st), 10000);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), MSS);
	/* Slow start back up to ssthresh: 1, 2, 4, 8, 10 (capped) segments. */
	ack_window(&st, MSS);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 2000);
	ack_window(&st, MSS);
	ack_window(&st, MSS);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 8000);
	ack_window(&st, MSS);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 10000);

	/* RTO in the middle of fast recovery: the recovery already reduced ssthresh. */
	newreno(&st, 20);
	tcp_cc_enter_recovery(&st, 20000, 0, false);
	tcp_cc_on_rto(&st, 13000, 0, false);
	ck_assert(!tcp_cc_in_recovery(&st));
	ck_assert_uint_eq(tcp_cc_ssthresh(&st), 10000);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), MSS);
}
END_TEST

START_TEST(restart_after_idle)
{
	struct tcp_cc_state st;
	newreno(&st, 10);
	ack_window(&st, MSS);
	ack_window(&st, MSS);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 40000);
	tcp_cc_after_idle(&st, 500000, 1000000, 0); /* shorter than the RTO: keep */
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 40000);
	tcp_cc_after_idle(&st, 1500000, 1000000, 0); /* longer: restart window = IW */
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 10000);
	/* A window already below IW stays as it is. */
	tcp_cc_on_rto(&st, 10000, 0, false);
	tcp_cc_after_idle(&st, 5000000, 1000000, 0);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), MSS);
}
END_TEST

START_TEST(switch_algorithm_keeps_window)
{
	struct tcp_cc_state st;
	newreno(&st, 20);
	tcp_cc_enter_recovery(&st, 20000, 0, false);
	tcp_cc_set_ops(&st, tcp_cc_by_algo(TPA_CC_CUBIC));
	ck_assert_str_eq(tcp_cc_name(&st), "cubic");
	ck_assert(tcp_cc_in_recovery(&st));
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 13000);
	ck_assert_uint_eq(tcp_cc_ssthresh(&st), 10000);
	/* The recovery in progress finishes under the new algorithm. */
	tcp_cc_on_partial_ack(&st, 3000);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 11000);
	tcp_cc_exit_recovery(&st, 10000, 0);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 10000);
	ck_assert(!st.u.cubic.in_epoch);
	tcp_cc_set_ops(&st, NULL);
	ck_assert_ptr_eq(st.ops, &tcp_cc_newreno_ops);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 10000);
}
END_TEST

START_TEST(window_never_overflows)
{
	struct tcp_cc_state st;
	newreno(&st, 10);
	for (int i = 0; i < 2000000; i++)
		tcp_cc_on_ack(&st, UINT32_MAX, UINT32_MAX, 0, 0);
	ck_assert_uint_le(tcp_cc_cwnd(&st), 1u << 30);
	ck_assert_uint_ge(tcp_cc_cwnd(&st), 1u << 29);
	tcp_cc_enter_recovery(&st, UINT32_MAX, 0, false);
	ck_assert_uint_le(tcp_cc_cwnd(&st), 1u << 30);
	for (int i = 0; i < 10; i++)
		tcp_cc_on_dupack(&st);
	ck_assert_uint_le(tcp_cc_cwnd(&st), 1u << 30);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_cc_newreno");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, lookup);
	tcase_add_test(tc, initial_window);
	tcase_add_test(tc, slow_start_doubles_per_rtt);
	tcase_add_test(tc, abc_limit_on_stretch_acks);
	tcase_add_test(tc, no_growth_when_not_cwnd_limited);
	tcase_add_test(tc, congestion_avoidance_one_mss_per_rtt);
	tcase_add_test(tc, slow_start_hands_over_at_ssthresh);
	tcase_add_test(tc, fast_recovery_rfc6582);
	tcase_add_test(tc, partial_ack_never_below_one_mss);
	tcase_add_test(tc, sack_recovery_no_inflation);
	tcase_add_test(tc, ssthresh_floor_two_mss);
	tcase_add_test(tc, rto_collapse);
	tcase_add_test(tc, restart_after_idle);
	tcase_add_test(tc, switch_algorithm_keeps_window);
	tcase_add_test(tc, window_never_overflows);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
