/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shim's sleeper registry: a kick reaches every registered sleeper exactly once, and a
 * sleeper that wakes for any other reason never takes a token meant for another. (The old
 * scheme let any waking thread take a token: python3's threaded http.server then slept forever
 * in send() while its main thread, waking every 500 ms in poll(), swallowed the sender's kicks.)
 */
#include <check.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "sleep.h"

/* Tokens in the kick fd, without sleeping: a poll with zero timeout per token. */
static int tokens(void)
{
	struct pollfd p = {.fd = shim_kick_fd(), .events = POLLIN};
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static int drain(void)
{
	int n = 0;
	uint64_t v;
	while (read(shim_kick_fd(), &v, sizeof(v)) == sizeof(v))
		n++;
	return n;
}

START_TEST(kick_reaches_each_sleeper_once)
{
	ck_assert_int_ge(shim_sleep_init(), 0);
	drain();
	struct shim_sleeper a, b;
	shim_sleep_begin(&a);
	shim_sleep_begin(&b);
	shim_sleepers_kick();
	shim_sleepers_kick(); /* already kicked: no second token each */
	ck_assert(shim_sleeper_kicked(&a) && shim_sleeper_kicked(&b));
	shim_sleep_end(&a);
	shim_sleep_end(&b);
	ck_assert_int_eq(drain(), 0); /* each took exactly its own */
	ck_assert(!shim_sleepers_any());
}
END_TEST

START_TEST(spurious_wakeup_keeps_others_token)
{
	ck_assert_int_ge(shim_sleep_init(), 0);
	drain();
	struct shim_sleeper poller, sender;
	shim_sleep_begin(&poller);
	shim_sleep_begin(&sender);
	shim_sleepers_kick(); /* ACKs freed the sender's buffer: both are kicked */
	/* The poller runs first, takes its token and goes back to sleep... */
	shim_sleep_end(&poller);
	shim_sleep_begin(&poller);
	/* ...and wakes again at once (the sender's token is still there): no kick for it now. */
	ck_assert(tokens());
	shim_sleep_end(&poller);
	shim_sleep_begin(&poller);
	shim_sleep_end(&poller);
	/* The sender has not run yet: its token must still be waiting for it. */
	ck_assert(tokens());
	shim_sleep_end(&sender);
	ck_assert_int_eq(drain(), 0);
}
END_TEST

START_TEST(poll_kicks_only_on_change)
{
	ck_assert_int_ge(shim_sleep_init(), 0);
	drain();
	struct shim_sleeper w;
	shim_sleep_begin(&w);
	shim_sleepers_after_poll(0); /* nothing happened */
	ck_assert(!shim_sleeper_kicked(&w));
	shim_sleep_note_event(); /* e.g. a timer aborted a connection */
	shim_sleepers_after_poll(0);
	ck_assert(shim_sleeper_kicked(&w));
	shim_sleep_end(&w);
	shim_sleep_begin(&w);
	shim_sleepers_after_poll(3); /* packets processed */
	ck_assert(shim_sleeper_kicked(&w));
	shim_sleep_end(&w);
	/* An event raised while nobody sleeps is not kept for a later sleeper. */
	shim_sleep_note_event();
	shim_sleepers_after_poll(0);
	shim_sleep_begin(&w);
	shim_sleepers_after_poll(0);
	ck_assert(!shim_sleeper_kicked(&w));
	shim_sleep_end(&w);
	ck_assert_int_eq(drain(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("shim_sleep");
	TCase *t = tcase_create("sleepers");
	tcase_add_test(t, kick_reaches_each_sleeper_once);
	tcase_add_test(t, spurious_wakeup_keeps_others_token);
	tcase_add_test(t, poll_kicks_only_on_change);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
