/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The tpa_* socket API's Linux semantics, end to end between two stacks on the simulated
 * network: connect outcomes (refused, timed out, EALREADY/EISCONN), EOF and half-close, resets
 * (ECONNRESET once, then EPIPE), bind/listen rules, MSG_PEEK and the FIONREAD/SIOCOUTQ
 * equivalents, full send buffers, zero-window probing, keepalive, readiness bits and hooks.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_net.h"
#include "test_eal.h"

static struct sim_world *w;
static struct tpa_stack *s0, *s1; /* node 0 listens, node 1 connects */

struct tweaks {
	uint32_t rcvbuf, sndbuf;
	uint32_t syn_retries;
};
static struct tweaks tw;

static void tweak(void *ctx, int node, struct tpa_stack_config *cfg)
{
	if (tw.rcvbuf)
		cfg->tcp.rcvbuf = tw.rcvbuf;
	if (tw.sndbuf)
		cfg->tcp.sndbuf = tw.sndbuf;
	if (tw.syn_retries)
		cfg->tcp.syn_retries = tw.syn_retries;
}

static void make_world(void)
{
	test_eal_init();
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	o.tweak = tweak;
	w = sim_world_create(&o);
	ck_assert_ptr_nonnull(w);
	s0 = sim_stack(w, 0);
	s1 = sim_stack(w, 1);
}

static void setup(void)
{
	memset(&tw, 0, sizeof(tw));
	make_world();
}

static void teardown(void)
{
	ck_assert(sim_no_mbufs_leaked(w));
	sim_world_destroy(w);
	w = NULL;
}

static struct sockaddr_in addr_of(int node, uint16_t port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = sim_ip(w, node);
	a.sin_port = htons(port);
	return a;
}

static int so_error(struct tpa_stack *s, int sock)
{
	int e = -1;
	socklen_t l = sizeof(e);
	ck_assert_int_eq(tpa_getsockopt(s, sock, TPA_SO_ERROR, &e, &l), 0);
	return e;
}

static int int_opt(struct tpa_stack *s, int sock, enum tpa_sockopt opt)
{
	int v = -1;
	socklen_t l = sizeof(v);
	ck_assert_int_eq(tpa_getsockopt(s, sock, opt, &v, &l), 0);
	return v;
}

struct conn_wait {
	struct tpa_stack *s;
	int sock;
	uint32_t mask;
};

static bool events_seen(struct sim_world *ww, void *ctx)
{
	struct conn_wait *c = ctx;
	return (tpa_sock_events(c->s, c->sock) & c->mask) != 0;
}

static bool wait_events(struct tpa_stack *s, int sock, uint32_t mask, uint64_t max_ns)
{
	struct conn_wait c = {s, sock, mask};
	return sim_run_until(w, events_seen, &c, max_ns);
}

static void connected_pair(int *l, int *cli, int *srv)
{
	*l = sim_listen(w, 0, 7000, 8);
	ck_assert_int_ge(*l, 0);
	ck_assert_int_eq(sim_connect(w, 0, *l, 7000, cli, srv), 0);
}

static void close_all_and_drain(void)
{
	sim_run_for(w, VCLOCK_S(400));
	ck_assert_uint_eq(tpa_stack_socket_count(s0), 0);
	ck_assert_uint_eq(tpa_stack_socket_count(s1), 0);
}

START_TEST(connect_refused)
{
	int c = tpa_socket(s1);
	struct sockaddr_in a = addr_of(0, 9);
	ck_assert_int_eq(tpa_connect(s1, c, (struct sockaddr *)&a, sizeof(a)), -EINPROGRESS);
	ck_assert_int_eq(tpa_connect(s1, c, (struct sockaddr *)&a, sizeof(a)), -EALREADY);
	ck_assert_uint_eq(tpa_sock_events(s1, c) & (TPA_EV_OUT | TPA_EV_IN), 0);
	ck_assert(wait_events(s1, c, TPA_EV_ERR, VCLOCK_S(5)));
	ck_assert_uint_ne(tpa_sock_events(s1, c) & TPA_EV_HUP, 0);
	ck_assert_int_eq(so_error(s1, c), ECONNREFUSED);
	ck_assert_int_eq(so_error(s1, c), 0);
	ck_assert_uint_eq(tpa_sock_events(s1, c) & TPA_EV_ERR, 0);
	ck_assert_int_eq(tpa_close(s1, c), 0);
	close_all_and_drain();
}
END_TEST

