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
 */
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "sim_peer.h"
#include "tcp_impl.h"
#include "tcp_input.h"
#include "test_eal.h"

#define PEER_PORT 40000
#define SRV_PORT  80
#define PEER_ISN  1000u
#define WS        7

static struct sim_rig rig[2]; /* [0] fast path on, [1] off */
static int sock[2], lsock[2];
static uint32_t peer_nxt; /* the peer's next sequence number */
static uint32_t peer_ack; /* what the peer acknowledges: the stack's SND.NXT it has seen */
static uint32_t peer_tsval = 777;
static uint16_t peer_win = 512; /* scaled by WS */

static struct tcp_sock *conn(int i)
{
	return tcp_sock_get(rig[i].s, sock[i]);
}

static uint64_t fast_count(void)
{
	return tpa_stack_stats(rig[0].s)->tcp_rx_fast;
}

static void rxq_equal(const struct tcp_rxq *a, const struct tcp_rxq *b)
{
	ck_assert_uint_eq(a->count, b->count);
	for (uint32_t i = 0; i < a->count; i++) {
		const struct tcp_rxseg *x = &a->v[(a->head + i) & (a->cap - 1)];
		const struct tcp_rxseg *y = &b->v[(b->head + i) & (b->cap - 1)];
		ck_assert_uint_eq(x->seq, y->seq);
		ck_assert_uint_eq(x->len, y->len);
		ck_assert(memcmp(rte_pktmbuf_mtod_offset(x->m, void *, x->off),
		                 rte_pktmbuf_mtod_offset(y->m, void *, y->off), x->len) == 0);
	}
}

/* Both connections, the counters and every frame sent: the same. */
static void compare(void)
{
	struct tcp_sock a = *conn(0), b = *conn(1);
	ck_assert_uint_eq(a.rack.count, b.rack.count);
	for (uint32_t i = 0; i < a.rack.count; i++) {
		const struct tcp_rack_seg *x = &a.rack.v[(a.rack.head + i) & (a.rack.cap - 1)];
		const struct tcp_rack_seg *y = &b.rack.v[(b.rack.head + i) & (b.rack.cap - 1)];
		ck_assert(x->xmit_ns == y->xmit_ns && x->start == y->start && x->end == y->end &&
		          x->flags == y->flags);
	}
	rxq_equal(&a.rq, &b.rq);
	rxq_equal(&a.ooo, &b.ooo);
	ck_assert_uint_eq(a.sb.len, b.sb.len);
	for (struct tcp_sock *x = &a; x; x = x == &a ? &b : NULL) {
		x->user = NULL;
		x->sb.buf = NULL;
		x->rq.v = x->ooo.v = NULL;
		x->rack.v = NULL;
		x->trace = NULL;
		x->wheel.next = NULL;
		x->wheel.pprev = NULL;
	}
	ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0, "connections differ");
	struct tpa_stack_stats sa = *tpa_stack_stats(rig[0].s), sb = *tpa_stack_stats(rig[1].s);
	sa.tcp_rx_fast = sb.tcp_rx_fast = 0;
	ck_assert_msg(memcmp(&sa, &sb, sizeof(sa)) == 0, "counters differ");
	ck_assert_uint_eq(rig[0].cap.count, rig[1].cap.count);
	for (uint32_t i = 0; i < rig[0].cap.count; i++) {
		const struct captured_frame *x = &rig[0].cap.frames[i], *y = &rig[1].cap.frames[i];
		ck_assert_uint_eq(x->len, y->len);
		ck_assert(memcmp(x->data, y->data, x->len) == 0);
	}
}

/* The stack's TSval in its last frame (what the peer echoes). */
static uint32_t stack_tsval(void)
{
	if (!rig[0].cap.count)
		return 0;
	const uint8_t *o = sim_frame_tcp_opt(&rig[0], rig[0].cap.count - 1, 8);
	return o ? sim_be32(o + 2) : 0;
}

struct seg_spec {
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t len, window;
	bool no_ts;
	uint32_t tsval;
	uint8_t nsack;
	uint32_t sack[2];
};

