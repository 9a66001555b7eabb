/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * D-SACK (RFC 2883) and the undo of a spurious fast recovery (RFC 3708), on the capture rig
 * with a hand-driven peer: the receiver reports a duplicate as the first SACK block, once; the
 * sender that finds every retransmission of a recovery D-SACKed gives its window back and
 * counts it, and a duplicate it never retransmitted (the network's) changes nothing.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "sim_peer.h"
#include "test_eal.h"

#define PEER_PORT 40000
#define SRV_PORT  80
#define PEER_ISN  1000u
#define MSS       100u

static struct sim_rig rig;
static int sock;
static uint32_t iss;      /* the stack's ISN */
static uint32_t peer_nxt; /* the peer's next sequence number */

static void send_seg(uint8_t flags, uint32_t seq, uint32_t ack, const uint8_t *opts, uint8_t optlen,
                     uint16_t len)
{
	struct sim_peer_seg g = {.sport = PEER_PORT,
	                         .dport = SRV_PORT,
	                         .flags = flags,
	                         .seq = seq,
	                         .ack = ack,
	                         .opts = opts,
	                         .optlen = optlen,
	                         .len = len};
	sim_peer_send(&rig, &g);
}

/* SACK option with one or two blocks (NOP NOP padded). */
static uint8_t sack_opt(uint8_t *o, uint32_t s1, uint32_t e1, uint32_t s2, uint32_t e2)
{
	uint8_t n = s2 == e2 ? 1 : 2;
	o[0] = o[1] = 1;
	o[2] = 5;
	o[3] = (uint8_t)(2 + 8 * n);
	uint32_t v[4] = {htonl(s1), htonl(e1), htonl(s2), htonl(e2)};
	memcpy(o + 4, v, 8u * n);
	return (uint8_t)(4 + 8 * n);
}

static struct parsed_tcp frame(uint32_t i)
{
	return sim_frame_tcp(&rig, i);
}

/* First SACK block of captured frame i: 1 with its edges set, 0 if it has none. */
static int first_sack(uint32_t i, uint32_t *start, uint32_t *end)
{
	const uint8_t *o = sim_frame_tcp_opt(&rig, i, 5);
	if (!o)
		return 0;
	*start = sim_be32(o + 2);
	*end = sim_be32(o + 6);
	return 1;
}

static const struct tpa_stack_stats *st(void)
{
	return tpa_stack_stats(rig.s);
}

static uint32_t cwnd(void)
{
	struct tpa_tcp_info ti;
	socklen_t l = sizeof(ti);
	ck_assert_int_eq(tpa_getsockopt(rig.s, sock, TPA_SO_INFO, &ti, &l), 0);
	return ti.snd_cwnd;
}

/* An accepted connection with SACK and an MSS of 100 (no timestamps: no PAWS to feed). */
static void setup(void)
{
	test_eal_init();
	sim_rig_init(&rig, NULL);
	static const uint8_t peer_mac[6] = PEER_MAC;
	tpa_stack_neigh_update(rig.s, sim_peer_ip(), peer_mac);
	int l = tpa_socket(rig.s);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(SRV_PORT)};
	ck_assert_int_eq(tpa_bind(rig.s, l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(tpa_listen(rig.s, l, 4), 0);
	static const uint8_t syn_opts[] = {2, 4, 0, MSS, 1, 1, 4, 2};
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, syn_opts, sizeof(syn_opts), 0);
	iss = frame(rig.cap.count - 1).seq;
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, iss + 1, NULL, 0, 0);
	sock = tpa_accept(rig.s, l, NULL, NULL);
	ck_assert_int_ge(sock, 0);
	peer_nxt = PEER_ISN + 1;
	sim_rig_clear(&rig);
}

static void teardown(void)
{
	/* The peer resets: nothing stays in flight. */
	send_seg(CRAFT_TCP_RST, peer_nxt, 0, NULL, 0, 0);
	ck_assert(sim_rig_destroy(&rig));
}

