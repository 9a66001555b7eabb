/* SPDX-License-Identifier: BSD-3-Clause */
/* The instance: documented defaults, config validation naming the bad field, create/destroy,
 * counters enumeration, and the transmit path when the device refuses frames (no leaks). */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <rte_mbuf.h>
#include <string.h>

#include "ipv4.h"
#include "sim_capture.h"
#include "stack_impl.h"
#include "test_eal.h"

START_TEST(defaults)
{
	struct tpa_stack_config c;
	memset(&c, 0x5a, sizeof(c));
	tpa_stack_config_init(&c);
	ck_assert_uint_eq(c.tcp.sndbuf, 256 * 1024);
	ck_assert_uint_eq(c.tcp.rcvbuf, 256 * 1024);
	ck_assert_uint_eq(c.tcp.ooo_limit, c.tcp.rcvbuf);
	ck_assert_uint_eq(c.tcp.rto_min_ms, 200);
	ck_assert_uint_eq(c.tcp.rto_max_ms, 120000);
	ck_assert_uint_eq(c.tcp.rto_initial_ms, 1000);
	ck_assert_uint_eq(c.tcp.syn_retries, 6);
	ck_assert_uint_eq(c.tcp.synack_retries, 5);
	ck_assert_uint_eq(c.tcp.data_retries, 15);
	ck_assert_uint_eq(c.tcp.delack_ms, 40);
	ck_assert_uint_eq(c.tcp.time_wait_ms, 60000);
	ck_assert_uint_eq(c.tcp.fin_wait2_ms, 60000);
	ck_assert_uint_eq(c.tcp.keepalive_idle_s, 7200);
	ck_assert_uint_eq(c.tcp.keepalive_intvl_s, 75);
	ck_assert_uint_eq(c.tcp.keepalive_cnt, 9);
	ck_assert_uint_eq(c.tcp.initial_cwnd_segs, 10);
	ck_assert_int_eq(c.tcp.cc, TPA_CC_NEWRENO);
	ck_assert_uint_eq(c.tcp.timestamps, 1);
	ck_assert_uint_eq(c.tcp.window_scaling, 1);
	ck_assert_uint_eq(c.tcp.sack, 1);
	ck_assert_uint_eq(c.max_sockets, 65536);
	ck_assert_uint_eq(c.arp_timeout_ms, 60000);
	ck_assert_uint_eq(c.dev.mtu, 1500);
	ck_assert_ptr_null(c.pool);
	ck_assert_ptr_null(c.dev.rx_burst);
	ck_assert_uint_eq(c.ipv4_addr, 0);
	ck_assert_ptr_null(c.hooks.neigh_resolve);
}
END_TEST

static uint16_t rx_none(void *ctx, struct rte_mbuf **p, uint16_t n)
{
	return 0;
}
static uint16_t tx_none(void *ctx, struct rte_mbuf **p, uint16_t n)
{
	return 0;
}
static uint64_t zero_clock(void *ctx)
{
	return 0;
}

static struct rte_mempool *pool;

static void good_config(struct tpa_stack_config *c)
{
	if (!pool)
		pool = test_pool_create("stack_pool", 255);
	tpa_stack_config_init(c);
	c->pool = pool;
	c->dev.rx_burst = rx_none;
	c->dev.tx_burst = tx_none;
	const uint8_t mac[6] = RIG_MAC;
	memcpy(c->dev.mac, mac, 6);
	c->clock.now_ns = zero_clock;
	c->ipv4_addr = ip4(10, 0, 0, 1);
	c->ipv4_prefix_len = 24;
	c->max_sockets = 64;
	memset(c->isn_key, 0x42, sizeof(c->isn_key));
}

struct bad_config {
	const char *field; /* must appear in the error message */
	void (*edit)(struct tpa_stack_config *c);
};

static void b_pool(struct tpa_stack_config *c)
{
	c->pool = NULL;
}
static void b_rx(struct tpa_stack_config *c)
{
	c->dev.rx_burst = NULL;
}
static void b_clock(struct tpa_stack_config *c)
{
	c->clock.now_ns = NULL;
}
static void b_mtu(struct tpa_stack_config *c)
{
	c->dev.mtu = 100;
}
static void b_mac(struct tpa_stack_config *c)
{
	c->dev.mac[0] = 0x01;
}
static void b_mac0(struct tpa_stack_config *c)
{
	memset(c->dev.mac, 0, 6);
}
static void b_offl(struct tpa_stack_config *c)
{
	c->dev.tx_offloads = 1u << 20;
}
static void b_addr(struct tpa_stack_config *c)
{
	c->ipv4_addr = 0;
}
static void b_addr_mc(struct tpa_stack_config *c)
{
	c->ipv4_addr = ip4(224, 0, 0, 1);
}
static void b_prefix(struct tpa_stack_config *c)
{
	c->ipv4_prefix_len = 33;
}
static void b_gw(struct tpa_stack_config *c)
{
	c->ipv4_gateway = ip4(192, 0, 2, 1);
}
static void b_gw_self(struct tpa_stack_config *c)
{
	c->ipv4_gateway = c->ipv4_addr;
}
static void b_socks(struct tpa_stack_config *c)
{
	c->max_sockets = 0;
}
static void b_arp(struct tpa_stack_config *c)
{
	c->arp_timeout_ms = 0;
}
static void b_snd(struct tpa_stack_config *c)
{
	c->tcp.sndbuf = 10;
}
static void b_rcv(struct tpa_stack_config *c)
{
	c->tcp.rcvbuf = 0;
}
static void b_rto(struct tpa_stack_config *c)
{
	c->tcp.rto_min_ms = 0;
}
static void b_rto2(struct tpa_stack_config *c)
{
	c->tcp.rto_initial_ms = 100;
}
static void b_cwnd(struct tpa_stack_config *c)
{
	c->tcp.initial_cwnd_segs = 0;
}
static void b_cc(struct tpa_stack_config *c)
{
	c->tcp.cc = (enum tpa_cc_algo)7;
}
static void b_ka(struct tpa_stack_config *c)
{
	c->tcp.keepalive_cnt = 0;
}
/* The stack draws no key of its own (no system calls): an all-zero one is refused. */
static void b_key(struct tpa_stack_config *c)
{
	memset(c->isn_key, 0, sizeof(c->isn_key));
}