START_TEST(connect_times_out)
{
	sim_impair(w, 0)->down = true;
	sim_impair(w, 1)->down = true;
	int c = tpa_socket(s1);
	struct sockaddr_in a = addr_of(0, 9);
	ck_assert_int_eq(tpa_connect(s1, c, (struct sockaddr *)&a, sizeof(a)), -EINPROGRESS);
	ck_assert(wait_events(s1, c, TPA_EV_ERR, VCLOCK_S(600)));
	ck_assert_int_eq(so_error(s1, c), ETIMEDOUT);
	ck_assert_uint_eq(tpa_stack_stats(s1)->tcp_conn_timeout, 1);
	ck_assert_int_eq(tpa_close(s1, c), 0);
	close_all_and_drain();
}
END_TEST

START_TEST(connect_then_eisconn)
{
	int l = sim_listen(w, 0, 7000, 8);
	int c = tpa_socket(s1);
	struct sockaddr_in a = addr_of(0, 7000);
	ck_assert_int_eq(tpa_connect(s1, c, (struct sockaddr *)&a, sizeof(a)), -EINPROGRESS);
	ck_assert(wait_events(s1, c, TPA_EV_OUT, VCLOCK_S(5)));
	ck_assert_uint_eq(tpa_sock_events(s1, c), TPA_EV_OUT);
	ck_assert_int_eq(tpa_connect(s1, c, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(tpa_connect(s1, c, (struct sockaddr *)&a, sizeof(a)), -EISCONN);
	ck_assert_int_eq(so_error(s1, c), 0);
	struct sockaddr_in p;
	socklen_t pl = sizeof(p);
	ck_assert_int_eq(tpa_getpeername(s1, c, (struct sockaddr *)&p, &pl), 0);
	ck_assert_uint_eq(p.sin_addr.s_addr, sim_ip(w, 0));
	ck_assert_uint_eq(ntohs(p.sin_port), 7000);
	pl = sizeof(p);
	ck_assert_int_eq(tpa_getsockname(s1, c, (struct sockaddr *)&p, &pl), 0);
	ck_assert_uint_eq(p.sin_addr.s_addr, sim_ip(w, 1));
	ck_assert_uint_ne(ntohs(p.sin_port), 0);
	ck_assert(wait_events(s0, l, TPA_EV_IN, VCLOCK_S(5))); /* our ACK is still on its way */
	int srv = tpa_accept(s0, l, NULL, NULL);
	ck_assert_int_ge(srv, 0);
	ck_assert_int_eq(int_opt(s0, srv, TPA_SO_STATE), TPA_TCP_ESTABLISHED);
	ck_assert_int_eq(int_opt(s0, l, TPA_SO_ACCEPTCONN), 1);
	tpa_close(s1, c);
	tpa_close(s0, srv);
	tpa_close(s0, l);
	close_all_and_drain();
}
END_TEST

START_TEST(half_close_and_eof)
{
	int l, c, srv;
	connected_pair(&l, &c, &srv);
	ck_assert_int_eq(tpa_send(s0, srv, "abc", 3, 0), 3);
	ck_assert_int_eq(tpa_shutdown(s0, srv, SHUT_WR), 0);
	ck_assert_int_eq(tpa_send(s0, srv, "x", 1, 0), -EPIPE);
	ck_assert(wait_events(s1, c, TPA_EV_RDHUP, VCLOCK_S(5)));
	uint32_t ev = tpa_sock_events(s1, c);
	ck_assert_uint_eq(ev & (TPA_EV_IN | TPA_EV_OUT | TPA_EV_RDHUP),
	                  TPA_EV_IN | TPA_EV_OUT | TPA_EV_RDHUP);
	ck_assert_uint_eq(ev & TPA_EV_HUP, 0);
	char b[16];
	ck_assert_int_eq(tpa_recv(s1, c, b, sizeof(b), 0), 3);
	ck_assert_int_eq(tpa_recv(s1, c, b, sizeof(b), 0), 0);
	ck_assert_int_eq(tpa_recv(s1, c, b, sizeof(b), 0), 0);
	/* The other direction still works. */
	ck_assert_int_eq(tpa_send(s1, c, "reply", 5, 0), 5);
	ck_assert(wait_events(s0, srv, TPA_EV_IN, VCLOCK_S(5)));
	ck_assert_int_eq(tpa_recv(s0, srv, b, sizeof(b), 0), 5);
	ck_assert_mem_eq(b, "reply", 5);
	ck_assert_int_eq(tpa_close(s1, c), 0);
	ck_assert(wait_events(s0, srv, TPA_EV_RDHUP, VCLOCK_S(5)));
	ck_assert_uint_ne(tpa_sock_events(s0, srv) & TPA_EV_HUP, 0);
	ck_assert_int_eq(tpa_recv(s0, srv, b, sizeof(b), 0), 0);
	tpa_close(s0, srv);
	tpa_close(s0, l);
	close_all_and_drain();
}
END_TEST

START_TEST(reset_then_epipe)
{
	int l, c, srv;
	connected_pair(&l, &c, &srv);
	struct linger lg = {1, 0};
	ck_assert_int_eq(tpa_setsockopt(s0, srv, TPA_SO_LINGER, &lg, sizeof(lg)), 0);
	ck_assert_int_eq(tpa_close(s0, srv), 0);
	ck_assert(wait_events(s1, c, TPA_EV_ERR, VCLOCK_S(5)));
	ck_assert_uint_eq(tpa_sock_events(s1, c) & (TPA_EV_IN | TPA_EV_HUP | TPA_EV_RDHUP),
	                  TPA_EV_IN | TPA_EV_HUP | TPA_EV_RDHUP);
	char b[8];
	ck_assert_int_eq(tpa_recv(s1, c, b, sizeof(b), 0), -ECONNRESET);
	ck_assert_int_eq(tpa_recv(s1, c, b, sizeof(b), 0), 0);
	ck_assert_int_eq(tpa_send(s1, c, b, 1, 0), -EPIPE);
	ck_assert_int_eq(so_error(s1, c), 0);
	ck_assert_uint_eq(tpa_stack_stats(s1)->tcp_conn_reset, 1);
	tpa_close(s1, c);
	tpa_close(s0, l);
	close_all_and_drain();
}
END_TEST

START_TEST(send_error_reported_once)
{
	int l, c, srv;
	connected_pair(&l, &c, &srv);
	struct linger lg = {1, 0};
	tpa_setsockopt(s0, srv, TPA_SO_LINGER, &lg, sizeof(lg));
	tpa_close(s0, srv);
	ck_assert(wait_events(s1, c, TPA_EV_ERR, VCLOCK_S(5)));
	ck_assert_int_eq(tpa_send(s1, c, "x", 1, 0), -ECONNRESET);
	ck_assert_int_eq(tpa_send(s1, c, "x", 1, 0), -EPIPE);
	tpa_close(s1, c);
	tpa_close(s0, l);
	close_all_and_drain();
}
END_TEST

START_TEST(bind_rules)
{
	int a = tpa_socket(s0), b = tpa_socket(s0);
	struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(8080)};
	ck_assert_int_eq(tpa_bind(s0, a, (struct sockaddr *)&any, sizeof(any)), 0);
	ck_assert_int_eq(tpa_bind(s0, a, (struct sockaddr *)&any, sizeof(any)), -EINVAL);
	ck_assert_int_eq(tpa_bind(s0, b, (struct sockaddr *)&any, sizeof(any)), -EADDRINUSE);
	struct sockaddr_in foreign = addr_of(1, 8081);
	ck_assert_int_eq(tpa_bind(s0, b, (struct sockaddr *)&foreign, sizeof(foreign)),
	                 -EADDRNOTAVAIL);
	struct sockaddr_in6 six = {.sin6_family = AF_INET6};
	ck_assert_int_eq(tpa_bind(s0, b, (struct sockaddr *)&six, sizeof(six)), -EAFNOSUPPORT);
	ck_assert_int_eq(tpa_bind(s0, b, (struct sockaddr *)&any, 4), -EINVAL);
	/* listen without bind: an ephemeral port. */
	ck_assert_int_eq(tpa_listen(s0, b, 4), 0);
	struct sockaddr_in n;
	socklen_t nl = sizeof(n);
	ck_assert_int_eq(tpa_getsockname(s0, b, (struct sockaddr *)&n, &nl), 0);
	ck_assert_uint_ne(ntohs(n.sin_port), 0);
	ck_assert_uint_ne(ntohs(n.sin_port), 8080);
	ck_assert_int_eq(tpa_close(s0, a), 0);
	ck_assert_int_eq(tpa_close(s0, b), 0);
	ck_assert_int_eq(tpa_close(s0, b), -EBADF);
	ck_assert_int_eq(tpa_send(s0, 12345, "x", 1, 0), -EBADF);
	ck_assert_int_eq(tpa_recv(s0, -1, NULL, 0, 0), -EBADF);
	close_all_and_drain();
}
END_TEST

START_TEST(reuseaddr_after_active_close)
{
	int l, c, srv;
	connected_pair(&l, &c, &srv);
	/* The server closes first: its child sits in TIME_WAIT on port 7000. */
	tpa_close(s0, l);
	tpa_close(s0, srv);
	sim_run_for(w, VCLOCK_S(1));
	tpa_close(s1, c);
	sim_run_for(w, VCLOCK_S(1));
	ck_assert_uint_eq(tpa_stack_socket_count(s0), 1);
	int n = tpa_socket(s0);
	struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(7000)};
	int one = 1;
	ck_assert_int_eq(tpa_setsockopt(s0, n, TPA_SO_REUSEADDR, &one, sizeof(one)), 0);
	ck_assert_int_eq(tpa_bind(s0, n, (struct sockaddr *)&any, sizeof(any)), 0);
	ck_assert_int_eq(tpa_listen(s0, n, 4), 0);
	tpa_close(s0, n);
	close_all_and_drain();
}
END_TEST

