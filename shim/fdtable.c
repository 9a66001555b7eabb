/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fd -> accelerated socket table: one word per possible fd number, reserved with mmap (untouched
 * pages cost nothing) so a lookup (inline: shim_fdt_get in shim.h) is one bounds check and one
 * load. The low bit of a slot holds the fd's own FD_CLOEXEC as the program sees it (the kernel
 * fd always has FD_CLOEXEC so an accelerated fd never leaks into an exec'd image).
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "shim.h"

#define FDT_MAX     (1 << 22)
#define FDT_CLOEXEC SHIM_FDT_CLOEXEC

/* Read inline by shim_fdt_get (shim.h): the size stays 0 until the table is there. */
uintptr_t *shim_fdt_slots;
uint32_t shim_fdt_n;

static bool in_table(int fd)
{
	return (uint32_t)fd < __atomic_load_n(&shim_fdt_n, __ATOMIC_ACQUIRE);
}

int shim_fdt_init(void)
{
	struct rlimit rl;
	long n = 65536;
	if (shim_fdt_n)
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max > (rlim_t)n)
		n = rl.rlim_max > FDT_MAX ? FDT_MAX : (long)rl.rlim_max;
	else if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max == RLIM_INFINITY)
		n = FDT_MAX;
	void *p = mmap(NULL, (size_t)n * sizeof(uintptr_t), PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	shim_fdt_slots = p;
	/* After the table: a lookup that finds fd below the size finds the table too. */
	__atomic_store_n(&shim_fdt_n, (uint32_t)n, __ATOMIC_RELEASE);
	return 0;
}

int shim_fdt_size(void)
{
	return (int)shim_fdt_n;
}

bool shim_fdt_cloexec(int fd)
{
	if (!in_table(fd))
		return false;
	return __atomic_load_n(&shim_fdt_slots[fd], __ATOMIC_ACQUIRE) & FDT_CLOEXEC;
}

void shim_fdt_set(int fd, struct shim_sock *s, bool cloexec)
{
	if (!in_table(fd))
		return;
	__atomic_store_n(&shim_fdt_slots[fd], (uintptr_t)s | (cloexec ? FDT_CLOEXEC : 0),
	                 __ATOMIC_RELEASE);
}

void shim_fdt_set_cloexec(int fd, bool cloexec)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (s)
		shim_fdt_set(fd, s, cloexec);
}

struct shim_sock *shim_fdt_take(int fd)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (s)
		__atomic_store_n(&shim_fdt_slots[fd], (uintptr_t)0, __ATOMIC_RELEASE);
	return s;
}