static const struct bad_config bad[] = {
        {"pool", b_pool},
        {"rx_burst", b_rx},
        {"clock", b_clock},
        {"mtu", b_mtu},
        {"mac", b_mac},
        {"mac", b_mac0},
        {"tx_offloads", b_offl},
        {"ipv4_addr", b_addr},
        {"ipv4_addr", b_addr_mc},
        {"ipv4_prefix_len", b_prefix},
        {"ipv4_gateway", b_gw},
        {"ipv4_gateway", b_gw_self},
        {"max_sockets", b_socks},
        {"arp_timeout_ms", b_arp},
        {"sndbuf", b_snd},
        {"rcvbuf", b_rcv},
        {"rto_min_ms", b_rto},
        {"rto_initial_ms", b_rto2},
        {"initial_cwnd_segs", b_cwnd},
        {"tcp.cc", b_cc},
        {"keepalive", b_ka},
        {"isn_key", b_key},
};

START_TEST(bad_config_rejected)
{
	struct tpa_stack_config c;
	good_config(&c);
	bad[_i].edit(&c);
	errno = 0;
	struct tpa_stack *s = tpa_stack_create(&c);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_msg(strstr(tpa_stack_last_error(), bad[_i].field) != NULL,
	              "error '%s' does not name '%s'", tpa_stack_last_error(), bad[_i].field);
}
END_TEST

START_TEST(create_destroy)
{
	struct tpa_stack_config c;
	good_config(&c);
	ck_assert_ptr_null(tpa_stack_create(NULL));
	struct tpa_stack *s = tpa_stack_create(&c);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(tpa_stack_socket_count(s), 0);
	ck_assert_uint_eq(tpa_stack_mbufs_held(s), 0);
	ck_assert_int_eq(tpa_stack_poll(s), 0);
	ck_assert_uint_eq(tpa_stack_next_timer_ns(s), UINT64_MAX);
	tpa_stack_destroy(s);
	tpa_stack_destroy(NULL);
	/* A given key is kept. */
	memset(c.isn_key, 7, 16);
	s = tpa_stack_create(&c);
	ck_assert_uint_eq(s->cfg.isn_key[15], 7);
	tpa_stack_destroy(s);
	ck_assert_uint_eq(rte_mempool_avail_count(pool), 255);
}
END_TEST

static void count_counter(void *arg, const char *name, uint64_t v)
{
	unsigned *n = arg;
	ck_assert_ptr_nonnull(name);
	ck_assert_uint_gt(strlen(name), 3);
	if (strcmp(name, "eth_rx") == 0)
		ck_assert_uint_eq(v, 0);
	(*n)++;
}

START_TEST(counters_enumerated)
{
	struct tpa_stack_config c;
	good_config(&c);
	struct tpa_stack *s = tpa_stack_create(&c);
	unsigned n = 0;
	tpa_stack_stats_foreach(s, count_counter, &n);
	ck_assert_uint_eq(n, sizeof(struct tpa_stack_stats) / sizeof(uint64_t));
	ck_assert_ptr_eq(tpa_stack_stats(s), &s->stats);
	tpa_stack_destroy(s);
}
END_TEST

/* The device takes rig.cap.tx_accept frames per call: what it never takes is freed and
 * counted, never leaked or sent twice. */
