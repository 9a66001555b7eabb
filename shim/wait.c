/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one wait of the shim: every blocking call (read, write, accept, connect, epoll_wait,
 * poll, select) waits here, spin-then-sleep.
 *
 * A call first looks once (engine poll, its readiness) without touching the signal mask: a
 * busy program finds its events at once and pays nothing more. Then, with the program's
 * signals blocked (a handler must never run while we hold the stack's lock), it spins for
 * TPA_SPIN_US (for ever with TPA_BUSY_POLL): each round drops the lock (another thread that
 * wants it gets in), lets pending signals in every SIGNAL_CHECK_NS, and looks at the kernel
 * side every KCHECK_INTERVAL_NS. After the spin it sleeps in the kernel, lock released, on the
 * caller's kernel fds plus the engine's wait fd and the kick eventfd, with the program's mask
 * (a signal ends the call with EINTR as in the kernel), until the stack's next timer or the
 * caller's deadline; whatever woke it is looked at at once.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>

#include "shim.h"

/* How often a spinning wait (signals blocked) lets pending signals in. */
#define SIGNAL_CHECK_NS 1000000ull
/* How long a spinning wait leaves the kernel side unlooked at (kernel fds, e.g. loopback
 * clients and pipes, need no microsecond latency; the sleep that follows the spin covers them). */
#define KCHECK_INTERVAL_NS 200000ull
/* With no engine wait fd, a sleep lasts at most this long: packets are noticed by polling. */
#define NO_WAIT_FD_SLICE_NS 1000000ull

void shim_block_sigs(sigset_t *orig)
{
	sigset_t all;
	sigfillset(&all);
	/* Faults must stay deliverable: blocking them would kill the process instead. */
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGTRAP);
	pthread_sigmask(SIG_SETMASK, &all, orig);
}

/* Lock held. One spinning round's pause: other threads in, pending signals delivered now and
 * then. -EINTR if a handler ran. */
static int spin_pause(uint64_t now, uint64_t *sig_check_ns, const sigset_t *mask)
{
	int rc = 0;
	shim_unlock();
	if (shim_lock_wanted())
		sched_yield();
	if (now - *sig_check_ns >= SIGNAL_CHECK_NS) {
		struct timespec zero = {0, 0};
		*sig_check_ns = now;
		if (REAL(ppoll)(NULL, 0, &zero, mask) < 0 && errno == EINTR)
			rc = -EINTR;
	}
	shim_lock();
	return rc;
}

/* Lock held; released while sleeping. */
static int sleep_once(const struct shim_waiter *w, uint64_t now, uint64_t deadline_ns,
                      const sigset_t *mask)
{
	uint64_t until = shim_next_timer_ns();
	if (deadline_ns < until)
		until = deadline_ns;
	if (shim.wait_fd < 0 && until > now + NO_WAIT_FD_SLICE_NS)
		until = now + NO_WAIT_FD_SLICE_NS;
	struct timespec ts, *tsp = NULL;
	if (until != UINT64_MAX) {
		uint64_t d = until > now ? until - now : 0;
		ts.tv_sec = (time_t)(d / 1000000000u);
		ts.tv_nsec = (long)(d % 1000000000u);
		tsp = &ts;
	}
	struct shim_sleeper me;
	shim_sleep_begin(&me);
	shim_unlock();
	int r = w->sleep(w->arg, tsp, mask);
	shim_lock();
	shim_sleep_end(&me);
	return r;
}

int shim_wait(const struct shim_waiter *w, uint64_t deadline_ns, const sigset_t *app_mask)
{
	int rc = w->check(w->arg, true);
	uint64_t now = shim_now_ns();
	if (rc != 0 || now >= deadline_ns)
		return rc;
	sigset_t orig;
	shim_block_sigs(&orig);
	const sigset_t *mask = app_mask ? app_mask : &orig;
	uint64_t spin_end = now + (uint64_t)shim.cfg.spin_us * 1000;
	uint64_t sig_check_ns = now, kcheck_ns = now;
	for (;;) {
		if (shim.cfg.busy_poll || now < spin_end) {
			rc = spin_pause(now, &sig_check_ns, mask);
			if (rc < 0)
				break;
			bool look = now - kcheck_ns >= KCHECK_INTERVAL_NS;
			if (look)
				kcheck_ns = now;
			rc = w->check(w->arg, look);
		} else {
			rc = sleep_once(w, now, deadline_ns, mask);
			if (rc < 0)
				break;
			rc = w->check(w->arg, true);
		}
		if (rc != 0)
			break;
		now = shim_now_ns();
		if (now >= deadline_ns) {
			rc = 0;
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &orig, NULL);
	return rc;
}

/* ---- shim_block: a condition on the stack, optionally one kernel fd ---- */

struct block_ctx {
	bool (*cond)(void *);
	void *arg;
	struct pollfd fds[3];
	nfds_t n;
};

static int block_check(void *arg, bool look_kernel)
{
	(void)look_kernel; /* the kernel fd only wakes the sleep; cond looks at it if it cares */
	struct block_ctx *c = arg;
	shim_engine_poll();
	return c->cond(c->arg) ? 1 : 0;
}

static int block_sleep(void *arg, const struct timespec *ts, const sigset_t *mask)
{
	struct block_ctx *c = arg;
	if (REAL(ppoll)(c->fds, c->n, ts, mask) < 0 && errno == EINTR)
		return -EINTR;
	return 0;
}

int shim_block(bool (*cond)(void *), void *arg, int extra_fd, uint64_t deadline_ns)
{
	struct block_ctx c = {.cond = cond, .arg = arg};
	if (shim.wait_fd >= 0)
		c.fds[c.n++] = (struct pollfd){.fd = shim.wait_fd, .events = POLLIN};
	if (shim_kick_fd() >= 0)
		c.fds[c.n++] = (struct pollfd){.fd = shim_kick_fd(), .events = POLLIN};
	if (extra_fd >= 0)
		c.fds[c.n++] = (struct pollfd){.fd = extra_fd, .events = POLLIN};
	struct shim_waiter w = {.check = block_check, .sleep = block_sleep, .arg = &c};
	return shim_wait(&w, deadline_ns, NULL);
}
