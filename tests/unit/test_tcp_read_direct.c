/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A read of one buffer taken directly (stack/tcp_api.c tpa_recv with tcp_rcv_copy_one) against
 * the general path (tpa_recvv, tcp_rcv_copy): two rigs hold the same connection, every step is
 * done on both, the second with the direct read switched off (tcp_read_direct_off). After each
 * step the connections must be identical field by field (the receive queue by content), the
 * counters identical (tcp_read_direct aside), the bytes read and the frames sent (window
 * updates) identical. The positive cases check the direct read was taken (whole and partial
 * reads of one held segment, the last read of a drained window); the reads it must leave
 * alone (several segments held, MSG_PEEK, MSG_TRUNC, nothing held) check it was not; the
 * stack's count of held mbufs is compared too, and the teardown finds no mbuf lost. A consumed
 * request's mbuf is recycled: it carries the next segment the stack builds, or goes back to the
 * pool at the flush. The two rigs and the comparison: tests/common/twin_rig.h.
 */
#include <check.h>
#include <rte_mempool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "check_run.h"
#include "tcp_impl.h"
#include "twin_rig.h"

static struct twin_rig tw; /* rig [0] direct read on, [1] off */

static void setup(void)
{
	twin_setup(&tw, &tcp_read_direct_off, offsetof(struct tpa_stack_stats, tcp_read_direct));
}

static void teardown(void)
{
	twin_teardown(&tw);
}

/* Requests read whole, then one read in pieces: each read of the one held segment direct. */
START_TEST(one_segment_taken_direct)
{
	for (uint16_t len = 1; len < 1400; len = (uint16_t)(len * 3 + 1)) {
		twin_data_in(&tw, len);
		ck_assert_uint_eq(twin_recv(&tw, 65536, 0), 1);
		ck_assert_uint_eq(twin_conn(&tw, 0)->rcv_queued, 0);
	}
	twin_data_in(&tw, 1000);
	ck_assert_uint_eq(twin_recv(&tw, 1, 0), 1);
	ck_assert_uint_eq(twin_recv(&tw, 300, 0), 1);
	ck_assert_uint_eq(twin_conn(&tw, 0)->rcv_queued, 699);
	ck_assert_uint_eq(twin_recv(&tw, 699, 0), 1);
	ck_assert_uint_eq(twin_conn(&tw, 0)->rq.count, 0);
	/* Nothing held: the general path says EAGAIN on both. */
	ck_assert_uint_eq(twin_recv(&tw, 100, 0), 0);
}
END_TEST

/* Several segments held, MSG_PEEK, MSG_TRUNC: the general path. */
START_TEST(others_not_taken)
{
	twin_data_in(&tw, 500);
	twin_data_in(&tw, 700);
	ck_assert_uint_ge(twin_conn(&tw, 0)->rq.count, 2);
	ck_assert_uint_eq(twin_recv(&tw, 600, 0), 0);
	ck_assert_uint_eq(twin_conn(&tw, 0)->rq.count, 1);
	ck_assert_uint_eq(twin_recv(&tw, 100, MSG_PEEK), 0);
	ck_assert_uint_eq(twin_recv(&tw, 100, MSG_TRUNC), 0);
	ck_assert_uint_eq(twin_recv(&tw, 65536, 0), 1);
	ck_assert_uint_eq(twin_conn(&tw, 0)->rcv_queued, 0);
}
END_TEST

/* A small receive buffer filled by the peer closes the window; the reads that drain it send
 * the same window updates and leave the same advertised edge on both, the last read direct.
 * (A direct read alone never reopens the window by a worthwhile amount here: one segment of a
 * 2 KB mbuf is less than the 2 KB threshold; jumbo segments would.) */
START_TEST(window_update_alike)
{
	int small = 4096;
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(tpa_setsockopt(tw.rig[i].s, tw.sock[i], TPA_SO_RCVBUF, &small,
		                                sizeof(small)),
		                 0);
	twin_end(&tw);
	uint64_t direct = 0;
	for (int round = 0; round < 3; round++) {
		while (tcp_rcv_window(twin_conn(&tw, 0)) >= 1000)
			twin_data_in(&tw, 1000);
		twin_clear_frames(&tw);
		while (twin_conn(&tw, 0)->rq.count > 1)
			direct += twin_recv(&tw, 1000, 0);
		ck_assert_uint_ge(tw.rig[0].cap.count, 1); /* the window update */
		direct += twin_recv(&tw, 65536, 0);
		ck_assert_uint_eq(twin_conn(&tw, 0)->rcv_queued, 0);
	}
	ck_assert_uint_eq(direct, 3);
}
END_TEST

/* A consumed request's mbuf is kept by the stack and carries the next segment it builds (the
 * read's window update here, else the reply); one not taken again goes back to the pool at the
 * flush. Both rigs recycle (the switch is for the direct read only). */
static bool queued_frame(const struct tpa_stack *s, const struct rte_mbuf *m)
{
	for (uint16_t k = 0; k < s->txq_len; k++)
		if (s->txq[k] == m)
			return true;
	return false;
}