/* The same segment to both rigs, then compare. Returns how many took the fast path. */
static uint64_t both_send(struct seg_spec g)
{
	uint8_t o[40];
	uint8_t n = 0;
	if (!g.no_ts) {
		uint32_t v[2] = {htonl(g.tsval ? g.tsval : peer_tsval), htonl(stack_tsval())};
		o[n++] = 1;
		o[n++] = 1;
		o[n++] = 8;
		o[n++] = 10;
		memcpy(o + n, v, 8);
		n += 8;
	}
	if (g.nsack) {
		uint32_t v[2] = {htonl(g.sack[0]), htonl(g.sack[1])};
		o[n++] = 1;
		o[n++] = 1;
		o[n++] = 5;
		o[n++] = 10;
		memcpy(o + n, v, 8);
		n += 8;
	}
	struct sim_peer_seg s = {.sport = PEER_PORT,
	                         .dport = SRV_PORT,
	                         .flags = g.flags,
	                         .seq = g.seq,
	                         .ack = g.ack,
	                         .window = g.window ? g.window : peer_win,
	                         .opts = n ? o : NULL,
	                         .optlen = n,
	                         .len = g.len};
	uint64_t before = fast_count();
	for (int i = 0; i < 2; i++) {
		tcp_fastpath_off = i == 1;
		sim_peer_send(&rig[i], &s);
		tpa_stack_flush(rig[i].s);
	}
	tcp_fastpath_off = false;
	compare();
	return fast_count() - before;
}

static void both_advance(uint64_t ns)
{
	for (int i = 0; i < 2; i++) {
		vclock_advance(&rig[i].clock, ns);
		tpa_stack_poll(rig[i].s);
	}
	compare();
}

static void both_write(uint32_t n)
{
	static uint8_t buf[65536];
	for (uint32_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(i * 7);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(tpa_send(rig[i].s, sock[i], buf, n, 0), (int)n);
		tpa_stack_flush(rig[i].s);
	}
	compare();
}

static void both_read(void)
{
	static uint8_t buf[2][65536];
	int n0 = (int)tpa_recv(rig[0].s, sock[0], buf[0], sizeof(buf[0]), 0);
	int n1 = (int)tpa_recv(rig[1].s, sock[1], buf[1], sizeof(buf[1]), 0);
	ck_assert_int_eq(n0, n1);
	if (n0 > 0)
		ck_assert(memcmp(buf[0], buf[1], (size_t)n0) == 0);
	for (int i = 0; i < 2; i++)
		tpa_stack_flush(rig[i].s);
	compare();
}

static void clear_frames(void)
{
	for (int i = 0; i < 2; i++)
		sim_rig_clear(&rig[i]);
}

/* Data from the peer (in order, acknowledging everything it has seen). */
static uint64_t data_in(uint16_t len)
{
	peer_tsval++;
	uint64_t f = both_send((struct seg_spec){.flags = CRAFT_TCP_ACK | CRAFT_TCP_PSH,
	                                         .seq = peer_nxt,
	                                         .ack = peer_ack,
	                                         .len = len});
	peer_nxt += len;
	return f;
}

static uint64_t ack_in(uint32_t ack)
{
	peer_tsval++;
	peer_ack = ack;
	return both_send((struct seg_spec){.flags = CRAFT_TCP_ACK, .seq = peer_nxt, .ack = ack});
}

static void setup(void)
{
	test_eal_init();
	static const uint8_t syn_opts[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
	                                   0, 1, 0,    0,    0, 0, 1, 3,  3, WS};
	for (int i = 0; i < 2; i++) {
		sim_rig_init(&rig[i], NULL);
		static const uint8_t peer_mac[6] = PEER_MAC;
		tpa_stack_neigh_update(rig[i].s, sim_peer_ip(), peer_mac);
		int l = tpa_socket(rig[i].s);
		lsock[i] = sock[i] = l;
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(SRV_PORT)};
		ck_assert_int_eq(tpa_bind(rig[i].s, l, (struct sockaddr *)&a, sizeof(a)), 0);
		ck_assert_int_eq(tpa_listen(rig[i].s, l, 4), 0);
		struct sim_peer_seg syn = {.sport = PEER_PORT,
		                           .dport = SRV_PORT,
		                           .flags = CRAFT_TCP_SYN,
		                           .seq = PEER_ISN,
		                           .opts = syn_opts,
		                           .optlen = sizeof(syn_opts)};
		sim_peer_send(&rig[i], &syn);
		tpa_stack_flush(rig[i].s);
	}
	peer_ack = sim_frame_tcp(&rig[0], rig[0].cap.count - 1).seq + 1;
	peer_nxt = PEER_ISN + 1;
	peer_tsval = 777;
	ack_in(peer_ack);
	for (int i = 0; i < 2; i++) {
		sock[i] = tpa_accept(rig[i].s, lsock[i], NULL, NULL);
		ck_assert_int_ge(sock[i], 0);
	}
	ck_assert(conn(0)->flags & TSF_TS_OK);
	ck_assert(conn(0)->flags & TSF_SACK_OK);
	ck_assert_uint_eq(conn(0)->snd_wscale, WS);
	clear_frames();
	compare();
}

