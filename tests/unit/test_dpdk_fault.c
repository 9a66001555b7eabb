/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's fault injector (dpdk/fault.c): exact behaviour at 0% and 100%, rates close to
 * the configured ones with a fixed seed, reproducibility, reordering delivers a permutation,
 * duplicates and corruptions are copies (a transmitted mbuf is never modified), held frames
 * are released when traffic stops, and no mbuf leaks on any path.
 */
#include <check.h>
#include <netinet/in.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "../../dpdk/engine_impl.h"
#include "test_eal.h"

static struct rte_mempool *pool;

/* A frame whose payload carries its id (bytes 14..17) and a fixed pattern after it. */
static struct rte_mbuf *frame(uint32_t id)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	ck_assert_ptr_nonnull(m);
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, 100);
	ck_assert_ptr_nonnull(p);
	memset(p, 0xab, 100);
	memcpy(p + 14, &id, 4);
	return m;
}

static uint32_t id_of(struct rte_mbuf *m)
{
	uint32_t id;
	memcpy(&id, rte_pktmbuf_mtod_offset(m, uint8_t *, 14), 4);
	return id;
}

static void configure(struct fault_state *f, struct tpa_fault_rates rx, uint64_t seed)
{
	memset(f, 0, sizeof(*f));
	struct tpa_fault_config c = {.rx = rx, .tx = rx, .seed = seed};
	fault_configure(f, &c);
}

/* Push `total` frames through in bursts of 16 (then idle rounds to release held frames);
 * record delivered ids in out[] and free the frames. Returns how many were delivered. */
static uint32_t run(struct fault_state *f, uint32_t total, uint32_t *out, uint32_t out_max)
{
	uint32_t next = 0, got = 0;
	struct rte_mbuf *pkts[64];
	for (int idle = 0; next < total || idle < 200;) {
		uint16_t n = 0;
		while (next < total && n < 16)
			pkts[n++] = frame(next++);
		if (n == 0)
			idle++;
		uint16_t k = fault_apply(f, &f->rx, pool, pkts, n, 64);
		for (uint16_t i = 0; i < k; i++) {
			if (got < out_max)
				out[got] = id_of(pkts[i]);
			got++;
			rte_pktmbuf_free(pkts[i]);
		}
	}
	return got;
}

static void setup(void)
{
	if (!pool)
		pool = test_pool_create("fault_pool", 8192);
}

static void assert_no_leak(void)
{
	ck_assert_uint_eq(rte_mempool_avail_count(pool),
	                  rte_mempool_avail_count(pool) + rte_mempool_in_use_count(pool));
	ck_assert_uint_eq(rte_mempool_in_use_count(pool), 0);
}

START_TEST(no_faults_is_identity)
{
	struct fault_state f;
	configure(&f, (struct tpa_fault_rates){0}, 1);
	ck_assert_int_eq(f.active, 0);
	static uint32_t out[2000];
	ck_assert_uint_eq(run(&f, 1000, out, 2000), 1000);
	for (uint32_t i = 0; i < 1000; i++)
		ck_assert_uint_eq(out[i], i);
	fault_release(&f);
	assert_no_leak();
}
END_TEST

START_TEST(drop_all_and_none)
{
	struct fault_state f;
	static uint32_t out[2000];
	configure(&f, (struct tpa_fault_rates){.drop_ppm = 1000000}, 1);
	ck_assert_int_eq(f.active, 1);
	ck_assert_uint_eq(run(&f, 1000, out, 2000), 0);
	ck_assert_uint_eq(f.rx.dropped, 1000);
	fault_release(&f);
	assert_no_leak();
}
END_TEST

START_TEST(drop_rate_and_seed)
{
	struct fault_state f;
	static uint32_t a[20000], b[20000];
	configure(&f, (struct tpa_fault_rates){.drop_ppm = 20000}, 42); /* 2% */
	uint32_t na = run(&f, 20000, a, 20000);
	/* 2% of 20000 = 400 drops; a fixed seed makes this deterministic, the band only
	 * guards against a broken rate computation. */
	ck_assert_uint_ge(20000 - na, 250);
	ck_assert_uint_le(20000 - na, 550);
	ck_assert_uint_eq(f.rx.dropped, 20000 - na);
	/* Order is kept when only dropping. */
	for (uint32_t i = 1; i < na; i++)
		ck_assert_uint_gt(a[i], a[i - 1]);
	fault_release(&f);
	configure(&f, (struct tpa_fault_rates){.drop_ppm = 20000}, 42);
	uint32_t nb = run(&f, 20000, b, 20000);
	ck_assert_uint_eq(na, nb);
	ck_assert_int_eq(memcmp(a, b, na * sizeof(a[0])), 0);
	fault_release(&f);
	configure(&f, (struct tpa_fault_rates){.drop_ppm = 20000}, 43);
	nb = run(&f, 20000, b, 20000);
	ck_assert(na != nb || memcmp(a, b, na * sizeof(a[0])) != 0);
	fault_release(&f);
	assert_no_leak();
}
END_TEST

