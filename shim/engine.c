/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Lazy engine start and blocking.
 *
 * The engine (EAL + port + stack) starts at the first accelerated socket, never in a
 * constructor: a daemon that forks and exits before making sockets must not start DPDK.
 * Blocking = spin (engine polls) for TPA_SPIN_US, then sleep in ppoll() on the engine's wait
 * fd, the kick eventfd (another thread's poll may have consumed "our" packets) and an optional
 * kernel fd, until the stack's next timer. All signals are blocked while we spin and unblocked
 * atomically by ppoll(), so a handler that runs during the spin still makes the call fail with
 * EINTR, exactly like a kernel sleep would.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"
#include "tpa/dpdk.h"

/* Last time any thread polled the engine (shim_now_ns). */
static uint64_t last_poll_ns;

/* How long the program may leave the stack unpolled before the progress thread steps in. */
#define PROGRESS_GRACE_NS     1000000ull
#define PROGRESS_MAX_SLEEP_MS 100

static __attribute__((noreturn)) void shim_fatal(const char *msg)
{
	/* Engine messages name the setting but not us: every line we print starts "tpa:". */
	if (strncmp(msg, "tpa:", 4) != 0)
		syscall(SYS_write, 2, "tpa: ", 5);
	syscall(SYS_write, 2, msg, strlen(msg));
	syscall(SYS_write, 2, "\n", 1);
	_exit(1);
}

static void apply_engine_settings(struct tpa_engine_config *ec)
{
	char err[512], line[600];
	if (tpa_engine_config_init(ec) < 0)
		shim_fatal("tpa: engine configuration could not be initialised");
	for (unsigned i = 0; i < shim.cfg.n_engine; i++) {
		const struct shim_engine_setting *st = &shim.cfg.engine[i];
		int r = tpa_engine_config_set(ec, st->key, st->value, err, sizeof(err));
		if (r == 1) {
			snprintf(
			        line, sizeof(line),
			        "tpa: unknown setting %s in TPA_CONFIG (see docs/configuration.md)",
			        st->key);
			shim_fatal(line);
		}
		if (r < 0)
			shim_fatal(err);
	}
	if (tpa_engine_config_from_env(ec, err, sizeof(err)) < 0)
		shim_fatal(err);
	/* TPA_IFACE is shared: the shim's value wins (it may come from the file). */
	if (tpa_engine_config_set(ec, "TPA_IFACE", shim.cfg.iface, err, sizeof(err)) < 0)
		shim_fatal(err);
}

void shim_engine_validate_config(void);
void shim_engine_validate_config(void)
{
	struct tpa_engine_config ec;
	apply_engine_settings(&ec);
}

/*
 * The stack runs in the program's threads, but a program may sit in a kernel call that knows
 * nothing of tpa (a read on a pipe, sleep()) while peers connect or wait for ACKs. The kernel
 * would answer them in the background; so does this thread: whenever nobody has polled the
 * engine for PROGRESS_GRACE_NS it polls once, and otherwise sleeps on the wait fd until the
 * stack's next timer. It never runs while program threads keep polling, so it costs nothing
 * on a busy accelerated program and sleeps when the program is idle.
 */
static void *progress_main(void *arg)
{
	(void)arg;
	for (;;) {
		shim_lock();
		uint64_t now = tpa_engine_now_ns();
		if (now - __atomic_load_n(&last_poll_ns, __ATOMIC_RELAXED) >= PROGRESS_GRACE_NS)
			shim_engine_poll();
		uint64_t next = tpa_engine_next_timer_ns(shim.engine);
		shim_unlock();
		now = tpa_engine_now_ns();
		int timeout = PROGRESS_MAX_SLEEP_MS;
		if (next != UINT64_MAX && next <= now + (uint64_t)timeout * 1000000)
			timeout = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
		if (shim.wait_fd >= 0) {
			struct pollfd p = {.fd = shim.wait_fd, .events = POLLIN};
			int r = REAL(poll)(&p, 1, timeout);
			if (r <= 0)
				continue;
		} else if (timeout > 1) {
			timeout = 1;
		}
		/* Packets are waiting: give the program's own threads the first chance. */
		struct timespec ts = {0, (long)PROGRESS_GRACE_NS};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void print_counter(void *arg, const char *name, uint64_t value)
{
	(void)arg;
	if (value)
		fprintf(stderr, "tpa: %s %llu\n", name, (unsigned long long)value);
}

/* TPA_SHIM_STATS=1: the stack's and engine's non-zero counters on stderr at exit. */
static void print_stats(void)
{
	if (!shim.engine || shim.forked_child)
		return;
	shim_lock();
	tpa_stack_stats_foreach(shim.stack, print_counter, NULL);
	tpa_engine_stats_foreach(shim.engine, print_counter, NULL);
	shim_unlock();
}

/* The process that owns the engine exits: stop the port and give the interface back (XDP
 * program, held ports) now rather than through the watchdog. The lock is kept: a thread still
 * running can no longer reach the engine. */
static void engine_atexit(void)
{
	if (!shim.engine || shim.forked_child)
		return;
	shim_lock();
	struct tpa_engine *e = shim.engine;
	shim.engine = NULL;
	shim.stack = NULL;
	tpa_engine_destroy(e);
}

static void start_progress_thread(void)
{
	pthread_t t;
	pthread_attr_t attr;
	sigset_t all, old;
	/* No signal of the program's may land on this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&t, &attr, progress_main, NULL) == 0)
		pthread_setname_np(t, "tpa-progress");
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int shim_engine_try_start(char *err, size_t errlen)
{
	struct tpa_engine_config ec;
	if (shim.stack)
		return 0;
	apply_engine_settings(&ec);
	ec.sock_event = shim_sock_event;
	ec.sock_event_ctx = NULL;
	shim.engine = tpa_engine_create(&ec, err, errlen);
	if (!shim.engine)
		return errno ? -errno : -EINVAL;
	shim.stack = tpa_engine_stack(shim.engine);
	shim.wait_fd = tpa_engine_wait_fd(shim.engine);
	if (shim_sleep_init() < 0)
		shim_fatal("tpa: eventfd for waking sleeping threads failed");
	struct tpa_engine_info info;
	tpa_engine_get_info(shim.engine, &info);
	shim.iface_ip = info.ipv4_addr;
	last_poll_ns = tpa_engine_now_ns();
	start_progress_thread();
	atexit(engine_atexit);
	const char *st = getenv("TPA_SHIM_STATS");
	if (st && *st == '1')
		atexit(print_stats); /* runs first: handlers run in reverse order */
	return 0;
}

void shim_engine_fatal(const char *err)
{
	char line[700];
	snprintf(line, sizeof(line), "tpa: cannot start the engine on TPA_IFACE=%s: %s",
	         shim.cfg.iface, err);
	shim_fatal(line);
}

void shim_engine_ensure(void)
{
	char err[512];
	if (shim.stack)
		return;
	if (shim_engine_try_start(err, sizeof(err)) < 0)
		shim_engine_fatal(err);
}

int shim_engine_poll(void)
{
	if (!shim.engine)
		return 0;
	int n = tpa_engine_poll(shim.engine);
	__atomic_store_n(&last_poll_ns, tpa_engine_now_ns(), __ATOMIC_RELAXED);
	shim_sleepers_after_poll(n);
	return n;
}

uint64_t shim_now_ns(void)
{
	return tpa_engine_now_ns();
}

uint64_t shim_next_timer_ns(void)
{
	return shim.engine ? tpa_engine_next_timer_ns(shim.engine) : UINT64_MAX;
}

/* Deliver pending signals without sleeping; -EINTR if a handler ran. */
static int check_signals(const sigset_t *orig, struct pollfd *fds, nfds_t n)
{
	struct timespec zero = {0, 0};
	if (REAL(ppoll)(fds, n, &zero, orig) < 0 && errno == EINTR)
		return -EINTR;
	return 0;
}

void shim_block_sigs(sigset_t *orig);
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

int shim_block(bool (*cond)(void *), void *arg, int extra_fd, uint64_t deadline_ns)
{
	sigset_t orig;
	struct pollfd fds[3];
	nfds_t n = 0;
	int rc = 0, iter = 0;
	uint64_t now = shim_now_ns();
	uint64_t spin_end = now + (uint64_t)shim.cfg.spin_us * 1000;

	if (shim.wait_fd >= 0)
		fds[n++] = (struct pollfd){.fd = shim.wait_fd, .events = POLLIN};
	if (shim_kick_fd() >= 0)
		fds[n++] = (struct pollfd){.fd = shim_kick_fd(), .events = POLLIN};
	if (extra_fd >= 0)
		fds[n++] = (struct pollfd){.fd = extra_fd, .events = POLLIN};

	shim_block_sigs(&orig);
	for (;;) {
		shim_engine_poll();
		if (cond(arg)) {
			rc = 1;
			break;
		}
		now = shim_now_ns();
		if (now >= deadline_ns) {
			rc = 0;
			break;
		}
		if (shim.cfg.busy_poll || now < spin_end) {
			/* Let other threads in between rounds, and look for signals now and then.
			 */
			shim_unlock();
			if ((++iter & 255) == 0 && check_signals(&orig, fds, 0) < 0) {
				shim_lock();
				rc = -EINTR;
				break;
			}
			shim_lock();
			continue;
		}
		uint64_t until = shim_next_timer_ns();
		if (deadline_ns < until)
			until = deadline_ns;
		if (shim.wait_fd < 0 && until > now + 1000000)
			until = now + 1000000; /* no wait fd: poll every millisecond */
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
		int r = REAL(ppoll)(fds, n, tsp, &orig);
		int saved = errno;
		shim_lock();
		shim_sleep_end(&me);
		if (r < 0 && saved == EINTR) {
			rc = -EINTR;
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &orig, NULL);
	return rc;
}
