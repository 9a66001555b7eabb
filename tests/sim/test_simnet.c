/* SPDX-License-Identifier: BSD-3-Clause */
/* The simulated network itself: ARP resolution across the link, loss and queue statistics,
 * serialisation time, determinism from the seed, reordering at varying depths and late
 * duplicates as the receiver sees them, the clock refusing to step over a timer that does not
 * fire, offload emulation, and the test streams. */
#include <check.h>
#include <netinet/in.h>
#include <rte_mbuf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "checksum.h"
#include "ipv4.h"
#include "neigh.h"
#include "sim_net.h"

/* Send n raw 1000-byte IPv4 "TCP" datagrams from node 0 to node 1 at the current time. */
static void blast(struct sim_world *w, unsigned n, uint16_t size)
{
	static uint8_t junk[1480];
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(sim_pool(w, 0));
		ck_assert_ptr_nonnull(m);
		rte_pktmbuf_prepend(m, 0);
		memcpy(rte_pktmbuf_append(m, size), junk, size);
		ipv4_output(sim_stack(w, 0), m, sim_ip(w, 1), IPPROTO_UDP);
		if (i % 32 == 31)
			tpa_stack_flush(sim_stack(w, 0));
	}
	tpa_stack_flush(sim_stack(w, 0));
}

static void resolve_both(struct sim_world *w)
{
	tpa_stack_neigh_update(sim_stack(w, 0), sim_ip(w, 1), sim_mac(w, 1));
	tpa_stack_neigh_update(sim_stack(w, 1), sim_ip(w, 0), sim_mac(w, 0));
}

START_TEST(arp_across_the_link)
{
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	struct sim_world *w = sim_world_create(&o);
	ck_assert_ptr_nonnull(w);
	blast(w, 3, 100);
	sim_run_for(w, VCLOCK_MS(10));
	const struct tpa_stack_stats *s1 = tpa_stack_stats(sim_stack(w, 1));
	ck_assert_uint_eq(s1->ip_drop_proto, 3); /* all three arrived (and UDP is not served) */
	uint8_t mac[6];
	ck_assert(neigh_lookup(sim_stack(w, 0), sim_ip(w, 1), mac));
	ck_assert_mem_eq(mac, sim_mac(w, 1), 6);
	ck_assert(neigh_lookup(sim_stack(w, 1), sim_ip(w, 0), mac)); /* learned from the request */
	ck_assert(sim_no_mbufs_leaked(w));
	sim_world_destroy(w);
}
END_TEST

static uint64_t run_lossy(uint64_t seed, double loss, uint64_t *delivered)
{
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	o.seed = seed;
	o.impair[0].loss = loss;
	o.impair[0].dup = 0.05;
	o.impair[0].bandwidth_bps = 0;
	struct sim_world *w = sim_world_create(&o);
	resolve_both(w);
	for (int r = 0; r < 10; r++) {
		blast(w, 1000, 200);
		sim_run_for(w, VCLOCK_MS(5));
	}
	const struct sim_dir_stats *st = sim_stats(w, 0);
	ck_assert_uint_eq(st->sent, 10000);
	ck_assert_uint_eq(st->delivered + st->dropped, st->sent + st->duplicated);
	ck_assert_uint_eq(tpa_stack_stats(sim_stack(w, 1))->ip_rx, st->delivered);
	*delivered = st->delivered;
	uint64_t lost = st->dropped_loss;
	ck_assert(sim_no_mbufs_leaked(w));
	sim_world_destroy(w);
	return lost;
}

START_TEST(loss_rate_and_determinism)
{
	uint64_t d1, d2, d3;
	uint64_t l1 = run_lossy(42, 0.1, &d1);
	uint64_t l2 = run_lossy(42, 0.1, &d2);
	uint64_t l3 = run_lossy(43, 0.1, &d3);
	ck_assert_uint_eq(l1, l2); /* same seed, same run */
	ck_assert_uint_eq(d1, d2);
	ck_assert_uint_ne(l1, l3);
	/* 10000 frames at 10%: within 5 standard deviations (150) of 1000. */
	ck_assert_uint_gt(l1, 850);
	ck_assert_uint_lt(l1, 1150);
}
END_TEST