static void teardown(void)
{
	both_read();
	for (int i = 0; i < 2; i++) {
		struct sim_peer_seg rst = {.sport = PEER_PORT,
		                           .dport = SRV_PORT,
		                           .flags = CRAFT_TCP_RST,
		                           .seq = peer_nxt};
		sim_peer_send(&rig[i], &rst);
		ck_assert(sim_rig_destroy(&rig[i]));
	}
}

/* The redis pattern: a request that acknowledges the previous reply, the reply. */
START_TEST(request_reply_taken_fast)
{
	for (int r = 0; r < 50; r++) {
		ck_assert_uint_eq(data_in(31), 1);
		both_read();
		both_write(9);
		peer_ack = sim_frame_tcp(&rig[0], rig[0].cap.count - 1).seq + 9;
		both_advance(VCLOCK_MS(1));
		if (r % 10 == 9)
			clear_frames();
	}
	/* The last reply acknowledged by a pure ACK, then the delayed-ACK timer. */
	ck_assert_uint_eq(ack_in(peer_ack), 1);
	both_advance(VCLOCK_MS(100));
	/* After an idle period longer than the RTO: quick-ACK mode, still on the fast path. */
	both_advance(VCLOCK_S(2));
	ck_assert_uint_eq(data_in(31), 1);
	ck_assert_uint_eq(data_in(31), 1);
}
END_TEST

/* Bulk data in (every second segment acknowledged at once), read or not. */
START_TEST(bulk_in_taken_fast)
{
	for (int r = 0; r < 60; r++) {
		ck_assert_uint_eq(data_in(1000), 1);
		if (r % 7 == 0)
			both_read();
		if (r % 20 == 19)
			clear_frames();
	}
}
END_TEST

/* Bulk data out, acknowledged in pieces by pure ACKs: RTT, RACK, congestion window. */
START_TEST(bulk_out_acks_taken_fast)
{
	uint32_t una = peer_ack;
	for (int r = 0; r < 5; r++) {
		both_write(8000);
		uint32_t top = una + 8000;
		both_advance(VCLOCK_MS(2));
		for (uint32_t a = una + 1448; seq_lt(a, top); a += 2 * 1448)
			ck_assert_uint_eq(ack_in(a), 1);
		ck_assert_uint_eq(ack_in(top), 1);
		una = top;
		clear_frames();
	}
}
END_TEST

