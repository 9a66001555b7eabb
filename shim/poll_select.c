/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * poll, ppoll, select and pselect over sets that mix accelerated sockets with kernel fds: the
 * accelerated fds are checked directly each round (shim_sock_readiness), the kernel part (plus
 * the engine's wait fd and the kick fd) is one real ppoll. Waiting is shim_wait (wait.c), as
 * for every blocking call. epoll is poll.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim.h"
#include "tpa/dpdk.h"
#include "tpa/stack.h"

/* ---- poll ---- */

static bool any_accel(const struct pollfd *fds, nfds_t n)
{
	if (!shim.enabled)
		return false;
	bool any = false;
	for (nfds_t i = 0; i < n; i++)
		if (shim_fdt_get(fds[i].fd))
			any = true;
	return any;
}

/* Lock held. Fills revents of accelerated entries; returns how many are ready. */
static int accel_revents(struct pollfd *fds, nfds_t n, const struct pollfd *kfds,
                         const nfds_t *kidx)
{
	int ready = 0;
	for (nfds_t i = 0; i < n; i++) {
		struct shim_sock *s = shim_fdt_get(fds[i].fd);
		if (!s)
			continue;
		uint32_t cur = s->inherited ? POLLNVAL : shim_sock_readiness(s);
		if (s->kind == SHIM_LISTENER && kidx[i] != (nfds_t)-1 &&
		    (kfds[kidx[i]].revents & POLLIN))
			cur |= POLLIN | POLLRDNORM;
		fds[i].revents = (short)(cur & ((uint32_t)(uint16_t)fds[i].events | POLLERR |
		                                POLLHUP | POLLNVAL));
		if (fds[i].revents)
			ready++;
	}
	return ready;
}

/* A poll in progress: the program's fds; the kernel part (its kernel fds, the kernel socket
 * of accelerated listeners, then the engine's wait fd and the kick fd) for one real ppoll. */
struct poll_ctx {
	struct pollfd *fds;
	nfds_t n;
	struct pollfd *kfds;
	nfds_t kn;
	const nfds_t *kidx; /* fds[i] -> its kfds entry, or -1 */
	bool slept;         /* kfds[].revents are what the sleep saw */
};

static int poll_check(void *arg, bool look_kernel)
{
	struct poll_ctx *c = arg;
	/* Rounds that do not look keep the last result, which had nothing ready. */
	if (c->slept)
		c->slept = false;
	else if (look_kernel) {
		struct timespec zero = {0, 0};
		if (REAL(ppoll)(c->kfds, c->kn, &zero, NULL) < 0)
			return -errno;
	}
	shim_engine_poll();
	int ready = accel_revents(c->fds, c->n, c->kfds, c->kidx);
	for (nfds_t i = 0; i < c->n; i++) {
		if (c->kidx[i] == (nfds_t)-1 || shim_fdt_get(c->fds[i].fd))
			continue;
		c->fds[i].revents = c->kfds[c->kidx[i]].revents;
		if (c->fds[i].revents)
			ready++;
	}
	return ready;
}

static int poll_sleep(void *arg, const struct timespec *ts, const sigset_t *mask)
{
	struct poll_ctx *c = arg;
	if (REAL(ppoll)(c->kfds, c->kn, ts, mask) < 0)
		return -errno;
	c->slept = true;
	return 0;
}

static int accel_poll(struct pollfd *fds, nfds_t n, int64_t timeout_ns, const sigset_t *app_mask)
{
	if (n > (nfds_t)shim_fdt_size())
		return -EINVAL; /* the kernel's limit is RLIMIT_NOFILE */
	struct pollfd lk[64], *kfds = n <= 62 ? lk : calloc((size_t)n + 2, sizeof(*kfds));
	nfds_t lidx[64], *kidx = n <= 64 ? lidx : calloc(n, sizeof(*kidx));
	if (!kfds || !kidx) {
		if (kfds != lk)
			free(kfds);
		if (kidx != lidx)
			free(kidx);
		return -ENOMEM;
	}
	nfds_t kn = 0;
	for (nfds_t i = 0; i < n; i++) {
		struct shim_sock *s = shim_fdt_get(fds[i].fd);
		kidx[i] = (nfds_t)-1;
		if (!s || (s->kind == SHIM_LISTENER && shim.cfg.accept_kernel)) {
			kidx[i] = kn;
			kfds[kn] = fds[i];
			if (s)
				kfds[kn].events = POLLIN;
			kn++;
		}
	}
	if (shim.wait_fd >= 0)
		kfds[kn++] = (struct pollfd){.fd = shim.wait_fd, .events = POLLIN};
	if (shim_kick_fd() >= 0)
		kfds[kn++] = (struct pollfd){.fd = shim_kick_fd(), .events = POLLIN};

	struct poll_ctx c = {.fds = fds, .n = n, .kfds = kfds, .kn = kn, .kidx = kidx};
	struct shim_waiter w = {.check = poll_check, .sleep = poll_sleep, .arg = &c};
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : shim_now_ns() + (uint64_t)timeout_ns;
	int rc = shim_wait(&w, deadline, app_mask);
	if (kfds != lk)
		free(kfds);
	if (kidx != lidx)
		free(kidx);
	return rc;
}

/* glibc declares poll/ppoll's array write-only (access attribute); it is read-write, and gcc
 * would warn that we read it. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (!any_accel(fds, n)) {
		shim_tx_flush_unlocked();
		return REAL(poll)(fds, n, timeout);
	}
	shim_lock();
	int r = accel_poll(fds, n, timeout < 0 ? -1 : (int64_t)timeout * 1000000, NULL);
	shim_unlock();
	return (int)shim_ret(r);
}

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		abort();
	return poll(fds, n, timeout);
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask)
{
	if (!any_accel(fds, n)) {
		shim_tx_flush_unlocked();
		return REAL(ppoll)(fds, n, tmo, mask);
	}
	if (tmo && (tmo->tv_sec < 0 || tmo->tv_nsec < 0 || tmo->tv_nsec >= 1000000000)) {
		errno = EINVAL;
		return -1;
	}
	int64_t t = tmo ? (int64_t)tmo->tv_sec * 1000000000 + tmo->tv_nsec : -1;
	shim_lock();
	int r = accel_poll(fds, n, t, mask);
	shim_unlock();
	return (int)shim_ret(r);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* ---- select ---- */

#define SEL_IN  (POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR)
#define SEL_OUT (POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR)
#define SEL_EX  (POLLPRI)

static bool sets_have_accel(int nfds, fd_set *r, fd_set *w, fd_set *x)
{
	bool any = false;
	if (!shim.enabled)
		return false;
	for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++)
		if (((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (x && FD_ISSET(fd, x))) &&
		    shim_fdt_get(fd))
			any = true;
	return any;
}

static int accel_select(int nfds, fd_set *r, fd_set *w, fd_set *x, int64_t timeout_ns,
                        const sigset_t *mask)
{
	struct pollfd pf[FD_SETSIZE];
	nfds_t n = 0;
	if (nfds < 0 || nfds > FD_SETSIZE)
		return -EINVAL;
	for (int fd = 0; fd < nfds; fd++) {
		short ev = 0;
		if (r && FD_ISSET(fd, r))
			ev |= POLLIN;
		if (w && FD_ISSET(fd, w))
			ev |= POLLOUT;
		if (x && FD_ISSET(fd, x))
			ev |= POLLPRI;
		if (ev)
			pf[n++] = (struct pollfd){.fd = fd, .events = ev};
	}
	shim_lock();
	int rc = accel_poll(pf, n, timeout_ns, mask);
	shim_unlock();
	if (rc < 0)
		return rc;
	for (nfds_t i = 0; i < n; i++)
		if (pf[i].revents & POLLNVAL)
			return -EBADF;
	int count = 0;
	if (r)
		FD_ZERO(r);
	if (w)
		FD_ZERO(w);
	if (x)
		FD_ZERO(x);
	for (nfds_t i = 0; i < n; i++) {
		short re = pf[i].revents;
		if (r && (pf[i].events & POLLIN) && (re & SEL_IN)) {
			FD_SET(pf[i].fd, r);
			count++;
		}
		if (w && (pf[i].events & POLLOUT) && (re & SEL_OUT)) {
			FD_SET(pf[i].fd, w);
			count++;
		}
		if (x && (pf[i].events & POLLPRI) && (re & SEL_EX)) {
			FD_SET(pf[i].fd, x);
			count++;
		}
	}
	return count;
}

int select(int nfds, fd_set *r, fd_set *w, fd_set *x, struct timeval *tv)
{
	if (!sets_have_accel(nfds, r, w, x)) {
		shim_tx_flush_unlocked();
		return REAL(select)(nfds, r, w, x, tv);
	}
	if (tv && (tv->tv_sec < 0 || tv->tv_usec < 0)) {
		errno = EINVAL;
		return -1;
	}
	int64_t t = tv ? (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000 : -1;
	uint64_t start = shim_now_ns();
	int rc = accel_select(nfds, r, w, x, t, NULL);
	if (tv) {
		/* Linux writes back the time left. */
		uint64_t used = shim_now_ns() - start;
		int64_t left = t - (int64_t)used;
		if (left < 0)
			left = 0;
		tv->tv_sec = left / 1000000000;
		tv->tv_usec = (left % 1000000000) / 1000;
	}
	return (int)shim_ret(rc);
}

int pselect(int nfds, fd_set *r, fd_set *w, fd_set *x, const struct timespec *tmo,
            const sigset_t *mask)
{
	if (!sets_have_accel(nfds, r, w, x)) {
		shim_tx_flush_unlocked();
		return REAL(pselect)(nfds, r, w, x, tmo, mask);
	}
	if (tmo && (tmo->tv_sec < 0 || tmo->tv_nsec < 0 || tmo->tv_nsec >= 1000000000)) {
		errno = EINVAL;
		return -1;
	}
	int64_t t = tmo ? (int64_t)tmo->tv_sec * 1000000000 + tmo->tv_nsec : -1;
	return (int)shim_ret(accel_select(nfds, r, w, x, t, mask));
}