START_TEST(duplicate_reported_once_as_dsack)
{
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, iss + 1, NULL, 0, 100);
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 101, iss + 1, NULL, 0, 100); /* ACKed at once */
	uint32_t n = rig.cap.count;
	ck_assert_uint_ge(n, 1);
	uint32_t s, e;
	ck_assert_int_eq(first_sack(n - 1, &s, &e), 0);
	/* The first segment again: the ACK carries it as a D-SACK block below its ack. */
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, iss + 1, NULL, 0, 100);
	ck_assert_uint_eq(rig.cap.count, n + 1);
	struct parsed_tcp a = frame(n);
	ck_assert_uint_eq(a.ack, PEER_ISN + 201);
	ck_assert_int_eq(first_sack(n, &s, &e), 1);
	ck_assert_uint_eq(s, PEER_ISN + 1);
	ck_assert_uint_eq(e, PEER_ISN + 101);
	/* Reported once: the next ACK has no SACK block. */
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 201, iss + 1, NULL, 0, 100);
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 301, iss + 1, NULL, 0, 100);
	ck_assert_int_eq(first_sack(rig.cap.count - 1, &s, &e), 0);
	/* A segment that half overlaps: the duplicate half is reported. */
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 351, iss + 1, NULL, 0, 100);
	ck_assert_int_eq(first_sack(rig.cap.count - 1, &s, &e), 1);
	ck_assert_uint_eq(s, PEER_ISN + 351);
	ck_assert_uint_eq(e, PEER_ISN + 401);
	ck_assert_uint_eq(frame(rig.cap.count - 1).ack, PEER_ISN + 451);
	char b[1000];
	ck_assert_int_eq(tpa_recv(rig.s, sock, b, sizeof(b), 0), 450);
	peer_nxt = PEER_ISN + 451;
}
END_TEST

/* Ten segments out, then SACKs for segments 2..5 with segment 1 missing: fast recovery
 * retransmits segment 1. Returns cwnd before the recovery. */
static uint32_t recovery_of_first_segment(void)
{
	static char data[1000];
	ck_assert_int_eq(tpa_send(rig.s, sock, data, sizeof(data), 0), 1000);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(rig.cap.count, 10);
	uint32_t before = cwnd();
	uint8_t o[20];
	for (uint32_t k = 2; k <= 5; k++)
		send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, iss + 1, o,
		         sack_opt(o, iss + 1 + MSS, iss + 1 + k * MSS, 0, 0), 0);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(st()->tcp_fast_retransmit, 1);
	struct parsed_tcp r = frame(rig.cap.count - 1);
	ck_assert_uint_eq(r.seq, iss + 1);
	ck_assert_uint_lt(cwnd(), before);
	return before;
}

START_TEST(spurious_recovery_undone)
{
	uint32_t before = recovery_of_first_segment();
	/* The original was only late: everything is acknowledged, and the retransmission
	 * comes back as a duplicate. */
	uint8_t o[20];
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, iss + 1001, o, sack_opt(o, iss + 1, iss + 101, 0, 0),
	         0);
	ck_assert_uint_eq(st()->tcp_dsack_rx, 1);
	ck_assert_uint_eq(st()->tcp_spurious_rtx_undone, 1);
	ck_assert_uint_ge(cwnd(), before);
}
END_TEST

START_TEST(network_duplicate_undoes_nothing)
{
	uint32_t before = recovery_of_first_segment();
	/* A D-SACK for segment 3, which was never retransmitted: the network's duplicate. */
	uint8_t o[20];
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, iss + 1001, o,
	         sack_opt(o, iss + 1 + 2 * MSS, iss + 1 + 3 * MSS, 0, 0), 0);
	ck_assert_uint_eq(st()->tcp_dsack_rx, 1);
	ck_assert_uint_eq(st()->tcp_spurious_rtx_undone, 0);
	ck_assert_uint_lt(cwnd(), before);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_dsack");
	TCase *tc = tcase_create("dsack");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, duplicate_reported_once_as_dsack);
	tcase_add_test(tc, spurious_recovery_undone);
	tcase_add_test(tc, network_duplicate_undoes_nothing);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
