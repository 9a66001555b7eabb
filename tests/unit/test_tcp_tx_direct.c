/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The idle connection's reply sent directly (stack/tcp_output.c: send_idle_reply, and
 * tcp_send_reply for a buffer written into the empty ring) against the general path (send_new,
 * tcp_send_segment, xmit): two rigs with the same key and clock hold the same connection
 * (timestamps, SACK, window scaling, as with Linux); every step is done on both, the second with
 * the direct path switched off (tcp_tx_direct_off, set around everything done on it: timers and
 * input call tcp_output too). After each step the two connections must be identical field by field
 * (pointers aside; RACK's records, the receive queues and the send ring compared by content), the
 * counters identical (tcp_tx_direct aside) and the frames sent identical byte for byte. The
 * positive cases check the direct path was taken; the writes it must leave alone (data in flight,
 * MSG_MORE, cork, more than a segment, a window or congestion window too small, SACK blocks to
 * report, recovery, after shutdown) check it was not; no mbuf left shows both fail alike and
 * recover alike; a stale frame cache and checksum offload (the offload flags and lengths compared
 * too) are covered. The two rigs and the comparison: tests/common/twin_rig.h.
 */
#include <check.h>
#include <stddef.h>
#include <stdlib.h>

#include <rte_mbuf.h>

#include "check_run.h"
#include "tcp_impl.h"
#include "twin_rig.h"

static struct twin_rig tw; /* rig [0] direct path on, [1] off */

/* Everything the stack sent acknowledged, until nothing is left to send. */
static void ack_all(void)
{
	for (int k = 0; k < 20; k++) {
		twin_ack_in(&tw, twin_conn(&tw, 0)->snd_max);
		if (!twin_conn(&tw, 0)->sb.len)
			return;
	}
	ck_abort_msg("data left unsent");
}

/* A request in, read, its reply out (acknowledging the request), acknowledged by the next. */
static uint64_t request_reply(uint32_t reply)
{
	twin_data_in(&tw, 31);
	twin_read(&tw);
	uint64_t d = twin_writev(&tw, reply, 1, 0);
	twin_advance(&tw, VCLOCK_MS(1));
	ack_all();
	return d;
}

static void setup(void)
{
	twin_setup(&tw, &tcp_tx_direct_off, offsetof(struct tpa_stack_stats, tcp_tx_direct));
}

static void teardown(void)
{
	twin_teardown(&tw);
}

/* The redis pattern, replies of every size class up to a full segment, one or two buffers;
 * also after an idle period longer than the RTO (congestion window restart first). */
START_TEST(request_reply_taken_direct)
{
	uint32_t mss = tcp_eff_mss(tw.rig[0].s, twin_conn(&tw, 0));
	const uint32_t sizes[] = {1, 2, 5, 9, 64, 511, 1000, mss - 1, mss};
	for (int r = 0; r < 60; r++) {
		ck_assert_uint_eq(request_reply(sizes[r % 9]), 1);
		if (r % 10 == 9)
			twin_clear_frames(&tw);
	}
	twin_data_in(&tw, 31);
	twin_read(&tw);
	ck_assert_uint_eq(twin_writev(&tw, 700, 2, 0), 1);
	ack_all();
	twin_advance(&tw, VCLOCK_MS(200)); /* the delayed-ACK and probe timers, nothing due */
	twin_advance(&tw, VCLOCK_S(3));
	ck_assert_uint_eq(request_reply(9), 1);
	ck_assert_uint_eq(request_reply(9), 1);
}
END_TEST

/* Writes the direct path leaves to the general one, each followed by one it takes. */
START_TEST(busy_or_special_not_taken)
{
	uint32_t mss = tcp_eff_mss(tw.rig[0].s, twin_conn(&tw, 0));
	ck_assert_uint_eq(request_reply(9), 1);
	/* More than a segment. */
	ck_assert_uint_eq(twin_writev(&tw, mss + 1, 1, 0), 0);
	ack_all();
	/* Data in flight: the second write waits or goes behind it. */
	ck_assert_uint_eq(twin_writev(&tw, 100, 1, 0), 1);
	ck_assert_uint_eq(twin_writev(&tw, 100, 1, 0), 0);
	ack_all();
	/* MSG_MORE holds it; the next write sends both in one segment, directly (the ring was
	 * not empty, nothing is in flight). */
	ck_assert_uint_eq(twin_writev(&tw, 10, 1, MSG_MORE), 0);
	ck_assert_uint_eq(twin_conn(&tw, 0)->sb.len, 10);
	ck_assert_uint_eq(twin_writev(&tw, 10, 1, 0), 1);
	ack_all();
	/* Cork. */
	int one = 1, zero = 0;
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(
		        tpa_setsockopt(tw.rig[i].s, tw.sock[i], TPA_SO_CORK, &one, sizeof(one)), 0);
	ck_assert_uint_eq(twin_writev(&tw, 10, 1, 0), 0);
	for (int i = 0; i < 2; i++) {
		twin_use(&tw, i);
		ck_assert_int_eq(
		        tpa_setsockopt(tw.rig[i].s, tw.sock[i], TPA_SO_CORK, &zero, sizeof(zero)),
		        0);
		tpa_stack_flush(tw.rig[i].s);
	}
	twin_end(&tw);
	ack_all();
	ck_assert_uint_eq(request_reply(9), 1);
	/* The peer's window smaller than the reply. */
	tw.peer_win = 2; /* 256 bytes */
	ack_all();
	ck_assert_uint_eq(twin_writev(&tw, 300, 1, 0), 0);
	tw.peer_win = 512;
	ack_all();
	ack_all();
	ck_assert_uint_eq(request_reply(300), 1);
	/* Out-of-order data held: the reply reports SACK blocks. */
	tw.peer_tsval++;
	twin_send(&tw, (struct twin_seg){.flags = CRAFT_TCP_ACK,
	                                 .seq = tw.peer_nxt + 50,
	                                 .ack = tw.peer_ack,
	                                 .len = 50});
	ck_assert_uint_eq(twin_writev(&tw, 20, 1, 0), 0);
	twin_data_in(&tw, 50);
	tw.peer_nxt += 50;
	ack_all();
	twin_read(&tw);
	ck_assert_uint_eq(request_reply(20), 1);
}
END_TEST

/* A congestion window smaller than the reply after losses, recovery, then the direct path. */
START_TEST(recovery_and_small_cwnd_not_taken)
{
	twin_advance(&tw, VCLOCK_MS(5));
	uint32_t mss = tcp_eff_mss(tw.rig[0].s, twin_conn(&tw, 0));
	twin_writev(&tw, 8 * mss, 1, 0);
	uint32_t una = tw.peer_ack;
	twin_advance(&tw, VCLOCK_MS(5));
	for (uint32_t k = 2; k <= 8; k++) {
		tw.peer_tsval++;
		twin_send(&tw, (struct twin_seg){.flags = CRAFT_TCP_ACK,
		                                 .seq = tw.peer_nxt,
		                                 .ack = una,
		                                 .nsack = 1,
		                                 .sack = {una + mss, una + k * mss}});
	}
	twin_advance(&tw, VCLOCK_MS(20));
	ck_assert(twin_conn(&tw, 0)->flags & TSF_IN_RECOVERY);
	twin_ack_in(&tw, una + 8 * mss);
	ck_assert(!(twin_conn(&tw, 0)->flags & TSF_IN_RECOVERY));
	ck_assert_uint_eq(request_reply(9), 1);
	/* Retransmission timeouts leave a window of one segment: a full one still goes. */
	twin_writev(&tw, 3 * mss, 1, 0);
	for (int k = 0; k < 3; k++)
		twin_advance(&tw, VCLOCK_S(2));
	ack_all();
	ck_assert_uint_eq(request_reply(mss), 1);
	/* After shutdown nothing more is written; the FIN goes by the general path. */
	for (int i = 0; i < 2; i++) {
		twin_use(&tw, i);
		ck_assert_int_eq(tpa_shutdown(tw.rig[i].s, tw.sock[i], SHUT_WR), 0);
		tpa_stack_flush(tw.rig[i].s);
	}
	twin_end(&tw);
	ack_all();
}
END_TEST

/* No mbuf: both paths fail alike (persist timer armed, nothing sent), and the timer sends it. */
START_TEST(no_mbuf_fails_alike)
{
	ck_assert_uint_eq(request_reply(9), 1);
	twin_data_in(&tw, 31);
	twin_read(&tw);
	static struct rte_mbuf *held[2][2048];
	uint32_t n[2] = {0, 0};
	for (int i = 0; i < 2; i++)
		while (n[i] < 2048 && (held[i][n[i]] = rte_pktmbuf_alloc(tw.rig[i].pool)) != NULL)
			n[i]++;
	ck_assert_uint_eq(n[0], n[1]);
	uint64_t before = twin_count(&tw);
	for (int i = 0; i < 2; i++) {
		twin_use(&tw, i);
		ck_assert_int_eq(tpa_send(tw.rig[i].s, tw.sock[i], "hello", 5, 0), 5);
		tpa_stack_flush(tw.rig[i].s);
	}
	twin_end(&tw);
	ck_assert_uint_eq(twin_count(&tw), before);
	ck_assert(twin_conn(&tw, 0)->persist);
	for (int i = 0; i < 2; i++)
		for (uint32_t k = 0; k < n[i]; k++)
			rte_pktmbuf_free(held[i][k]);
	twin_advance(&tw, VCLOCK_S(2));
	ack_all();
	ck_assert_uint_eq(twin_conn(&tw, 0)->sb.len, 0);
	ck_assert_uint_eq(request_reply(9), 1);
}
END_TEST

/* A reply by tpa_send into the empty ring (tcp_send_reply: the payload copied into the ring
 * and the frame in one pass, the headers from the frame cache): every length class of the
 * summing copy (words, a 4-, 2- and 1-byte tail), up to a full segment. */
START_TEST(reply_by_send_taken_direct)
{
	uint32_t mss = tcp_eff_mss(tw.rig[0].s, twin_conn(&tw, 0));
	const uint32_t sizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 511, mss - 1, mss};
	const unsigned n = sizeof(sizes) / sizeof(sizes[0]);
	for (unsigned r = 0; r < 2 * n; r++) {
		twin_data_in(&tw, 31);
		twin_read(&tw);
		ck_assert_uint_eq(twin_write(&tw, sizes[r % n]), 1);
		twin_advance(&tw, VCLOCK_MS(1));
		ack_all();
		if (r % 10 == 9)
			twin_clear_frames(&tw);
	}
	/* Not taken: more than a segment, then data in flight. */
	ck_assert_uint_eq(twin_write(&tw, mss + 1), 0);
	ck_assert_uint_eq(twin_write(&tw, 10), 0);
	ack_all();
	/* After an idle period longer than the RTO (left to tcp_output's restart), then again. */
	twin_advance(&tw, VCLOCK_S(3));
	twin_data_in(&tw, 31);
	twin_read(&tw);
	ck_assert_uint_eq(twin_write(&tw, 9), 1);
	ack_all();
	twin_data_in(&tw, 31);
	twin_read(&tw);
	ck_assert_uint_eq(twin_write(&tw, 9), 1);
	ack_all();
}
END_TEST

