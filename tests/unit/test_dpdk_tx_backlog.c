/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transmit backpressure (dpdk/tx_backlog.c): frames the port does not take wait, in order,
 * instead of being dropped; bounded in number and in time.
 *  - the engine over a memif port whose link is down (a server with no client yet; the same
 *    as a full ring): the ARP request of a connect is held, not dropped (before: the stack
 *    dropped it, eth_tx_drop_full 1, and the connection waited for the 1 s ARP retry), and a
 *    backlog that cannot move for a second is dropped and counted;
 *  - the backlog on a fake device that takes a given number of frames per call: every frame
 *    leaves once there is room, oldest first, none twice; beyond TX_BACKLOG_MAX the newest are
 *    dropped; release frees what is held.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "check_run.h"
#include "../../dpdk/engine_impl.h"
#include "test_eal.h"
#include "tpa/dpdk.h"

/* ---- the engine ----------------------------------------------------------------------------
 */

struct stat_find {
	const char *name;
	uint64_t value;
	int found;
};

static void find_stat(void *arg, const char *name, uint64_t value)
{
	struct stat_find *f = arg;
	if (!strcmp(name, f->name)) {
		f->value = value;
		f->found = 1;
	}
}

static uint64_t engine_stat(struct tpa_engine *e, const char *name)
{
	struct stat_find f = {name, 0, 0};
	tpa_engine_stats_foreach(e, find_stat, &f);
	ck_assert_msg(f.found, "no engine counter %s", name);
	return f.value;
}

START_TEST(link_down_holds_frames)
{
	test_eal_init();
	char sock_path[128], err[512] = "";
	snprintf(sock_path, sizeof(sock_path), "/tmp/tpa-unit-txb-%d.sock", (int)getpid());
	struct tpa_engine_config c;
	tpa_engine_config_init(&c);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_PORT_TYPE", "memif", err, sizeof(err)), 0);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_MEMIF_ROLE", "server", err, sizeof(err)),
	                 0);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_MEMIF_SOCKET", sock_path, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_IP", "10.67.0.2/24", err, sizeof(err)), 0);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_MBUFS", "4096", err, sizeof(err)), 0);
	struct tpa_engine *e = tpa_engine_create(&c, err, sizeof(err));
	ck_assert_msg(e != NULL, "create: %s", err);
	struct tpa_stack *st = tpa_engine_stack(e);

	/* No client: the link is down and the port takes nothing. The connect's ARP request
	 * waits for the link. */
	int cs = tpa_socket(st);
	struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(80)};
	peer.sin_addr.s_addr = inet_addr("10.67.0.1");
	int rc = tpa_connect(st, cs, (struct sockaddr *)&peer, sizeof(peer));
	ck_assert_msg(rc == -EINPROGRESS || rc == 0, "connect: %d", rc);
	tpa_engine_poll(e);
	tpa_engine_poll(e);
	ck_assert_uint_eq(tpa_stack_stats(st)->eth_tx_drop_full, 0);
	ck_assert_uint_ge(tpa_stack_stats(st)->arp_tx, 1);
	ck_assert_uint_eq(engine_stat(e, "tx_held"), tpa_stack_stats(st)->arp_tx);
	ck_assert_uint_eq(engine_stat(e, "tx_held_dropped"), 0);
	/* A sleeper wakes up to offer it again. */
	uint64_t now = tpa_engine_now_ns();
	ck_assert_uint_le(tpa_engine_next_timer_ns(e), now + 1000000);

	/* Still no link a second later: the peer is gone, the frames are dropped (counted) and
	 * nobody wakes up for them any more. */
	while (tpa_engine_now_ns() - now < 1300000000ull) {
		tpa_engine_poll(e);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	ck_assert_uint_ge(engine_stat(e, "tx_held_dropped"), 1);
	ck_assert_uint_eq(tpa_stack_stats(st)->eth_tx_drop_full, 0);
	ck_assert_int_eq(tpa_close(st, cs), 0);
	tpa_engine_poll(e);
	tpa_engine_destroy(e);
	unlink(sock_path);
}
END_TEST

