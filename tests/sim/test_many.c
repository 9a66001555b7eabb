/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * 10,000 concurrent connections between the two stacks (16 KiB buffers): all established, all
 * exchanging data verified byte for byte, all open at the same time, all closed; afterwards,
 * once TIME_WAIT has expired, both stacks have no socket, hold no mbuf, and both pools have
 * every mbuf back.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "sim_net.h"

#define N_CONN 10000
#define BATCH  1000
#define MSG    3000 /* bytes each way per connection */
#define PORT   6000

static void tweak(void *ctx, int node, struct tpa_stack_config *cfg)
{
	cfg->max_sockets = 32768;
	cfg->tcp.sndbuf = 16384;
	cfg->tcp.rcvbuf = 16384;
	cfg->tcp.ooo_limit = 16384;
}

struct conn {
	int sock[2]; /* [0] client on node 0, [1] server on node 1 */
	uint32_t sent[2], rcvd[2];
	bool eof[2], shut[2];
};

struct many {
	struct conn *c;
	int lsock;
	int n_accepted, target;
	int *accepted;
	int errors;
};

static bool accept_batch(struct sim_world *w, void *ctx)
{
	struct many *m = ctx;
	for (;;) {
		int a = tpa_accept(sim_stack(w, 1), m->lsock, NULL, NULL);
		if (a < 0)
			break;
		m->accepted[m->n_accepted++] = a;
	}
	return m->n_accepted >= m->target;
}

/* One pass of application work over every connection. Returns connections not finished. */
static int pump(struct sim_world *w, struct many *m, uint8_t *buf)
{
	int open = 0;
	for (int i = 0; i < N_CONN; i++) {
		struct conn *c = &m->c[i];
		for (int k = 0; k < 2; k++) {
			struct tpa_stack *s = sim_stack(w, k);
			uint64_t tx_seed = (uint64_t)i * 2 + (uint64_t)k + 1000;
			uint64_t rx_seed = (uint64_t)i * 2 + (uint64_t)(1 - k) + 1000;
			while (c->sent[k] < MSG) {
				uint32_t n = MSG - c->sent[k];
				sim_stream_fill(tx_seed, c->sent[k], buf, n);
				ssize_t r = tpa_send(s, c->sock[k], buf, n, 0);
				if (r == -EAGAIN)
					break;
				if (r <= 0) {
					m->errors++;
					c->sent[k] = MSG;
					break;
				}
				c->sent[k] += (uint32_t)r;
			}
			if (c->sent[k] == MSG && !c->shut[k]) {
				if (tpa_shutdown(s, c->sock[k], SHUT_WR) != 0)
					m->errors++;
				c->shut[k] = true;
			}
			while (!c->eof[k]) {
				ssize_t r = tpa_recv(s, c->sock[k], buf, 8192, 0);
				if (r == -EAGAIN)
					break;
				if (r < 0) {
					m->errors++;
					c->eof[k] = true;
				} else if (r == 0) {
					c->eof[k] = true;
					if (c->rcvd[k] != MSG)
						m->errors++;
				} else {
					if (sim_stream_check(rx_seed, c->rcvd[k], buf, (size_t)r) !=
					            SIZE_MAX ||
					    c->rcvd[k] + (uint32_t)r > MSG)
						m->errors++;
					c->rcvd[k] += (uint32_t)r;
				}
			}
			if (!c->eof[k] || !c->shut[k])
				open++;
		}
	}
	return open;
}

static bool all_gone(struct sim_world *w, void *ctx)
{
	return tpa_stack_socket_count(sim_stack(w, 0)) == 0 &&
	       tpa_stack_socket_count(sim_stack(w, 1)) == 0;
}

