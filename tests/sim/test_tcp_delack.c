/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Delayed ACKs must not throttle traffic between two tpa stacks. For a matrix of application
 * patterns (bulk with reader chunks of odd sizes, readers slower than the link, small send and
 * receive buffers, odd MSS, the dpdk example's event-driven echo, request/response exchanges,
 * Nagle on and off) the same transfer runs with the default 40 ms delayed ACK and with delayed
 * ACKs off. On virtual time (deterministic): the delayed-ACK run takes at most 1.3x as long, the
 * sender never goes silent for 20 ms (10 RTTs) while it has data to send, and a request that fits
 * in the window completes within 1.5 RTT. Every byte is checked against the seeded stream.
 *
 * The request/response patterns caught the original defect: Nagle held a response's short tail
 * behind a full-sized segment whose ACK the peer delayed (odd segment count), 40 ms per stall.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sim_net.h"

#define CHUNK_MAX 65536

struct pattern {
	const char *name;
	uint32_t total;           /* bytes node 0 sends */
	uint32_t send_chunk;      /* bytes per tpa_send */
	uint32_t read_chunk;      /* bytes per tpa_recv on the receiving side */
	uint32_t reads_per_round; /* recv calls per polling round (0 = until EAGAIN) */
	uint32_t rcvbuf, sndbuf;  /* 0 = stack default */
	uint32_t mss;             /* TPA_SO_MAXSEG on both ends, 0 = path MTU */
	bool nodelay;
	bool echo;          /* node 1 sends back what it reads (dpdk example "echo" service) */
	uint32_t read_rate; /* receiver reads at most this many bytes per virtual ms (0 = no limit)
	                     */
	uint32_t rr_msg; /* request/response: send this much, wait for all of it echoed (0 = stream)
	                  */
	bool evented;    /* each side works only after its socket's readiness hook fired, like the
	                  * dpdk example (otherwise both work in every polling round) */
};

