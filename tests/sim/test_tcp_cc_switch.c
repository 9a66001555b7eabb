/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Switching congestion control (TPA_SO_CONGESTION) on a live connection keeps its window and its
 * loss-recovery state: a switch in the middle of fast recovery must not make the algorithm forget
 * the recovery the connection is in (regression: the switch re-initialised the state and cleared
 * in_recovery while the socket still believed it was recovering).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "sim_net.h"
#include "tcp_impl.h"
#include "test_eal.h"

#define PORT 7100

struct pump {
	int cli, srv;
	uint8_t buf[65536];
};

/* Keep the client sending and the server reading; stop once the client is in recovery. */
static bool client_in_recovery(struct sim_world *w, void *ctx)
{
	struct pump *p = ctx;
	struct tpa_stack *c = sim_stack(w, 0), *sv = sim_stack(w, 1);
	memset(p->buf, 'x', sizeof(p->buf));
	while (tpa_send(c, p->cli, p->buf, sizeof(p->buf), 0) > 0)
		;
	while (tpa_recv(sv, p->srv, p->buf, sizeof(p->buf), 0) > 0)
		;
	struct tcp_sock *ts = tcp_sock_get(c, p->cli);
	return ts && tcp_cc_in_recovery(&ts->cc);
}

START_TEST(switch_during_recovery_keeps_state)
{
	test_eal_init();
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	o.seed = 11;
	o.impair[0].loss = 0.02;
	o.impair[0].delay_ns = 1000000;
	o.impair[1].delay_ns = 1000000;
	struct sim_world *w = sim_world_create(&o);
	ck_assert_ptr_nonnull(w);

	struct pump p;
	int l = sim_listen(w, 1, PORT, 16);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(sim_connect(w, 1, l, PORT, &p.cli, &p.srv), 0);
	ck_assert(sim_run_until(w, client_in_recovery, &p, 60ull * 1000000000ull));

	struct tpa_stack *c = sim_stack(w, 0);
	struct tcp_sock *ts = tcp_sock_get(c, p.cli);
	uint32_t cwnd = ts->cc.cwnd, ssthresh = ts->cc.ssthresh;
	int algo = ts->cc_algo == TPA_CC_CUBIC ? TPA_CC_NEWRENO : TPA_CC_CUBIC;
	ck_assert_int_eq(tpa_setsockopt(c, p.cli, TPA_SO_CONGESTION, &algo, sizeof(algo)), 0);

	ts = tcp_sock_get(c, p.cli);
	ck_assert_int_eq(ts->cc_algo, algo);
	ck_assert_str_eq(tcp_cc_name(&ts->cc), tcp_cc_by_algo((enum tpa_cc_algo)algo)->name);
	ck_assert(tcp_cc_in_recovery(&ts->cc));
	ck_assert_uint_eq(ts->cc.cwnd, cwnd);
	ck_assert_uint_eq(ts->cc.ssthresh, ssthresh);

	tpa_close(c, p.cli);
	tpa_close(sim_stack(w, 1), p.srv);
	tpa_close(sim_stack(w, 1), l);
	sim_run_for(w, 200ull * 1000000000ull);
	ck_assert(sim_no_mbufs_leaked(w));
	sim_world_destroy(w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_cc_switch");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, switch_during_recovery_keeps_state);
	suite_add_tcase(s, tc);
	return check_run(s, CK_NOFORK);
}
