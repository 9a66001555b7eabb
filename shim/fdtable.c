/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fd -> accelerated socket table: one word per possible fd number, reserved with mmap (untouched
 * pages cost nothing) so a lookup is one bounds check and one load. The low bit of a slot holds
 * the fd's own FD_CLOEXEC as the program sees it (the kernel fd always has FD_CLOEXEC so an
 * accelerated fd never leaks into an exec'd image).
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "shim.h"

#define FDT_MAX     (1 << 22)
#define FDT_CLOEXEC ((uintptr_t)1)

static uintptr_t *fdt;
static int fdt_size;

int shim_fdt_init(void)
{
	struct rlimit rl;
	long n = 65536;
	if (fdt)
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
	fdt_size = (int)n;
	__atomic_store_n(&fdt, (uintptr_t *)p, __ATOMIC_RELEASE);
	return 0;
}

int shim_fdt_size(void)
{
	return fdt_size;
}

struct shim_sock *shim_fdt_get(int fd)
{
	uintptr_t *t = __atomic_load_n(&fdt, __ATOMIC_ACQUIRE);
	if (!t || fd < 0 || fd >= fdt_size)
		return NULL;
	return (struct shim_sock *)(__atomic_load_n(&t[fd], __ATOMIC_ACQUIRE) & ~FDT_CLOEXEC);
}

bool shim_fdt_cloexec(int fd)
{
	if (!fdt || fd < 0 || fd >= fdt_size)
		return false;
	return __atomic_load_n(&fdt[fd], __ATOMIC_ACQUIRE) & FDT_CLOEXEC;
}

void shim_fdt_set(int fd, struct shim_sock *s, bool cloexec)
{
	if (!fdt || fd < 0 || fd >= fdt_size)
		return;
	__atomic_store_n(&fdt[fd], (uintptr_t)s | (cloexec ? FDT_CLOEXEC : 0), __ATOMIC_RELEASE);
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
		__atomic_store_n(&fdt[fd], (uintptr_t)0, __ATOMIC_RELEASE);
	return s;
}
