/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the application sees after the peer resets a connection, as Linux shows it:
 * - reset while the connection waits in the accept queue: accept() still returns it, the first
 *   recv reports ECONNRESET, then end of stream, and send fails with EPIPE;
 * - reset after the peer's FIN (CLOSE_WAIT): recv keeps reporting end of stream and the next send
 *   fails with EPIPE (not ECONNRESET), so the layer above raises SIGPIPE.
 */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "sim_net.h"
#include "test_eal.h"

#define PORT 7200
#define SEC  1000000000ull

static struct sim_world *world(void)
{
	test_eal_init();
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	o.seed = 3;
	o.impair[0].delay_ns = 100000;
	o.impair[1].delay_ns = 100000;
	struct sim_world *w = sim_world_create(&o);
	ck_assert_ptr_nonnull(w);
	return w;
}

/* Abortive close of sock on node: SO_LINGER {1, 0} then close sends a RST. */
static void abort_sock(struct sim_world *w, int node, int sock)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	ck_assert_int_eq(tpa_setsockopt(sim_stack(w, node), sock, TPA_SO_LINGER, &lg, sizeof(lg)),
	                 0);
	ck_assert_int_eq(tpa_close(sim_stack(w, node), sock), 0);
}

static bool listener_readable(struct sim_world *w, void *ctx)
{
	int l = *(int *)ctx;
	return tpa_sock_events(sim_stack(w, 1), l) & TPA_EV_IN;
}

START_TEST(reset_in_accept_queue_is_still_accepted)
{
	struct sim_world *w = world();
	struct tpa_stack *cs = sim_stack(w, 0), *ss = sim_stack(w, 1);
	int l = sim_listen(w, 1, PORT, 8);
	ck_assert_int_ge(l, 0);
	int c = tpa_socket(cs);
	ck_assert_int_ge(c, 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	to.sin_addr.s_addr = sim_ip(w, 1);
	ck_assert_int_eq(tpa_connect(cs, c, (struct sockaddr *)&to, sizeof(to)), -EINPROGRESS);
	ck_assert(sim_run_until(w, listener_readable, &l, 5 * SEC));
	sim_run_for(w, SEC / 10);

	abort_sock(w, 0, c);
	sim_run_for(w, SEC / 10);
	ck_assert_uint_ge(tpa_stack_stats(ss)->tcp_rst_rx, 1);

	int a = tpa_accept(ss, l, NULL, NULL);
	ck_assert_int_ge(a, 0);
	char buf[16];
	ck_assert_int_eq(tpa_recv(ss, a, buf, sizeof(buf), 0), -ECONNRESET);
	ck_assert_int_eq(tpa_recv(ss, a, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(tpa_send(ss, a, "x", 1, 0), -EPIPE);
	ck_assert_int_eq(tpa_accept(ss, l, NULL, NULL), -EAGAIN);

	ck_assert_int_eq(tpa_close(ss, a), 0);
	ck_assert_int_eq(tpa_close(ss, l), 0);
	sim_run_for(w, 200 * SEC);
	ck_assert_uint_eq(tpa_stack_socket_count(cs) + tpa_stack_socket_count(ss), 0);
	ck_assert(sim_no_mbufs_leaked(w));
	sim_world_destroy(w);
}
END_TEST

/* A reset connection left in the accept queue goes away with its listener, without leaks. */
START_TEST(reset_in_accept_queue_then_listener_closed)
{
	struct sim_world *w = world();
	struct tpa_stack *cs = sim_stack(w, 0), *ss = sim_stack(w, 1);
	int l = sim_listen(w, 1, PORT, 8);
	ck_assert_int_ge(l, 0);
	int c = tpa_socket(cs);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	to.sin_addr.s_addr = sim_ip(w, 1);
	ck_assert_int_eq(tpa_connect(cs, c, (struct sockaddr *)&to, sizeof(to)), -EINPROGRESS);
	ck_assert(sim_run_until(w, listener_readable, &l, 5 * SEC));
	abort_sock(w, 0, c);
	sim_run_for(w, SEC / 10);
	uint64_t rst_before = tpa_stack_stats(ss)->tcp_rst_tx;
	ck_assert_int_eq(tpa_close(ss, l), 0);
	sim_run_for(w, SEC);
	/* Nothing to reset: the peer already did. */
	ck_assert_uint_eq(tpa_stack_stats(ss)->tcp_rst_tx, rst_before);
	sim_run_for(w, 200 * SEC);
	ck_assert_uint_eq(tpa_stack_socket_count(cs) + tpa_stack_socket_count(ss), 0);
	ck_assert(sim_no_mbufs_leaked(w));
	sim_world_destroy(w);
}
END_TEST

START_TEST(reset_in_close_wait_gives_epipe)
{
	struct sim_world *w = world();
	struct tpa_stack *cs = sim_stack(w, 0), *ss = sim_stack(w, 1);
	int l = sim_listen(w, 1, PORT, 8);
	ck_assert_int_ge(l, 0);
	int c, a;
	ck_assert_int_eq(sim_connect(w, 1, l, PORT, &c, &a), 0);

	ck_assert_int_eq(tpa_shutdown(cs, c, SHUT_WR), 0);
	sim_run_for(w, SEC / 10);
	char buf[16];
	ck_assert_int_eq(tpa_recv(ss, a, buf, sizeof(buf), 0), 0);
	int state = 0;
	socklen_t sl = sizeof(state);
	ck_assert_int_eq(tpa_getsockopt(ss, a, TPA_SO_STATE, &state, &sl), 0);
	ck_assert_int_eq(state, TPA_TCP_CLOSE_WAIT);

	abort_sock(w, 0, c);
	sim_run_for(w, SEC / 10);
	ck_assert_int_eq(tpa_recv(ss, a, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(tpa_send(ss, a, "x", 1, 0), -EPIPE);
	ck_assert_int_eq(tpa_send(ss, a, "x", 1, 0), -EPIPE);

	ck_assert_int_eq(tpa_close(ss, a), 0);
	ck_assert_int_eq(tpa_close(ss, l), 0);
	sim_run_for(w, 200 * SEC);
	ck_assert_uint_eq(tpa_stack_socket_count(cs) + tpa_stack_socket_count(ss), 0);
	ck_assert(sim_no_mbufs_leaked(w));
	sim_world_destroy(w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_reset_semantics");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, reset_in_accept_queue_is_still_accepted);
	tcase_add_test(tc, reset_in_accept_queue_then_listener_closed);
	tcase_add_test(tc, reset_in_close_wait_gives_epipe);
	suite_add_tcase(s, tc);
	return check_run(s, CK_NOFORK);
}
