/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A connection's segments reuse their Ethernet and IPv4 headers (ipv4_output_cached): every frame
 * must be what ipv4_output builds (the handshake's SYN-ACK went through it), with its own total
 * length, id and a valid header checksum, and follow the neighbour entry: a changed address is
 * used by the next segment, an expired entry is re-confirmed (ARP request) while segments still
 * go out, a forgotten one queues them until it is resolved again.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check_run.h"
#include "checksum.h"
#include "sim_peer.h"
#include "tcp_script.h"
#include "test_eal.h"
#include "wire.h"

static struct tcp_script sc;
static const uint8_t peer_mac[6] = PEER_MAC;
static const uint8_t rig_mac[6] = RIG_MAC;

static void setup(void)
{
	test_eal_init();
	tscript_init(&sc, NULL);
	tscript_established(&sc);
}

static void teardown(void)
{
	ck_assert(tscript_destroy(&sc));
}

static const struct captured_frame *frame(uint32_t i)
{
	ck_assert_uint_lt(i, sc.rig.cap.count);
	return &sc.rig.cap.frames[i];
}

/* Send n bytes and have the peer acknowledge them; returns the index of the data frame. */
static uint32_t send_acked(uint16_t n)
{
	static const char msg[64] =
	        "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop";
	uint32_t first = sc.rig.cap.count;
	ck_assert_int_eq(tpa_send(sc.rig.s, sc.sock, msg, n, 0), n);
	tpa_stack_flush(sc.rig.s);
	uint32_t i = first;
	while (i < sc.rig.cap.count &&
	       wire_load_be16(frame(i)->data + ETH_OFF_TYPE) != ETH_TYPE_IPV4)
		i++;
	sc.seen = i; /* past an ARP request sent before it */
	SEG_EXPECT(&sc, .flags = TS_PSH | TS_ACK, .seq = sc.snd_nxt, .ack = sc.rcv_nxt, .len = n,
	           .data = msg);
	sc.snd_nxt += n;
	SEG_SEND(&sc, .flags = TS_ACK, .seq = sc.rcv_nxt, .ack = sc.snd_nxt);
	return i;
}

/* The frame's headers are what ipv4_output writes for this connection, checksums valid. */
static void check_frame(const struct captured_frame *f, const uint8_t dst_mac[6])
{
	const uint8_t *ip = f->data + ETH_HDR_LEN;
	ck_assert(memcmp(f->data + ETH_OFF_DST, dst_mac, 6) == 0);
	ck_assert(memcmp(f->data + ETH_OFF_SRC, rig_mac, 6) == 0);
	ck_assert_uint_eq(wire_load_be16(f->data + ETH_OFF_TYPE), ETH_TYPE_IPV4);
	ck_assert_uint_eq(ip[IPV4_OFF_VER_IHL], IPV4_VER_IHL_NO_OPTS);
	ck_assert_uint_eq(ip[IPV4_OFF_TOS], 0);
	ck_assert_uint_eq(wire_load_be16(ip + IPV4_OFF_TOT_LEN), f->len - ETH_HDR_LEN);
	ck_assert_uint_eq(wire_load_be16(ip + IPV4_OFF_FRAG), IPV4_FLAG_DF);
	ck_assert_uint_eq(ip[IPV4_OFF_TTL], 64);
	ck_assert_uint_eq(ip[IPV4_OFF_PROTO], 6);
	ck_assert_uint_eq(wire_load_addr(ip + IPV4_OFF_SRC), rig_ip());
	ck_assert_uint_eq(wire_load_addr(ip + IPV4_OFF_DST), sim_peer_ip());
	ck_assert_uint_eq(tpa_csum_fold(tpa_csum_partial(ip, IPV4_HDR_LEN, 0)), 0);
	uint32_t l4 = f->len - ETH_HDR_LEN - IPV4_HDR_LEN;
	uint32_t ph = tpa_csum_pseudo_ipv4(rig_ip(), sim_peer_ip(), 6, (uint16_t)l4);
	ck_assert_uint_eq(tpa_csum_fold(tpa_csum_partial(ip + IPV4_HDR_LEN, l4, ph)), 0);
	ck_assert_uint_eq(f->l2_len, ETH_HDR_LEN);
	ck_assert_uint_eq(f->l3_len, IPV4_HDR_LEN);
}

START_TEST(cached_headers_match_the_general_path)
{
	sim_rig_clear(&sc.rig);
	sc.seen = 0;
	uint16_t last_id = 0;
	/* Odd and even lengths: the total length and the checksum change with each. */
	for (uint16_t n = 1; n <= 20; n++) {
		const struct captured_frame *f = frame(send_acked(n));
		check_frame(f, peer_mac);
		uint16_t id = wire_load_be16(f->data + ETH_HDR_LEN + IPV4_OFF_ID);
		if (n > 1)
			ck_assert_uint_eq(id, (uint16_t)(last_id + 1));
		last_id = id;
	}
}
END_TEST

START_TEST(changed_neighbour_address_used_at_once)
{
	send_acked(5);
	const uint8_t other[6] = {0x02, 0, 0, 0, 0, 0x33};
	tpa_stack_neigh_update(sc.rig.s, sim_peer_ip(), other);
	check_frame(frame(send_acked(7)), other);
	tpa_stack_neigh_update(sc.rig.s, sim_peer_ip(), peer_mac);
	check_frame(frame(send_acked(9)), peer_mac);
}
END_TEST

static uint32_t arp_requests(uint32_t from)
{
	uint32_t n = 0;
	for (uint32_t i = from; i < sc.rig.cap.count; i++)
		n += wire_load_be16(frame(i)->data + ETH_OFF_TYPE) == ETH_TYPE_ARP;
	return n;
}

START_TEST(expired_neighbour_reconfirmed_while_sending)
{
	send_acked(5);
	uint32_t from = sc.rig.cap.count;
	/* Past the entry's lifetime (the default arp_timeout_ms is well under an hour). */
	vclock_advance(&sc.rig.clock, 3600ull * 1000000000ull);
	check_frame(frame(send_acked(6)), peer_mac);
	ck_assert_uint_eq(arp_requests(from), 1);
	/* Still probing: segments keep going out to the address known. */
	check_frame(frame(send_acked(8)), peer_mac);
	tpa_stack_neigh_update(sc.rig.s, sim_peer_ip(), peer_mac);
	check_frame(frame(send_acked(4)), peer_mac);
}
END_TEST

START_TEST(forgotten_neighbour_queues_until_resolved)
{
	send_acked(5);
	tpa_stack_neigh_update(sc.rig.s, sim_peer_ip(), NULL);
	static const char msg[] = "queued";
	uint32_t from = sc.rig.cap.count;
	ck_assert_int_eq(tpa_send(sc.rig.s, sc.sock, msg, 6, 0), 6);
	tpa_stack_flush(sc.rig.s);
	for (uint32_t i = from; i < sc.rig.cap.count; i++)
		ck_assert_uint_eq(wire_load_be16(frame(i)->data + ETH_OFF_TYPE), ETH_TYPE_ARP);
	from = sc.rig.cap.count;
	tpa_stack_neigh_update(sc.rig.s, sim_peer_ip(), peer_mac);
	tpa_stack_flush(sc.rig.s);
	ck_assert_uint_eq(sc.rig.cap.count, from + 1);
	check_frame(frame(from), peer_mac);
}
END_TEST

/* An idle connection's reply leaves as one segment (send_new's shortcut); with more than a
 * segment queued, or MSG_MORE, the general loop decides as before. */
START_TEST(idle_reply_one_segment_else_general_loop)
{
	static char big[4000];
	memset(big, 'x', sizeof(big));
	send_acked(20);
	uint32_t from = sc.rig.cap.count;
	ck_assert_int_eq(tpa_send(sc.rig.s, sc.sock, big, 10, MSG_MORE), 10);
	tpa_stack_flush(sc.rig.s);
	ck_assert_uint_eq(sc.rig.cap.count, from); /* corked: held */
	ck_assert_int_eq(tpa_send(sc.rig.s, sc.sock, big, 3000, 0), 3000);
	tpa_stack_flush(sc.rig.s);
	uint32_t n = sc.rig.cap.count - from, bytes = 0;
	ck_assert_uint_ge(n, 3);
	for (uint32_t i = from; i < sc.rig.cap.count; i++) {
		check_frame(frame(i), peer_mac);
		bytes += frame(i)->len - ETH_HDR_LEN - IPV4_HDR_LEN -
		         tcp_hdr_len(frame(i)->data + ETH_HDR_LEN + IPV4_HDR_LEN);
	}
	ck_assert_uint_eq(bytes, 3010);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_tx_frame");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cached_headers_match_the_general_path);
	tcase_add_test(tc, changed_neighbour_address_used_at_once);
	tcase_add_test(tc, expired_neighbour_reconfirmed_while_sending);
	tcase_add_test(tc, forgotten_neighbour_queues_until_resolved);
	tcase_add_test(tc, idle_reply_one_segment_else_general_loop);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite(), CK_NOFORK);
}
