/* SPDX-License-Identifier: BSD-3-Clause */
/* The TCP timer wheel: expiry at the right tick, cancel, re-arm, deadlines beyond one round of
 * the wheel, deadlines already past, and the earliest-deadline query. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "tcp_timer.h"

#define MS 1000000ull

static struct tcp_wheel w;

static int expire_all(uint64_t now, struct tcp_timer **out, int max)
{
	int n = 0;
	struct tcp_timer *t;
	while ((t = tcp_wheel_expired(&w, now)) != NULL) {
		ck_assert_int_lt(n, max);
		out[n++] = t;
	}
	return n;
}

START_TEST(fires_at_deadline_not_before)
{
	tcp_wheel_init(&w, 1000 * MS);
	struct tcp_timer a = {0}, b = {0};
	tcp_timer_arm(&w, &a, 1040 * MS);
	tcp_timer_arm(&w, &b, 1200 * MS + 500);
	ck_assert_uint_eq(tcp_wheel_next(&w), 1040 * MS);
	struct tcp_timer *got[4];
	ck_assert_int_eq(expire_all(1039 * MS, got, 4), 0);
	ck_assert_int_eq(expire_all(1040 * MS, got, 4), 1);
	ck_assert_ptr_eq(got[0], &a);
	ck_assert(!tcp_timer_armed(&a));
	ck_assert_uint_eq(tcp_wheel_next(&w), 1200 * MS + 500);
	/* Same tick, but not yet its nanosecond. */
	ck_assert_int_eq(expire_all(1200 * MS, got, 4), 0);
	ck_assert_int_eq(expire_all(1200 * MS + 500, got, 4), 1);
	ck_assert_ptr_eq(got[0], &b);
	ck_assert_uint_eq(tcp_wheel_next(&w), UINT64_MAX);
}
END_TEST

/* A poll with nothing due keeps the earliest deadline known (before: forgotten, so every sleep
 * after a poll rescanned the wheel); once past, it is found again exactly. */
START_TEST(a_poll_with_nothing_due_keeps_the_earliest_deadline)
{
	tcp_wheel_init(&w, 0);
	struct tcp_timer a = {0}, b = {0};
	tcp_timer_arm(&w, &a, 100 * MS);
	tcp_timer_arm(&w, &b, 900 * MS);
	struct tcp_timer *got[4];
	ck_assert_int_eq(expire_all(50 * MS, got, 4), 0);
	ck_assert_uint_eq(w.next_hint, 100 * MS);
	ck_assert_uint_eq(tcp_wheel_next(&w), 100 * MS);
	tcp_timer_cancel(&w, &a);
	ck_assert_uint_le(tcp_wheel_next(&w), 100 * MS); /* a lower bound: an early look at most */
	ck_assert_int_eq(expire_all(150 * MS, got, 4), 0);
	ck_assert_uint_eq(tcp_wheel_next(&w), 900 * MS);
	ck_assert_int_eq(expire_all(900 * MS, got, 4), 1);
	ck_assert_ptr_eq(got[0], &b);
}
END_TEST

START_TEST(cancel_and_rearm)
{
	tcp_wheel_init(&w, 0);
	struct tcp_timer a = {0};
	tcp_timer_arm(&w, &a, 10 * MS);
	tcp_timer_cancel(&w, &a);
	tcp_timer_cancel(&w, &a); /* idempotent */
	struct tcp_timer *got[4];
	ck_assert_int_eq(expire_all(20 * MS, got, 4), 0);
	tcp_timer_arm(&w, &a, 30 * MS);
	tcp_timer_arm(&w, &a, 50 * MS); /* re-arm moves it */
	ck_assert_int_eq(expire_all(40 * MS, got, 4), 0);
	ck_assert_int_eq(expire_all(50 * MS, got, 4), 1);
	ck_assert_uint_eq(w.armed, 0);
}
END_TEST

START_TEST(beyond_one_round_and_past_deadlines)
{
	tcp_wheel_init(&w, 0);
	struct tcp_timer far = {0}, near = {0}, past = {0};
	uint64_t far_at = (uint64_t)TCP_WHEEL_SLOTS * 3 * MS + 7 * MS; /* 3+ rounds away */
	tcp_timer_arm(&w, &far, far_at);
	tcp_timer_arm(&w, &near, 7 * MS); /* same slot as far */
	struct tcp_timer *got[4];
	ck_assert_int_eq(expire_all(7 * MS, got, 4), 1);
	ck_assert_ptr_eq(got[0], &near);
	ck_assert_uint_eq(tcp_wheel_next(&w), far_at);
	ck_assert_int_eq(expire_all(far_at - 1, got, 4), 0);
	/* A jump over many rounds still finds it. */
	ck_assert_int_eq(expire_all(far_at + 100000 * MS, got, 4), 1);
	ck_assert_ptr_eq(got[0], &far);
	/* Already due when armed: fires at the next run. */
	uint64_t now = far_at + 100000 * MS;
	tcp_timer_arm(&w, &past, now - 5 * MS);
	ck_assert_int_eq(expire_all(now, got, 4), 1);
	ck_assert_ptr_eq(got[0], &past);
}
END_TEST

