/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Steering references per local port (stack/tcp_sock.c): the owner's port_steer hook is told
 * "on" when the first socket on a port needs its frames and "off" when the last one goes, never
 * in between, however many sockets share the port. A server holding 100,000 connections on one
 * port counts past 65,535 (the count was 16 bits: it wrapped, and closing 34,465 of them turned
 * the steering off under the 65,536 left; e2e/test_many_connections found it).
 */
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "sim_capture.h"
#include "tcp_impl.h"
#include "test_eal.h"

#define N_SOCKS 100001 /* a listener and 100,000 connections */

static struct sim_rig rig;
static unsigned steer_on, steer_off;

static void count_steer(void *ctx, uint16_t port, int on)
{
	(void)ctx;
	(void)port;
	if (on)
		steer_on++;
	else
		steer_off++;
}

static void tweak(struct tpa_stack_config *cfg)
{
	cfg->hooks.port_steer = count_steer;
}

START_TEST(steering_survives_more_than_65535_sockets_on_a_port)
{
	test_eal_init();
	sim_rig_init(&rig, tweak);
	struct tcp_sock *socks = calloc(N_SOCKS, sizeof(*socks));
	ck_assert_ptr_nonnull(socks);
	for (int i = 0; i < N_SOCKS; i++) {
		socks[i].lport = htons(7100);
		tcp_sock_steer(rig.s, &socks[i], true);
	}
	ck_assert_uint_eq(steer_on, 1);
	/* All but one go: the port stays steered for the last. */
	for (int i = 0; i < N_SOCKS - 1; i++)
		tcp_sock_steer(rig.s, &socks[i], false);
	ck_assert_uint_eq(steer_off, 0);
	tcp_sock_steer(rig.s, &socks[N_SOCKS - 1], false);
	ck_assert_uint_eq(steer_off, 1);
	free(socks);
	ck_assert(sim_rig_destroy(&rig));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_steer_ref");
	TCase *tc = tcase_create("steer_ref");
	tcase_add_test(tc, steering_survives_more_than_65535_sockets_on_a_port);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
