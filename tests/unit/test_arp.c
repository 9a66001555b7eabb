/* SPDX-License-Identifier: BSD-3-Clause */
/* ARP: answering requests for our address, learning from packets aimed at us, gratuitous ARP
 * moving an existing entry, address probes, and every malformed field dropped and counted. */
#include <check.h>
#include <string.h>

#include "neigh.h"
#include "sim_capture.h"
#include "sim_craft.h"
#include "sim_tcp_stub.h"

static const uint8_t rig_mac[6] = RIG_MAC;
static const uint8_t peer_mac[6] = PEER_MAC;
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t zero_mac[6];
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

static void arp_in(uint16_t op, const uint8_t sha[6], uint32_t spa, uint32_t tpa)
{
	uint8_t f[64];
	size_t n = craft_arp_frame(f, op == 1 ? bcast : rig_mac, sha, op, sha, spa,
	                           op == 1 ? zero_mac : rig_mac, tpa);
	memset(f + n, 0, 60 - n); /* padded like on a real wire */
	sim_rig_input(&rig, f, 60, 0);
}

START_TEST(request_for_us_answered_and_learned)
{
	arp_in(1, peer_mac, ip4(10, 0, 0, 2), rig_ip());
	ck_assert_uint_eq(st()->arp_rx, 1);
	ck_assert_uint_eq(st()->arp_tx, 1);
	ck_assert_uint_eq(rig.cap.count, 1);
	const uint8_t *f = rig.cap.frames[0].data;
	ck_assert_uint_eq(rig.cap.frames[0].len, 42);
	ck_assert_mem_eq(f, peer_mac, 6);
	ck_assert_mem_eq(f + 6, rig_mac, 6);
	const uint8_t *a = f + 14;
	const uint8_t hdr[8] = {0, 1, 8, 0, 6, 4, 0, 2};
	ck_assert_mem_eq(a, hdr, 8);
	ck_assert_mem_eq(a + 8, rig_mac, 6);
	uint32_t v;
	memcpy(&v, a + 14, 4);
	ck_assert_uint_eq(v, rig_ip());
	ck_assert_mem_eq(a + 18, peer_mac, 6);
	memcpy(&v, a + 24, 4);
	ck_assert_uint_eq(v, ip4(10, 0, 0, 2));
	uint8_t mac[6];
	ck_assert(neigh_lookup(rig.s, ip4(10, 0, 0, 2), mac));
	ck_assert_mem_eq(mac, peer_mac, 6);
}
END_TEST

START_TEST(request_for_others_ignored)
{
	arp_in(1, peer_mac, ip4(10, 0, 0, 2), ip4(10, 0, 0, 3));
	ck_assert_uint_eq(st()->arp_rx, 1);
	ck_assert_uint_eq(rig.cap.count, 0);
	ck_assert(!neigh_lookup(rig.s, ip4(10, 0, 0, 2), NULL));
	ck_assert_uint_eq(neigh_count(rig.s), 0);
}
END_TEST

START_TEST(reply_learned)
{
	arp_in(2, peer_mac, ip4(10, 0, 0, 2), rig_ip());
	uint8_t mac[6];
	ck_assert(neigh_lookup(rig.s, ip4(10, 0, 0, 2), mac));
	ck_assert_mem_eq(mac, peer_mac, 6);
	ck_assert_uint_eq(rig.cap.count, 0); /* replies are not answered */
}
END_TEST

START_TEST(gratuitous_updates_existing_only)
{
	const uint8_t moved[6] = {0x02, 0, 0, 0, 0, 0x22};
	/* Gratuitous ARP (spa == tpa) for an address we do not know: nothing created. */
	arp_in(1, moved, ip4(10, 0, 0, 5), ip4(10, 0, 0, 5));
	ck_assert_uint_eq(neigh_count(rig.s), 0);
	arp_in(2, peer_mac, ip4(10, 0, 0, 2), rig_ip());
	arp_in(1, moved, ip4(10, 0, 0, 2), ip4(10, 0, 0, 2));
	uint8_t mac[6];
	ck_assert(neigh_lookup(rig.s, ip4(10, 0, 0, 2), mac));
	ck_assert_mem_eq(mac, moved, 6);
	ck_assert_uint_eq(rig.cap.count, 0);
}
END_TEST

START_TEST(probe_answered_not_learned)
{
	arp_in(1, peer_mac, 0, rig_ip());
	ck_assert_uint_eq(rig.cap.count, 1);
	ck_assert_uint_eq(neigh_count(rig.s), 0);
}
END_TEST

START_TEST(claim_of_our_address_ignored)
{
	arp_in(2, peer_mac, rig_ip(), rig_ip());
	ck_assert_uint_eq(neigh_count(rig.s), 0);
	ck_assert_uint_eq(rig.cap.count, 0);
}
END_TEST

/* Offsets inside the ARP packet and bad values for them. */
static const struct {
	const char *what;
	int off;
	uint8_t value;
	size_t len;
} malformed[] = {
        {"truncated", -1, 0, 14 + 27},
        {"htype", 1, 6, 60},
        {"ptype", 2, 0x86, 60},
        {"hlen", 4, 5, 60},
        {"plen", 5, 6, 60},
        {"op 0", 7, 0, 60},
        {"op 3", 7, 3, 60},
        {"multicast sender", 8, 0x01, 60},
        {"broadcast sender ip", 14, 0xff, 60},
        {"multicast target ip", 24, 0xe0, 60},
};

START_TEST(malformed_dropped)
{
	uint8_t f[64];
	memset(f, 0, sizeof(f));
	craft_arp_frame(f, bcast, peer_mac, 1, peer_mac, ip4(10, 0, 0, 2), zero_mac, rig_ip());
	if (malformed[_i].off >= 0)
		f[14 + malformed[_i].off] = malformed[_i].value;
	if (malformed[_i].off == 14) /* make the whole sender address 255.255.255.255 */
		memset(f + 14 + 14, 0xff, 4);
	sim_rig_input(&rig, f, malformed[_i].len, 0);
	ck_assert_msg(st()->arp_drop_malformed == 1, "%s not counted", malformed[_i].what);
	ck_assert_msg(rig.cap.count == 0, "%s answered", malformed[_i].what);
	ck_assert_msg(neigh_count(rig.s) == 0, "%s learned", malformed[_i].what);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("arp");
	TCase *tc = tcase_create("arp");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, request_for_us_answered_and_learned);
	tcase_add_test(tc, request_for_others_ignored);
	tcase_add_test(tc, reply_learned);
	tcase_add_test(tc, gratuitous_updates_existing_only);
	tcase_add_test(tc, probe_answered_not_learned);
	tcase_add_test(tc, claim_of_our_address_ignored);
	tcase_add_loop_test(tc, malformed_dropped, 0,
	                    (int)(sizeof(malformed) / sizeof(malformed[0])));
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