START_TEST(peek_nread_nwrite)
{
	int l, c, srv;
	connected_pair(&l, &c, &srv);
	ck_assert_int_eq(tpa_send(s1, c, "hello world", 11, 0), 11);
	ck_assert_int_eq(int_opt(s1, c, TPA_SO_NWRITE), 11);
	ck_assert(wait_events(s0, srv, TPA_EV_IN, VCLOCK_S(5)));
	sim_run_for(w, VCLOCK_MS(100));
	ck_assert_int_eq(int_opt(s1, c, TPA_SO_NWRITE), 0);
	ck_assert_int_eq(int_opt(s0, srv, TPA_SO_NREAD), 11);
	char b[32];
	ck_assert_int_eq(tpa_recv(s0, srv, b, 5, MSG_PEEK), 5);
	ck_assert_mem_eq(b, "hello", 5);
	ck_assert_int_eq(int_opt(s0, srv, TPA_SO_NREAD), 11);
	struct iovec v[2] = {{b, 3}, {b + 3, 20}};
	ck_assert_int_eq(tpa_recvv(s0, srv, v, 2, 0), 11);
	ck_assert_mem_eq(b, "hello world", 11);
	ck_assert_int_eq(tpa_recv(s0, srv, b, sizeof(b), 0), -EAGAIN);
	ck_assert_int_eq(int_opt(s0, srv, TPA_SO_NREAD), 0);
	tpa_close(s1, c);
	tpa_close(s0, srv);
	tpa_close(s0, l);
	close_all_and_drain();
}
END_TEST

