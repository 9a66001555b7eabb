/* SPDX-License-Identifier: BSD-3-Clause */
/* Ethernet input: length, destination and ethertype checks (VLAN dropped), dispatch to ARP and
 * IPv4, and frames whose headers span chained segments. */
#include <check.h>
#include <string.h>

#include "sim_capture.h"
#include "sim_craft.h"
#include "sim_tcp_stub.h"

static const uint8_t rig_mac[6] = RIG_MAC;
static const uint8_t peer_mac[6] = PEER_MAC;
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static struct sim_rig rig;

static void setup(void)
{
	sim_rig_init(&rig, NULL);
}
static void teardown(void)
{
	ck_assert(sim_rig_destroy(&rig));
}
static const struct tpa_stack_stats *st(void)
{
	return tpa_stack_stats(rig.s);
}

static size_t tcp_frame(uint8_t *buf, const uint8_t dst_mac[6])
{
	struct craft_tcp t = {.src_ip = ip4(10, 0, 0, 2),
	                      .dst_ip = rig_ip(),
	                      .sport = 1,
	                      .dport = 2,
	                      .flags = CRAFT_TCP_SYN,
	                      .payload = "hello",
	                      .payload_len = 5};
	memcpy(t.dst_mac, dst_mac, 6);
	memcpy(t.src_mac, peer_mac, 6);
	return craft_tcp_frame(buf, &t);
}

START_TEST(short_frames)
{
	uint8_t f[64];
	size_t n = tcp_frame(f, rig_mac);
	ck_assert_uint_gt(n, 14);
	for (size_t len = 0; len < 14; len += 3)
		sim_rig_input(&rig, f, len ? len : 1, 0);
	ck_assert_uint_eq(st()->eth_drop_short, 5);
	ck_assert_uint_eq(st()->eth_rx, 5);
	ck_assert_uint_eq(stub_tcp.inputs, 0);
}
END_TEST

START_TEST(not_our_mac)
{
	uint8_t f[128];
	const uint8_t other[6] = {0x02, 0, 0, 0, 0, 0x99};
	const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0, 0, 1};
	size_t n = tcp_frame(f, other);
	sim_rig_input(&rig, f, n, 0);
	n = tcp_frame(f, mcast);
	sim_rig_input(&rig, f, n, 0);
	ck_assert_uint_eq(st()->eth_drop_not_ours, 2);
	ck_assert_uint_eq(stub_tcp.inputs, 0);
	ck_assert_uint_eq(st()->ip_rx, 0);
}
END_TEST

START_TEST(ours_and_broadcast_accepted)
{
	uint8_t f[128];
	size_t n = tcp_frame(f, rig_mac);
	sim_rig_input(&rig, f, n, 0);
	ck_assert_uint_eq(stub_tcp.inputs, 1);
	ck_assert_mem_eq(stub_tcp.last.data + 20, "hello", 5);
	/* Broadcast Ethernet reaches IPv4, which still requires our IP address. */
	n = tcp_frame(f, bcast);
	sim_rig_input(&rig, f, n, 0);
	ck_assert_uint_eq(st()->ip_rx, 2);
	ck_assert_uint_eq(stub_tcp.inputs, 2);
	ck_assert_uint_eq(st()->eth_drop_not_ours, 0);
}
END_TEST

START_TEST(bad_ethertypes)
{
	uint8_t f[128];
	size_t n = tcp_frame(f, rig_mac);
	const uint16_t types[] = {0x86dd, 0x8100, 0x88a8, 0x0000, 0x05dc /* 802.3 length */};
	for (unsigned i = 0; i < 5; i++) {
		f[12] = (uint8_t)(types[i] >> 8);
		f[13] = (uint8_t)types[i];
		sim_rig_input(&rig, f, n, 0);
	}
	ck_assert_uint_eq(st()->eth_drop_ethertype, 5);
	ck_assert_uint_eq(stub_tcp.inputs, 0);
}
END_TEST

START_TEST(headers_split_over_segments)
{
	uint8_t f[128];
	size_t n = tcp_frame(f, rig_mac);
	/* Split inside the Ethernet header and inside the IPv4 header. */
	sim_rig_input_chained(&rig, f, n, 10);
	sim_rig_input_chained(&rig, f, n, 20);
	ck_assert_uint_eq(stub_tcp.inputs, 2);
	ck_assert_uint_eq(stub_tcp.last.len, 25);
	ck_assert_mem_eq(stub_tcp.last.data, f + 34, 25);
}
END_TEST

START_TEST(poll_reads_the_device)
{
	uint8_t f[128];
	size_t n = tcp_frame(f, rig_mac);
	for (int i = 0; i < 100; i++)
		sim_rig_queue_rx(&rig, f, n);
	int got = 0, r;
	while ((r = tpa_stack_poll(rig.s)) > 0)
		got += r;
	ck_assert_int_eq(got, 100);
	ck_assert_uint_eq(stub_tcp.inputs, 100);
	ck_assert_uint_eq(stub_tcp.bursts, 2); /* 64 + 36: one end-of-burst per burst */
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("eth");
	TCase *tc = tcase_create("eth");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, short_frames);
	tcase_add_test(tc, not_our_mac);
	tcase_add_test(tc, ours_and_broadcast_accepted);
	tcase_add_test(tc, bad_ethertypes);
	tcase_add_test(tc, headers_split_over_segments);
	tcase_add_test(tc, poll_reads_the_device);
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
