/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Partially checksummed TCP segments (a local kernel peer's CHECKSUM_PARTIAL across a veth):
 * accepted and counted on a port marked TPA_DEV_OFFLOAD_RX_CSUM_PARTIAL, dropped as bad
 * checksums on a port that faces a wire; a corrupted segment is dropped on both.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "sim_capture.h"
#include "sim_craft.h"
#include "test_eal.h"

#define PEER_PORT 40000
#define SRV_PORT  80

static const uint8_t rig_mac[6] = RIG_MAC;
static const uint8_t peer_mac[6] = PEER_MAC;

static bool virtual_port;
static void tweak(struct tpa_stack_config *cfg)
{
	if (virtual_port)
		cfg->dev.rx_offloads |= TPA_DEV_OFFLOAD_RX_CSUM_PARTIAL;
}

static struct sim_rig rig;

static uint32_t peer_ip(void)
{
	return ip4(10, 0, 0, 2);
}

static void start(bool is_virtual)
{
	virtual_port = is_virtual;
	test_eal_init();
	sim_rig_init(&rig, tweak);
	tpa_stack_neigh_update(rig.s, peer_ip(), peer_mac);
	int l = tpa_socket(rig.s);
	ck_assert_int_ge(l, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(SRV_PORT)};
	ck_assert_int_eq(tpa_bind(rig.s, l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(tpa_listen(rig.s, l, 4), 0);
	sim_rig_clear(&rig);
}

static void stop(void)
{
	ck_assert(sim_rig_destroy(&rig));
}

static size_t syn(uint8_t *f, const char *payload)
{
	struct craft_tcp t;
	memset(&t, 0, sizeof(t));
	memcpy(t.dst_mac, rig_mac, 6);
	memcpy(t.src_mac, peer_mac, 6);
	t.src_ip = peer_ip();
	t.dst_ip = rig_ip();
	t.sport = PEER_PORT;
	t.dport = SRV_PORT;
	t.seq = 1000;
	t.flags = CRAFT_TCP_SYN;
	t.window = 65535;
	t.payload = payload;
	t.payload_len = payload ? (uint16_t)strlen(payload) : 0;
	return craft_tcp_frame(f, &t);
}

/* What the Linux sender leaves in the field under CHECKSUM_PARTIAL: the folded pseudo-header
 * sum (addresses, protocol, TCP length), not complemented, computed here independently of the
 * stack's checksum code. */
static void make_partial(uint8_t *f, size_t len)
{
	uint32_t tcp_len = (uint32_t)len - 34;
	uint32_t sum = (uint32_t)(f[26] << 8 | f[27]) + (uint32_t)(f[28] << 8 | f[29]) +
	               (uint32_t)(f[30] << 8 | f[31]) + (uint32_t)(f[32] << 8 | f[33]) +
	               IPPROTO_TCP + tcp_len;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f[34 + 16] = (uint8_t)(sum >> 8);
	f[34 + 17] = (uint8_t)sum;
}

static const struct tpa_stack_stats *st(void)
{
	return tpa_stack_stats(rig.s);
}

/* One SYN in: did a SYN-ACK come out? */
static bool answered(const uint8_t *f, size_t n)
{
	uint32_t before = rig.cap.count;
	sim_rig_input(&rig, f, n, 0);
	return rig.cap.count > before;
}

START_TEST(partial_accepted_on_virtual_port)
{
	start(true);
	uint8_t f[2048];
	size_t n = syn(f, NULL);
	make_partial(f, n);
	ck_assert(answered(f, n));
	ck_assert_uint_eq(st()->tcp_rx_csum_partial, 1);
	ck_assert_uint_eq(st()->tcp_drop_cksum, 0);
	stop();
}
END_TEST

START_TEST(partial_with_payload_accepted_on_virtual_port)
{
	start(true);
	uint8_t f[2048];
	size_t n = syn(f, "odd-length data");
	make_partial(f, n);
	ck_assert(answered(f, n));
	ck_assert_uint_eq(st()->tcp_rx_csum_partial, 1);
	stop();
}
END_TEST

START_TEST(partial_rejected_on_wire_port)
{
	start(false);
	uint8_t f[2048];
	size_t n = syn(f, NULL);
	make_partial(f, n);
	ck_assert(!answered(f, n));
	ck_assert_uint_eq(st()->tcp_drop_cksum, 1);
	ck_assert_uint_eq(st()->tcp_rx_csum_partial, 0);
	stop();
}
END_TEST

START_TEST(full_checksum_not_counted_as_partial)
{
	start(true);
	uint8_t f[2048];
	size_t n = syn(f, "data");
	ck_assert(answered(f, n));
	ck_assert_uint_eq(st()->tcp_rx_csum_partial, 0);
	ck_assert_uint_eq(st()->tcp_drop_cksum, 0);
	stop();
}
END_TEST

static void corrupted_rejected(bool is_virtual)
{
	start(is_virtual);
	uint8_t f[2048];
	/* A full checksum with a payload bit flipped. */
	size_t n = syn(f, "payload");
	f[n - 1] ^= 0x10;
	ck_assert(!answered(f, n));
	/* A full checksum with a header bit flipped (the window). */
	n = syn(f, NULL);
	f[34 + 14] ^= 0x01;
	ck_assert(!answered(f, n));
	/* A "partial" field that does not match the pseudo header: the length or an address
	 * changed after the sender set it. */
	n = syn(f, NULL);
	make_partial(f, n);
	f[34 + 17] ^= 0x04;
	ck_assert(!answered(f, n));
	ck_assert_uint_eq(st()->tcp_drop_cksum, 3);
	ck_assert_uint_eq(st()->tcp_rx_csum_partial, 0);
	stop();
}

START_TEST(corrupted_rejected_on_virtual_port)
{
	corrupted_rejected(true);
}
END_TEST

START_TEST(corrupted_rejected_on_wire_port)
{
	corrupted_rejected(false);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_csum_partial");
	TCase *tc = tcase_create("csum_partial");
	tcase_add_test(tc, partial_accepted_on_virtual_port);
	tcase_add_test(tc, partial_with_payload_accepted_on_virtual_port);
	tcase_add_test(tc, partial_rejected_on_wire_port);
	tcase_add_test(tc, full_checksum_not_counted_as_partial);
	tcase_add_test(tc, corrupted_rejected_on_virtual_port);
	tcase_add_test(tc, corrupted_rejected_on_wire_port);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
