/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tpa_stack_sock_foreach (what tpa sockets shows): every socket of the table once, with its
 * addresses, state, queues and TPA_SO_INFO; a listener with its backlog and accept queue, a
 * child nobody accepted yet, a connection the program closed (orphan) that finishes alone.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim_net.h"
#include "test_eal.h"

static struct sim_world *w;
static struct tpa_stack *s0, *s1; /* node 0 listens, node 1 connects */

static void setup(void)
{
	test_eal_init();
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	w = sim_world_create(&o);
	ck_assert_ptr_nonnull(w);
	s0 = sim_stack(w, 0);
	s1 = sim_stack(w, 1);
}

static void teardown(void)
{
	ck_assert(sim_no_mbufs_leaked(w));
	sim_world_destroy(w);
	w = NULL;
}

#define MAXD 16
struct dumps {
	int n;
	struct tpa_sock_dump d[MAXD];
};

static void collect(void *arg, const struct tpa_sock_dump *d)
{
	struct dumps *ds = arg;
	ck_assert_int_lt(ds->n, MAXD);
	ds->d[ds->n++] = *d;
}

static const struct tpa_sock_dump *find(const struct dumps *ds, int id)
{
	for (int i = 0; i < ds->n; i++)
		if (ds->d[i].id == id)
			return &ds->d[i];
	return NULL;
}

START_TEST(table_walk)
{
	int l = sim_listen(w, 0, 7200, 8);
	ck_assert_int_ge(l, 0);
	int cli, srv, cli2, srv2;
	ck_assert_int_eq(sim_connect(w, 0, l, 7200, &cli, &srv), 0);
	ck_assert_int_eq(sim_connect(w, 0, l, 7200, &cli2, &srv2), 0);
	/* 100 bytes the server has not read; 40 it sent and had acknowledged. */
	char buf[100];
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(tpa_send(s1, cli, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	ck_assert_int_eq(tpa_send(s0, srv, buf, 40, 0), 40);
	sim_run_for(w, VCLOCK_MS(100));
	/* A third client the server does not accept: it waits in the accept queue. */
	int cli3 = tpa_socket(s1);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7200)};
	a.sin_addr.s_addr = sim_ip(w, 0);
	ck_assert_int_eq(tpa_connect(s1, cli3, (struct sockaddr *)&a, sizeof(a)), -EINPROGRESS);
	sim_run_for(w, VCLOCK_MS(100));
	/* The program closes the second connection: its FIN goes, the peer's never comes. */
	tpa_close(s0, srv2);
	sim_run_for(w, VCLOCK_MS(100));

	struct dumps ds = {0};
	tpa_stack_sock_foreach(s0, collect, &ds);
	ck_assert_int_eq(ds.n, 4);
	ck_assert_uint_eq(tpa_stack_socket_count(s0), 4);
	for (int i = 1; i < ds.n; i++)
		ck_assert_int_lt(ds.d[i - 1].id, ds.d[i].id);

	const struct tpa_sock_dump *dl = find(&ds, l);
	ck_assert_ptr_nonnull(dl);
	ck_assert_uint_eq(dl->state, TPA_TCP_LISTEN);
	ck_assert_uint_eq(dl->lport, 7200);
	ck_assert_uint_eq(dl->raddr, 0);
	ck_assert_uint_eq(dl->backlog, 8);
	ck_assert_uint_eq(dl->acc_queued, 1);
	ck_assert_uint_eq(dl->syn_queued, 0);
	ck_assert(!dl->orphan && !dl->unaccepted);

	const struct tpa_sock_dump *dc = find(&ds, srv);
	ck_assert_ptr_nonnull(dc);
	ck_assert_uint_eq(dc->state, TPA_TCP_ESTABLISHED);
	ck_assert_uint_eq(dc->laddr, sim_ip(w, 0));
	ck_assert_uint_eq(dc->raddr, sim_ip(w, 1));
	ck_assert_uint_eq(dc->lport, 7200);
	struct sockaddr_in p;
	socklen_t pl = sizeof(p);
	ck_assert_int_eq(tpa_getsockname(s1, cli, (struct sockaddr *)&p, &pl), 0);
	ck_assert_uint_eq(dc->rport, ntohs(p.sin_port));
	ck_assert_uint_eq(dc->rcv_queued, 100);
	ck_assert_uint_eq(dc->snd_queued, 0);
	ck_assert(!dc->orphan && !dc->unaccepted);
	/* The same numbers as TPA_SO_INFO. */
	struct tpa_tcp_info ti;
	socklen_t tl = sizeof(ti);
	ck_assert_int_eq(tpa_getsockopt(s0, srv, TPA_SO_INFO, &ti, &tl), 0);
	ck_assert_int_eq(memcmp(&ti, &dc->info, sizeof(ti)), 0);
	ck_assert_uint_gt(dc->info.rtt_us, 0);
	ck_assert_uint_gt(dc->info.snd_cwnd, 0);
	ck_assert_uint_eq(dc->info.bytes_received, 100);
	ck_assert_uint_eq(dc->info.bytes_acked, 40);

	const struct tpa_sock_dump *dq = NULL;
	for (int i = 0; i < ds.n; i++)
		if (ds.d[i].unaccepted)
			dq = &ds.d[i];
	ck_assert_ptr_nonnull(dq);
	ck_assert(!dq->orphan && dq->id != srv && dq->id != srv2);
	ck_assert_uint_eq(dq->state, TPA_TCP_ESTABLISHED);

	const struct tpa_sock_dump *dor = find(&ds, srv2);
	ck_assert_ptr_nonnull(dor);
	ck_assert(dor->orphan);
	ck_assert_uint_eq(dor->state, TPA_TCP_FIN_WAIT2);

	tpa_close(s1, cli);
	tpa_close(s1, cli2);
	tpa_close(s1, cli3);
	tpa_close(s0, srv);
	tpa_close(s0, l);
	sim_run_for(w, VCLOCK_S(400));
	struct dumps none = {0};
	tpa_stack_sock_foreach(s0, collect, &none);
	ck_assert_int_eq(none.n, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_dump");
	TCase *tc = tcase_create("dump");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, table_walk);
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