static const struct pattern patterns[] = {
        {"bulk-64k-reads", 8u << 20, 65536, 65536, 0, 0, 0, 0, false, false, 0, 0, false},
        {"odd-reads-1000", 4u << 20, 65536, 1000, 0, 0, 0, 0, false, false, 0, 0, false},
        {"slow-reader-1448x1", 2u << 20, 65536, 1448, 1, 0, 0, 0, false, false, 0, 0, false},
        {"slow-reader-777x3", 2u << 20, 65536, 777, 3, 0, 0, 0, false, false, 0, 0, false},
        {"small-rcvbuf-4k", 2u << 20, 65536, 65536, 0, 4096, 0, 0, false, false, 0, 0, false},
        {"small-rcvbuf-5000", 2u << 20, 65536, 65536, 0, 5000, 0, 0, false, false, 0, 0, false},
        {"rcvbuf-3000-odd", 1u << 20, 65536, 999, 0, 3000, 0, 0, false, false, 0, 0, false},
        {"small-sndbuf-4k", 2u << 20, 4096, 65536, 0, 0, 4096, 0, false, false, 0, 0, false},
        {"odd-sends-1000", 4u << 20, 1000, 65536, 0, 0, 0, 0, false, false, 0, 0, false},
        {"odd-sends-3000-odd-mss", 4u << 20, 3000, 4000, 0, 0, 0, 1000, false, false, 0, 0, false},
        {"echo-64k", 8u << 20, 65536, 65536, 0, 0, 0, 0, false, true, 0, 0, false},
        {"echo-64k-nodelay", 8u << 20, 65536, 65536, 0, 0, 0, 0, true, true, 0, 0, false},
        {"echo-odd-4321", 4u << 20, 4321, 4321, 0, 0, 0, 0, false, true, 0, 0, false},
        {"echo-small-bufs", 2u << 20, 65536, 65536, 0, 16384, 16384, 0, false, true, 0, 0, false},
        {"ev-bulk-64k", 8u << 20, 65536, 65536, 0, 0, 0, 0, false, false, 0, 0, true},
        {"ev-odd-reads-1000", 4u << 20, 65536, 1000, 0, 0, 0, 0, false, false, 0, 0, true},
        {"ev-small-rcvbuf-5000", 2u << 20, 65536, 65536, 0, 5000, 0, 0, false, false, 0, 0, true},
        {"ev-small-sndbuf-4k", 2u << 20, 4096, 65536, 0, 0, 4096, 0, false, false, 0, 0, true},
        {"ev-echo-64k", 8u << 20, 65536, 65536, 0, 0, 0, 0, false, true, 0, 0, true},
        {"ev-echo-64k-nodelay", 8u << 20, 65536, 65536, 0, 0, 0, 0, true, true, 0, 0, true},
        {"ev-echo-odd-4321", 4u << 20, 4321, 4321, 0, 0, 0, 0, false, true, 0, 0, true},
        {"rate-reader-100MBps", 8u << 20, 65536, 65536, 0, 0, 0, 0, false, false, 100000, 0, true},
        {"rate-reader-30MBps", 4u << 20, 65536, 65536, 0, 0, 0, 0, false, false, 30000, 0, true},
        {"rate-reader-odd", 4u << 20, 65536, 4321, 0, 0, 0, 0, false, false, 77777, 0, true},
        {"rate-echo-50MBps", 4u << 20, 65536, 65536, 0, 0, 0, 0, false, true, 50000, 0, true},
        {"rr-2000", 400 * 2000, 65536, 65536, 0, 0, 0, 0, false, true, 0, 2000, true},
        {"rr-3000", 300 * 3000, 65536, 65536, 0, 0, 0, 0, false, true, 0, 3000, true},
        {"rr-4000-nonev", 300 * 4000, 65536, 65536, 0, 0, 0, 0, false, true, 0, 4000, false},
        {"rr-7000", 200 * 7000, 65536, 65536, 0, 0, 0, 0, false, true, 0, 7000, true},
        {"rr-5000", 200 * 5000, 65536, 65536, 0, 0, 0, 0, false, true, 0, 5000, true},
        {"rr-1448", 400 * 1448, 65536, 65536, 0, 0, 0, 0, false, true, 0, 1448, true},
        {"rr-100k", 20 * 100000, 65536, 65536, 0, 0, 0, 0, false, true, 0, 100000, true},
        {"ev-echo-small-bufs", 2u << 20, 65536, 65536, 0, 16384, 16384, 0, false, true, 0, 0, true},
};
#define N_PATTERNS (int)(sizeof(patterns) / sizeof(patterns[0]))

struct side {
	int node, sock;
	uint64_t tx_seed, rx_seed;
	uint64_t sent, rcvd, expect;
	bool shut, eof;
	/* echo: bytes read and not yet written back */
	uint8_t echo_buf[CHUNK_MAX];
	uint32_t echo_off, echo_len;
};

struct run {
	const struct pattern *p;
	struct side e[2];
	int err;
	const char *what;
	uint64_t bad_at;
	uint8_t buf[CHUNK_MAX];
	/* data frames seen from node 0, for stall detection */
	uint64_t last_data_ns, max_gap_ns, max_gap_at;
	bool started;
	uint64_t t0;
	bool ready[2]; /* evented: the readiness hook fired since the side last worked */
	struct sim_world *w;
};

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

/* A quarter of the volume under the sanitizers or with TPA_SIM_QUICK (request/response
 * volumes stay whole messages: their message counts divide by 4). */
static uint32_t volume(const struct pattern *p)
{
	return SANITIZED || getenv("TPA_SIM_QUICK") ? p->total / 4 : p->total;
}

static bool run_fail(struct run *r, int err, const char *what)
{
	r->err = err ? err : -EIO;
	r->what = what;
	return true;
}

