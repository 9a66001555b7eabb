/* SPDX-License-Identifier: BSD-3-Clause */
/* CUBIC (RFC 9438) against the RFC's formulas evaluated by hand in the test, SMSS = 1000. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_cc.h"

#define MSS 1000u
#define SEC 1000000ull

static double dabs(double x)
{
	return x < 0 ? -x : x;
}

/* RFC 9438 equation (1), segments. */
static double w_cubic_ref(double t, double k, double w_max)
{
	double d = t - k;
	return 0.4 * d * d * d + w_max;
}

static double segs(const struct tcp_cc_state *st)
{
	return (double)tcp_cc_cwnd(st) / MSS;
}

/* A CUBIC flow that lost at cwnd = 100 segments and finished recovery: cwnd 70, W_max 100. */
static void after_loss_at_100(struct tcp_cc_state *st)
{
	tcp_cc_init(st, tcp_cc_by_algo(TPA_CC_CUBIC), MSS, 100);
	ck_assert_uint_eq(tcp_cc_cwnd(st), 100000);
	tcp_cc_enter_recovery(st, 100000, 0, true);
	tcp_cc_exit_recovery(st, 70000, 0);
}

/* One round trip starting at *now: the window acknowledged in 1-SMSS ACKs spread over it,
 * by a sender that refills the window as it opens (flight = cwnd at every ACK). */
static void one_rtt(struct tcp_cc_state *st, uint64_t *now, uint32_t rtt_us)
{
	uint32_t w = tcp_cc_cwnd(st), n = w / MSS;
	for (uint32_t i = 0; i < n; i++)
		tcp_cc_on_ack(st, MSS, tcp_cc_cwnd(st), *now + (uint64_t)rtt_us * i / n, rtt_us);
	*now += rtt_us;
}

START_TEST(multiplicative_decrease)
{
	struct tcp_cc_state st;
	tcp_cc_init(&st, tcp_cc_by_algo(TPA_CC_CUBIC), MSS, 100);
	ck_assert_str_eq(tcp_cc_name(&st), "cubic");
	tcp_cc_enter_recovery(&st, 100000, 0, true);
	/* ssthresh = beta_cubic * flight = 0.7 * 100 segments; cwnd follows. */
	ck_assert_uint_eq(tcp_cc_ssthresh(&st), 70000);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 70000);
	ck_assert(dabs(st.u.cubic.w_max - 100.0) < 1e-9);
	ck_assert(dabs(st.u.cubic.cwnd_prior - 100.0) < 1e-9);
	tcp_cc_exit_recovery(&st, 70000, 0);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 70000);
	/* Without SACK the RFC 6582 inflation applies on top of the CUBIC reduction. */
	tcp_cc_init(&st, tcp_cc_by_algo(TPA_CC_CUBIC), MSS, 100);
	tcp_cc_enter_recovery(&st, 100000, 0, false);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 73000);
	/* Tiny windows keep the 2 * SMSS floor. */
	tcp_cc_init(&st, tcp_cc_by_algo(TPA_CC_CUBIC), MSS, 2);
	tcp_cc_enter_recovery(&st, 2000, 0, true);
	ck_assert_uint_eq(tcp_cc_ssthresh(&st), 2000);
}
END_TEST

START_TEST(k_from_formula)
{
	struct tcp_cc_state st;
	after_loss_at_100(&st);
	tcp_cc_on_ack(&st, MSS, 70000, 1 * SEC, 100000);
	/* K = cbrt((W_max - cwnd_epoch) / C) = cbrt(30 / 0.4) = cbrt(75) = 4.2171633265... s */
	ck_assert(st.u.cubic.in_epoch);
	ck_assert(dabs(st.u.cubic.k_s - 4.2171633265087) < 1e-9);
	ck_assert(dabs(st.u.cubic.cwnd_epoch - 70.0) < 1e-9);
	/* W_cubic(0) is where the epoch starts, W_cubic(K) the previous maximum. */
	ck_assert(dabs(w_cubic_ref(0, st.u.cubic.k_s, 100) - 70.0) < 1e-9);
	ck_assert(dabs(w_cubic_ref(st.u.cubic.k_s, st.u.cubic.k_s, 100) - 100.0) < 1e-12);

	/* Other values: W_max 1000 from cwnd 700 gives K = cbrt(750) = 9.0856029641... */
	tcp_cc_init(&st, tcp_cc_by_algo(TPA_CC_CUBIC), MSS, 1000);
	tcp_cc_enter_recovery(&st, 1000000, 0, true);
	tcp_cc_exit_recovery(&st, 700000, 0);
	tcp_cc_on_ack(&st, MSS, 700000, 5 * SEC, 100000);
	ck_assert(dabs(st.u.cubic.k_s - 9.0856029641607) < 1e-9);
}
END_TEST