/* A null buffer with a length is EFAULT, as the kernel says, for every send and receive call
 * (it used to reach memcpy); nothing is queued or taken, and the connection goes on. A null
 * buffer of length 0 is a zero-length call. */
START_TEST(null_buffer_is_efault)
{
	int l, c, srv;
	connected_pair(&l, &c, &srv);
	struct iovec nv[2] = {{"ab", 2}, {NULL, 4}};
	ck_assert_int_eq(tpa_send(s1, c, NULL, 5, 0), -EFAULT);
	ck_assert_int_eq(tpa_sendv(s1, c, nv, 2, 0), -EFAULT);
	ck_assert_int_eq(tpa_sendv(s1, c, nv + 1, 1, 0), -EFAULT);
	ck_assert_int_eq(tpa_send(s1, c, NULL, 0, 0), 0);
	ck_assert_int_eq(int_opt(s1, c, TPA_SO_NWRITE), 0);
	ck_assert_int_eq(tpa_send(s1, c, "hello", 5, 0), 5);
	ck_assert(wait_events(s0, srv, TPA_EV_IN, VCLOCK_S(5)));
	ck_assert_int_eq(tpa_recv(s0, srv, NULL, 5, 0), -EFAULT);
	ck_assert_int_eq(tpa_recv(s0, srv, NULL, 5, MSG_PEEK), -EFAULT);
	ck_assert_int_eq(tpa_recvv(s0, srv, nv + 1, 1, 0), -EFAULT);
	ck_assert_int_eq(int_opt(s0, srv, TPA_SO_NREAD), 5);
	char b[8];
	ck_assert_int_eq(tpa_recv(s0, srv, b, sizeof(b), 0), 5);
	ck_assert_mem_eq(b, "hello", 5);
	tpa_close(s1, c);
	tpa_close(s0, srv);
	tpa_close(s0, l);
	close_all_and_drain();
}
END_TEST