/* Sender side (node 0): write the stream, then shut down; read back the echo if any. */
static bool step_sender(struct run *r)
{
	const struct pattern *p = r->p;
	struct side *e = &r->e[0];
	struct tpa_stack *s = sim_stack(r->w, 0);
	uint64_t rcvd_before;
again:
	rcvd_before = e->rcvd;
	while (e->sent < volume(p)) {
		uint32_t n = volume(p) - (uint32_t)e->sent;
		if (n > p->send_chunk)
			n = p->send_chunk;
		if (p->rr_msg) {
			/* Requests start at multiples of rr_msg; the next one only once the
			 * previous one came back whole. */
			uint64_t msg_end;
			if (e->sent % p->rr_msg)
				msg_end = e->sent - e->sent % p->rr_msg + p->rr_msg;
			else if (e->rcvd == e->sent)
				msg_end = e->sent + p->rr_msg;
			else
				break;
			if (msg_end > volume(p))
				msg_end = volume(p);
			n = (uint32_t)(msg_end - e->sent);
			if (n > p->send_chunk)
				n = p->send_chunk;
		}
		sim_stream_fill(e->tx_seed, e->sent, r->buf, n);
		ssize_t k = tpa_send(s, e->sock, r->buf, n, 0);
		if (k == -EAGAIN)
			break;
		if (k <= 0)
			return run_fail(r, (int)k, "send");
		e->sent += (uint64_t)k;
	}
	if (e->sent == volume(p) && !e->shut) {
		if (tpa_shutdown(s, e->sock, SHUT_WR))
			return run_fail(r, -EIO, "shutdown");
		e->shut = true;
	}
	while (!e->eof) {
		ssize_t k = tpa_recv(s, e->sock, r->buf, CHUNK_MAX, 0);
		if (k == -EAGAIN)
			break;
		if (k < 0)
			return run_fail(r, (int)k, "recv");
		if (k == 0) {
			e->eof = true;
			break;
		}
		size_t bad = sim_stream_check(e->rx_seed, e->rcvd, r->buf, (size_t)k);
		if (bad != SIZE_MAX) {
			r->bad_at = e->rcvd + bad;
			return run_fail(r, -EBADMSG, "echo data check");
		}
		e->rcvd += (uint64_t)k;
	}
	if (p->rr_msg && e->rcvd != rcvd_before)
		goto again; /* a response completed: the next request goes now */
	return false;
}

/* Receiver side (node 1): read in the pattern's chunks, echo back if asked. */
static bool step_receiver(struct run *r)
{
	const struct pattern *p = r->p;
	struct side *e = &r->e[1];
	struct tpa_stack *s = sim_stack(r->w, 1);
	uint32_t reads = 0;
	for (;;) {
		if (p->echo && e->echo_off < e->echo_len) {
			ssize_t k = tpa_send(s, e->sock, e->echo_buf + e->echo_off,
			                     e->echo_len - e->echo_off, 0);
			if (k == -EAGAIN)
				break;
			if (k <= 0)
				return run_fail(r, (int)k, "echo send");
			e->echo_off += (uint32_t)k;
			continue;
		}
		if (e->eof || (p->reads_per_round && reads == p->reads_per_round))
			break;
		uint8_t *dst = p->echo ? e->echo_buf : r->buf;
		uint32_t want = p->read_chunk;
		if (p->read_rate) {
			/* A reader busy with what it read: its budget grows with virtual time. */
			uint64_t budget = (sim_now(r->w) - r->t0) * p->read_rate / 1000000u;
			if (budget <= e->rcvd) {
				r->ready[1] = true; /* still has work once time passes */
				break;
			}
			if (budget - e->rcvd < want)
				want = (uint32_t)(budget - e->rcvd);
		}
		ssize_t k = tpa_recv(s, e->sock, dst, want, 0);
		reads++;
		if (k == -EAGAIN)
			break;
		if (k < 0)
			return run_fail(r, (int)k, "recv");
		if (k == 0) {
			e->eof = true;
			break;
		}
		size_t bad = sim_stream_check(e->rx_seed, e->rcvd, dst, (size_t)k);
		if (bad != SIZE_MAX) {
			r->bad_at = e->rcvd + bad;
			return run_fail(r, -EBADMSG, "data check");
		}
		e->rcvd += (uint64_t)k;
		if (p->echo) {
			e->echo_off = 0;
			e->echo_len = (uint32_t)k;
		}
	}
	if (e->eof && !e->shut && (!p->echo || e->echo_off == e->echo_len)) {
		if (tpa_shutdown(s, e->sock, SHUT_WR))
			return run_fail(r, -EIO, "shutdown");
		e->shut = true;
	}
	return false;
}