START_TEST(per_ack_increment)
{
	struct tcp_cc_state st;
	after_loss_at_100(&st);
	uint64_t t0 = 1 * SEC;
	tcp_cc_on_ack(&st, MSS, 70000, t0, 100000); /* opens the epoch */
	double k = st.u.cubic.k_s;
	/* One second into the epoch, RTT 100 ms: W_cubic(1) = 86.68 is above W_est (~70.01),
	 * so the target is W_cubic(t + RTT) and cwnd grows by (target - cwnd) / cwnd per
	 * acknowledged segment. */
	double cw = segs(&st);
	double target = w_cubic_ref(1.1, k, 100);
	ck_assert(dabs(target - 87.88457) < 1e-4);
	ck_assert(w_cubic_ref(1.0, k, 100) > st.u.cubic.w_est);
	double expect = (cw + (target - cw) / cw) * MSS;
	tcp_cc_on_ack(&st, MSS, tcp_cc_cwnd(&st), t0 + SEC, 100000);
	ck_assert_msg(dabs((double)tcp_cc_cwnd(&st) - expect) <= 1.0, "cwnd %u expected %.1f",
	              tcp_cc_cwnd(&st), expect);
	/* The target is capped at 1.5 * cwnd: far past K one ACK adds at most half a segment
	 * per acknowledged segment. */
	cw = segs(&st);
	tcp_cc_on_ack(&st, 4 * MSS, tcp_cc_cwnd(&st), t0 + 60 * SEC, 100000);
	ck_assert(segs(&st) - cw <= 0.5 * 4 + 1e-3);
	ck_assert(segs(&st) - cw >= 0.5 * 4 - 1e-2);
}
END_TEST

START_TEST(concave_then_convex_trajectory)
{
	struct tcp_cc_state st;
	after_loss_at_100(&st);
	uint64_t now = 10 * SEC, start = now;
	/* 200 ms: long enough that W_est (0.53 segments per RTT) stays below W_cubic. */
	const uint32_t rtt = 200000;
	double k = 0, prev_growth = 1e9, cwnd_at_k = 0;
	bool checked_half = false, checked_k = false, checked_after = false;
	while (now - start < 7200000) {
		double before = segs(&st);
		one_rtt(&st, &now, rtt);
		k = st.u.cubic.k_s;
		double t = (double)(now - start) / SEC;
		double growth = segs(&st) - before;
		/* cwnd follows W_cubic (equation 1): each ACK closes 1/cwnd of the gap to
		 * W_cubic(t + RTT), so it trails the curve by one to two RTTs, never leads it. */
		double lo = w_cubic_ref(t - 2.0 * rtt / SEC, k, 100) - 0.5;
		double hi = w_cubic_ref(t + (double)rtt / SEC, k, 100) + 0.5;
		ck_assert_msg(segs(&st) >= lo && segs(&st) <= hi, "t=%.2f cwnd=%.2f W=%.2f", t,
		              segs(&st), w_cubic_ref(t, k, 100));
		if (t > 1.0 && t < k - 0.3) {
			/* Concave: still growing, each RTT less than the previous one. */
			ck_assert(growth > 0);
			ck_assert(growth <= prev_growth + 1e-6);
		}
		if (t > k + 0.5) {
			/* Convex: growth speeds up again. */
			ck_assert(growth >= prev_growth - 1e-6);
		}
		if (!checked_half && t >= k / 2) {
			/* W_cubic(K/2) = 100 - 0.4 * (K/2)^3 = 96.25 */
			ck_assert(dabs(segs(&st) - 96.25) < 2.0);
			checked_half = true;
		}
		if (!checked_k && t >= k) {
			cwnd_at_k = segs(&st);
			ck_assert(dabs(cwnd_at_k - 100.0) < 1.5); /* the plateau at W_max */
			checked_k = true;
		}
		if (!checked_after && t >= k + 2.5) {
			/* W_cubic(K + 2.5) = 100 + 0.4 * 15.625 = 106.25 */
			ck_assert(dabs(segs(&st) - 106.25) < 2.0);
			checked_after = true;
		}
		prev_growth = growth;
	}
	ck_assert(checked_half && checked_k && checked_after);
}
END_TEST

