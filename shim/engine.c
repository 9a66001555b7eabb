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
 *
 * Output is batched per event-loop turn: a send queues its frames (shim_tx_defer) and they
 * leave in one device burst when the thread next polls the engine or is about to wait (every
 * shim wait starts with a poll), or at close/shutdown. A thread that instead sits in a call
 * the shim does not see (sleep(), a read on a pipe it does not pass through us) is covered
 * by the progress thread, which polls, and so flushes, once nobody has polled for
 * PROGRESS_GRACE_NS. The kernel-fd pass-through paths of the blocking calls we do see flush
 * first (shim_tx_flush_unlocked), so that case does not even wait for the grace period.
 */
#include <errno.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "family.h"
#include "publish.h"
#include "shim.h"
#include "tpa/dpdk.h"
#include "tpa/stack.h"

/* Last time any thread polled the engine (shim_now_ns). */
static uint64_t last_poll_ns;
/* A send queued frames that no flush or poll has handed to the device yet. Written under the
 * lock; read without it by the pass-through paths and the progress thread; read inline by
 * shim_tx_defer (shim.h). */
bool shim_tx_pending;
/* The progress thread will look again within PROGRESS_GRACE_NS (it is not in a long sleep).
 * When it is not, the first deferred send wakes it through progress_kick_fd. */
static bool progress_watching = true;
static int progress_kick_fd = -1;

/* How long the program may leave the stack unpolled before the progress thread steps in. */
#define PROGRESS_GRACE_NS     1000000ull
#define PROGRESS_MAX_SLEEP_MS 100
/* At exit: run the stack at least this long after closing the connections, stop once it has
 * been quiet for a while, never longer than the maximum. */
#define EXIT_LINGER_MIN_NS   2000000ull
#define EXIT_LINGER_QUIET_NS 5000000ull
#define EXIT_LINGER_MAX_NS   200000000ull

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

uint32_t shim_engine_validate_config(void)
{
	struct tpa_engine_config ec;
	apply_engine_settings(&ec);
	return ec.max_sockets;
}

/* How often the progress thread looks for dead processes of the family. */
#define FAMILY_CHECK_NS 100000000ull

/*
 * The stack runs in the program's threads, but a program may sit in a kernel call that knows
 * nothing of tpa (a read on a pipe, sleep()) while peers connect or wait for ACKs or for data it
 * has just written. The kernel would answer them in the background; so does this thread:
 * whenever nobody has polled the engine for PROGRESS_GRACE_NS it polls once (which also sends
 * deferred output), and otherwise sleeps. While program threads keep polling it only looks at
 * the clock once per grace period, without the lock, so it never contends with them; when the
 * program is idle it sleeps on the wait fd until the stack's next timer, and the first send
 * after that wakes it (progress_kick_fd) so deferred output never waits for a timer.
 */
