/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Passive-open handshake details on the capture rig with a hand-driven peer: a SYN sent again
 * while we are in SYN_RECV (our SYN-ACK was lost) is answered at once with the SYN-ACK, not
 * with a bare ACK that a peer in SYN_SENT ignores (the handshake then waited for our 1 s
 * SYN-ACK timer).
 */
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "sim_peer.h"
#include "test_eal.h"

#define PEER_PORT 40000
#define SRV_PORT  80

static struct sim_rig rig;

START_TEST(retransmitted_syn_gets_synack_again)
{
	test_eal_init();
	sim_rig_init(&rig, NULL);
	static const uint8_t peer_mac[6] = PEER_MAC;
	tpa_stack_neigh_update(rig.s, sim_peer_ip(), peer_mac);
	int l = tpa_socket(rig.s);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(SRV_PORT)};
	ck_assert_int_eq(tpa_bind(rig.s, l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(tpa_listen(rig.s, l, 4), 0);
	static const uint8_t opts[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2};
	struct sim_peer_seg syn = {.sport = PEER_PORT,
	                           .dport = SRV_PORT,
	                           .flags = CRAFT_TCP_SYN,
	                           .seq = 1000,
	                           .opts = opts,
	                           .optlen = sizeof(opts)};
	sim_peer_send(&rig, &syn);
	ck_assert_uint_eq(rig.cap.count, 1);
	struct parsed_tcp first = sim_frame_tcp(&rig, 0);
	ck_assert_uint_eq(first.flags, CRAFT_TCP_SYN | CRAFT_TCP_ACK);
	/* The SYN-ACK is lost; the peer sends its SYN again. */
	sim_peer_send(&rig, &syn);
	ck_assert_uint_eq(rig.cap.count, 2);
	struct parsed_tcp again = sim_frame_tcp(&rig, 1);
	ck_assert_uint_eq(again.flags, CRAFT_TCP_SYN | CRAFT_TCP_ACK);
	ck_assert_uint_eq(again.seq, first.seq);
	ck_assert_uint_eq(again.ack, 1001);
	ck_assert_ptr_nonnull(sim_frame_tcp_opt(&rig, 1, 3)); /* with the agreed options */
	ck_assert_ptr_nonnull(sim_frame_tcp_opt(&rig, 1, 4));
	/* And the handshake completes. */
	struct sim_peer_seg ack = {.sport = PEER_PORT,
	                           .dport = SRV_PORT,
	                           .flags = CRAFT_TCP_ACK,
	                           .seq = 1001,
	                           .ack = first.seq + 1};
	sim_peer_send(&rig, &ack);
	int c = tpa_accept(rig.s, l, NULL, NULL);
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(tpa_close(rig.s, c), 0);
	ck_assert_int_eq(tpa_close(rig.s, l), 0);
	struct sim_peer_seg rst = {
	        .sport = PEER_PORT, .dport = SRV_PORT, .flags = CRAFT_TCP_RST, .seq = 1001};
	sim_peer_send(&rig, &rst);
	ck_assert(sim_rig_destroy(&rig));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_handshake");
	TCase *tc = tcase_create("handshake");
	tcase_add_test(tc, retransmitted_syn_gets_synack_again);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
