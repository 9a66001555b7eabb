/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tpad's flow table (dpdk/tpad_flows.h): what it remembers of the connections a program sent
 * on, so that a RST to each peer carries the right sequence number once the program is gone.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../dpdk/tpad_flows.h"

static struct tpad_flows ft;

static struct tpad_seg seg(uint16_t rport, uint32_t seq, uint32_t payload, uint8_t flags)
{
	struct tpad_seg s = {.raddr = htonl(0xC6120001u),
	                     .rport = htons(rport),
	                     .lport = htons(6379),
	                     .seq = seq,
	                     .payload = payload,
	                     .flags = flags,
	                     .peer_mac = {2, 0, 0, 0, 0, 1}};
	return s;
}

struct taken {
	unsigned n;
	struct tpad_flow last;
};

static void take(void *arg, const struct tpad_flow *x)
{
	struct taken *t = arg;
	t->n++;
	t->last = *x;
}

static void setup(void)
{
	ck_assert_int_eq(tpad_flows_init(&ft, 1024), 0);
}

static void teardown(void)
{
	tpad_flows_free(&ft);
}

START_TEST(tx_synack_then_data_next_seq)
{
	struct tpad_seg s = seg(40000, 1000, 0, TPAD_TCP_SYN);
	tpad_flows_tx(&ft, 3, &s);
	s = seg(40000, 1001, 500, 0);
	tpad_flows_tx(&ft, 3, &s);
	struct taken t = {0};
	ck_assert_uint_eq(tpad_flows_take_slot(&ft, 3, take, &t), 1);
	ck_assert_uint_eq(t.last.snd_next, 1501);
	ck_assert_uint_eq(t.last.rport, htons(40000));
	ck_assert_uint_eq(t.last.lport, htons(6379));
	ck_assert_uint_eq(t.last.peer_mac[5], 1);
	ck_assert_uint_eq(tpad_flows_count(&ft), 0);
}
END_TEST

START_TEST(tx_retransmission_never_moves_back_across_wrap)
{
	struct tpad_seg s = seg(40001, 0xfffffff0u, 0x20, 0); /* ends at 0x10, past the wrap */
	tpad_flows_tx(&ft, 0, &s);
	s = seg(40001, 0xfffffff0u, 0x8, 0); /* an older, shorter segment again */
	tpad_flows_tx(&ft, 0, &s);
	struct taken t = {0};
	tpad_flows_take_slot(&ft, 0, take, &t);
	ck_assert_uint_eq(t.last.snd_next, 0x10);
}
END_TEST

START_TEST(tx_lone_ack_starts_nothing)
{
	struct tpad_seg s = seg(40002, 5, 0, 0);
	tpad_flows_tx(&ft, 0, &s);
	ck_assert_uint_eq(tpad_flows_count(&ft), 0);
}
END_TEST

START_TEST(fin_both_ways_forgets)
{
	struct tpad_seg s = seg(40003, 1, 10, 0);
	tpad_flows_tx(&ft, 0, &s);
	s = seg(40003, 11, 0, TPAD_TCP_FIN);
	tpad_flows_tx(&ft, 0, &s);
	ck_assert_uint_eq(tpad_flows_count(&ft), 1);
	s = seg(40003, 77, 0, TPAD_TCP_FIN);
	tpad_flows_rx(&ft, &s);
	ck_assert_uint_eq(tpad_flows_count(&ft), 0);
	s = seg(40003, 12, 0, 0); /* our last ACK */
	tpad_flows_tx(&ft, 0, &s);
	ck_assert_uint_eq(tpad_flows_count(&ft), 0);
}
END_TEST

START_TEST(peer_fin_first_then_ours_forgets)
{
	struct tpad_seg s = seg(40004, 1, 10, 0);
	tpad_flows_tx(&ft, 0, &s);
	s = seg(40004, 77, 0, TPAD_TCP_FIN);
	tpad_flows_rx(&ft, &s);
	s = seg(40004, 11, 0, TPAD_TCP_FIN);
	tpad_flows_tx(&ft, 0, &s);
	ck_assert_uint_eq(tpad_flows_count(&ft), 0);
}
END_TEST

START_TEST(reset_either_way_forgets)
{
	struct tpad_seg s = seg(40005, 1, 10, 0);
	tpad_flows_tx(&ft, 0, &s);
	s = seg(40005, 9, 0, TPAD_TCP_RST);
	tpad_flows_rx(&ft, &s);
	ck_assert_uint_eq(tpad_flows_count(&ft), 0);
	s = seg(40006, 1, 10, 0);
	tpad_flows_tx(&ft, 0, &s);
	s = seg(40006, 11, 0, TPAD_TCP_RST);
	tpad_flows_tx(&ft, 0, &s);
	ck_assert_uint_eq(tpad_flows_count(&ft), 0);
}
END_TEST

START_TEST(take_slot_leaves_other_slots)
{
	for (uint16_t p = 0; p < 10; p++) {
		struct tpad_seg s = seg((uint16_t)(41000 + p), 1, 1, 0);
		tpad_flows_tx(&ft, p % 2, &s);
	}
	struct taken t = {0};
	ck_assert_uint_eq(tpad_flows_take_slot(&ft, 1, take, &t), 5);
	ck_assert_uint_eq(t.n, 5);
	ck_assert_uint_eq(tpad_flows_count(&ft), 5);
}
END_TEST

START_TEST(full_table_stays_bounded)
{
	tpad_flows_free(&ft);
	ck_assert_int_eq(tpad_flows_init(&ft, 16), 0);
	for (uint32_t p = 0; p < 1000; p++) {
		struct tpad_seg s = seg((uint16_t)(20000 + p), p, 1, 0);
		tpad_flows_tx(&ft, 0, &s);
	}
	ck_assert_uint_le(tpad_flows_count(&ft), 16);
	ck_assert_uint_gt(ft.dropped, 0);
	/* The newest connection is always held. */
	struct tpad_seg s = seg(30000, 5, 1, 0);
	tpad_flows_tx(&ft, 2, &s);
	struct taken t = {0};
	ck_assert_uint_eq(tpad_flows_take_slot(&ft, 2, take, &t), 1);
	ck_assert_uint_eq(t.last.rport, htons(30000));
}
END_TEST

static Suite *flows_suite(void)
{
	Suite *s = suite_create("tpad_flows");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, tx_synack_then_data_next_seq);
	tcase_add_test(tc, tx_retransmission_never_moves_back_across_wrap);
	tcase_add_test(tc, tx_lone_ack_starts_nothing);
	tcase_add_test(tc, fin_both_ways_forgets);
	tcase_add_test(tc, peer_fin_first_then_ours_forgets);
	tcase_add_test(tc, reset_either_way_forgets);
	tcase_add_test(tc, take_slot_leaves_other_slots);
	tcase_add_test(tc, full_table_stays_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(flows_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