START_TEST(reorder_is_a_permutation)
{
	struct fault_state f;
	static uint32_t out[5000];
	static uint8_t seen[5000];
	configure(&f, (struct tpa_fault_rates){.reorder_ppm = 100000}, 7); /* 10% */
	ck_assert_uint_eq(run(&f, 5000, out, 5000), 5000);
	memset(seen, 0, sizeof(seen));
	uint32_t inversions = 0;
	for (uint32_t i = 0; i < 5000; i++) {
		ck_assert_uint_lt(out[i], 5000);
		ck_assert_uint_eq(seen[out[i]], 0);
		seen[out[i]] = 1;
		if (i && out[i] < out[i - 1])
			inversions++;
	}
	ck_assert_uint_gt(inversions, 100);
	ck_assert_uint_gt(f.rx.reordered, 300);
	fault_release(&f);
	assert_no_leak();
}
END_TEST

START_TEST(held_frames_released_when_idle)
{
	struct fault_state f;
	configure(&f, (struct tpa_fault_rates){.reorder_ppm = 1000000}, 3);
	struct rte_mbuf *pkts[64];
	pkts[0] = frame(77);
	ck_assert_uint_eq(fault_apply(&f, &f.rx, pool, pkts, 1, 64), 0);
	ck_assert_uint_eq(f.rx.nheld, 1);
	uint16_t k = 0;
	int rounds = 0;
	while (k == 0 && rounds < 1000) {
		k = fault_apply(&f, &f.rx, pool, pkts, 0, 64);
		rounds++;
	}
	ck_assert_uint_eq(k, 1);
	ck_assert_uint_eq(id_of(pkts[0]), 77);
	ck_assert_int_lt(rounds, 1000);
	rte_pktmbuf_free(pkts[0]);
	/* Held frames at shutdown are freed by fault_release. */
	pkts[0] = frame(78);
	ck_assert_uint_eq(fault_apply(&f, &f.rx, pool, pkts, 1, 64), 0);
	fault_release(&f);
	assert_no_leak();
}
END_TEST

START_TEST(duplicates_are_copies)
{
	struct fault_state f;
	configure(&f, (struct tpa_fault_rates){.dup_ppm = 1000000}, 5);
	struct rte_mbuf *pkts[64];
	for (uint32_t i = 0; i < 8; i++)
		pkts[i] = frame(i);
	uint16_t k = fault_apply(&f, &f.rx, pool, pkts, 8, 64);
	ck_assert_uint_eq(k, 16);
	for (uint16_t i = 0; i < 16; i += 2) {
		ck_assert_ptr_ne(pkts[i], pkts[i + 1]);
		ck_assert_uint_eq(id_of(pkts[i]), id_of(pkts[i + 1]));
		ck_assert_uint_eq(rte_pktmbuf_pkt_len(pkts[i]), rte_pktmbuf_pkt_len(pkts[i + 1]));
	}
	for (uint16_t i = 0; i < k; i++)
		rte_pktmbuf_free(pkts[i]);
	/* More output than the caller's array holds: the excess is dropped, counted, freed. */
	for (uint32_t i = 0; i < 8; i++)
		pkts[i] = frame(i);
	k = fault_apply(&f, &f.rx, pool, pkts, 8, 10);
	ck_assert_uint_eq(k, 10);
	ck_assert_uint_eq(f.rx.dropped, 6);
	for (uint16_t i = 0; i < k; i++)
		rte_pktmbuf_free(pkts[i]);
	fault_release(&f);
	assert_no_leak();
}
END_TEST