/* Reads that take part of a segment, then the rest from inside it, through an empty first
 * buffer and into one exactly its size: the single-copy path and the general one agree. */
START_TEST(partial_reads_of_one_segment)
{
	int l, c, srv;
	connected_pair(&l, &c, &srv);
	ck_assert_int_eq(tpa_send(s1, c, "abcdefghijklmnop", 16, 0), 16);
	ck_assert(wait_events(s0, srv, TPA_EV_IN, VCLOCK_S(5)));
	sim_run_for(w, VCLOCK_MS(100));
	char b[32] = {0};
	ck_assert_int_eq(tpa_recv(s0, srv, b, 4, 0), 4);
	ck_assert_mem_eq(b, "abcd", 4);
	struct iovec v[2] = {{b, 0}, {b + 4, 5}};
	ck_assert_int_eq(tpa_recvv(s0, srv, v, 2, 0), 5);
	ck_assert_mem_eq(b, "abcdefghi", 9);
	ck_assert_int_eq(tpa_recv(s0, srv, b + 9, 7, 0), 7);
	ck_assert_mem_eq(b, "abcdefghijklmnop", 16);
	ck_assert_int_eq(int_opt(s0, srv, TPA_SO_NREAD), 0);
	ck_assert_int_eq(tpa_recv(s0, srv, b, sizeof(b), 0), -EAGAIN);
	tpa_close(s1, c);
	tpa_close(s0, srv);
	tpa_close(s0, l);
	close_all_and_drain();
}
END_TEST

struct drain {
	int sock;
	uint64_t got;
	uint64_t want;
	bool bad;
};

static bool drain_step(struct sim_world *ww, void *ctx)
{
	struct drain *d = ctx;
	uint8_t b[8192];
	for (;;) {
		ssize_t r = tpa_recv(s0, d->sock, b, sizeof(b), 0);
		if (r <= 0)
			break;
		if (sim_stream_check(9, d->got, b, (size_t)r) != SIZE_MAX)
			d->bad = true;
		d->got += (uint64_t)r;
	}
	return d->got >= d->want;
}

START_TEST(full_buffers_and_zero_window)
{
	memset(&tw, 0, sizeof(tw));
	tw.rcvbuf = 16384;
	tw.sndbuf = 32768;
	sim_world_destroy(w);
	make_world();
	int l, c, srv;
	connected_pair(&l, &c, &srv);
	/* Nobody reads on node 0: the window closes, then the send buffer fills. */
	static uint8_t buf[65536];
	uint64_t sent = 0;
	for (int round = 0; round < 50; round++) {
		sim_stream_fill(9, sent, buf, sizeof(buf));
		ssize_t r = tpa_send(s1, c, buf, sizeof(buf), 0);
		if (r > 0)
			sent += (uint64_t)r;
		else
			ck_assert_int_eq(r, -EAGAIN);
		sim_run_for(w, VCLOCK_MS(200));
	}
	ck_assert_uint_eq(sent, 16384 + 32768);
	ck_assert_uint_eq(tpa_sock_events(s1, c) & TPA_EV_OUT, 0);
	/* Sender keeps probing the zero window for a long time without giving up. */
	sim_run_for(w, VCLOCK_S(300));
	ck_assert_uint_gt(tpa_stack_stats(s1)->tcp_zero_window_probe, 3);
	ck_assert_int_eq(int_opt(s1, c, TPA_SO_STATE), TPA_TCP_ESTABLISHED);
	/* The reader drains; everything arrives intact and the sender becomes writable. */
	struct drain d = {.sock = srv, .want = sent};
	ck_assert(sim_run_until(w, drain_step, &d, VCLOCK_S(120)));
	ck_assert(!d.bad);
	ck_assert(wait_events(s1, c, TPA_EV_OUT, VCLOCK_S(5)));
	tpa_close(s1, c);
	tpa_close(s0, srv);
	tpa_close(s0, l);
	close_all_and_drain();
}
END_TEST

