/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine starting DPDK's EAL itself (the normal case for the shim): the calling thread's
 * CPU affinity is the same afterwards, the engine is the only one, and after destroy (which
 * cleans EAL up) a new engine is refused with a clear reason instead of crashing in EAL.
 * Uses a memif server port (needs no peer) and no hugepages (works under ASan).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tpa/dpdk.h"

static void make_config(struct tpa_engine_config *c, const char *sock)
{
	char err[256];
	tpa_engine_config_init(c);
	ck_assert_int_eq(tpa_engine_config_set(c, "TPA_PORT_TYPE", "memif", err, sizeof(err)), 0);
	ck_assert_int_eq(tpa_engine_config_set(c, "TPA_MEMIF_ROLE", "server", err, sizeof(err)), 0);
	ck_assert_int_eq(tpa_engine_config_set(c, "TPA_MEMIF_SOCKET", sock, err, sizeof(err)), 0);
	ck_assert_int_eq(tpa_engine_config_set(c, "TPA_IP", "10.67.0.2/24", err, sizeof(err)), 0);
	ck_assert_int_eq(tpa_engine_config_set(c, "TPA_HUGEPAGES", "no", err, sizeof(err)), 0);
	ck_assert_int_eq(tpa_engine_config_set(c, "TPA_MBUFS", "2048", err, sizeof(err)), 0);
}

START_TEST(engine_starts_and_ends_eal)
{
	/* Pin the thread to the last CPU we may use: EAL would move it to its lcore's CPU. */
	cpu_set_t before, after, all;
	ck_assert_int_eq(pthread_getaffinity_np(pthread_self(), sizeof(all), &all), 0);
	int last = -1;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &all))
			last = i;
	ck_assert_int_ge(last, 0);
	CPU_ZERO(&before);
	CPU_SET(last, &before);
	ck_assert_int_eq(pthread_setaffinity_np(pthread_self(), sizeof(before), &before), 0);

	char sock[128], err[512] = "";
	snprintf(sock, sizeof(sock), "/tmp/tpa-unit-eal-%d.sock", (int)getpid());
	struct tpa_engine_config c;
	make_config(&c, sock);
	struct tpa_engine *e = tpa_engine_create(&c, err, sizeof(err));
	ck_assert_msg(e != NULL, "create: %s", err);

	ck_assert_int_eq(pthread_getaffinity_np(pthread_self(), sizeof(after), &after), 0);
	ck_assert_msg(CPU_EQUAL(&before, &after), "the thread's CPU affinity changed");
	ck_assert_int_eq(sched_getcpu(), last);

	ck_assert_int_eq(tpa_engine_poll(e), 0);
	tpa_engine_destroy(e);

	/* EAL was ours and is cleaned up: it cannot start again in this process. */
	make_config(&c, sock);
	errno = 0;
	ck_assert_ptr_null(tpa_engine_create(&c, err, sizeof(err)));
	ck_assert_int_eq(errno, EALREADY);
	ck_assert_ptr_nonnull(strstr(err, "cannot restart"));
	unlink(sock);
}
END_TEST

static Suite *eal_suite(void)
{
	Suite *s = suite_create("dpdk_engine_eal");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, engine_starts_and_ends_eal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(eal_suite());
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
