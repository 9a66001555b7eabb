/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The heap shared across fork (dpdk/shm.h): what is allocated in a parent is seen and usable
 * by its fork child, and the heap comes up where its full address space is not to be had
 * (ulimit -v; valgrind refused the 64 GiB mapping with EINVAL and the engine did not start).
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "../../dpdk/shm.h"

START_TEST(child_sees_and_changes_parent_blocks)
{
	struct shm_heap *h = shm_heap_create((size_t)1 << 30);
	ck_assert_ptr_nonnull(h);
	uint32_t *v = shm_alloc(h, sizeof(*v));
	ck_assert_ptr_nonnull(v);
	*v = 1;
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint32_t *w = shm_alloc(h, sizeof(*w)); /* the heap's state is shared too */
		_exit(*v == 1 && w && w != v ? (*v = 2, 0) : 1);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_uint_eq(*v, 2);
	shm_free(h, v);
	shm_heap_destroy(h);
}
END_TEST

/* In a child (the limit stays there): 0 when a 64 GiB heap is made smaller and works. */
static int heap_under_limit(void)
{
	/* What the process has mapped (ASan alone reserves terabytes) and 40 GiB more. */
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return 10;
	char line[256];
	unsigned long long vm_kb = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %llu kB", &vm_kb) == 1)
			break;
	fclose(f);
	if (!vm_kb)
		return 10;
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) < 0)
		return 10;
	rl.rlim_cur = (rlim_t)vm_kb * 1024 + ((rlim_t)40 << 30);
	if (setrlimit(RLIMIT_AS, &rl) < 0)
		return 11;
	struct shm_heap *h = shm_heap_create((size_t)64 << 30);
	if (!h)
		return 12;
	if (shm_heap_size(h) >= ((size_t)64 << 30) || shm_heap_size(h) < ((size_t)64 << 20))
		return 13;
	char *p = shm_alloc(h, 1 << 20);
	if (!p)
		return 14;
	memset(p, 0xa5, 1 << 20);
	shm_heap_destroy(h);
	return 0;
}

START_TEST(heap_fits_the_address_space_there_is)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(heap_under_limit());
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
}
END_TEST

static Suite *shm_suite(void)
{
	Suite *s = suite_create("dpdk_shm");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, child_sees_and_changes_parent_blocks);
	tcase_add_test(tc, heap_fits_the_address_space_there_is);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(shm_suite(), CK_NOFORK);
}