START_TEST(keepalive_detects_dead_peer)
{
	int l, c, srv;
	connected_pair(&l, &c, &srv);
	int one = 1, idle = 10, intvl = 2, cnt = 3;
	ck_assert_int_eq(tpa_setsockopt(s1, c, TPA_SO_KEEPIDLE, &idle, sizeof(idle)), 0);
	ck_assert_int_eq(tpa_setsockopt(s1, c, TPA_SO_KEEPINTVL, &intvl, sizeof(intvl)), 0);
	ck_assert_int_eq(tpa_setsockopt(s1, c, TPA_SO_KEEPCNT, &cnt, sizeof(cnt)), 0);
	ck_assert_int_eq(tpa_setsockopt(s1, c, TPA_SO_KEEPALIVE, &one, sizeof(one)), 0);
	/* A live peer answers the probes. */
	sim_run_for(w, VCLOCK_S(60));
	ck_assert_uint_gt(tpa_stack_stats(s1)->tcp_keepalive_probe, 2);
	ck_assert_int_eq(int_opt(s1, c, TPA_SO_STATE), TPA_TCP_ESTABLISHED);
	/* A dead one does not. */
	sim_impair(w, 0)->down = true;
	sim_impair(w, 1)->down = true;
	ck_assert(wait_events(s1, c, TPA_EV_ERR, VCLOCK_S(30)));
	ck_assert_int_eq(so_error(s1, c), ETIMEDOUT);
	sim_impair(w, 0)->down = false;
	sim_impair(w, 1)->down = false;
	tpa_close(s1, c);
	struct linger lg = {1, 0};
	tpa_setsockopt(s0, srv, TPA_SO_LINGER, &lg, sizeof(lg));
	tpa_close(s0, srv);
	tpa_close(s0, l);
	close_all_and_drain();
}
END_TEST

START_TEST(data_retransmission_times_out)
{
	int l, c, srv;
	connected_pair(&l, &c, &srv);
	sim_impair(w, 0)->down = true;
	sim_impair(w, 1)->down = true;
	ck_assert_int_eq(tpa_send(s1, c, "lost", 4, 0), 4);
	ck_assert(wait_events(s1, c, TPA_EV_ERR, VCLOCK_S(3600)));
	ck_assert_int_eq(so_error(s1, c), ETIMEDOUT);
	ck_assert_uint_ge(tpa_stack_stats(s1)->tcp_rto_timeout, 10);
	sim_impair(w, 0)->down = false;
	sim_impair(w, 1)->down = false;
	tpa_close(s1, c);
	struct linger lg = {1, 0};
	tpa_setsockopt(s0, srv, TPA_SO_LINGER, &lg, sizeof(lg));
	tpa_close(s0, srv);
	tpa_close(s0, l);
	close_all_and_drain();
}
END_TEST

START_TEST(simultaneous_close)
{
	int l, c, srv;
	connected_pair(&l, &c, &srv);
	tpa_close(s0, l);
	ck_assert_int_eq(tpa_close(s1, c), 0);
	ck_assert_int_eq(tpa_close(s0, srv), 0);
	close_all_and_drain();
}
END_TEST

static int hook_calls;
static bool hook_saw_ping; /* a call with IN and the 4 bytes of "ping" readable */
/* Node 1 gives the hook a ctx of its own; node 0 leaves it NULL: the shared hooks.ctx. */
static int own_hook_ctx;
static void *node0_hooks_ctx;
static int hook_own_ctx, hook_shared_ctx, hook_wrong_ctx;
static void count_hook(void *ctx, int sock, const struct tpa_sock_state *st)
{
	(void)sock;
	if (ctx == &own_hook_ctx)
		hook_own_ctx++;
	else if (ctx == node0_hooks_ctx)
		hook_shared_ctx++;
	else
		hook_wrong_ctx++;
	hook_calls++;
	if ((st->events & TPA_EV_IN) && st->rcv_queued == 4 && st->sndbuf > 0)
		hook_saw_ping = true;
}

