/* SPDX-License-Identifier: BSD-3-Clause */
/* Neighbour resolution: queueing while unresolved and release in order, request retries and
 * failure, the queue bound, expiry and re-resolution on a virtual clock, and owner-driven
 * resolution through hooks.neigh_resolve / tpa_stack_neigh_update. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "ipv4.h"
#include "neigh.h"
#include "sim_capture.h"
#include "sim_craft.h"
#include "sim_tcp_stub.h"

static const uint8_t rig_mac[6] = RIG_MAC;
static const uint8_t peer_mac[6] = PEER_MAC;
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

static uint32_t peer(void)
{
	return ip4(10, 0, 0, 2);
}

static int send_l4(uint8_t tag)
{
	uint8_t seg[20];
	memset(seg, tag, sizeof(seg));
	int rc = ipv4_output(rig.s, sim_rig_mbuf(&rig, seg, sizeof(seg)), peer(), IPPROTO_TCP);
	tpa_stack_flush(rig.s);
	return rc;
}

static bool is_arp_request_for(const struct captured_frame *f, uint32_t ip)
{
	uint32_t tpa;
	memcpy(&tpa, f->data + 14 + 24, 4);
	return f->data[12] == 0x08 && f->data[13] == 0x06 && f->data[14 + 7] == 1 && tpa == ip;
}

static void reply_from_peer(const uint8_t mac[6])
{
	uint8_t f[64];
	size_t n = craft_arp_frame(f, rig_mac, mac, 2, mac, peer(), rig_mac, rig_ip());
	sim_rig_input(&rig, f, n, 0);
}

static void advance_ms(uint64_t ms)
{
	vclock_advance(&rig.clock, VCLOCK_MS(ms));
	tpa_stack_run_timers(rig.s);
	tpa_stack_flush(rig.s);
}

START_TEST(queue_then_release_in_order)
{
	for (uint8_t i = 0; i < 3; i++)
		ck_assert_int_eq(send_l4(i), 0);
	ck_assert_uint_eq(rig.cap.count, 1); /* one request, not one per packet */
	ck_assert(is_arp_request_for(&rig.cap.frames[0], peer()));
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 3);
	reply_from_peer(peer_mac);
	ck_assert_uint_eq(rig.cap.count, 4);
	for (uint8_t i = 0; i < 3; i++) {
		const struct captured_frame *f = &rig.cap.frames[1 + i];
		ck_assert_mem_eq(f->data, peer_mac, 6);
		ck_assert_uint_eq(f->data[34], i);
	}
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 0);
	ck_assert_int_eq(send_l4(9), 0); /* resolved: straight out */
	ck_assert_uint_eq(rig.cap.count, 5);
	ck_assert_uint_eq(st()->arp_queue_drop, 0);
}
END_TEST

START_TEST(retries_then_failure)
{
	ck_assert_int_eq(send_l4(1), 0);
	ck_assert_int_eq(send_l4(2), 0);
	uint64_t t0 = rig.clock.now_ns;
	ck_assert_uint_eq(tpa_stack_next_timer_ns(rig.s), t0 + VCLOCK_MS(NEIGH_RETRY_MS));
	advance_ms(NEIGH_RETRY_MS - 1);
	ck_assert_uint_eq(rig.cap.count, 1);
	advance_ms(1);
	ck_assert_uint_eq(rig.cap.count, 2);
	ck_assert(is_arp_request_for(&rig.cap.frames[1], peer()));
	advance_ms(NEIGH_RETRY_MS);
	ck_assert_uint_eq(rig.cap.count, 3);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 2);
	advance_ms(NEIGH_RETRY_MS);
	/* NEIGH_MAX_PROBES requests without an answer: queued packets dropped and counted. */
	ck_assert_uint_eq(rig.cap.count, NEIGH_MAX_PROBES);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 0);
	ck_assert_uint_eq(st()->arp_queue_drop, 2);
	ck_assert_uint_eq(neigh_count(rig.s), 0);
	ck_assert_uint_eq(tpa_stack_next_timer_ns(rig.s), UINT64_MAX);
	/* The next packet starts a fresh resolution. */
	ck_assert_int_eq(send_l4(3), 0);
	ck_assert(is_arp_request_for(&rig.cap.frames[rig.cap.count - 1], peer()));
	reply_from_peer(peer_mac);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 0);
}
END_TEST

START_TEST(queue_bound)
{
	for (unsigned i = 0; i < NEIGH_QUEUE_MAX + 5; i++)
		send_l4((uint8_t)i);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), NEIGH_QUEUE_MAX);
	ck_assert_uint_eq(st()->arp_queue_drop, 5);
	reply_from_peer(peer_mac);
	ck_assert_uint_eq(rig.cap.count, 1 + NEIGH_QUEUE_MAX);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 0);
}
END_TEST