START_TEST(fast_convergence)
{
	struct tcp_cc_state st;
	after_loss_at_100(&st);
	uint64_t now = 1 * SEC;
	while (segs(&st) < 85.0)
		one_rtt(&st, &now, 100000);
	double cw = segs(&st);
	ck_assert(cw < 100.0);
	/* Lost again below the previous W_max: release bandwidth, W_max = cwnd * (1 + 0.7) / 2. */
	tcp_cc_enter_recovery(&st, tcp_cc_cwnd(&st), now, true);
	ck_assert(dabs(st.u.cubic.w_max - cw * 0.85) < 1e-9);
	ck_assert(st.u.cubic.w_max < cw);
	ck_assert_uint_eq(tcp_cc_ssthresh(&st), (uint32_t)(cw * MSS * 0.7));
	/* A loss above the previous W_max simply records the new maximum. */
	after_loss_at_100(&st);
	now = 1 * SEC;
	while (segs(&st) < 105.0)
		one_rtt(&st, &now, 100000);
	cw = segs(&st);
	tcp_cc_enter_recovery(&st, tcp_cc_cwnd(&st), now, true);
	ck_assert(dabs(st.u.cubic.w_max - cw) < 1e-9);
}
END_TEST

START_TEST(reno_friendly_region_at_small_rtt)
{
	struct tcp_cc_state st;
	after_loss_at_100(&st);
	uint64_t now = 1 * SEC, start = now;
	const uint32_t rtt = 1000; /* 1 ms: CUBIC's clock barely moves */
	for (int i = 0; i < 20; i++)
		one_rtt(&st, &now, rtt);
	/* W_est grows by alpha_cubic = 3 * 0.3 / 1.7 = 0.529 segments per RTT:
	 * 70 + 20 * 0.529 = 80.6, while W_cubic(0.02 s) is still about 70.1. */
	double t = (double)(now - start) / SEC;
	ck_assert(dabs(segs(&st) - 80.59) < 0.5);
	ck_assert(w_cubic_ref(t, st.u.cubic.k_s, 100) < 70.5);
	ck_assert(dabs(segs(&st) - st.u.cubic.w_est) < 1.0);
	/* Once W_est passes cwnd_prior (100), alpha becomes 1: Reno's 1 segment per RTT.
	 * 100 is reached after ~56.7 RTTs; 43.3 more RTTs at 1 per RTT: ~143. */
	for (int i = 20; i < 100; i++)
		one_rtt(&st, &now, rtt);
	ck_assert_msg(dabs(segs(&st) - 143.3) < 2.0, "cwnd %.2f", segs(&st));
	t = (double)(now - start) / SEC;
	ck_assert(segs(&st) > w_cubic_ref(t, st.u.cubic.k_s, 100) + 40);
}
END_TEST

START_TEST(rto_restarts_epoch_with_k_zero)
{
	struct tcp_cc_state st;
	tcp_cc_init(&st, tcp_cc_by_algo(TPA_CC_CUBIC), MSS, 100);
	tcp_cc_on_rto(&st, 100000, 0, false);
	ck_assert_uint_eq(tcp_cc_ssthresh(&st), 70000);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), MSS);
	/* Repeated timeout: no further reduction of ssthresh. */
	tcp_cc_on_rto(&st, 1000, 0, true);
	ck_assert_uint_eq(tcp_cc_ssthresh(&st), 70000);
	/* Slow start back to ssthresh. */
	uint64_t now = 1 * SEC;
	while (tcp_cc_in_slow_start(&st)) {
		tcp_cc_on_ack(&st, MSS, tcp_cc_cwnd(&st), now, 100000);
		now += 1000;
	}
	ck_assert(!st.u.cubic.in_epoch);
	ck_assert_uint_eq(tcp_cc_cwnd(&st), 70000);
	/* First congestion-avoidance ACK: RFC 9438 4.8, K = 0 and W_max = cwnd_epoch. */
	tcp_cc_on_ack(&st, MSS, 70000, now, 100000);
	ck_assert(st.u.cubic.in_epoch);
	ck_assert(dabs(st.u.cubic.k_s) < 1e-12);
	ck_assert(dabs(st.u.cubic.w_max - 70.0) < 1e-9);
	ck_assert(dabs(st.u.cubic.cwnd_epoch - 70.0) < 1e-9);
	/* From there it probes upward (convex), never below where it started. */
	for (int i = 0; i < 30; i++)
		one_rtt(&st, &now, 100000);
	ck_assert(segs(&st) > 70.0);
}
END_TEST