START_TEST(consumed_mbuf_carries_next_segment)
{
	unsigned kept = 0;
	for (int round = 0; round < 4; round++) {
		struct rte_mbuf *req[2];
		unsigned avail[2];
		twin_data_in(&tw, (uint16_t)(200 + round * 100));
		for (int i = 0; i < 2; i++) {
			struct tcp_sock *ts = tcp_sock_get(tw.rig[i].s, tw.sock[i]);
			req[i] = ts->rq.v[ts->rq.head].m;
			avail[i] = rte_mempool_avail_count(tw.rig[i].pool);
		}
		for (int i = 0; i < 2; i++) {
			struct tpa_stack *s = tw.rig[i].s;
			char buf[512];
			twin_use(&tw, i);
			ck_assert_int_eq(tpa_recv(s, tw.sock[i], buf, sizeof(buf), 0),
			                 200 + round * 100);
			/* Kept, or already carrying the window update the read sent. */
			ck_assert_uint_eq(s->recycled_n + queued_frame(s, req[i]), 1);
			kept += s->recycled_n;
			ck_assert_uint_eq(rte_mempool_avail_count(tw.rig[i].pool), avail[i]);
			if (round % 2 == 0) {
				ck_assert_int_eq(tpa_send(s, tw.sock[i], "+OK\r\n", 5, 0), 5);
				ck_assert(queued_frame(s, req[i]));
				ck_assert_uint_eq(s->recycled_n, 0);
			} else if (s->recycled_n) {
				/* Nothing sent: the flush gives it back. */
				tpa_stack_flush(s);
				ck_assert_uint_eq(s->recycled_n, 0);
				ck_assert_uint_eq(rte_mempool_avail_count(tw.rig[i].pool),
				                  avail[i] + 1);
			}
		}
		twin_end(&tw);
		if (round % 2 == 0)
			twin_ack_in(&tw, twin_conn(&tw, 0)->snd_nxt);
	}
	ck_assert_uint_ge(kept, 4);
}
END_TEST

/* The receive window by the rule (RFC 9293 3.8.6.2.2 and RFC 1122 4.2.3.3 as tcp_rcv_window
 * states them), without its shortcut for a connection with everything read. */
static uint32_t window_by_rule(const struct tcp_sock *ts)
{
	uint32_t space = ts->rcv_queued >= ts->rcvbuf_max ? 0 : ts->rcvbuf_max - ts->rcv_queued;
	uint32_t max = 65535u << ts->rcv_wscale;
	if (space > max)
		space = max;
	uint32_t old = seq_gt(ts->rcv_adv_edge, ts->rcv_nxt) ? ts->rcv_adv_edge - ts->rcv_nxt : 0;
	if (old > max)
		old = max;
	if (space <= old)
		return old;
	uint32_t step = ts->rcvbuf_max / 2 < ts->snd_mss ? ts->rcvbuf_max / 2 : ts->snd_mss;
	if (space - old < step && space < ts->rcvbuf_max)
		return old;
	return space & ~((1u << ts->rcv_wscale) - 1);
}

/* Every scale, buffer size, advertised edge and queue level, the shortcut included. */
START_TEST(receive_window_matches_rule)
{
	const uint32_t bufs[] = {1, 100, 1460, 2920, 65535, 65536, 262144, 1u << 20, 65535u << 14};
	const uint32_t queued[] = {0, 1, 37, 1460, 65535, 262144};
	const uint32_t mss[] = {536, 1460};
	struct tcp_sock ts;
	memset(&ts, 0, sizeof(ts));
	uint32_t checked = 0;
	for (uint8_t ws = 0; ws <= 14; ws++)
		for (size_t b = 0; b < sizeof(bufs) / sizeof(bufs[0]); b++)
			for (size_t q = 0; q < sizeof(queued) / sizeof(queued[0]); q++)
				for (size_t m = 0; m < 2; m++)
					for (int64_t d = -3000; d <= (int64_t)bufs[b] + 3000;
					     d += 1 + (int64_t)bufs[b] / 7) {
						ts.rcv_wscale = ws;
						ts.rcvbuf_max = bufs[b];
						ts.rcv_queued = queued[q];
						ts.snd_mss = mss[m];
						ts.rcv_nxt = 0xfffff000u; /* the edge wraps */
						ts.rcv_adv_edge = ts.rcv_nxt + (uint32_t)d;
						ck_assert_msg(
						        tcp_rcv_window(&ts) == window_by_rule(&ts),
						        "ws %u buf %u queued %u mss %u edge %+lld",
						        ws, bufs[b], queued[q], mss[m],
						        (long long)d);
						checked++;
					}
	ck_assert_uint_gt(checked, 10000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_read_direct");
	TCase *tc = tcase_create("direct");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, one_segment_taken_direct);
	tcase_add_test(tc, others_not_taken);
	tcase_add_test(tc, window_update_alike);
	tcase_add_test(tc, consumed_mbuf_carries_next_segment);
	tcase_add_test(tc, receive_window_matches_rule);
	suite_add_tcase(s, tc);
	return check_run(s, CK_NOFORK);
}