static void *progress_main(void *arg)
{
	(void)arg;
	uint64_t family_checked = 0;
	for (;;) {
		uint64_t now = tpa_engine_now_ns();
		uint64_t last = __atomic_load_n(&last_poll_ns, __ATOMIC_RELAXED);
		if (last > now || now - last < PROGRESS_GRACE_NS) {
			/* A program thread polls: look again when its grace period ends. */
			uint64_t left =
			        last > now ? PROGRESS_GRACE_NS : last + PROGRESS_GRACE_NS - now;
			struct timespec ts = {0, (long)left};
			nanosleep(&ts, NULL);
			continue;
		}
		if (!shim_trylock()) {
			/* The holder is inside the shim: it polls or flushes before it sleeps. */
			struct timespec ts = {0, (long)PROGRESS_GRACE_NS};
			nanosleep(&ts, NULL);
			continue;
		}
		now = tpa_engine_now_ns();
		if (!shim.engine) {
			shim_unlock(); /* this process left the family's engine (exit) */
			return NULL;
		}
		if (now - __atomic_load_n(&last_poll_ns, __ATOMIC_RELAXED) >= PROGRESS_GRACE_NS)
			shim_engine_poll();
		if (now - family_checked >= FAMILY_CHECK_NS) {
			/* A process of the family that died holding connections alone: close
			 * them, as the kernel closes a dead process's sockets. */
			family_checked = now;
			shim_family_check();
		}
		uint64_t next = tpa_engine_next_timer_ns(shim.engine);
		/* Going to sleep for longer than a grace period: a send from now on must wake us.
		 * Sequentially consistent with shim_tx_defer: either it sees watching == false and
		 * kicks, or we see its shim_tx_pending and stay awake. */
		__atomic_store_n(&progress_watching, false, __ATOMIC_SEQ_CST);
		bool pending = __atomic_load_n(&shim_tx_pending, __ATOMIC_SEQ_CST);
		shim_unlock();
		now = tpa_engine_now_ns();
		if (!shim.engine)
			return NULL;
		int timeout = pending ? 1 : PROGRESS_MAX_SLEEP_MS;
		if (next != UINT64_MAX && next <= now + (uint64_t)timeout * 1000000)
			timeout = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
		struct pollfd p[2];
		nfds_t n = 0;
		if (shim.wait_fd >= 0)
			p[n++] = (struct pollfd){.fd = shim.wait_fd, .events = POLLIN};
		else if (timeout > 1)
			timeout = 1;
		if (progress_kick_fd >= 0)
			p[n++] = (struct pollfd){.fd = progress_kick_fd, .events = POLLIN};
		int r = REAL(poll)(p, n, timeout);
		__atomic_store_n(&progress_watching, true, __ATOMIC_SEQ_CST);
		if (r <= 0)
			continue;
		if (progress_kick_fd >= 0 && (p[n - 1].revents & POLLIN)) {
			uint64_t v;
			(void)!syscall(SYS_read, progress_kick_fd, &v, sizeof(v));
			continue; /* a send: its thread's grace period decides */
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
	/* The family's first process reports (the counters are the shared stack's). */
	if (!shim.stats || !shim.engine || shim.forked_child)
		return;
	shim_lock();
	tpa_stack_stats_foreach(shim.stack, print_counter, NULL);
	tpa_engine_stats_foreach(shim.engine, print_counter, NULL);
	print_counter(NULL, "shim_kernel_accepted", shim.kernel_accepted);
	print_counter(NULL, "shim_kernel_accepted_remote", shim.kernel_accepted_remote);
	shim_unlock();
}

/* The process that owns the engine exits: stop the port and give the interface back (XDP
 * program, held ports) now rather than through the watchdog. The lock is kept: a thread still
 * running can no longer reach the engine. */
static void engine_atexit(void);
void shim_engine_exit(void)
{
	engine_atexit();
}

static void engine_atexit(void)
{
	if (!shim.engine)
		return;
	shim_lock();
	struct tpa_engine *e = shim.engine;
	if (shim_family_others_alive() > 0) {
		/* Other processes of the family share the engine: close what only we hold (they
		 * run the stack on, FINs included) and leave the engine to them. */
		shim_close_all_at_exit();
		if (shim_tx_pending)
			tpa_stack_flush(shim.stack);
		print_stats();
		shim_sleepers_kick();
		shim.engine = NULL;
		shim.stack = NULL;
		shim_family_leave();
		shim_unlock();
		return;
	}
	/* Destroying the stack sends nothing. Peers of a process that exits must see its
	 * connections end (the kernel sends FIN or RST for every fd of a dead process), not hang
	 * on a half-open connection: close them all and run the stack a moment so the FINs and
	 * the data queued before them get out and acknowledged. */
	if (shim_close_all_at_exit() > 0) {
		uint64_t start = tpa_engine_now_ns(), quiet_since = start;
		for (;;) {
			uint64_t now = tpa_engine_now_ns();
			if (shim_engine_poll() > 0)
				quiet_since = now;
			if (now - start > EXIT_LINGER_MAX_NS ||
			    (now - quiet_since > EXIT_LINGER_QUIET_NS &&
			     now - start > EXIT_LINGER_MIN_NS))
				break;
			struct timespec ts = {0, 200000};
			nanosleep(&ts, NULL);
		}
	}
	if (shim_tx_pending)
		tpa_stack_flush(shim.stack);
	/* After the linger: what the program left queued at exit went out in it, and counts. */
	print_stats();
	shim.engine = NULL;
	shim.stack = NULL;
	shim_publish_stop();
	shim_family_leave();
	tpa_engine_destroy(e);
}

static bool progress_started;

void shim_engine_fork_child(void)
{
	progress_started = false;
	if (progress_kick_fd >= 0)
		syscall(SYS_close, progress_kick_fd); /* the parent's thread keeps its own copy */
	progress_kick_fd = -1;
	progress_watching = true;
}

static void start_progress_thread(void)
{
	progress_started = true;
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

/*
 * The engine opens some 50 fds (hugepage memfds, the AF_XDP socket, BPF maps, eventfds,
 * netlink). Opened at the lowest free numbers they would sit where the program expects its own
 * fds to be: a program that dup2()s onto "its" fd 50 (servers do this for listeners and std
 * streams) would silently close one of ours. So every free number below a threshold near the
 * top of the fd limit is taken for the time of the engine start, and the engine's fds land
 * above it. Raw syscalls: the fillers are ours, not the program's.
 */
static int occupy_low_fds(int **out)
{
	struct rlimit rl;
	*out = NULL;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < 512)
		return 0;
	long top = rl.rlim_cur >= 1024 + 192 ? 1024 : (long)rl.rlim_cur - 192;
	int base = (int)syscall(SYS_open, "/dev/null", O_RDONLY | O_CLOEXEC);
	if (base < 0)
		return 0;
	if (base >= top) {
		syscall(SYS_close, base);
		return 0;
	}
	int *fds = malloc(sizeof(int) * (size_t)top);
	if (!fds) {
		syscall(SYS_close, base);
		return 0;
	}
	int n = 0;
	fds[n++] = base;
	for (;;) {
		int fd = (int)syscall(SYS_fcntl, base, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			break;
		if (fd >= top) {
			syscall(SYS_close, fd);
			break;
		}
		fds[n++] = fd;
	}
	*out = fds;
	return n;
}

static void release_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		syscall(SYS_close, fds[i]);
	free(fds);
}

/* The fds the engine and the shim opened at engine start (AF_XDP sockets, BPF maps, memfds,
 * eventfds ...): a relay helper forked at exec (exec.c) keeps exactly these and its own. */
#define ENGINE_FD_MAX 65536
static uint8_t engine_fds[ENGINE_FD_MAX / 8];

static void fd_snapshot(uint8_t *bm)
{
	memset(bm, 0, ENGINE_FD_MAX / 8);
	for (int fd = 0; fd < ENGINE_FD_MAX; fd++) {
		if (syscall(SYS_fcntl, fd, F_GETFD) >= 0)
			bm[fd / 8] |= (uint8_t)(1u << (fd % 8));
		else if (fd > 4096)
			break; /* engine fds sit below ~1100 (occupy_low_fds) */
	}
}

bool shim_engine_owns_fd(int fd)
{
	return fd >= 0 && fd < ENGINE_FD_MAX && (engine_fds[fd / 8] & (1u << (fd % 8)));
}

/* A start tried while the process gave up root (privileges.c) that failed: what every later
 * start reports, since the process can no longer do better. */
static int early_rc;
static char early_err[512];

int shim_engine_try_start(char *err, size_t errlen)
{
	struct tpa_engine_config ec;
	if (shim.stack)
		return 0;
	if (early_rc) {
		snprintf(err, errlen, "%s", early_err);
		return early_rc;
	}
	apply_engine_settings(&ec);
	ec.sock_event = shim_sock_event;
	ec.sock_event_ctx = &shim; /* non-NULL: an event from the stack (core.c) */
	int *fillers = NULL;
	int n_fillers = occupy_low_fds(&fillers);
	static uint8_t before[ENGINE_FD_MAX / 8];
	fd_snapshot(before);
	shim.engine = tpa_engine_create(&ec, err, errlen);
	int create_errno = errno;
	/* Our own fds too, above the program's. */
	if (shim.engine) {
		if (shim_sleep_init() < 0)
			shim_fatal("tpa: eventfd for waking sleeping threads failed");
		if (progress_kick_fd < 0)
			progress_kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		shim_publish_start(shim.engine, ec.max_sockets); /* tpa sockets/stats */
		fd_snapshot(engine_fds);
		for (size_t i = 0; i < sizeof(engine_fds); i++)
			engine_fds[i] &= (uint8_t)~before[i];
	}
	release_fds(fillers, n_fillers);
	if (!shim.engine)
		return create_errno ? -create_errno : -EINVAL;
	shim.stack = tpa_engine_stack(shim.engine);
	shim_family_join();
	shim.wait_fd = tpa_engine_wait_fd(shim.engine);
	/* A port with nothing to sleep on (memif in DPDK 22.11 has no Rx interrupts) could only
	 * notice packets in 1 ms sleep slices: a millisecond per request. Unless told otherwise,
	 * poll it without sleeping, as user-space-only setups are run anyway. */
	if (shim.wait_fd < 0 && !shim.cfg.busy_poll_set)
		shim.cfg.busy_poll = true;
	struct tpa_engine_info info;
	tpa_engine_get_info(shim.engine, &info);
	shim.iface_ip = info.ipv4_addr;
	if (info.notice[0])
		fprintf(stderr, "tpa: %s\n", info.notice);
	last_poll_ns = tpa_engine_now_ns();
	start_progress_thread();
	atexit(engine_atexit);
	const char *st = getenv("TPA_SHIM_STATS");
	shim.stats = st && *st == '1';
	return 0;
}

void shim_engine_start_before_drop(void)
{
	if (shim.stack || early_rc)
		return;
	int rc = shim_engine_try_start(early_err, sizeof(early_err));
	if (rc < 0)
		early_rc = rc;
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

void shim_tx_defer_first(void)
{
	__atomic_store_n(&shim_tx_pending, true, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&progress_watching, __ATOMIC_SEQ_CST) && progress_kick_fd >= 0) {
		__atomic_store_n(&progress_watching, true, __ATOMIC_RELAXED);
		uint64_t one = 1;
		(void)!syscall(SYS_write, progress_kick_fd, &one, sizeof(one));
	}
}

void shim_tx_flush(void)
{
	if (!shim_tx_pending)
		return;
	__atomic_store_n(&shim_tx_pending, false, __ATOMIC_RELAXED);
	if (shim.stack)
		tpa_stack_flush(shim.stack);
}

void shim_tx_flush_unlocked(void)
{
	/* Best effort (the progress thread is the guarantee): never wait for the lock here,
	 * this may be any thread's kernel read. */
	if (!__atomic_load_n(&shim_tx_pending, __ATOMIC_RELAXED) || !shim_trylock())
		return;
	shim_tx_flush();
	shim_unlock();
}

int shim_engine_poll(void)
{
	if (!shim.engine)
		return 0;
	if (!progress_started) {
		/* A fork child that uses the shared stack: its own background progress (the
		 * parent's thread did not survive the fork), with its own kick fd. */
		progress_kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		last_poll_ns = tpa_engine_now_ns();
		start_progress_thread();
	}
	/* The replies of the last turn leave before the next burst is processed. */
	shim_tx_flush();
	int n = tpa_engine_poll(shim.engine); /* ends with a flush of its own */
	uint64_t now = tpa_engine_now_ns();
	__atomic_store_n(&last_poll_ns, now, __ATOMIC_RELAXED);
	shim_publish_poll(now);
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