START_TEST(ten_thousand_connections)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	o.seed = sim_seed();
	o.pool_size = 65536;
	o.tweak = tweak;
	struct sim_world *w = sim_world_create(&o);
	ck_assert_ptr_nonnull(w);
	struct many mm = {0};
	struct many *m = &mm;
	m->c = calloc(N_CONN, sizeof(*m->c));
	m->accepted = calloc(N_CONN, sizeof(int));
	m->lsock = sim_listen(w, 1, PORT, 4096);
	ck_assert_int_ge(m->lsock, 0);
	struct tpa_stack *s0 = sim_stack(w, 0);
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	dst.sin_addr.s_addr = sim_ip(w, 1);

	/* Open in batches (the listener's queue is bounded), keeping every connection open. */
	for (int b = 0; b < N_CONN; b += BATCH) {
		for (int i = b; i < b + BATCH; i++) {
			int c = tpa_socket(s0);
			ck_assert_int_ge(c, 0);
			int rc = tpa_connect(s0, c, (struct sockaddr *)&dst, sizeof(dst));
			ck_assert_msg(rc == -EINPROGRESS || rc == 0, "connect %d: %d", i, rc);
			m->c[i].sock[0] = c;
		}
		m->target = b + BATCH;
		ck_assert_msg(sim_run_until(w, accept_batch, m, VCLOCK_S(120)),
		              "only %d of %d accepted", m->n_accepted, b + BATCH);
	}
	ck_assert_uint_eq(tpa_stack_socket_count(s0), N_CONN);
	ck_assert_uint_eq(tpa_stack_socket_count(sim_stack(w, 1)), N_CONN + 1);
	/* Pair server sockets with clients by the client's port. */
	int *by_port = calloc(65536, sizeof(int));
	for (int i = 0; i < N_CONN; i++) {
		struct sockaddr_in a;
		socklen_t len = sizeof(a);
		ck_assert_int_eq(tpa_getsockname(s0, m->c[i].sock[0], (struct sockaddr *)&a, &len),
		                 0);
		by_port[ntohs(a.sin_port)] = i + 1;
		ck_assert_uint_eq(tpa_sock_events(s0, m->c[i].sock[0]) & TPA_EV_OUT, TPA_EV_OUT);
	}
	for (int j = 0; j < N_CONN; j++) {
		struct sockaddr_in a;
		socklen_t len = sizeof(a);
		ck_assert_int_eq(tpa_getpeername(sim_stack(w, 1), m->accepted[j],
		                                 (struct sockaddr *)&a, &len),
		                 0);
		int i = by_port[ntohs(a.sin_port)];
		ck_assert_msg(i > 0, "accepted a connection from an unknown port");
		m->c[i - 1].sock[1] = m->accepted[j];
		by_port[ntohs(a.sin_port)] = 0; /* each client exactly once */
	}
	free(by_port);

	uint8_t *buf = malloc(MSG > 8192 ? MSG : 8192);
	int open = N_CONN * 2;
	for (int round = 0; open && round < 100000; round++) {
		open = pump(w, m, buf);
		sim_run_for(w, VCLOCK_MS(20));
	}
	if (open) {
		int unsent = 0, unrcvd = 0, noeof = 0, state[16] = {0};
		for (int i = 0; i < N_CONN; i++)
			for (int k = 0; k < 2; k++) {
				struct conn *c = &m->c[i];
				unsent += c->sent[k] < MSG;
				unrcvd += c->rcvd[k] < MSG;
				noeof += !c->eof[k];
				int v = -1;
				socklen_t len = sizeof(v);
				tpa_getsockopt(sim_stack(w, k), c->sock[k], TPA_SO_STATE, &v, &len);
				if (!c->eof[k] && v >= 0 && v < 16)
					state[v]++;
				if (!c->eof[k]) {
					int pv = -1;
					socklen_t pl = sizeof(pv);
					tpa_getsockopt(sim_stack(w, 1 - k), c->sock[1 - k],
					               TPA_SO_STATE, &pv, &pl);
					if (pv >= 0 && pv < 16)
						state[pv] += 1000000;
				}
			}
		printf("many: stuck ends: %d unsent, %d missing data, %d without EOF; states:",
		       unsent, unrcvd, noeof);
		for (int v = 0; v < 16; v++)
			if (state[v])
				printf(" %d:%d", v, state[v]);
		printf("\n");
		sim_print_stats(w, "many");
		for (int k = 0; k < 2; k++) {
			const struct tpa_stack_stats *x = tpa_stack_stats(sim_stack(w, k));
			printf("node %d: rexmit %llu rto %llu timeout %llu reset %llu nomem %llu "
			       "alloc_fail %llu held %u ooo_limit %llu\n",
			       k, (unsigned long long)x->tcp_retransmit,
			       (unsigned long long)x->tcp_rto_timeout,
			       (unsigned long long)x->tcp_conn_timeout,
			       (unsigned long long)x->tcp_conn_reset,
			       (unsigned long long)x->tcp_drop_nomem,
			       (unsigned long long)x->mbuf_alloc_fail,
			       tpa_stack_mbufs_held(sim_stack(w, k)),
			       (unsigned long long)x->tcp_drop_ooo_limit);
		}
	}
	ck_assert_int_eq(open, 0);
	ck_assert_int_eq(m->errors, 0);
	for (int i = 0; i < N_CONN; i++)
		for (int k = 0; k < 2; k++)
			ck_assert_uint_eq(m->c[i].rcvd[k], MSG);
	for (int i = 0; i < N_CONN; i++)
		for (int k = 0; k < 2; k++)
			ck_assert_int_eq(tpa_close(sim_stack(w, k), m->c[i].sock[k]), 0);
	ck_assert_int_eq(tpa_close(sim_stack(w, 1), m->lsock), 0);
	ck_assert(sim_run_until(w, all_gone, NULL, VCLOCK_S(300)));
	ck_assert(sim_no_mbufs_leaked(w));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	const struct tpa_stack_stats *a = tpa_stack_stats(s0),
	                             *z = tpa_stack_stats(sim_stack(w, 1));
	printf("many: %d connections, %d bytes each way each, established %llu+%llu, "
	       "retransmits %llu, virtual %.1f s, wall %.2f s\n",
	       N_CONN, MSG, (unsigned long long)a->tcp_conn_established,
	       (unsigned long long)z->tcp_conn_established,
	       (unsigned long long)(a->tcp_retransmit + z->tcp_retransmit),
	       (double)(sim_now(w) - 1000000000ull) * 1e-9,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
	free(buf);
	free(m->c);
	free(m->accepted);
	sim_world_destroy(w);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("many");
	TCase *tc = tcase_create("many");
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, ten_thousand_connections);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return sim_main(suite, 11, 1);
}