START_TEST(expiry_and_reresolution)
{
	reply_from_peer(peer_mac); /* aimed at us: learned */
	ck_assert(neigh_lookup(rig.s, peer(), NULL));
	ck_assert_int_eq(send_l4(1), 0);
	ck_assert_uint_eq(rig.cap.count, 1);
	advance_ms(60000); /* arp_timeout_ms default */
	/* Expired but used: the packet still goes out, and a request re-confirms the entry. */
	ck_assert_int_eq(send_l4(2), 0);
	ck_assert_uint_eq(rig.cap.count, 3);
	/* Same flush, any order: one data frame to the old address, one request. */
	int data = is_arp_request_for(&rig.cap.frames[1], peer()) ? 2 : 1;
	ck_assert_mem_eq(rig.cap.frames[data].data, peer_mac, 6);
	ck_assert_uint_eq(rig.cap.frames[data].data[34], 2);
	ck_assert(is_arp_request_for(&rig.cap.frames[3 - data], peer()));
	/* The peer moved: the answer updates the entry. */
	const uint8_t moved[6] = {0x02, 0, 0, 0, 0, 0x33};
	reply_from_peer(moved);
	ck_assert_int_eq(send_l4(3), 0);
	ck_assert_mem_eq(rig.cap.frames[rig.cap.count - 1].data, moved, 6);
	/* Expire again and never answer: after the probes the entry is gone, and the next packet
	 * waits for a new resolution instead of going to a stale address. */
	advance_ms(60001);
	sim_rig_clear(&rig);
	ck_assert_int_eq(send_l4(4), 0);
	for (unsigned i = 0; i < NEIGH_MAX_PROBES; i++)
		advance_ms(NEIGH_RETRY_MS);
	ck_assert(!neigh_lookup(rig.s, peer(), NULL));
	unsigned before = rig.cap.count;
	ck_assert_int_eq(send_l4(5), 0);
	ck_assert_uint_eq(rig.cap.count, before + 1);
	ck_assert(is_arp_request_for(&rig.cap.frames[before], peer()));
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 1);
	reply_from_peer(moved);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 0);
}
END_TEST

static struct {
	unsigned calls;
	uint32_t ip;
} resolve_rec;

static void record_resolve(void *ctx, uint32_t ip_be)
{
	resolve_rec.calls++;
	resolve_rec.ip = ip_be;
}

static void with_hook(struct tpa_stack_config *cfg)
{
	cfg->hooks.neigh_resolve = record_resolve;
}

START_TEST(owner_resolves)
{
	sim_rig_destroy(&rig);
	sim_rig_init(&rig, with_hook);
	memset(&resolve_rec, 0, sizeof(resolve_rec));
	ck_assert_int_eq(send_l4(1), 0);
	ck_assert_int_eq(send_l4(2), 0);
	ck_assert_uint_eq(resolve_rec.calls, 1);
	ck_assert_uint_eq(resolve_rec.ip, peer());
	ck_assert_uint_eq(rig.cap.count, 0); /* no ARP of our own */
	ck_assert_uint_eq(st()->arp_tx, 0);
	tpa_stack_neigh_update(rig.s, peer(), peer_mac);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(rig.cap.count, 2);
	ck_assert_mem_eq(rig.cap.frames[0].data, peer_mac, 6);
	/* A failure report drops what waits for that neighbour. */
	uint32_t other = ip4(10, 0, 0, 9);
	ipv4_output(rig.s, sim_rig_mbuf(&rig, "12345678901234567890", 20), other, IPPROTO_TCP);
	ck_assert_uint_eq(resolve_rec.calls, 2);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 1);
	tpa_stack_neigh_update(rig.s, other, NULL);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 0);
	ck_assert_uint_eq(st()->arp_queue_drop, 1);
	/* An all-zero or multicast MAC is not an answer. */
	tpa_stack_neigh_update(rig.s, ip4(10, 0, 0, 10), zero_mac);
	ck_assert(!neigh_lookup(rig.s, ip4(10, 0, 0, 10), NULL));
}
END_TEST

static void tiny_table(struct tpa_stack_config *cfg)
{
	cfg->max_sockets = 1;
}

START_TEST(full_table_evicts_expired_only)
{
	sim_rig_destroy(&rig);
	sim_rig_init(&rig, tiny_table); /* 64 entries */
	uint8_t mac[6] = {0x02, 0, 0, 0, 1, 0};
	for (unsigned i = 0; i < 64; i++) {
		mac[5] = (uint8_t)i;
		tpa_stack_neigh_update(rig.s, ip4(10, 0, 1, (uint8_t)i), mac);
	}
	ck_assert_uint_eq(neigh_count(rig.s), 64);
	/* Full of live entries: a new neighbour cannot be added (and nothing crashes). */
	tpa_stack_neigh_update(rig.s, ip4(10, 0, 2, 1), mac);
	ck_assert(!neigh_lookup(rig.s, ip4(10, 0, 2, 1), NULL));
	advance_ms(60001);
	tpa_stack_neigh_update(rig.s, ip4(10, 0, 2, 1), mac);
	ck_assert(neigh_lookup(rig.s, ip4(10, 0, 2, 1), NULL));
	ck_assert_uint_eq(neigh_count(rig.s), 64);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("neigh");
	TCase *tc = tcase_create("neigh");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, queue_then_release_in_order);
	tcase_add_test(tc, retries_then_failure);
	tcase_add_test(tc, queue_bound);
	tcase_add_test(tc, expiry_and_reresolution);
	tcase_add_test(tc, owner_resolves);
	tcase_add_test(tc, full_table_evicts_expired_only);
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