static bool run_step(struct sim_world *w, void *ctx)
{
	struct run *r = ctx;
	(void)w;
	bool evented = r->p->evented;
	if (!evented || r->ready[0]) {
		r->ready[0] = false;
		if (step_sender(r))
			return true;
	}
	if (!evented || r->ready[1]) {
		r->ready[1] = false;
		if (step_receiver(r))
			return true;
	}
	bool echo_done = !r->p->echo || r->e[0].eof;
	return r->e[1].eof && r->e[1].shut && echo_done;
}

/* Gaps between data-carrying frames node 0 sends (Ethernet + IPv4 + TCP headers at least). */
static bool tap(void *ctx, int from, const uint8_t *frame, uint32_t len)
{
	struct run *r = ctx;
	if (from != 0 || len < 14 + 20 + 20)
		return true;
	const uint8_t *ip = frame + 14;
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	uint32_t ip_len = (uint32_t)ip[2] << 8 | ip[3];
	if (ip[9] != 6 || ip_len < ihl + 20)
		return true;
	const uint8_t *th = ip + ihl;
	uint32_t thl = (uint32_t)(th[12] >> 4) * 4;
	if (ip_len <= ihl + thl || (th[13] & 0x07)) /* no payload, or SYN/FIN/RST */
		return true;
	uint64_t now = sim_now(r->w);
	if (r->started && r->e[0].sent < volume(r->p) && now - r->last_data_ns > r->max_gap_ns) {
		r->max_gap_ns = now - r->last_data_ns;
		r->max_gap_at = r->e[1].rcvd;
	}
	r->started = true;
	r->last_data_ns = now;
	return true;
}

/* The run the readiness hooks report to (set while a transfer runs). */
static struct run *hooked_run;

static void on_sock_event(void *ctx, int sock, const struct tpa_sock_state *st)
{
	int node = (int)(intptr_t)ctx;
	(void)st;
	if (hooked_run && sock == hooked_run->e[node].sock)
		hooked_run->ready[node] = true;
}

static uint32_t tweak_delack;
static void tweak(void *ctx, int node, struct tpa_stack_config *cfg)
{
	(void)ctx;
	cfg->tcp.delack_ms = tweak_delack;
	cfg->hooks.sock_event = on_sock_event;
	cfg->hooks.ctx = (void *)(intptr_t)node;
}

static void set_int(struct sim_world *w, int node, int sock, int opt, int v)
{
	if (v)
		ck_assert_int_eq(tpa_setsockopt(sim_stack(w, node), sock, opt, &v, sizeof(v)), 0);
}

