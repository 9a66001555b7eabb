/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP data transfer through the simulated network: byte-exact streams in both directions under
 * loss, reordering, duplication and corruption, graceful close, both congestion controls, with
 * and without SACK/timestamps. Every run must end with no mbuf held anywhere.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_net.h"
#include "tcp_impl.h"
#include "test_eal.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* Volumes shrink under the sanitizers (10x slower) and with TPA_SIM_QUICK: the long runs
 * belong to tests/sim/test_bulk. */
static uint64_t scaled(uint64_t bytes)
{
	return SANITIZED || getenv("TPA_SIM_QUICK") ? bytes / 8 : bytes / 2;
}

struct xfer {
	int cli, srv;
	uint64_t total;            /* bytes each way */
	uint64_t sent[2], rcvd[2]; /* [0]: cli->srv, [1]: srv->cli */
	uint64_t bad[2];
	bool eof[2], shut[2];
	bool both_ways;
	size_t chunk;
	uint8_t *buf;
};

static void print_counter(void *arg, const char *name, uint64_t v)
{
	if (v)
		fprintf(stderr, "node %d %s=%lu\n", *(int *)arg, name, (unsigned long)v);
}

static void dump(struct sim_world *w, struct xfer *x)
{
	for (int n = 0; n < 2; n++)
		tpa_stack_stats_foreach(sim_stack(w, n), print_counter, &n);
	for (int n = 0; n < 2; n++) {
		struct tcp_sock *ts = tcp_sock_get(sim_stack(w, n), n == 1 ? x->cli : x->srv);
		fprintf(stderr,
		        "node %d state %d una %u nxt %u max %u wnd %u rcv_nxt %u adv %u "
		        "q %u ooo %u sb %u cwnd %u rec %d tmr %lu %lu persist %d "
		        "ts_recent %u tsnow %u flags %x\n",
		        n, ts->state, ts->snd_una, ts->snd_nxt, ts->snd_max, ts->snd_wnd,
		        ts->rcv_nxt, ts->rcv_adv_edge, ts->rcv_queued, ts->ooo_bytes, ts->sb.len,
		        ts->cc.cwnd, !!(ts->flags & TSF_IN_RECOVERY), (unsigned long)ts->tmr[0],
		        (unsigned long)ts->tmr[1], ts->persist, ts->ts_recent,
		        tcp_ts_now(sim_stack(w, n), ts), ts->flags);
	}
}

static void pump(struct sim_world *w, struct xfer *x, int dir)
{
	struct tpa_stack *snd_s = sim_stack(w, dir == 0 ? 1 : 0);
	struct tpa_stack *rcv_s = sim_stack(w, dir == 0 ? 0 : 1);
	int snd = dir == 0 ? x->cli : x->srv;
	int rcv = dir == 0 ? x->srv : x->cli;
	while (x->sent[dir] < x->total) {
		size_t n = x->total - x->sent[dir];
		if (n > x->chunk)
			n = x->chunk;
		sim_stream_fill(100 + dir, x->sent[dir], x->buf, n);
		ssize_t r = tpa_send(snd_s, snd, x->buf, n, 0);
		if (r == -EAGAIN)
			break;
		if (r < 0)
			dump(w, x);
		ck_assert_msg(r > 0, "send: %d", (int)r);
		x->sent[dir] += (uint64_t)r;
	}
	if (x->sent[dir] == x->total && !x->shut[dir]) {
		ck_assert_int_eq(tpa_shutdown(snd_s, snd, SHUT_WR), 0);
		x->shut[dir] = true;
	}
	for (;;) {
		ssize_t r = tpa_recv(rcv_s, rcv, x->buf, x->chunk, 0);
		if (r == -EAGAIN)
			break;
		ck_assert_int_ge(r, 0);
		if (r == 0) {
			x->eof[dir] = true;
			break;
		}
		if (sim_stream_check(100 + dir, x->rcvd[dir], x->buf, (size_t)r) != SIZE_MAX)
			x->bad[dir]++;
		x->rcvd[dir] += (uint64_t)r;
	}
}

