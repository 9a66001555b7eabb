/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Interposed fd calls that apply to any descriptor: close, close_range, dup, dup2, dup3,
 * fcntl. On an accelerated fd they keep the fd table true to the kernel's: a closed number
 * drops its reference (the connection ends with its last fd in the family), a duplicate
 * shares the socket, a number reused behind our back is forgotten; fcntl answers for the
 * program's view of the fd (O_NONBLOCK, FD_CLOEXEC) while the kernel fd keeps ours.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

#include "shim.h"

/* ---- close, dup ---- */

int close(int fd)
{
	shim_epoll_fd_gone(fd);
	if (shim_fdt_get(fd)) {
		shim_lock();
		struct shim_sock *s = shim_fdt_take(fd);
		if (s)
			shim_sock_unref(s);
		shim_unlock();
	}
	return REAL(close)(fd);
}

int close_range(unsigned first, unsigned last, int flags)
{
	if (!REAL(close_range)) {
		errno = ENOSYS;
		return -1;
	}
	int r = REAL(close_range)(first, last, flags);
	if (r == 0 && shim.enabled) {
		unsigned end =
		        last < (unsigned)shim_fdt_size() ? last : (unsigned)shim_fdt_size() - 1;
		for (unsigned fd = first; fd <= end && fd < (unsigned)shim_fdt_size(); fd++) {
			if (!shim_fdt_get((int)fd))
				continue;
			if (flags & CLOSE_RANGE_CLOEXEC) {
				shim_fdt_set_cloexec((int)fd, true);
				continue;
			}
			shim_lock();
			struct shim_sock *s = shim_fdt_take((int)fd);
			if (s)
				shim_sock_unref(s);
			shim_unlock();
		}
	}
	return r;
}

/* A new fd `nfd` now refers to the same open file as `ofd` (lock not held). */
static void dup_entry(int ofd, int nfd, bool cloexec)
{
	shim_lock();
	struct shim_sock *stale = shim_fdt_take(nfd);
	if (stale)
		shim_sock_unref(stale);
	struct shim_sock *s = shim_fdt_get(ofd);
	if (s) {
		s->refs++;
		shim_adopt_fd(nfd, s, cloexec);
	}
	shim_unlock();
}

int dup(int fd)
{
	int r = REAL(dup)(fd);
	if (r >= 0 && (shim_fdt_get(fd) || shim_fdt_get(r)))
		dup_entry(fd, r, false);
	return r;
}

int dup3(int ofd, int nfd, int flags)
{
	if (ofd == nfd) {
		errno = EINVAL;
		return -1;
	}
	struct shim_sock *old_target = shim_fdt_get(nfd);
	int r = REAL(dup3)(ofd, nfd, flags);
	if (r >= 0 && (shim_fdt_get(ofd) || old_target))
		dup_entry(ofd, r, (flags & O_CLOEXEC) != 0);
	return r;
}

int dup2(int ofd, int nfd)
{
	if (ofd == nfd)
		return REAL(dup2)(ofd, nfd);
	struct shim_sock *old_target = shim_fdt_get(nfd);
	int r = REAL(dup2)(ofd, nfd);
	if (r >= 0 && (shim_fdt_get(ofd) || old_target))
		dup_entry(ofd, r, false);
	return r;
}

/* ---- fcntl ---- */

static int shim_fcntl(int (*realf)(int, int, ...), int fd, int cmd, unsigned long arg)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (!s) {
		int r = realf(fd, cmd, arg);
		if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
			shim_fd_appeared(r);
		return r;
	}
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC: {
		int r = realf(fd, cmd, arg);
		if (r >= 0)
			dup_entry(fd, r, cmd == F_DUPFD_CLOEXEC);
		return r;
	}
	case F_GETFD:
		if (realf(fd, F_GETFD) < 0)
			return -1;
		return shim_fdt_cloexec(fd) ? FD_CLOEXEC : 0;
	case F_SETFD:
		if (realf(fd, F_GETFD) < 0)
			return -1;
		shim_fdt_set_cloexec(fd, (arg & FD_CLOEXEC) != 0);
		return 0;
	case F_GETFL: {
		int fl = realf(fd, F_GETFL);
		if (fl < 0)
			return fl;
		return (fl & ~O_NONBLOCK) | (s->nonblock ? O_NONBLOCK : 0);
	}
	case F_SETFL: {
		unsigned long karg = arg;
		if (s->kind == SHIM_LISTENER)
			karg |= O_NONBLOCK;
		int r = realf(fd, F_SETFL, karg);
		if (r == 0)
			s->nonblock = (arg & O_NONBLOCK) != 0;
		return r;
	}
	default:
		return realf(fd, cmd, arg);
	}
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	return shim_fcntl(REAL(fcntl), fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	return shim_fcntl(REAL(fcntl64) ? REAL(fcntl64) : REAL(fcntl), fd, cmd, arg);
}
