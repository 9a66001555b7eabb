/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bulk transfers both ways at once over impaired links, verified byte for byte: each side sends
 * a seeded stream, the receiver checks every byte against the regenerated stream (reporting the
 * first bad offset) and both ends' 64-bit hashes must match. Matrix: clean, 1/5/10% loss, 5%
 * reordering, 5% duplication, 0.1% corruption, all combined, CUBIC with loss, and 1% loss with
 * 0.1% corruption through emulated checksum offloads; seeds 1-3 (TPA_SIM_SEED/TPA_SIM_SEEDS
 * choose others, TPA_SIM_SCENARIO=name runs one scenario), 64 MiB each way (16 MiB and one seed
 * in sanitizer builds or with TPA_SIM_QUICK=1). Where the matrix reorders or duplicates, the
 * link must prove it did: frames overtaken at more than one depth, late duplicates, and the
 * receiving TCP counting out-of-order and duplicate segments. Afterwards every socket is gone
 * (TIME_WAIT included) and every mbuf is back in its pool. One "bulk ..." line per run carries
 * the figures scripts/sim_seeds.sh collects.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "sim_net.h"

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

struct scenario {
	const char *name;
	double loss, reorder, dup, corrupt;
	enum tpa_cc_algo cc;
	bool offloads; /* emulated NIC checksum offloads (tx fill, rx verdicts) */
};

static const struct scenario scenarios[] = {
        {"clean", 0, 0, 0, 0, TPA_CC_NEWRENO, false},
        {"loss-1%", 0.01, 0, 0, 0, TPA_CC_NEWRENO, false},
        {"loss-5%", 0.05, 0, 0, 0, TPA_CC_NEWRENO, false},
        {"loss-10%", 0.10, 0, 0, 0, TPA_CC_NEWRENO, false},
        {"reorder-5%", 0, 0.05, 0, 0, TPA_CC_NEWRENO, false},
        {"dup-5%", 0, 0, 0.05, 0, TPA_CC_NEWRENO, false},
        {"corrupt-0.1%", 0, 0, 0, 0.001, TPA_CC_NEWRENO, false},
        {"combined", 0.02, 0.05, 0.05, 0.001, TPA_CC_NEWRENO, false},
        {"cubic-loss-2%", 0.02, 0, 0, 0, TPA_CC_CUBIC, false},
        {"offload-corrupt", 0.01, 0, 0, 0.001, TPA_CC_NEWRENO, true},
};
#define N_SCENARIOS (int)(sizeof(scenarios) / sizeof(scenarios[0]))

static bool quick(void)
{
	return SANITIZED || getenv("TPA_SIM_QUICK") != NULL;
}
static uint64_t stream_bytes(void)
{
	return quick() ? 16ull << 20 : 64ull << 20;
}

#define CHUNK 65536

struct end {
	int node, sock;
	uint64_t tx_seed, rx_seed;
	uint64_t sent, rcvd;
	uint64_t tx_hash, rx_hash;
	uint64_t chunk_pos; /* stream offset of txbuf[0] */
	uint32_t chunk_len;
	bool shut, eof;
	uint64_t bad_at;
	uint8_t txbuf[CHUNK], rxbuf[CHUNK];
};

struct bulk {
	struct end e[2];
	uint64_t total;
	int err;
	const char *what;
};