static bool xfer_step(struct sim_world *w, void *ctx)
{
	struct xfer *x = ctx;
	pump(w, x, 0);
	if (x->both_ways)
		pump(w, x, 1);
	return x->eof[0] && (!x->both_ways || x->eof[1]);
}

/* A counting allocator: every block carries a header naming the allocator it came from, so a
 * block freed through the wrong one (or a malloc'd block handed to it) fails the test. */
struct counting_alloc {
	uint64_t allocs, frees, live, foreign_frees;
};
struct counted_hdr {
	struct counting_alloc *owner;
	uint64_t magic;
};
#define COUNTED_MAGIC 0x7470616d656d6f72ull

static void *counted_alloc(void *ctx, size_t size)
{
	struct counted_hdr *h = malloc(sizeof(*h) + size);
	if (!h)
		return NULL;
	h->owner = ctx;
	h->magic = COUNTED_MAGIC;
	h->owner->allocs++;
	h->owner->live++;
	return h + 1;
}

static void counted_free(void *ctx, void *p)
{
	struct counting_alloc *a = ctx;
	struct counted_hdr *h = (struct counted_hdr *)p - 1;
	if (h->magic != COUNTED_MAGIC || h->owner != a) {
		a->foreign_frees++;
		return;
	}
	h->magic = 0;
	a->frees++;
	a->live--;
	free(h);
}

struct tweak {
	enum tpa_cc_algo cc;
	int sack, ts;
	struct counting_alloc *mem; /* NULL: the default allocator */
};

static void tweak_cfg(void *ctx, int node, struct tpa_stack_config *cfg)
{
	const struct tweak *t = ctx;
	cfg->tcp.cc = t->cc;
	cfg->tcp.sack = (uint8_t)t->sack;
	cfg->tcp.timestamps = (uint8_t)t->ts;
	if (t->mem) {
		cfg->mem.alloc = counted_alloc;
		cfg->mem.free = counted_free;
		cfg->mem.ctx = &t->mem[node];
	}
}

static void run_transfer(uint64_t seed, double loss, double reorder, double dup, double corrupt,
                         uint64_t total, bool both, struct tweak tw)
{
	test_eal_init();
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	o.seed = seed;
	o.tweak = tweak_cfg;
	o.tweak_ctx = &tw;
	for (int d = 0; d < 2; d++) {
		o.impair[d].loss = loss;
		o.impair[d].reorder = reorder;
		o.impair[d].reorder_extra_ns = 3000000;
		o.impair[d].dup = dup;
		o.impair[d].corrupt = corrupt;
	}
	struct sim_world *w = sim_world_create(&o);
	ck_assert_ptr_nonnull(w);
	int l = sim_listen(w, 0, 5001, 16);
	ck_assert_int_ge(l, 0);
	total = scaled(total);
	struct xfer x = {.total = total, .both_ways = both, .chunk = 65536};
	x.buf = malloc(x.chunk);
	ck_assert_int_eq(sim_connect(w, 0, l, 5001, &x.cli, &x.srv), 0);
	bool done = sim_run_until(w, xfer_step, &x, VCLOCK_S(3600));
	if (!done) {
		sim_print_stats(w, "stalled");
		for (int n = 0; n < 2; n++)
			tpa_stack_stats_foreach(sim_stack(w, n), print_counter, &n);
		dump(w, &x);
	}
	ck_assert_msg(done, "transfer stalled: sent %lu/%lu rcvd %lu/%lu", (unsigned long)x.sent[0],
	              (unsigned long)x.sent[1], (unsigned long)x.rcvd[0], (unsigned long)x.rcvd[1]);
	ck_assert_uint_eq(x.rcvd[0], total);
	ck_assert_uint_eq(x.bad[0], 0);
	if (both) {
		ck_assert_uint_eq(x.rcvd[1], total);
		ck_assert_uint_eq(x.bad[1], 0);
	}
	ck_assert_int_eq(tpa_close(sim_stack(w, 1), x.cli), 0);
	ck_assert_int_eq(tpa_close(sim_stack(w, 0), x.srv), 0);
	ck_assert_int_eq(tpa_close(sim_stack(w, 0), l), 0);
	/* Let FIN_WAIT/TIME_WAIT run out. */
	sim_run_for(w, VCLOCK_S(200));
	ck_assert_uint_eq(tpa_stack_socket_count(sim_stack(w, 0)), 0);
	ck_assert_uint_eq(tpa_stack_socket_count(sim_stack(w, 1)), 0);
	ck_assert(sim_no_mbufs_leaked(w));
	free(x.buf);
	sim_world_destroy(w);
}