/* ---- the backlog on a fake device ------------------------------------------------------------
 */

static struct rte_mempool *pool;
static uint32_t room;        /* frames the device takes before it is full */
static uint32_t seen[16384]; /* ids in the order the device took them */
static uint32_t nseen;
static struct tx_backlog backlog; /* big: not on the stack */

static struct rte_mbuf *frame(uint32_t id)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	ck_assert_ptr_nonnull(m);
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, 64);
	ck_assert_ptr_nonnull(p);
	memcpy(p, &id, 4);
	return m;
}

static uint16_t fake_tx(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	ck_assert_ptr_eq(ctx, &room);
	uint16_t k = n < room ? n : (uint16_t)room;
	for (uint16_t i = 0; i < k; i++) {
		uint32_t id;
		memcpy(&id, rte_pktmbuf_mtod(pkts[i], void *), 4);
		if (nseen < sizeof(seen) / sizeof(seen[0]))
			seen[nseen] = id;
		nseen++;
		rte_pktmbuf_free(pkts[i]);
	}
	room -= k;
	return k;
}

static void send_ids(uint32_t first, uint32_t count)
{
	struct rte_mbuf *pkts[64];
	while (count) {
		uint16_t n = count < 64 ? (uint16_t)count : 64;
		for (uint16_t i = 0; i < n; i++)
			pkts[i] = frame(first + i);
		ck_assert_uint_eq(tx_backlog_send(&backlog, fake_tx, &room, pkts, n), n);
		first += n;
		count -= n;
	}
}

START_TEST(backlog_order_and_bounds)
{
	if (!pool)
		pool = test_pool_create("txb_pool", 8192);
	unsigned avail = rte_mempool_avail_count(pool);
	tx_backlog_init(&backlog);
	nseen = 0;

	/* Room for 10 of 100: the other 90 wait. */
	room = 10;
	send_ids(0, 100);
	ck_assert_uint_eq(nseen, 10);
	ck_assert_uint_eq(backlog.n, 90);
	ck_assert_uint_eq(backlog.held, 90);
	ck_assert_uint_ne(backlog.retry_ns, UINT64_MAX);
	/* Newer frames go after them, even when the device has room again. */
	room = 20;
	send_ids(100, 5);
	ck_assert_uint_eq(nseen, 30);
	ck_assert_uint_eq(backlog.n, 75);
	room = 1000;
	ck_assert_uint_eq(tx_backlog_flush(&backlog, fake_tx, &room), 75);
	ck_assert_uint_eq(backlog.n, 0);
	ck_assert_uint_eq(backlog.retry_ns, UINT64_MAX);
	ck_assert_uint_eq(nseen, 105);
	for (uint32_t i = 0; i < 105; i++)
		ck_assert_uint_eq(seen[i], i);
	ck_assert_uint_eq(backlog.dropped, 0);

	/* A device that takes nothing: TX_BACKLOG_MAX wait, the newest beyond are dropped. */
	room = 0;
	nseen = 0;
	send_ids(1000, TX_BACKLOG_MAX + 50);
	ck_assert_uint_eq(backlog.n, TX_BACKLOG_MAX);
	ck_assert_uint_eq(backlog.dropped, 50);
	room = 100;
	ck_assert_uint_eq(tx_backlog_flush(&backlog, fake_tx, &room), 100);
	for (uint32_t i = 0; i < 100; i++)
		ck_assert_uint_eq(seen[i], 1000 + i);
	/* The engine stops: what is held is freed, not counted as lost. */
	tx_backlog_release(&backlog);
	ck_assert_uint_eq(backlog.n, 0);
	ck_assert_uint_eq(backlog.dropped, 50);
	ck_assert_uint_eq(rte_mempool_avail_count(pool), avail);
}
END_TEST

static Suite *txb_suite(void)
{
	Suite *s = suite_create("dpdk_tx_backlog");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, backlog_order_and_bounds);
	tcase_add_test(tc, link_down_holds_frames);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(txb_suite(), CK_NOFORK);
}
