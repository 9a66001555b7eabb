/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine starting DPDK's EAL itself (the normal case for the shim): the calling thread's
 * CPU affinity is the same afterwards, the engine is the only one, and after destroy (which
 * cleans EAL up) a new engine is refused with a clear reason instead of crashing in EAL.
 * No thread EAL starts may take the program's signals: a signal handled there does not wake
 * the thread that waits for it (nginx's master sat in sigsuspend for a SIGCHLD that EAL's
 * interrupt thread took, and never exited); the caller's own mask is unchanged.
 * Uses a memif server port (needs no peer) and no hugepages (works under ASan).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check_run.h"
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

/* The blocked-signal mask of thread TID, from /proc (bit N-1 is signal N). */
static unsigned long long thread_sigblk(long tid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/self/task/%ld/status", tid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	unsigned long long mask = 0;
	bool found = false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigBlk: %llx", &mask) == 1) {
			found = true;
			break;
		}
	fclose(f);
	ck_assert_msg(found, "no SigBlk in %s", path);
	return mask;
}

static void assert_other_threads_block_signals(void)
{
	static const int program_sigs[] = {SIGCHLD, SIGTERM, SIGQUIT, SIGINT,
	                                   SIGHUP,  SIGUSR1, SIGUSR2, SIGALRM};
	long self = syscall(SYS_gettid);
	DIR *d = opendir("/proc/self/task");
	ck_assert_ptr_nonnull(d);
	int others = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		long tid = strtol(de->d_name, NULL, 10);
		if (tid <= 0 || tid == self)
			continue;
		others++;
		unsigned long long blk = thread_sigblk(tid);
		for (size_t i = 0; i < sizeof(program_sigs) / sizeof(program_sigs[0]); i++)
			ck_assert_msg(blk & (1ull << (program_sigs[i] - 1)),
			              "thread %ld takes signal %d (SigBlk %llx)", tid,
			              program_sigs[i], blk);
	}
	closedir(d);
	ck_assert_int_gt(others, 0); /* EAL starts at least its interrupt thread */
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
	sigset_t mask_before, mask_after;
	pthread_sigmask(SIG_SETMASK, NULL, &mask_before);
	struct tpa_engine *e = tpa_engine_create(&c, err, sizeof(err));
	ck_assert_msg(e != NULL, "create: %s", err);
	pthread_sigmask(SIG_SETMASK, NULL, &mask_after);
	ck_assert_msg(sigismember(&mask_after, SIGCHLD) == sigismember(&mask_before, SIGCHLD) &&
	                      sigismember(&mask_after, SIGTERM) ==
	                              sigismember(&mask_before, SIGTERM),
	              "the caller's signal mask changed");
	assert_other_threads_block_signals();

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
	return check_run(eal_suite(), CK_NOFORK);
}