static const struct tweak reno_all = {TPA_CC_NEWRENO, 1, 1, NULL};
static const struct tweak cubic_all = {TPA_CC_CUBIC, 1, 1, NULL};
static const struct tweak reno_bare = {TPA_CC_NEWRENO, 0, 0, NULL};
static const struct tweak reno_sack_only = {TPA_CC_NEWRENO, 1, 0, NULL};
static const struct tweak cubic_ts_only = {TPA_CC_CUBIC, 0, 1, NULL};

/* Every allocation of a stack goes through its configured allocator (the engine puts the
 * state in memory shared across fork): socket table, sockets, send buffers, receive and
 * out-of-order queues under loss, the neighbour table; nothing is left after destroy. */
START_TEST(allocator_hook_gets_every_allocation)
{
	struct counting_alloc mem[2] = {{0}};
	struct tweak tw = {TPA_CC_NEWRENO, 1, 1, mem};
	run_transfer(6, 0.03, 0.03, 0.01, 0, 2u << 20, true, tw);
	for (int n = 0; n < 2; n++) {
		ck_assert_uint_gt(mem[n].allocs, 10);
		ck_assert_uint_eq(mem[n].foreign_frees, 0);
		ck_assert_uint_eq(mem[n].live, 0);
		ck_assert_uint_eq(mem[n].allocs, mem[n].frees);
	}
}
END_TEST

START_TEST(clean_one_way)
{
	run_transfer(1, 0, 0, 0, 0, 4u << 20, false, reno_all);
}
END_TEST

START_TEST(clean_both_ways)
{
	run_transfer(2, 0, 0, 0, 0, 2u << 20, true, cubic_all);
}
END_TEST

START_TEST(lossy_sack_newreno)
{
	run_transfer(3, 0.02, 0.02, 0.01, 0.01, 8u << 20, true, reno_all);
}
END_TEST

START_TEST(lossy_sack_cubic)
{
	run_transfer(4, 0.03, 0.03, 0.02, 0.01, 8u << 20, true, cubic_all);
}
END_TEST

START_TEST(lossy_no_sack_no_ts)
{
	run_transfer(5, 0.02, 0.02, 0.02, 0.01, 4u << 20, true, reno_bare);
}
END_TEST

START_TEST(lossy_sack_only)
{
	run_transfer(7, 0.02, 0.02, 0.02, 0.01, 4u << 20, true, reno_sack_only);
}
END_TEST

START_TEST(lossy_ts_only)
{
	run_transfer(8, 0.02, 0.02, 0.02, 0.01, 4u << 20, true, cubic_ts_only);
}
END_TEST

START_TEST(ten_percent_loss)
{
	run_transfer(9, 0.10, 0, 0, 0, 8u << 20, true, reno_all);
}
END_TEST

START_TEST(heavy_loss)
{
	run_transfer(6, 0.15, 0.05, 0.05, 0.02, 1u << 20, true, reno_all);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_transfer");
	TCase *tc = tcase_create("transfer");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, clean_one_way);
	tcase_add_test(tc, allocator_hook_gets_every_allocation);
	tcase_add_test(tc, clean_both_ways);
	tcase_add_test(tc, lossy_sack_newreno);
	tcase_add_test(tc, lossy_sack_cubic);
	tcase_add_test(tc, lossy_no_sack_no_ts);
	tcase_add_test(tc, lossy_sack_only);
	tcase_add_test(tc, lossy_ts_only);
	tcase_add_test(tc, ten_percent_loss);
	tcase_add_test(tc, heavy_loss);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