/* What the receiver sees: frames overtaken by shallow and deep reorders alike, duplicates both
 * right behind their original and late; nothing lost or invented. */
START_TEST(reorder_depths_and_late_duplicates)
{
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	o.impair[0].reorder = 0.2;
	o.impair[0].dup = 0.2;
	struct sim_world *w = sim_world_create(&o);
	resolve_both(w);
	/* 1000-byte frames 8 us apart on 1 Gbit/s; extra delays up to 3 ms overtake up to ~375. */
	for (int r = 0; r < 50; r++) {
		blast(w, 100, 966);
		sim_run_for(w, VCLOCK_MS(1));
	}
	sim_run_for(w, VCLOCK_MS(10));
	const struct sim_dir_stats *st = sim_stats(w, 0);
	ck_assert_uint_eq(st->sent, 5000);
	ck_assert_uint_eq(st->dropped, 0);
	ck_assert_uint_eq(st->delivered, st->sent + st->duplicated);
	ck_assert_uint_eq(st->arrived_dup, st->duplicated);
	/* Most held-back frames are overtaken; those held less than the 8 us to the next frame,
	 * or last in their burst, are not. */
	ck_assert_uint_gt(st->arrived_overtaken, st->reordered / 2);
	ck_assert_uint_le(st->arrived_overtaken, st->reordered);
	unsigned classes = 0;
	uint64_t sum = 0;
	for (int k = 0; k < 8; k++) {
		classes += st->depth_log2[k] > 0;
		sum += st->depth_log2[k];
	}
	ck_assert_uint_eq(sum, st->arrived_overtaken);
	ck_assert_uint_eq(st->depth_min, 1);
	ck_assert_uint_ge(st->depth_max, 128);
	ck_assert_uint_ge(classes, 7);
	/* About half the copies trail by 1 us; most others arrive after later frames. */
	ck_assert_uint_gt(st->arrived_dup_late, st->duplicated / 4);
	ck_assert_uint_lt(st->arrived_dup_late, st->duplicated * 3 / 4);
	ck_assert(sim_no_mbufs_leaked(w));
	sim_world_destroy(w);
}
END_TEST

START_TEST(bandwidth_and_queue)
{
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	o.impair[0].bandwidth_bps = 8000000; /* 1 byte per microsecond */
	o.impair[0].queue_bytes = 100000;
	o.impair[0].delay_ns = VCLOCK_MS(5);
	struct sim_world *w = sim_world_create(&o);
	resolve_both(w);
	uint64_t t0 = sim_now(w);
	blast(w, 200, 966); /* 1000-byte frames */
	const struct sim_dir_stats *st = sim_stats(w, 0);
	ck_assert_uint_eq(st->dropped_queue, 100); /* 100 frames fill 100000 bytes */
	sim_run_until(w, NULL, NULL, VCLOCK_S(1));
	ck_assert_uint_eq(st->delivered, 100);
	/* The 100th frame left after 100 ms of serialisation, then 5 ms on the wire. */
	struct sim_world *w2 = sim_world_create(&o);
	resolve_both(w2);
	blast(w2, 100, 966);
	uint64_t start = sim_now(w2);
	/* Frame k (1-based) leaves after k ms of serialisation and lands 5 ms later. */
	sim_run_for(w2, VCLOCK_MS(104));
	ck_assert_uint_eq(sim_stats(w2, 0)->delivered, 99);
	sim_run_for(w2, VCLOCK_MS(2));
	ck_assert_uint_eq(sim_stats(w2, 0)->delivered, 100);
	ck_assert_uint_ge(sim_now(w2) - start, VCLOCK_MS(105));
	(void)t0;
	sim_world_destroy(w2);
	sim_world_destroy(w);
}
END_TEST

START_TEST(clock_jumps_to_timers)
{
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	struct sim_world *w = sim_world_create(&o);
	/* An unanswerable ARP (the far node is cut off): retries happen at 1 s steps of virtual
	 * time, then the queued datagram is dropped; a 10-minute run takes no wall time. */
	sim_impair(w, 0)->down = true;
	blast(w, 1, 100);
	uint64_t t0 = sim_now(w);
	sim_run_for(w, VCLOCK_S(600));
	ck_assert_uint_eq(sim_now(w) - t0, VCLOCK_S(600));
	ck_assert_uint_eq(tpa_stack_stats(sim_stack(w, 0))->arp_tx, 3);
	ck_assert_uint_eq(tpa_stack_stats(sim_stack(w, 0))->arp_queue_drop, 1);
	ck_assert_uint_eq(sim_stats(w, 0)->dropped_down, 3);
	ck_assert(sim_no_mbufs_leaked(w));
	sim_world_destroy(w);
}
END_TEST