START_TEST(first_epoch_without_loss_probes_from_cwnd)
{
	struct tcp_cc_state st;
	tcp_cc_init(&st, tcp_cc_by_algo(TPA_CC_CUBIC), MSS, 10);
	st.ssthresh = 20000; /* as if the peer's window had capped slow start */
	uint64_t now = 1 * SEC;
	while (tcp_cc_in_slow_start(&st))
		one_rtt(&st, &now, 50000);
	tcp_cc_on_ack(&st, MSS, tcp_cc_cwnd(&st), now, 50000);
	ck_assert(dabs(st.u.cubic.k_s) < 1e-12);
	ck_assert(st.u.cubic.w_max >= 20.0);
}
END_TEST

START_TEST(idle_time_is_not_growth_time)
{
	struct tcp_cc_state a, b, c;
	after_loss_at_100(&a);
	uint64_t now = 1 * SEC;
	for (int i = 0; i < 10; i++)
		one_rtt(&a, &now, 100000);
	memcpy(&b, &a, sizeof(a));
	memcpy(&c, &a, sizeof(a));
	uint32_t before = tcp_cc_cwnd(&a);
	/* a: keeps sending. b: idle for 800 ms (< RTO of 1 s), then the same ACK. c: the same
	 * idle period without telling CUBIC about it. */
	tcp_cc_on_ack(&a, MSS, before, now, 100000);
	tcp_cc_after_idle(&b, 800000, 1000000, now + 800000);
	ck_assert_uint_eq(tcp_cc_cwnd(&b), before);
	tcp_cc_on_ack(&b, MSS, before, now + 800000, 100000);
	tcp_cc_on_ack(&c, MSS, before, now + 800000, 100000);
	ck_assert_uint_eq(tcp_cc_cwnd(&b), tcp_cc_cwnd(&a));
	ck_assert_uint_gt(tcp_cc_cwnd(&c), tcp_cc_cwnd(&a));
	/* Not bursty: one ACK after the pause adds well under one segment. */
	ck_assert_uint_lt(tcp_cc_cwnd(&b) - before, MSS);

	/* Idle longer than the RTO: restart window (IW = 100 segments here would not cut, so
	 * use a flow with a small IW). */
	tcp_cc_init(&a, tcp_cc_by_algo(TPA_CC_CUBIC), MSS, 10);
	tcp_cc_enter_recovery(&a, 100000, 0, true); /* cwnd 70 segments, ssthresh 70 */
	tcp_cc_exit_recovery(&a, 70000, 0);
	now = 1 * SEC;
	one_rtt(&a, &now, 100000);
	ck_assert(a.u.cubic.in_epoch);
	tcp_cc_after_idle(&a, 5 * SEC, 1000000, now + 5 * SEC);
	ck_assert_uint_eq(tcp_cc_cwnd(&a), 10000);
	ck_assert(!a.u.cubic.in_epoch);
	ck_assert(tcp_cc_in_slow_start(&a));
}
END_TEST

START_TEST(timestamps_going_backwards_are_harmless)
{
	struct tcp_cc_state st;
	after_loss_at_100(&st);
	tcp_cc_on_ack(&st, MSS, 70000, 10 * SEC, 100000);
	uint32_t w = tcp_cc_cwnd(&st);
	tcp_cc_on_ack(&st, MSS, w, 5 * SEC, 100000); /* earlier than the epoch start */
	ck_assert_uint_ge(tcp_cc_cwnd(&st), w);
	ck_assert_uint_le(tcp_cc_cwnd(&st), w + MSS);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_cc_cubic");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, multiplicative_decrease);
	tcase_add_test(tc, k_from_formula);
	tcase_add_test(tc, per_ack_increment);
	tcase_add_test(tc, concave_then_convex_trajectory);
	tcase_add_test(tc, fast_convergence);
	tcase_add_test(tc, reno_friendly_region_at_small_rtt);
	tcase_add_test(tc, rto_restarts_epoch_with_k_zero);
	tcase_add_test(tc, first_epoch_without_loss_probes_from_cwnd);
	tcase_add_test(tc, idle_time_is_not_growth_time);
	tcase_add_test(tc, timestamps_going_backwards_are_harmless);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
