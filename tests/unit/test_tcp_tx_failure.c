/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A segment that cannot leave the host: no mbuf to build it in, or the peer's neighbour queue
 * full while its address is being resolved. With nothing in flight neither an ACK nor the
 * retransmission timer would bring that send back, so the stack must try again on a timer of
 * its own; and a connection the program closed (an orphan) whose FIN never gets out must still
 * end. The fuzz finding orphan-established-no-timer was the second case: a FIN refused by a full
 * neighbour queue left the orphan in ESTABLISHED with no timer, never freed.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include <rte_mbuf.h>

#include "sim_peer.h"
#include "tcp_script.h"
#include "test_eal.h"

static struct tcp_script sc;

/* Every mbuf of the rig's pool, taken so the stack finds none. */
static struct rte_mbuf *held[2048];
static unsigned nheld;

static void drain_pool(void)
{
	struct rte_mbuf *m;
	while (nheld < sizeof(held) / sizeof(held[0]) && (m = rte_pktmbuf_alloc(sc.rig.pool)))
		held[nheld++] = m;
	ck_assert_ptr_null(rte_pktmbuf_alloc(sc.rig.pool));
}

static void refill_pool(void)
{
	while (nheld)
		rte_pktmbuf_free(held[--nheld]);
}

/* Moves the clock to the stack's next deadline and runs it; false when none is set. */
static bool run_next_timer(void)
{
	uint64_t t = tpa_stack_next_timer_ns(sc.rig.s);
	if (t == UINT64_MAX)
		return false;
	vclock_set(&sc.rig.clock, t);
	tpa_stack_poll(sc.rig.s);
	return true;
}

static void setup(void)
{
	test_eal_init();
	tscript_init(&sc, NULL);
	tscript_established(&sc);
}

static void teardown(void)
{
	refill_pool();
	ck_assert(tscript_destroy(&sc));
}

/* close() finds no mbuf for the FIN: it goes out on the timer once mbufs are back, then the
 * connection closes as usual. */
START_TEST(fin_without_mbuf_sent_on_timer)
{
	drain_pool();
	ck_assert_int_eq(tpa_close(sc.rig.s, sc.sock), 0);
	sc.sock = -1;
	tpa_stack_flush(sc.rig.s);
	SEG_EXPECT_NONE(&sc);
	ck_assert_int_eq(tscript_state(&sc), TPA_TCP_ESTABLISHED);
	refill_pool();
	ck_assert_msg(run_next_timer(), "the FIN is pending and no timer is set");
	SEG_EXPECT(&sc, .flags = TS_FIN | TS_ACK, .seq = sc.snd_nxt, .ack = sc.rcv_nxt);
	SEG_EXPECT_NONE(&sc);
	sc.snd_nxt++;
	ck_assert_int_eq(tscript_state(&sc), TPA_TCP_FIN_WAIT1);
	SEG_SEND(&sc, .flags = TS_ACK, .seq = sc.rcv_nxt, .ack = sc.snd_nxt);
	ck_assert_int_eq(tscript_state(&sc), TPA_TCP_FIN_WAIT2);
	for (int i = 0; i < 100 && run_next_timer(); i++)
		;
	ck_assert_int_eq(tscript_state(&sc), TSCRIPT_NO_TCB);
}
END_TEST

/* Data the program sent while no mbuf was left goes out on the timer too. */
START_TEST(data_without_mbuf_sent_on_timer)
{
	drain_pool();
	static const char msg[] = "hello";
	ck_assert_int_eq(tpa_send(sc.rig.s, sc.sock, msg, 5, 0), 5);
	tpa_stack_flush(sc.rig.s);
	SEG_EXPECT_NONE(&sc);
	refill_pool();
	ck_assert_msg(run_next_timer(), "data is pending and no timer is set");
	SEG_EXPECT(&sc, .flags = TS_PSH | TS_ACK, .seq = sc.snd_nxt, .ack = sc.rcv_nxt, .len = 5,
	           .data = msg);
	SEG_EXPECT_NONE(&sc);
}
END_TEST

/* An orphan whose FIN can never be built still ends (after the persist timer's retries). */
START_TEST(orphan_without_mbufs_for_ever_ends)
{
	drain_pool();
	ck_assert_int_eq(tpa_close(sc.rig.s, sc.sock), 0);
	sc.sock = -1;
	for (int i = 0; i < 1000 && tscript_state(&sc) != TSCRIPT_NO_TCB && run_next_timer(); i++)
		;
	ck_assert_int_eq(tscript_state(&sc), TSCRIPT_NO_TCB);
	ck_assert_uint_eq(tpa_stack_socket_count(sc.rig.s), 1); /* the listener */
}
END_TEST

/* The finding: the peer's address forgotten, its neighbour queue filled with replies (RSTs to
 * segments for a closed port), then close(): the FIN is refused. It goes out on the timer once
 * the address is known again. */
START_TEST(fin_refused_by_full_neighbour_queue_sent_on_timer)
{
	tpa_stack_neigh_update(sc.rig.s, sim_peer_ip(), NULL);
	uint64_t drops = tpa_stack_stats(sc.rig.s)->arp_queue_drop;
	for (uint32_t i = 0; tpa_stack_stats(sc.rig.s)->arp_queue_drop == drops; i++) {
		ck_assert_uint_lt(i, 1000);
		SEG_SEND(&sc, .flags = TS_ACK, .seq = 5000 + i, .ack = 1, .dport = 81);
	}
	drops = tpa_stack_stats(sc.rig.s)->arp_queue_drop;
	ck_assert_int_eq(tpa_close(sc.rig.s, sc.sock), 0);
	sc.sock = -1;
	tpa_stack_flush(sc.rig.s);
	ck_assert_uint_eq(tpa_stack_stats(sc.rig.s)->arp_queue_drop, drops + 1);
	const uint8_t peer_mac[6] = PEER_MAC;
	tpa_stack_neigh_update(sc.rig.s, sim_peer_ip(), peer_mac);
	tpa_stack_flush(sc.rig.s);
	sim_rig_clear(&sc.rig);
	sc.seen = 0;
	ck_assert_msg(run_next_timer(), "the FIN is pending and no timer is set");
	SEG_EXPECT(&sc, .flags = TS_FIN | TS_ACK, .seq = sc.snd_nxt, .ack = sc.rcv_nxt);
	SEG_EXPECT_NONE(&sc);
	ck_assert_int_eq(tscript_state(&sc), TPA_TCP_FIN_WAIT1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_tx_failure");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fin_without_mbuf_sent_on_timer);
	tcase_add_test(tc, data_without_mbuf_sent_on_timer);
	tcase_add_test(tc, orphan_without_mbufs_for_ever_ends);
	tcase_add_test(tc, fin_refused_by_full_neighbour_queue_sent_on_timer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