/* The frame cache out of date (expired, or the neighbour table changed): the reply goes out
 * through ipv4_output as on the general path, and the rebuilt cache serves the next. */
START_TEST(stale_frame_cache_alike)
{
	ck_assert_uint_eq(request_reply(9), 1);
	for (int i = 0; i < 2; i++)
		twin_conn(&tw, i)->fc.until_ns = 0;
	twin_data_in(&tw, 31);
	twin_read(&tw);
	ck_assert_uint_eq(twin_write(&tw, 9), 1);
	ack_all();
	for (int i = 0; i < 2; i++)
		twin_conn(&tw, i)->fc.gen++;
	ck_assert_uint_eq(request_reply(100), 1);
	twin_data_in(&tw, 31);
	twin_read(&tw);
	ck_assert_uint_eq(twin_write(&tw, 9), 1);
	ack_all();
}
END_TEST

/* A device that computes the checksums: the segment carries the pseudo-header sum, the offload
 * flags and lengths set as the general path sets them. */
START_TEST(reply_with_cksum_offload)
{
	for (int i = 0; i < 2; i++)
		tw.rig[i].s->cfg.dev.tx_offloads |=
		        TPA_DEV_OFFLOAD_IPV4_CKSUM | TPA_DEV_OFFLOAD_TCP_CKSUM;
	ck_assert_uint_eq(request_reply(9), 1);
	for (uint32_t len = 1; len < 40; len += 7) {
		twin_data_in(&tw, 31);
		twin_read(&tw);
		ck_assert_uint_eq(twin_write(&tw, len), 1);
		ack_all();
	}
	ck_assert_uint_le(tw.rig[0].cap.count, CAPTURE_MAX_FRAMES);
	ck_assert_uint_ne(tw.rig[0].cap.frames[tw.rig[0].cap.count - 1].ol_flags, 0);
	/* The IPv4 checksum alone offloaded. */
	for (int i = 0; i < 2; i++)
		tw.rig[i].s->cfg.dev.tx_offloads &= ~(uint32_t)TPA_DEV_OFFLOAD_TCP_CKSUM;
	twin_data_in(&tw, 31);
	twin_read(&tw);
	ck_assert_uint_eq(twin_write(&tw, 33), 1);
	ack_all();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_tx_direct");
	TCase *tc = tcase_create("direct");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, request_reply_taken_direct);
	tcase_add_test(tc, busy_or_special_not_taken);
	tcase_add_test(tc, recovery_and_small_cwnd_not_taken);
	tcase_add_test(tc, no_mbuf_fails_alike);
	tcase_add_test(tc, reply_by_send_taken_direct);
	tcase_add_test(tc, stale_frame_cache_alike);
	tcase_add_test(tc, reply_with_cksum_offload);
	suite_add_tcase(s, tc);
	return check_run(s, CK_NOFORK);
}