static bool end_step(struct sim_world *w, struct bulk *b, struct end *e)
{
	struct tpa_stack *s = sim_stack(w, e->node);
	while (e->sent < b->total) {
		if (e->sent == e->chunk_pos + e->chunk_len) {
			uint64_t n = b->total - e->sent;
			e->chunk_pos = e->sent;
			e->chunk_len = (uint32_t)(n < CHUNK ? n : CHUNK);
			sim_stream_fill(e->tx_seed, e->chunk_pos, e->txbuf, e->chunk_len);
		}
		uint32_t off = (uint32_t)(e->sent - e->chunk_pos);
		ssize_t r = tpa_send(s, e->sock, e->txbuf + off, e->chunk_len - off, 0);
		if (r == -EAGAIN)
			break;
		if (r <= 0) {
			b->err = r ? (int)r : -EIO;
			b->what = "send";
			return true;
		}
		e->tx_hash = sim_hash(e->tx_hash, e->txbuf + off, (size_t)r);
		e->sent += (uint64_t)r;
	}
	if (e->sent == b->total && !e->shut) {
		int rc = tpa_shutdown(s, e->sock, SHUT_WR);
		if (rc) {
			b->err = rc;
			b->what = "shutdown";
			return true;
		}
		e->shut = true;
	}
	while (!e->eof) {
		ssize_t r = tpa_recv(s, e->sock, e->rxbuf, CHUNK, 0);
		if (r == -EAGAIN)
			break;
		if (r < 0) {
			b->err = (int)r;
			b->what = "recv";
			return true;
		}
		if (r == 0) {
			e->eof = true;
			break;
		}
		size_t bad = sim_stream_check(e->rx_seed, e->rcvd, e->rxbuf, (size_t)r);
		if (bad != SIZE_MAX || e->rcvd + (uint64_t)r > b->total) {
			e->bad_at = e->rcvd + (bad == SIZE_MAX ? 0 : bad);
			b->err = -EBADMSG;
			b->what = "data check";
			return true;
		}
		e->rx_hash = sim_hash(e->rx_hash, e->rxbuf, (size_t)r);
		e->rcvd += (uint64_t)r;
	}
	return false;
}

static bool bulk_step(struct sim_world *w, void *ctx)
{
	struct bulk *b = ctx;
	for (int k = 0; k < 2; k++)
		if (end_step(w, b, &b->e[k]))
			return true;
	return b->e[0].eof && b->e[1].eof && b->e[0].shut && b->e[1].shut;
}

static bool all_gone(struct sim_world *w, void *ctx)
{
	return tpa_stack_socket_count(sim_stack(w, 0)) == 0 &&
	       tpa_stack_socket_count(sim_stack(w, 1)) == 0;
}

static enum tpa_cc_algo tweak_cc;
static void tweak(void *ctx, int node, struct tpa_stack_config *cfg)
{
	cfg->tcp.cc = tweak_cc;
}

static void print_nonzero(void *arg, const char *name, uint64_t v)
{
	if (v)
		printf(" %s=%llu", name, (unsigned long long)v);
}