START_TEST(socket_options_roundtrip)
{
	int sck = tpa_socket(s1);
	int v = 1;
	ck_assert_int_eq(tpa_setsockopt(s1, sck, TPA_SO_NODELAY, &v, sizeof(v)), 0);
	ck_assert_int_eq(int_opt(s1, sck, TPA_SO_NODELAY), 1);
	v = TPA_CC_CUBIC;
	ck_assert_int_eq(tpa_setsockopt(s1, sck, TPA_SO_CONGESTION, &v, sizeof(v)), 0);
	ck_assert_int_eq(int_opt(s1, sck, TPA_SO_CONGESTION), TPA_CC_CUBIC);
	v = 99;
	ck_assert_int_eq(tpa_setsockopt(s1, sck, TPA_SO_CONGESTION, &v, sizeof(v)), -ENOENT);
	v = 0;
	ck_assert_int_eq(tpa_setsockopt(s1, sck, TPA_SO_KEEPCNT, &v, sizeof(v)), -EINVAL);
	ck_assert_int_eq(tpa_setsockopt(s1, sck, TPA_SO_NODELAY, &v, 2), -EINVAL);
	ck_assert_int_eq(tpa_setsockopt(s1, sck, (enum tpa_sockopt)1000, &v, sizeof(v)),
	                 -ENOPROTOOPT);
	v = 100000;
	ck_assert_int_eq(tpa_setsockopt(s1, sck, TPA_SO_SNDBUF, &v, sizeof(v)), 0);
	ck_assert_int_eq(int_opt(s1, sck, TPA_SO_SNDBUF), 200000);
	ck_assert_int_eq(int_opt(s1, sck, TPA_SO_ACCEPTCONN), 0);
	ck_assert_int_eq(int_opt(s1, sck, TPA_SO_STATE), TPA_TCP_CLOSED);
	/* Never connected: recv ENOTCONN, send EPIPE (Linux). */
	char b[4];
	ck_assert_int_eq(tpa_recv(s1, sck, b, sizeof(b), 0), -ENOTCONN);
	ck_assert_int_eq(tpa_send(s1, sck, b, sizeof(b), 0), -EPIPE);
	ck_assert_int_eq(tpa_shutdown(s1, sck, SHUT_WR), -ENOTCONN);
	tpa_sock_set_user(s1, sck, &v);
	ck_assert_ptr_eq(tpa_sock_get_user(s1, sck), &v);
	tpa_close(s1, sck);
	ck_assert_ptr_null(tpa_sock_get_user(s1, sck));
	close_all_and_drain();
}
END_TEST

static void hook_tweak(void *ctx, int node, struct tpa_stack_config *cfg)
{
	(void)ctx;
	cfg->hooks.sock_event = count_hook;
	if (node == 1)
		cfg->hooks.sock_event_ctx = &own_hook_ctx;
	else
		node0_hooks_ctx = cfg->hooks.ctx;
}

START_TEST(readiness_hook_fires)
{
	sim_world_destroy(w);
	test_eal_init();
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	o.tweak = hook_tweak;
	w = sim_world_create(&o);
	s0 = sim_stack(w, 0);
	s1 = sim_stack(w, 1);
	hook_calls = 0;
	int l, c, srv;
	connected_pair(&l, &c, &srv);
	ck_assert_int_gt(hook_calls, 1); /* connect done, accept ready */
	int before = hook_calls;
	tpa_send(s1, c, "ping", 4, 0);
	ck_assert(wait_events(s0, srv, TPA_EV_IN, VCLOCK_S(5)));
	ck_assert_int_gt(hook_calls, before);
	ck_assert(hook_saw_ping); /* the hook carries the socket's state */
	/* Each stack's hook got its ctx: its own where given, else the shared one. */
	ck_assert_int_gt(hook_own_ctx, 0);
	ck_assert_int_gt(hook_shared_ctx, 0);
	ck_assert_int_eq(hook_wrong_ctx, 0);
	tpa_close(s1, c);
	tpa_close(s0, srv);
	tpa_close(s0, l);
	close_all_and_drain();
}
END_TEST

struct port_log {
	int reserved, released;
	uint16_t on_port[8], off_port[8];
	int n_on, n_off;
	uint16_t last_released;
};
static struct port_log plog;

static int reserve_hook(void *ctx, uint32_t laddr, uint16_t *port)
{
	plog.reserved++;
	*port = 40000;
	return 0;
}
static void release_hook(void *ctx, uint16_t port)
{
	plog.released++;
	plog.last_released = port;
}
static void steer_hook(void *ctx, uint16_t port, int on)
{
	if (on && plog.n_on < 8)
		plog.on_port[plog.n_on++] = port;
	if (!on && plog.n_off < 8)
		plog.off_port[plog.n_off++] = port;
}
static void port_tweak(void *ctx, int node, struct tpa_stack_config *cfg)
{
	if (node == 1) {
		cfg->hooks.port_reserve = reserve_hook;
		cfg->hooks.port_release = release_hook;
		cfg->hooks.port_steer = steer_hook;
	}
}