START_TEST(many_timers_all_fire_once)
{
	enum { N = 10000 };
	static struct tcp_timer t[N];
	tcp_wheel_init(&w, 0);
	for (int i = 0; i < N; i++) {
		t[i] = (struct tcp_timer){0};
		tcp_timer_arm(&w, &t[i], (uint64_t)(i % 9000) * MS + 1);
	}
	static struct tcp_timer *got[N];
	int total = 0;
	for (uint64_t now = 0; now <= 9000 * MS; now += 250 * MS)
		total += expire_all(now, got + total, N - total);
	total += expire_all(9000 * MS, got + total, N - total);
	ck_assert_int_eq(total, N);
	ck_assert_uint_eq(w.armed, 0);
}
END_TEST

/* Random arms, cancels and clock jumps (within a tick, across slots, over many rounds) against
 * a plain list: every timer fires once, at its deadline or at the first run after it, never
 * before; the earliest-deadline answer is never late, and after a run it lies ahead (a poller
 * sleeping until it makes progress); cancels leave no slot marked busy that holds nothing. */
START_TEST(random_against_model)
{
	enum { N = 64 };
	static struct tcp_timer t[N];
	static uint64_t due[N]; /* 0: not armed */
	uint64_t now = 5 * MS;
	uint32_t r = 12345;
	tcp_wheel_init(&w, now);
	for (int i = 0; i < N; i++) {
		t[i] = (struct tcp_timer){0};
		due[i] = 0;
	}
	for (int step = 0; step < 20000; step++) {
		r = r * 1103515245u + 12345u;
		int i = (int)(r >> 8) % N;
		uint32_t what = (r >> 20) % 8;
		if (what < 3) {
			static const uint64_t span[] = {MS / 2, 70 * MS, 5000 * MS, 40000 * MS};
			uint64_t at =
			        now + (uint64_t)((r >> 3) % 1000) * span[(r >> 13) % 4] / 1000;
			if ((r >> 17) % 16 == 0 && at > 2 * MS)
				at -= 2 * MS; /* possibly already past */
			tcp_timer_arm(&w, &t[i], at);
			due[i] = at;
		} else if (what < 4) {
			tcp_timer_cancel(&w, &t[i]);
			due[i] = 0;
		} else {
			uint64_t best = UINT64_MAX;
			for (int k = 0; k < N; k++)
				if (due[k] && due[k] < best)
					best = due[k];
			uint64_t next = tcp_wheel_next(&w);
			ck_assert_uint_le(next, best);
			static const uint64_t jump[] = {0, MS / 3, 3 * MS, 900 * MS, 9000 * MS};
			now += jump[(r >> 4) % 5];
			if (what == 7 && best != UINT64_MAX && best > now)
				now = best; /* as a poller sleeping until the next deadline */
			struct tcp_timer *x;
			while ((x = tcp_wheel_expired(&w, now)) != NULL) {
				int k = (int)(x - t);
				ck_assert(due[k] != 0 && due[k] <= now);
				due[k] = 0;
			}
			best = UINT64_MAX;
			for (int k = 0; k < N; k++) {
				ck_assert_msg(due[k] == 0 || due[k] > now,
				              "timer %d due %llu not run at %llu", k,
				              (unsigned long long)due[k], (unsigned long long)now);
				if (due[k] && due[k] < best)
					best = due[k];
			}
			uint64_t after = tcp_wheel_next(&w);
			ck_assert_uint_le(after, best);
			ck_assert(best == UINT64_MAX ? after == UINT64_MAX : after > now);
		}
		if (step % 16 == 0) {
			uint32_t wrong = 0;
			for (uint32_t b = 0; b < TCP_WHEEL_SLOTS; b++)
				wrong += (w.busy[b / 64] >> (b % 64) & 1) != (w.slot[b] != NULL);
			ck_assert_uint_eq(wrong, 0);
		}
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_timer");
	TCase *tc = tcase_create("wheel");
	tcase_add_test(tc, fires_at_deadline_not_before);
	tcase_add_test(tc, cancel_and_rearm);
	tcase_add_test(tc, a_poll_with_nothing_due_keeps_the_earliest_deadline);
	tcase_add_test(tc, beyond_one_round_and_past_deadlines);
	tcase_add_test(tc, many_timers_all_fire_once);
	tcase_add_test(tc, random_against_model);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