START_TEST(slow_cases_not_taken)
{
	ck_assert_uint_eq(data_in(100), 1);
	/* Out of order: a hole of 100 bytes. */
	ck_assert_uint_eq(both_send((struct seg_spec){.flags = CRAFT_TCP_ACK,
	                                              .seq = peer_nxt + 100,
	                                              .ack = peer_ack,
	                                              .len = 100}),
	                  0);
	/* In order but out-of-order data held: the general path (it drains the queue). */
	ck_assert_uint_eq(data_in(100), 0);
	peer_nxt += 100;
	ck_assert_uint_eq(data_in(100), 1);
	/* A window change. */
	peer_win = 1024;
	ck_assert_uint_eq(data_in(10), 0);
	ck_assert_uint_eq(data_in(10), 1);
	/* URG. */
	ck_assert_uint_eq(both_send((struct seg_spec){
	                          .flags = CRAFT_TCP_ACK | 0x20, .seq = peer_nxt, .ack = peer_ack}),
	                  0);
	/* An old timestamp (PAWS drops it). */
	ck_assert_uint_eq(both_send((struct seg_spec){.flags = CRAFT_TCP_ACK,
	                                              .seq = peer_nxt,
	                                              .ack = peer_ack,
	                                              .len = 10,
	                                              .tsval = peer_tsval - 100}),
	                  0);
	/* No timestamp on a connection that has them. */
	ck_assert_uint_eq(
	        both_send((struct seg_spec){
	                .flags = CRAFT_TCP_ACK, .seq = peer_nxt, .ack = peer_ack, .no_ts = true}),
	        0);
	both_read();
	/* A SYN in the window: challenge ACK. */
	ck_assert_uint_eq(
	        both_send((struct seg_spec){.flags = CRAFT_TCP_SYN, .seq = peer_nxt, .ack = 0}), 0);
	/* Data out, then a duplicate ACK and one with a SACK block. */
	both_write(4000);
	uint32_t una = peer_ack;
	ck_assert_uint_eq(ack_in(una), 0);
	ck_assert_uint_eq(both_send((struct seg_spec){.flags = CRAFT_TCP_ACK,
	                                              .seq = peer_nxt,
	                                              .ack = una,
	                                              .nsack = 1,
	                                              .sack = {una + 1448, una + 2896}}),
	                  0);
	/* An ACK of new data with the scoreboard not empty. */
	ck_assert_uint_eq(ack_in(una + 100), 0);
	/* A FIN with the rest acknowledged. */
	ck_assert_uint_eq(both_send((struct seg_spec){.flags = CRAFT_TCP_ACK | CRAFT_TCP_FIN,
	                                              .seq = peer_nxt,
	                                              .ack = una + 4000}),
	                  0);
	peer_nxt++;
	peer_ack = una + 4000;
}
END_TEST

/* Losses: recovery entered (SACK, RACK), segments during recovery stay on the general path. */
START_TEST(recovery_not_taken)
{
	both_advance(VCLOCK_MS(5));
	both_write(8 * 1448);
	uint32_t una = peer_ack;
	both_advance(VCLOCK_MS(5));
	/* The first segment lost: SACKs for the rest. */
	for (uint32_t k = 2; k <= 8; k++)
		ck_assert_uint_eq(
		        both_send((struct seg_spec){.flags = CRAFT_TCP_ACK,
		                                    .seq = peer_nxt,
		                                    .ack = una,
		                                    .nsack = 1,
		                                    .sack = {una + 1448, una + k * 1448}}),
		        0);
	both_advance(VCLOCK_MS(20));
	ck_assert(conn(0)->flags & TSF_IN_RECOVERY);
	ck_assert_uint_eq(data_in(10), 0);
	/* Everything acknowledged: recovery ends, then the fast path again. */
	ck_assert_uint_eq(ack_in(una + 8 * 1448), 0);
	ck_assert(!(conn(0)->flags & TSF_IN_RECOVERY));
	ck_assert_uint_eq(data_in(10), 1);
}
END_TEST

/* A tail loss probe out (the reply unanswered past the probe timeout), then the reply
 * acknowledged and a pure ACK of nothing new: the probe's outcome on the fast path (RACK's
 * plain-ACK step) as on the general one. */
START_TEST(tail_probe_acked_taken_fast)
{
	for (int r = 0; r < 3; r++) {
		ck_assert_uint_eq(data_in(31), 1);
		both_read();
		both_write(9);
		uint32_t top = peer_ack + 9;
		both_advance(VCLOCK_MS(60));
		ck_assert(conn(0)->rack.tlp_on);
		ck_assert_uint_eq(ack_in(top), 1);
		ck_assert_uint_eq(ack_in(top), 1);
		ck_assert(!conn(0)->rack.tlp_on);
		clear_frames();
	}
	/* Two replies, the first acknowledged: the second still out, RACK's rule runs. */
	both_write(9);
	both_advance(VCLOCK_MS(1));
	both_write(9);
	ck_assert_uint_eq(ack_in(peer_ack + 9), 1);
	both_advance(VCLOCK_MS(1));
	ck_assert_uint_eq(ack_in(peer_ack + 9), 1);
}
END_TEST

/* Data left unread (segments too long to be appended to the one before): the receive queue
 * grows twice on the fast path as on the general one. */
START_TEST(unread_data_grows_queue_fast)
{
	for (int r = 0; r < 40; r++) {
		ck_assert_uint_eq(data_in(600), 1);
		if (r % 20 == 19)
			clear_frames();
	}
	ck_assert_uint_ge(conn(0)->rq.cap, 64);
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
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