/* Node 0 reads a clock 5 ms behind the world's: its timers come due by the world's clock and
 * stay pending by its own, the way a stack with a stale notion of now would behave. */
static struct tpa_clock real_clock;
static uint64_t lagging_now(void *ctx)
{
	uint64_t t = real_clock.now_ns(ctx);
	return t - VCLOCK_MS(5);
}
static void lag_node0(void *ctx, int node, struct tpa_stack_config *cfg)
{
	(void)ctx;
	if (node != 0)
		return;
	real_clock = cfg->clock;
	cfg->clock.now_ns = lagging_now;
}

struct fault_seen {
	int count;
	char msg[256];
};
static void record_fault(void *ctx, const char *msg)
{
	struct fault_seen *f = ctx;
	f->count++;
	snprintf(f->msg, sizeof(f->msg), "%s", msg);
}

/* A timer reported due that does not fire when polled: the runner reports a fault at the
 * deadline and leaves the clock there. (It used to step on in growing increments until the
 * stack's clock caught up, and the run passed.) */
START_TEST(clock_fault_on_timer_that_never_fires)
{
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	o.tweak = lag_node0;
	struct sim_world *w = sim_world_create(&o);
	ck_assert_ptr_nonnull(w);
	struct fault_seen f = {0};
	sim_set_fault_hook(w, record_fault, &f);
	sim_impair(w, 0)->down = true;
	blast(w, 1, 100); /* an ARP request, retried 1 s later by node 0's timer */
	uint64_t due = tpa_stack_next_timer_ns(sim_stack(w, 0));
	ck_assert_uint_ne(due, UINT64_MAX);
	ck_assert(!sim_run_until(w, NULL, NULL, VCLOCK_S(10)));
	ck_assert_int_eq(f.count, 1);
	ck_assert_ptr_nonnull(sim_fault(w));
	ck_assert_ptr_nonnull(strstr(f.msg, "node 0's timer"));
	ck_assert_uint_eq(sim_now(w), due);
	ck_assert_uint_eq(tpa_stack_stats(sim_stack(w, 0))->arp_tx, 1);
	sim_world_destroy(w);

	/* The same world with an honest clock runs the 10 s without a fault. */
	o.tweak = NULL;
	w = sim_world_create(&o);
	sim_set_fault_hook(w, record_fault, &f);
	sim_impair(w, 0)->down = true;
	blast(w, 1, 100);
	sim_run_for(w, VCLOCK_S(10));
	ck_assert_int_eq(f.count, 1);
	ck_assert_ptr_null(sim_fault(w));
	ck_assert_uint_eq(tpa_stack_stats(sim_stack(w, 0))->arp_tx, 3);
	sim_world_destroy(w);
}
END_TEST

/* n TCP segments (40-byte payload) from node 0 to a closed port of node 1, their checksum left
 * to the (emulated) device as the stack does with offloads: pseudo-header sum in the field. */
static void blast_tcp(struct sim_world *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t seg[60];
		memset(seg, 0, sizeof(seg));
		seg[0] = 0x30; /* port 12345 -> 9 */
		seg[1] = 0x39;
		seg[3] = 9;
		seg[4] = (uint8_t)(i >> 8);
		seg[5] = (uint8_t)i;
		seg[12] = 0x50;
		seg[13] = 0x10; /* ACK */
		seg[14] = 0xff;
		for (int k = 20; k < 60; k++)
			seg[k] = (uint8_t)(k * i);
		uint32_t ps = tpa_csum_pseudo_ipv4(sim_ip(w, 0), sim_ip(w, 1), IPPROTO_TCP, 60);
		uint16_t folded = (uint16_t)~tpa_csum_fold(ps);
		memcpy(seg + 16, &folded, 2);
		struct rte_mbuf *m = rte_pktmbuf_alloc(sim_pool(w, 0));
		memcpy(rte_pktmbuf_append(m, 60), seg, 60);
		m->ol_flags = RTE_MBUF_F_TX_TCP_CKSUM;
		m->l4_len = 20;
		ipv4_output(sim_stack(w, 0), m, sim_ip(w, 1), IPPROTO_TCP);
		if (i % 32 == 31)
			tpa_stack_flush(sim_stack(w, 0));
	}
	tpa_stack_flush(sim_stack(w, 0));
}