START_TEST(corruption_copies_and_flips_one_bit)
{
	struct fault_state f;
	configure(&f, (struct tpa_fault_rates){.corrupt_ppm = 1000000}, 9);
	struct rte_mbuf *orig = frame(5);
	/* The stack may keep a reference for retransmission: hold one more. */
	rte_mbuf_refcnt_update(orig, 1);
	struct rte_mbuf *pkts[4] = {orig};
	ck_assert_uint_eq(fault_apply(&f, &f.tx, pool, pkts, 1, 4), 1);
	ck_assert_ptr_ne(pkts[0], orig);
	const uint8_t *a = rte_pktmbuf_mtod(orig, const uint8_t *);
	const uint8_t *b = rte_pktmbuf_mtod(pkts[0], const uint8_t *);
	int bits = 0;
	for (int i = 0; i < 100; i++) {
		if (i < 14)
			ck_assert_uint_eq(a[i], b[i]);
		bits += __builtin_popcount((unsigned)(a[i] ^ b[i]));
	}
	ck_assert_int_eq(bits, 1);
	/* The original is untouched. */
	ck_assert_uint_eq(id_of(orig), 5);
	for (int i = 18; i < 100; i++)
		ck_assert_uint_eq(a[i], 0xab);
	ck_assert_uint_eq(f.tx.corrupted, 1);
	rte_pktmbuf_free(pkts[0]);
	rte_pktmbuf_free(orig);
	fault_release(&f);
	assert_no_leak();
}
END_TEST

/* An Ethernet/IPv4/TCP frame whose TCP checksum field holds only the pseudo-header sum, as a
 * kernel sender on a veth leaves it (CHECKSUM_PARTIAL). */
static struct rte_mbuf *partial_frame(void)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	ck_assert_ptr_nonnull(m);
	const uint16_t payload = 200;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, 14 + 20 + 20 + payload);
	ck_assert_ptr_nonnull(p);
	memset(p, 0, 14 + 20 + 20);
	for (uint16_t i = 0; i < payload; i++)
		p[54 + i] = (uint8_t)(i * 7 + 1);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(20 + 20 + payload);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = rte_cpu_to_be_32(0xc6120001);
	ip->dst_addr = rte_cpu_to_be_32(0xc6120002);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
	th->src_port = rte_cpu_to_be_16(40000);
	th->dst_port = rte_cpu_to_be_16(5001);
	th->data_off = 5 << 4;
	th->tcp_flags = RTE_TCP_ACK_FLAG;
	th->rx_win = rte_cpu_to_be_16(65535);
	th->cksum = rte_ipv4_phdr_cksum(ip, 0);
	return m;
}

/* Corruption models a fault on a wire, after the sender's NIC computed the checksum: a partial
 * checksum is completed before the bit flips, so the stack (which trusts partial checksums on
 * a veth) still sees a bad checksum. Before: a flipped payload bit kept the partial checksum
 * and reached the application. */
START_TEST(corruption_completes_partial_checksums_first)
{
	for (uint64_t seed = 1; seed <= 64; seed++) {
		struct fault_state f;
		configure(&f, (struct tpa_fault_rates){.corrupt_ppm = 1000000}, seed);
		struct rte_mbuf *pkts[4] = {partial_frame()};
		ck_assert_uint_eq(fault_apply(&f, &f.rx, pool, pkts, 1, 4), 1);
		struct rte_ipv4_hdr *ip =
		        rte_pktmbuf_mtod_offset(pkts[0], struct rte_ipv4_hdr *, 14);
		struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
		bool ip_ok = rte_raw_cksum(ip, 20) == 0xffff;
		if (ip_ok) {
			ck_assert_msg(th->cksum != rte_ipv4_phdr_cksum(ip, 0),
			              "seed %lu: still a partial checksum after corruption",
			              (unsigned long)seed);
			uint32_t sum = rte_raw_cksum(th, rte_be_to_cpu_16(ip->total_length) - 20) +
			               rte_ipv4_phdr_cksum(ip, 0);
			sum = (sum & 0xffff) + (sum >> 16);
			sum = (sum & 0xffff) + (sum >> 16);
			ck_assert_msg(sum != 0xffff,
			              "seed %lu: corrupted frame has a valid checksum",
			              (unsigned long)seed);
		}
		rte_pktmbuf_free(pkts[0]);
		fault_release(&f);
	}
	assert_no_leak();
}
END_TEST

static Suite *fault_suite(void)
{
	Suite *s = suite_create("dpdk_fault");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, no_faults_is_identity);
	tcase_add_test(tc, drop_all_and_none);
	tcase_add_test(tc, drop_rate_and_seed);
	tcase_add_test(tc, reorder_is_a_permutation);
	tcase_add_test(tc, held_frames_released_when_idle);
	tcase_add_test(tc, duplicates_are_copies);
	tcase_add_test(tc, corruption_copies_and_flips_one_bit);
	tcase_add_test(tc, corruption_completes_partial_checksums_first);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(fault_suite(), CK_NOFORK);
}