START_TEST(refused_frames_dropped_and_counted)
{
	struct sim_rig rig;
	sim_rig_init(&rig, NULL);
	const uint8_t peer[6] = PEER_MAC;
	tpa_stack_neigh_update(rig.s, ip4(10, 0, 0, 2), peer);
	uint8_t seg[20] = {0};
	rig.cap.tx_accept = 1;
	for (int i = 0; i < 20; i++)
		ipv4_output(rig.s, sim_rig_mbuf(&rig, seg, 20), ip4(10, 0, 0, 2), IPPROTO_TCP);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 20);
	int sent = tpa_stack_flush(rig.s);
	ck_assert_int_eq(sent, 8); /* one per attempt */
	ck_assert_uint_eq(tpa_stack_stats(rig.s)->eth_tx, 8);
	ck_assert_uint_eq(tpa_stack_stats(rig.s)->eth_tx_drop_full, 12);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 0);
	/* A full batch flushes by itself before queueing more. */
	rig.cap.tx_accept = -1;
	for (int i = 0; i < TPA_TX_BATCH + 3; i++)
		ipv4_output(rig.s, sim_rig_mbuf(&rig, seg, 20), ip4(10, 0, 0, 2), IPPROTO_TCP);
	ck_assert_uint_eq(rig.cap.count, 8 + TPA_TX_BATCH);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 3);
	ck_assert_int_eq(tpa_stack_poll(rig.s), 3);
	/* Frames still queued at destroy are freed. */
	rig.cap.tx_accept = 0;
	ipv4_output(rig.s, sim_rig_mbuf(&rig, seg, 20), ip4(10, 0, 0, 2), IPPROTO_TCP);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 1);
	tpa_stack_destroy(rig.s);
	rig.s = NULL;
	ck_assert(sim_rig_destroy(&rig)); /* the pool has every mbuf back */
}
END_TEST

/* A device that holds what it sends until the test completes it, as af_xdp does until the
 * kernel reports the frame done. */
#define HOLD_MAX 300
static struct rte_mbuf *held[HOLD_MAX];
static unsigned held_n;
static uint16_t tx_hold(void *ctx, struct rte_mbuf **p, uint16_t n)
{
	(void)ctx;
	for (uint16_t i = 0; i < n; i++)
		held[held_n++] = p[i];
	return n;
}
static void complete(unsigned i)
{
	rte_pktmbuf_free(held[i]);
	held[i] = NULL;
}

/* A frame built by the stack (stack_mbuf_alloc), kept by reference (stack_sent_hold) and sent. */
static struct rte_mbuf *send_held(struct tpa_stack *s)
{
	struct rte_mbuf *m = stack_mbuf_alloc(s);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(rte_pktmbuf_append(m, 60));
	stack_sent_hold(s, m);
	stack_tx_frame(s, m);
	return m;
}

/* Sent frames the stack keeps a reference to come back to the pool once the device has
 * dropped its own and the stack flushes, in the order sent; never while the device holds them,
 * never twice, none lost at destroy whichever lets go first. */
START_TEST(sent_frames_reclaimed_after_device)
{
	struct sim_rig rig;
	sim_rig_init(&rig, NULL);
	rig.s->cfg.dev.tx_burst = tx_hold;
	held_n = 0;
	unsigned size = rig.pool_size;
	for (int i = 0; i < 4; i++)
		send_held(rig.s);
	ck_assert_int_eq(tpa_stack_flush(rig.s), 4);
	ck_assert_uint_eq(held_n, 4);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 4);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_uint_eq(rte_mbuf_refcnt_read(held[i]), 2);
	/* Completed out of order: the second waits behind the first. */
	complete(1);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(rte_mempool_avail_count(rig.pool), size - 4);
	complete(0);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(rte_mempool_avail_count(rig.pool), size - 2);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 2);
	/* A receiver chained one and freed the chain: it comes back as one segment. */
	struct rte_mbuf *tail = rte_pktmbuf_alloc(rig.pool);
	ck_assert_ptr_nonnull(tail);
	ck_assert_int_eq(rte_pktmbuf_chain(held[2], tail), 0);
	complete(2);
	complete(3);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(rte_mempool_avail_count(rig.pool), size);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 0);
	struct rte_mbuf *again = rte_pktmbuf_alloc(rig.pool);
	ck_assert_ptr_null(again->next);
	ck_assert_uint_eq(again->nb_segs, 1);
	rte_pktmbuf_free(again);
	/* More than the stack tracks: the rest go unheld (the device's reference only). */
	held_n = 0;
	for (int i = 0; i < STACK_SENT_MAX + 10; i++) {
		send_held(rig.s);
		if (i % 16 == 15)
			tpa_stack_flush(rig.s);
	}
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(held_n, STACK_SENT_MAX + 10);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), STACK_SENT_MAX);
	ck_assert_uint_eq(rte_mbuf_refcnt_read(held[STACK_SENT_MAX + 9]), 1);
	/* Destroyed while the device still holds some, then the device lets go: all come back. */
	for (unsigned i = 0; i < 100; i++)
		complete(i);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), STACK_SENT_MAX - 100);
	tpa_stack_destroy(rig.s);
	rig.s = NULL;
	for (unsigned i = 100; i < held_n; i++)
		complete(i);
	ck_assert(sim_rig_destroy(&rig)); /* the pool has every mbuf back */
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("stack");
	TCase *tc = tcase_create("stack");
	tcase_add_test(tc, defaults);
	tcase_add_loop_test(tc, bad_config_rejected, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, create_destroy);
	tcase_add_test(tc, counters_enumerated);
	tcase_add_test(tc, refused_frames_dropped_and_counted);
	tcase_add_test(tc, sent_frames_reclaimed_after_device);
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
