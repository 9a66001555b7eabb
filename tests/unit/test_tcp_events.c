/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A socket's readiness (tcp_sock_events): the shortcut for an established connection open both
 * ways against the general computation (tcp_sock_events_general_only), for every state and
 * every combination of the fields the events depend on.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "tcp_impl.h"

static const uint32_t flag_bits[] = {TSF_FIN_RCVD, TSF_SHUT_RD, TSF_SHUT_WR, TSF_RESET,
                                     TSF_WAS_CONNECTED};
#define NFLAGS (sizeof(flag_bits) / sizeof(flag_bits[0]))

static uint32_t events(const struct tcp_sock *ts, bool general)
{
	tcp_sock_events_general_only = general;
	uint32_t ev = tcp_sock_events(ts);
	tcp_sock_events_general_only = false;
	return ev;
}

START_TEST(shortcut_as_general)
{
	struct tcp_sock *ts = calloc(1, sizeof(*ts));
	ck_assert_ptr_nonnull(ts);
	static const uint32_t queued[] = {0, 1, 5000};
	ts->sndbuf_max = 4096;
	static const uint32_t sndlen[] = {0, 2048, 4095, 4096, 5000};
	unsigned established = 0;
	for (int state = TPA_TCP_ESTABLISHED; state <= TPA_TCP_CLOSING; state++)
		for (uint32_t fm = 0; fm < (1u << NFLAGS); fm++)
			for (int err = 0; err < 2; err++)
				for (size_t q = 0; q < 3; q++)
					for (size_t l = 0; l < 5; l++)
						for (uint32_t acc = 0; acc < 2; acc++) {
							ts->state = state;
							ts->flags = 0;
							for (size_t b = 0; b < NFLAGS; b++)
								if (fm & (1u << b))
									ts->flags |= flag_bits[b];
							ts->soerror = err ? ECONNRESET : 0;
							ts->rcv_queued = queued[q];
							ts->sb.len = sndlen[l];
							ts->acc_count = acc;
							ck_assert_uint_eq(events(ts, false),
							                  events(ts, true));
							established += state == TPA_TCP_ESTABLISHED;
						}
	ck_assert_uint_gt(established, 0);
	free(ts);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_events");
	TCase *tc = tcase_create("events");
	tcase_add_test(tc, shortcut_as_general);
	suite_add_tcase(s, tc);
	return check_run(s, CK_NOFORK);
}
