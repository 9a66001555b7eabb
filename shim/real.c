/* SPDX-License-Identifier: BSD-3-Clause */
/* Resolution of the real libc functions (see real.h). */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"

struct shim_real_table real_fn;
bool shim_real_ready;

static const char *const real_names[] = {
#define SHIM_REAL_NAME(name, ret, params) #name,
        SHIM_REAL_FUNCTIONS(SHIM_REAL_NAME)
#undef SHIM_REAL_NAME
};

static void shim_real_die(const char *name)
{
	/* Raw syscalls: stdio or our own write() could recurse into an unresolved table. */
	static const char msg[] = "tpa shim: cannot resolve libc function ";
	syscall(SYS_write, 2, msg, sizeof(msg) - 1);
	syscall(SYS_write, 2, name, strlen(name));
	syscall(SYS_write, 2, "\n", 1);
	syscall(SYS_exit_group, 127);
}

void shim_real_init(void)
{
	/* Idempotent and race-tolerant: every thread stores the same values. dlsym() may allocate
	 * (calloc for its error state) but the shim does not interpose the allocator, so that
	 * cannot recurse. */
	void **slots = (void **)&real_fn;
	for (size_t i = 0; i < sizeof(real_names) / sizeof(real_names[0]); i++) {
		if (__atomic_load_n(&slots[i], __ATOMIC_ACQUIRE))
			continue;
		void *p = dlsym(RTLD_NEXT, real_names[i]);
		/* Optional: absent from older C libraries; calls then fail with ENOSYS. */
		if (!p && strcmp(real_names[i], "close_range") != 0 &&
		    strcmp(real_names[i], "fcntl64") != 0)
			shim_real_die(real_names[i]);
		__atomic_store_n(&slots[i], p, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&shim_real_ready, true, __ATOMIC_RELEASE);
}