START_TEST(port_hooks_follow_socket_lifetime)
{
	sim_world_destroy(w);
	test_eal_init();
	memset(&plog, 0, sizeof(plog));
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	o.tweak = port_tweak;
	w = sim_world_create(&o);
	s0 = sim_stack(w, 0);
	s1 = sim_stack(w, 1);
	int l = sim_listen(w, 0, 7000, 8);
	/* node 1 listens too: steering on for its port. */
	int l1 = tpa_socket(s1);
	struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(7001)};
	ck_assert_int_eq(tpa_bind(s1, l1, (struct sockaddr *)&any, sizeof(any)), 0);
	ck_assert_int_eq(plog.n_on, 0);
	ck_assert_int_eq(tpa_listen(s1, l1, 4), 0);
	ck_assert_int_eq(plog.n_on, 1);
	ck_assert_uint_eq(plog.on_port[0], 7001);
	ck_assert_int_eq(tpa_close(s1, l1), 0);
	ck_assert_int_eq(plog.n_off, 1);
	ck_assert_uint_eq(plog.off_port[0], 7001);
	/* Active open: the port comes from port_reserve, is steered, and both are undone only
	 * when the connection is completely gone (after TIME_WAIT). */
	int c, srv;
	ck_assert_int_eq(sim_connect(w, 0, l, 7000, &c, &srv), 0);
	ck_assert_int_eq(plog.reserved, 1);
	ck_assert_int_eq(plog.n_on, 2);
	ck_assert_uint_eq(plog.on_port[1], 40000);
	tpa_close(s1, c);
	sim_run_for(w, VCLOCK_S(1));
	tpa_close(s0, srv);
	sim_run_for(w, VCLOCK_S(1));
	ck_assert_int_eq(plog.released, 0); /* TIME_WAIT holds it */
	sim_run_for(w, VCLOCK_S(120));
	ck_assert_int_eq(plog.released, 1);
	ck_assert_uint_eq(plog.last_released, 40000);
	ck_assert_int_eq(plog.n_off, 2);
	ck_assert_uint_eq(plog.off_port[1], 40000);
	tpa_close(s0, l);
	close_all_and_drain();
}
END_TEST

START_TEST(many_connections)
{
	int l = sim_listen(w, 0, 7100, 1024);
	enum { N = 2000 };
	static int cli[N], srv[N];
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(sim_connect(w, 0, l, 7100, &cli[i], &srv[i]), 0);
	ck_assert_uint_eq(tpa_stack_socket_count(s0), N + 1);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(tpa_send(s1, cli[i], &i, sizeof(i), 0), (ssize_t)sizeof(i));
	}
	sim_run_for(w, VCLOCK_MS(200));
	for (int i = 0; i < N; i++) {
		int v = -1;
		ck_assert_int_eq(tpa_recv(s0, srv[i], &v, sizeof(v), 0), (ssize_t)sizeof(v));
		ck_assert_int_eq(v, i);
		tpa_close(s1, cli[i]);
		tpa_close(s0, srv[i]);
	}
	tpa_close(s0, l);
	close_all_and_drain();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_api");
	TCase *tc = tcase_create("api");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, connect_refused);
	tcase_add_test(tc, connect_times_out);
	tcase_add_test(tc, connect_then_eisconn);
	tcase_add_test(tc, half_close_and_eof);
	tcase_add_test(tc, reset_then_epipe);
	tcase_add_test(tc, send_error_reported_once);
	tcase_add_test(tc, bind_rules);
	tcase_add_test(tc, reuseaddr_after_active_close);
	tcase_add_test(tc, peek_nread_nwrite);
	tcase_add_test(tc, null_buffer_is_efault);
	tcase_add_test(tc, partial_reads_of_one_segment);
	tcase_add_test(tc, full_buffers_and_zero_window);
	tcase_add_test(tc, keepalive_detects_dead_peer);
	tcase_add_test(tc, data_retransmission_times_out);
	tcase_add_test(tc, simultaneous_close);
	tcase_add_test(tc, socket_options_roundtrip);
	tcase_add_test(tc, readiness_hook_fires);
	tcase_add_test(tc, port_hooks_follow_socket_lifetime);
	tcase_add_test(tc, many_connections);
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
