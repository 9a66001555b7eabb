/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The receive fast path (stack/tcp_fastpath.c) against the general path: two rigs with the
 * same key and clock hold the same connection (timestamps, SACK, window scaling negotiated, as
 * with Linux); every step is done on both, the first taking the fast path where it applies,
 * the second with it switched off (tcp_fastpath_off). After each step the two connections
 * must be identical field by field (pointers aside; the receive queue, RACK's records and the
 * send ring's bytes compared by content), the counters identical (tcp_rx_fast aside) and the
 * frames sent identical byte for byte. The positive cases check the fast path was taken; the
 * segments it must leave alone (out of order, SYN/FIN/RST/URG, SACK blocks, a window change,
 * an old timestamp, a duplicate ACK, data beyond the window, in recovery) check it was not.
 * The two rigs and the comparison: tests/common/twin_rig.h.
 */
#include <check.h>
#include <stddef.h>
#include <stdlib.h>

#include "check_run.h"
#include "tcp_impl.h"
#include "tcp_input.h"
#include "twin_rig.h"

static struct twin_rig tw; /* rig [0] fast path on, [1] off */

static void setup(void)
{
	twin_setup(&tw, &tcp_fastpath_off, offsetof(struct tpa_stack_stats, tcp_rx_fast));
}

static void teardown(void)
{
	twin_teardown(&tw);
}

/* The redis pattern: a request that acknowledges the previous reply, the reply. */
START_TEST(request_reply_taken_fast)
{
	for (int r = 0; r < 50; r++) {
		ck_assert_uint_eq(twin_data_in(&tw, 31), 1);
		twin_read(&tw);
		twin_write(&tw, 9);
		tw.peer_ack = sim_frame_tcp(&tw.rig[0], tw.rig[0].cap.count - 1).seq + 9;
		twin_advance(&tw, VCLOCK_MS(1));
		if (r % 10 == 9)
			twin_clear_frames(&tw);
	}
	/* The last reply acknowledged by a pure ACK, then the delayed-ACK timer. */
	ck_assert_uint_eq(twin_ack_in(&tw, tw.peer_ack), 1);
	twin_advance(&tw, VCLOCK_MS(100));
	/* After an idle period longer than the RTO: quick-ACK mode, still on the fast path. */
	twin_advance(&tw, VCLOCK_S(2));
	ck_assert_uint_eq(twin_data_in(&tw, 31), 1);
	ck_assert_uint_eq(twin_data_in(&tw, 31), 1);
}
END_TEST

/* Bulk data in (every second segment acknowledged at once), read or not. */
START_TEST(bulk_in_taken_fast)
{
	for (int r = 0; r < 60; r++) {
		ck_assert_uint_eq(twin_data_in(&tw, 1000), 1);
		if (r % 7 == 0)
			twin_read(&tw);
		if (r % 20 == 19)
			twin_clear_frames(&tw);
	}
}
END_TEST

/* Bulk data out, acknowledged in pieces by pure ACKs: RTT, RACK, congestion window. */
START_TEST(bulk_out_acks_taken_fast)
{
	uint32_t una = tw.peer_ack;
	for (int r = 0; r < 5; r++) {
		twin_write(&tw, 8000);
		uint32_t top = una + 8000;
		twin_advance(&tw, VCLOCK_MS(2));
		for (uint32_t a = una + 1448; seq_lt(a, top); a += 2 * 1448)
			ck_assert_uint_eq(twin_ack_in(&tw, a), 1);
		ck_assert_uint_eq(twin_ack_in(&tw, top), 1);
		una = top;
		twin_clear_frames(&tw);
	}
}
END_TEST

START_TEST(slow_cases_not_taken)
{
	ck_assert_uint_eq(twin_data_in(&tw, 100), 1);
	/* Out of order: a hole of 100 bytes. */
	ck_assert_uint_eq(twin_send(&tw, (struct twin_seg){.flags = CRAFT_TCP_ACK,
	                                                   .seq = tw.peer_nxt + 100,
	                                                   .ack = tw.peer_ack,
	                                                   .len = 100}),
	                  0);
	/* In order but out-of-order data held: the general path (it drains the queue). */
	ck_assert_uint_eq(twin_data_in(&tw, 100), 0);
	tw.peer_nxt += 100;
	ck_assert_uint_eq(twin_data_in(&tw, 100), 1);
	/* A window change. */
	tw.peer_win = 1024;
	ck_assert_uint_eq(twin_data_in(&tw, 10), 0);
	ck_assert_uint_eq(twin_data_in(&tw, 10), 1);
	/* URG. */
	ck_assert_uint_eq(twin_send(&tw, (struct twin_seg){.flags = CRAFT_TCP_ACK | 0x20,
	                                                   .seq = tw.peer_nxt,
	                                                   .ack = tw.peer_ack}),
	                  0);
	/* An old timestamp (PAWS drops it). */
	ck_assert_uint_eq(twin_send(&tw, (struct twin_seg){.flags = CRAFT_TCP_ACK,
	                                                   .seq = tw.peer_nxt,
	                                                   .ack = tw.peer_ack,
	                                                   .len = 10,
	                                                   .tsval = tw.peer_tsval - 100}),
	                  0);
	/* No timestamp on a connection that has them. */
	ck_assert_uint_eq(twin_send(&tw, (struct twin_seg){.flags = CRAFT_TCP_ACK,
	                                                   .seq = tw.peer_nxt,
	                                                   .ack = tw.peer_ack,
	                                                   .no_ts = true}),
	                  0);
	twin_read(&tw);
	/* A SYN in the window: challenge ACK. */
	ck_assert_uint_eq(
	        twin_send(&tw,
	                  (struct twin_seg){.flags = CRAFT_TCP_SYN, .seq = tw.peer_nxt, .ack = 0}),
	        0);
	/* Data out, then a duplicate ACK and one with a SACK block. */
	twin_write(&tw, 4000);
	uint32_t una = tw.peer_ack;
	ck_assert_uint_eq(twin_ack_in(&tw, una), 0);
	ck_assert_uint_eq(twin_send(&tw, (struct twin_seg){.flags = CRAFT_TCP_ACK,
	                                                   .seq = tw.peer_nxt,
	                                                   .ack = una,
	                                                   .nsack = 1,
	                                                   .sack = {una + 1448, una + 2896}}),
	                  0);
	/* An ACK of new data with the scoreboard not empty. */
	ck_assert_uint_eq(twin_ack_in(&tw, una + 100), 0);
	/* A FIN with the rest acknowledged. */
	ck_assert_uint_eq(twin_send(&tw, (struct twin_seg){.flags = CRAFT_TCP_ACK | CRAFT_TCP_FIN,
	                                                   .seq = tw.peer_nxt,
	                                                   .ack = una + 4000}),
	                  0);
	tw.peer_nxt++;
	tw.peer_ack = una + 4000;
}
END_TEST

/* Losses: recovery entered (SACK, RACK), segments during recovery stay on the general path. */
START_TEST(recovery_not_taken)
{
	twin_advance(&tw, VCLOCK_MS(5));
	twin_write(&tw, 8 * 1448);
	uint32_t una = tw.peer_ack;
	twin_advance(&tw, VCLOCK_MS(5));
	/* The first segment lost: SACKs for the rest. */
	for (uint32_t k = 2; k <= 8; k++)
		ck_assert_uint_eq(
		        twin_send(&tw, (struct twin_seg){.flags = CRAFT_TCP_ACK,
		                                         .seq = tw.peer_nxt,
		                                         .ack = una,
		                                         .nsack = 1,
		                                         .sack = {una + 1448, una + k * 1448}}),
		        0);
	twin_advance(&tw, VCLOCK_MS(20));
	ck_assert(twin_conn(&tw, 0)->flags & TSF_IN_RECOVERY);
	ck_assert_uint_eq(twin_data_in(&tw, 10), 0);
	/* Everything acknowledged: recovery ends, then the fast path again. */
	ck_assert_uint_eq(twin_ack_in(&tw, una + 8 * 1448), 0);
	ck_assert(!(twin_conn(&tw, 0)->flags & TSF_IN_RECOVERY));
	ck_assert_uint_eq(twin_data_in(&tw, 10), 1);
}
END_TEST

/* A tail loss probe out (the reply unanswered past the probe timeout), then the reply
 * acknowledged and a pure ACK of nothing new: the probe's outcome on the fast path (RACK's
 * plain-ACK step) as on the general one. */
START_TEST(tail_probe_acked_taken_fast)
{
	for (int r = 0; r < 3; r++) {
		ck_assert_uint_eq(twin_data_in(&tw, 31), 1);
		twin_read(&tw);
		twin_write(&tw, 9);
		uint32_t top = tw.peer_ack + 9;
		twin_advance(&tw, VCLOCK_MS(60));
		ck_assert(twin_conn(&tw, 0)->rack.tlp_on);
		ck_assert_uint_eq(twin_ack_in(&tw, top), 1);
		ck_assert_uint_eq(twin_ack_in(&tw, top), 1);
		ck_assert(!twin_conn(&tw, 0)->rack.tlp_on);
		twin_clear_frames(&tw);
	}
	/* Two replies, the first acknowledged: the second still out, RACK's rule runs. */
	twin_write(&tw, 9);
	twin_advance(&tw, VCLOCK_MS(1));
	twin_write(&tw, 9);
	ck_assert_uint_eq(twin_ack_in(&tw, tw.peer_ack + 9), 1);
	twin_advance(&tw, VCLOCK_MS(1));
	ck_assert_uint_eq(twin_ack_in(&tw, tw.peer_ack + 9), 1);
}
END_TEST

/* Data left unread (segments too long to be appended to the one before): the receive queue
 * grows twice on the fast path as on the general one. */
START_TEST(unread_data_grows_queue_fast)
{
	for (int r = 0; r < 40; r++) {
		ck_assert_uint_eq(twin_data_in(&tw, 600), 1);
		if (r % 20 == 19)
			twin_clear_frames(&tw);
	}
	ck_assert_uint_ge(twin_conn(&tw, 0)->rq.cap, 64);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_fastpath");
	TCase *tc = tcase_create("fastpath");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, request_reply_taken_fast);
	tcase_add_test(tc, bulk_in_taken_fast);
	tcase_add_test(tc, bulk_out_acks_taken_fast);
	tcase_add_test(tc, slow_cases_not_taken);
	tcase_add_test(tc, recovery_not_taken);
	tcase_add_test(tc, tail_probe_acked_taken_fast);
	tcase_add_test(tc, unread_data_grows_queue_fast);
	suite_add_tcase(s, tc);
	return check_run(s, CK_NOFORK);
}