struct drop_sum {
	uint64_t sum;
};

/* Every drop counter except "no socket" (the fate of intact segments here). */
static void add_drops(void *arg, const char *name, uint64_t v)
{
	if (strstr(name, "_drop_") && strcmp(name, "tcp_drop_no_socket") != 0 &&
	    strcmp(name, "eth_tx_drop_full") != 0)
		((struct drop_sum *)arg)->sum += v;
}

START_TEST(offload_emulation_and_corruption)
{
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	o.offloads = true;
	o.impair[0].corrupt = 0.5;
	o.impair[0].bandwidth_bps = 0;
	struct sim_world *w = sim_world_create(&o);
	resolve_both(w);
	sim_impair(w, 1)->down = true; /* the RSTs for the closed port are not of interest */
	blast_tcp(w, 2000);
	sim_run_for(w, VCLOCK_MS(10));
	const struct tpa_stack_stats *s1 = tpa_stack_stats(sim_stack(w, 1));
	const struct sim_dir_stats *st = sim_stats(w, 0);
	ck_assert_uint_gt(st->corrupted, 800);
	/* Intact segments reach TCP with good checksums (the device filled them) and find no
	 * socket. A corrupted one is caught by the MAC, ethertype, IPv4 or TCP checks, unless the
	 * flip hit the source MAC, which nothing reads (3 of the 47 words of these frames). */
	struct drop_sum ds = {0};
	tpa_stack_stats_foreach(sim_stack(w, 1), add_drops, &ds);
	uint64_t caught = ds.sum;
	ck_assert_uint_eq(s1->tcp_drop_no_socket + caught, 2000);
	ck_assert_uint_ge(s1->tcp_drop_no_socket, 2000 - st->corrupted);
	ck_assert_uint_ge(caught, st->corrupted * 85 / 100);
	ck_assert_uint_gt(s1->tcp_drop_cksum, 0);
	sim_world_destroy(w);
}
END_TEST

START_TEST(streams)
{
	uint8_t a[10000], b[10000];
	sim_stream_fill(7, 0, a, sizeof(a));
	/* Any slice generated on its own matches. */
	sim_stream_fill(7, 1234, b, 777);
	ck_assert_mem_eq(a + 1234, b, 777);
	ck_assert_uint_eq(sim_stream_check(7, 3, a + 3, 9000), SIZE_MAX);
	a[5000] ^= 1;
	ck_assert_uint_eq(sim_stream_check(7, 0, a, sizeof(a)), 5000);
	sim_stream_fill(8, 0, b, sizeof(b));
	ck_assert_uint_ne(sim_stream_check(7, 0, b, 100), SIZE_MAX);
	/* Hashes in pieces equal the hash in one go. */
	uint64_t h1 = sim_hash(SIM_HASH_INIT, b, sizeof(b));
	uint64_t h2 = sim_hash(sim_hash(SIM_HASH_INIT, b, 3333), b + 3333, sizeof(b) - 3333);
	ck_assert_uint_eq(h1, h2);
	ck_assert_uint_ne(h1, sim_hash(SIM_HASH_INIT, a, sizeof(a)));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("simnet");
	TCase *tc = tcase_create("simnet");
	tcase_add_test(tc, arp_across_the_link);
	tcase_add_test(tc, loss_rate_and_determinism);
	tcase_add_test(tc, reorder_depths_and_late_duplicates);
	tcase_add_test(tc, bandwidth_and_queue);
	tcase_add_test(tc, clock_fault_on_timer_that_never_fires);
	tcase_add_test(tc, clock_jumps_to_timers);
	tcase_add_test(tc, offload_emulation_and_corruption);
	tcase_add_test(tc, streams);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return sim_main(suite, 1, 1);
}