/* One transfer; returns its virtual duration and the longest sender gap. */
static uint64_t transfer(const struct pattern *p, uint32_t delack_ms, uint64_t *max_gap)
{
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	tweak_delack = delack_ms;
	o.tweak = tweak;

	struct sim_world *w = sim_world_create(&o);
	ck_assert_ptr_nonnull(w);
	int l = sim_listen(w, 1, 6000, 4);
	ck_assert_int_ge(l, 0);
	/* Buffer sizes and MSS must be in place before the handshake (window scale, MSS). */
	set_int(w, 1, l, TPA_SO_RCVBUF, (int)p->rcvbuf / 2);
	set_int(w, 1, l, TPA_SO_SNDBUF, (int)p->sndbuf / 2);
	set_int(w, 1, l, TPA_SO_MAXSEG, (int)p->mss);
	set_int(w, 1, l, TPA_SO_NODELAY, p->nodelay);
	int cli, srv;
	ck_assert_int_eq(sim_connect(w, 1, l, 6000, &cli, &srv), 0);
	set_int(w, 0, cli, TPA_SO_NODELAY, p->nodelay);
	/* sim_connect connects before we could size the client: size the data path on the
	 * accepting side (receiver) and the sender's send buffer (takes effect at once). */
	set_int(w, 0, cli, TPA_SO_SNDBUF, (int)p->sndbuf / 2);
	ck_assert_int_eq(tpa_close(sim_stack(w, 1), l), 0);

	struct run *r = calloc(1, sizeof(*r));
	ck_assert_ptr_nonnull(r);
	r->p = p;
	r->w = w;
	r->e[0] = (struct side){.node = 0, .sock = cli, .tx_seed = 11, .rx_seed = 11};
	r->e[1] = (struct side){.node = 1, .sock = srv, .tx_seed = 11, .rx_seed = 11};
	sim_set_tap(w, tap, r);
	hooked_run = r;
	r->ready[0] = r->ready[1] = true;
	uint64_t t0 = sim_now(w);
	r->t0 = t0;
	bool done = false;
	if (!p->read_rate) {
		done = sim_run_until(w, run_step, r, VCLOCK_S(600));
	} else {
		/* Short slices so the clock also moves while a rate-limited reader waits. */
		while (!done && sim_now(w) - t0 < VCLOCK_S(600) && !r->err)
			done = sim_run_until(w, run_step, r, 20000);
	}
	uint64_t vt = sim_now(w) - t0;
	sim_set_tap(w, NULL, NULL);
	hooked_run = NULL;
	ck_assert_msg(done && !r->err,
	              "%s delack %u: %s failed (%d), sent %llu rcvd %llu, echoed %llu bad %llu",
	              p->name, delack_ms, r->what ? r->what : "run timed out", r->err,
	              (unsigned long long)r->e[0].sent, (unsigned long long)r->e[1].rcvd,
	              (unsigned long long)r->e[0].rcvd, (unsigned long long)r->bad_at);
	ck_assert_uint_eq(r->e[1].rcvd, volume(p));
	if (p->echo)
		ck_assert_uint_eq(r->e[0].rcvd, volume(p));
	*max_gap = r->max_gap_ns;
	printf("  %-24s delack %2u ms: virtual %8.3f ms, longest sender gap %6.3f ms at %llu\n",
	       p->name, delack_ms, (double)vt / 1e6, (double)r->max_gap_ns / 1e6,
	       (unsigned long long)r->max_gap_at);
	fflush(stdout);
	ck_assert_int_eq(tpa_close(sim_stack(w, 0), cli), 0);
	ck_assert_int_eq(tpa_close(sim_stack(w, 1), srv), 0);
	free(r);
	sim_run_for(w, VCLOCK_S(120));
	ck_assert(sim_no_mbufs_leaked(w));
	sim_world_destroy(w);
	return vt;
}

START_TEST(delack_no_stall)
{
	const struct pattern *p = &patterns[_i];
	/* TPA_SIM_PATTERN=name runs one pattern (debugging with TPA_SIM_TRACE=1). */
	if (getenv("TPA_SIM_PATTERN") && strcmp(getenv("TPA_SIM_PATTERN"), p->name))
		return;
	uint64_t gap_fast, gap_slow;
	uint64_t fast = transfer(p, 0, &gap_fast);
	uint64_t slow = transfer(p, 40, &gap_slow);
	ck_assert_msg(slow * 10 <= fast * 13,
	              "%s: %.3f ms with 40 ms delayed ACKs vs %.3f ms without (> 1.3x)", p->name,
	              (double)slow / 1e6, (double)fast / 1e6);
	/* A request that fits in the initial window and its response take one round trip
	 * (2 ms plus serialisation): no side may hold a short tail for an ACK (Nagle behind
	 * full-sized segments), whose wait costs a round trip at best and the delayed-ACK
	 * timer at worst. */
	if (p->rr_msg && p->rr_msg <= 16384) {
		uint64_t msgs = (volume(p) + p->rr_msg - 1) / p->rr_msg;
		ck_assert_msg(slow <= msgs * VCLOCK_MS(3) && fast <= msgs * VCLOCK_MS(3),
		              "%s: %.3f / %.3f ms per request, more than 1.5 round trips", p->name,
		              (double)slow / 1e6 / (double)msgs, (double)fast / 1e6 / (double)msgs);
	}
	/* RTT is 2 ms: a 20 ms silence while data waits is a delayed-ACK stall. */
	ck_assert_msg(gap_slow < VCLOCK_MS(20), "%s: sender stalled %.3f ms", p->name,
	              (double)gap_slow / 1e6);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_delack");
	TCase *tc = tcase_create("delack");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, delack_no_stall, 0, N_PATTERNS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return sim_main(suite, 1, 1);
}