/* On failure: every counter and each socket's TCP_INFO, for whoever debugs it. */
static void dump_state(struct sim_world *w, const struct bulk *b)
{
	for (int k = 0; k < 2; k++) {
		printf("  node %d counters:", k);
		tpa_stack_stats_foreach(sim_stack(w, k), print_nonzero, NULL);
		struct tpa_tcp_info ti;
		socklen_t len = sizeof(ti);
		if (tpa_getsockopt(sim_stack(w, k), b->e[k].sock, TPA_SO_INFO, &ti, &len) == 0)
			printf("\n  node %d info: state %u rtt %u us rto %u ms mss %u/%u cwnd %u "
			       "ssthresh %u snd_wnd %u rcv_wnd %u wscale %u/%u ts %u sack %u "
			       "retransmits %llu acked %llu received %llu",
			       k, ti.state, ti.rtt_us, ti.rto_ms, ti.snd_mss, ti.rcv_mss,
			       ti.snd_cwnd, ti.snd_ssthresh, ti.snd_wnd, ti.rcv_wnd, ti.snd_wscale,
			       ti.rcv_wscale, ti.timestamps, ti.sack,
			       (unsigned long long)ti.retransmits,
			       (unsigned long long)ti.bytes_acked,
			       (unsigned long long)ti.bytes_received);
		printf("\n");
	}
	sim_print_stats(w, "  link");
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

START_TEST(bulk)
{
	const struct scenario *sc = &scenarios[_i];
	uint64_t seed = sim_seed();
	double wall0 = wall_now();
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	o.seed = seed;
	for (int d = 0; d < 2; d++) {
		o.impair[d].loss = sc->loss;
		o.impair[d].reorder = sc->reorder;
		o.impair[d].dup = sc->dup;
		o.impair[d].corrupt = sc->corrupt;
	}
	o.offloads = sc->offloads;
	tweak_cc = sc->cc;
	o.tweak = tweak;
	struct sim_world *w = sim_world_create(&o);
	ck_assert_ptr_nonnull(w);
	int l = sim_listen(w, 1, 5001, 16);
	ck_assert_int_ge(l, 0);
	int cli, srv;
	/* The handshake itself may be hit by loss: sim_connect allows 30 s for retries. */
	ck_assert_int_eq(sim_connect(w, 1, l, 5001, &cli, &srv), 0);
	ck_assert_int_eq(tpa_close(sim_stack(w, 1), l), 0);

	struct bulk *b = calloc(1, sizeof(*b));
	b->total = stream_bytes();
	b->e[0] = (struct end){
	        .node = 0, .sock = cli, .tx_seed = seed * 100 + 1, .rx_seed = seed * 100 + 2};
	b->e[1] = (struct end){
	        .node = 1, .sock = srv, .tx_seed = seed * 100 + 2, .rx_seed = seed * 100 + 1};
	for (int k = 0; k < 2; k++)
		b->e[k].tx_hash = b->e[k].rx_hash = SIM_HASH_INIT;
	uint64_t t0 = sim_now(w);
	bool done = sim_run_until(w, bulk_step, b, VCLOCK_S(3600));
	uint64_t vt = sim_now(w) - t0;
	const struct tpa_stack_stats *s0 = tpa_stack_stats(sim_stack(w, 0));
	const struct tpa_stack_stats *s1 = tpa_stack_stats(sim_stack(w, 1));
	double goodput = (double)(b->e[0].rcvd + b->e[1].rcvd) / ((double)vt * 1e-9);
	struct sim_dir_stats ls = *sim_stats(w, 0);
	const struct sim_dir_stats *l1 = sim_stats(w, 1);
	ls.arrived_overtaken += l1->arrived_overtaken;
	ls.arrived_dup += l1->arrived_dup;
	ls.arrived_dup_late += l1->arrived_dup_late;
	if (l1->depth_min && (!ls.depth_min || l1->depth_min < ls.depth_min))
		ls.depth_min = l1->depth_min;
	if (l1->depth_max > ls.depth_max)
		ls.depth_max = l1->depth_max;
	unsigned depths = 0; /* depth classes seen: 1, 2-3, 4-7, ... */
	for (int k = 0; k < 8; k++)
		depths += ls.depth_log2[k] + l1->depth_log2[k] > 0;
	printf("bulk %-14s seed %llu: %llu MiB each way, retransmits %llu (fast %llu, rto %llu), "
	       "virtual %.2f s, goodput %.1f MB/s (both ways), overtaken %llu (depth %llu-%llu), "
	       "dup %llu (late %llu), dsack %llu, undone %llu, wall %.2f s\n",
	       sc->name, (unsigned long long)seed, (unsigned long long)(b->total >> 20),
	       (unsigned long long)(s0->tcp_retransmit + s1->tcp_retransmit),
	       (unsigned long long)(s0->tcp_fast_retransmit + s1->tcp_fast_retransmit),
	       (unsigned long long)(s0->tcp_rto_timeout + s1->tcp_rto_timeout), (double)vt * 1e-9,
	       goodput / 1e6, (unsigned long long)ls.arrived_overtaken,
	       (unsigned long long)ls.depth_min, (unsigned long long)ls.depth_max,
	       (unsigned long long)ls.arrived_dup, (unsigned long long)ls.arrived_dup_late,
	       (unsigned long long)(s0->tcp_dsack_rx + s1->tcp_dsack_rx),
	       (unsigned long long)(s0->tcp_spurious_rtx_undone + s1->tcp_spurious_rtx_undone),
	       wall_now() - wall0);
	if (!done || b->err || getenv("TPA_SIM_VERBOSE"))
		dump_state(w, b);
	fflush(stdout);
	ck_assert_msg(done && !b->err,
	              "%s seed %llu: %s failed (%d); sent %llu/%llu rcvd %llu/%llu, "
	              "bad byte at %llu/%llu",
	              sc->name, (unsigned long long)seed, b->what ? b->what : "run timed out",
	              b->err, (unsigned long long)b->e[0].sent, (unsigned long long)b->e[1].sent,
	              (unsigned long long)b->e[0].rcvd, (unsigned long long)b->e[1].rcvd,
	              (unsigned long long)b->e[0].bad_at, (unsigned long long)b->e[1].bad_at);
	for (int k = 0; k < 2; k++) {
		ck_assert_uint_eq(b->e[k].rcvd, b->total);
		ck_assert_uint_eq(b->e[k].rx_hash, b->e[1 - k].tx_hash);
	}
	if (sc->loss > 0)
		ck_assert_uint_gt(s0->tcp_retransmit + s1->tcp_retransmit, 0);
	if (sc->corrupt > 0)
		ck_assert_uint_gt(s0->tcp_drop_cksum + s1->tcp_drop_cksum + s0->ip_drop_cksum +
		                          s1->ip_drop_cksum,
		                  0);
	if (sc->reorder > 0) {
		/* Reordering happened, at varying depths (shallow and deep), and TCP saw it. */
		ck_assert_uint_gt(ls.arrived_overtaken, 100);
		ck_assert_uint_ge(depths, 3);
		ck_assert_uint_le(ls.depth_min, 2);
		ck_assert_uint_ge(ls.depth_max, 8);
		ck_assert_uint_gt(s0->tcp_ooo_rx + s1->tcp_ooo_rx, 0);
	}
	if (sc->dup > 0) {
		/* Duplicates arrived, some right behind their original, some late. */
		ck_assert_uint_gt(ls.arrived_dup_late, 100);
		ck_assert_uint_gt(ls.arrived_dup - ls.arrived_dup_late, 100);
		ck_assert_uint_gt(s0->tcp_dup_segment_rx + s1->tcp_dup_segment_rx, 0);
	}
	ck_assert_int_eq(tpa_close(sim_stack(w, 0), cli), 0);
	ck_assert_int_eq(tpa_close(sim_stack(w, 1), srv), 0);
	ck_assert_msg(sim_run_until(w, all_gone, NULL, VCLOCK_S(600)), "sockets left: %u + %u",
	              tpa_stack_socket_count(sim_stack(w, 0)),
	              tpa_stack_socket_count(sim_stack(w, 1)));
	ck_assert(sim_no_mbufs_leaked(w));
	free(b);
	sim_world_destroy(w);
}
END_TEST

static int first_scenario, end_scenario;

static Suite *suite(void)
{
	Suite *s = suite_create("bulk");
	TCase *tc = tcase_create("bulk");
	tcase_set_timeout(tc, 900);
	tcase_add_loop_test(tc, bulk, first_scenario, end_scenario);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	end_scenario = N_SCENARIOS;
	const char *only = getenv("TPA_SIM_SCENARIO");
	if (only && *only) {
		for (first_scenario = 0; first_scenario < N_SCENARIOS; first_scenario++)
			if (!strcmp(scenarios[first_scenario].name, only))
				break;
		if (first_scenario == N_SCENARIOS) {
			fprintf(stderr, "TPA_SIM_SCENARIO=%s: no such scenario\n", only);
			return 2;
		}
		end_scenario = first_scenario + 1;
	}
	return sim_main(suite, 1, quick() ? 1 : 3);
}
