/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libtpa_shim internals: the fd table, accelerated sockets, the engine lock and blocking.
 *
 * Contract:
 * - Every accelerated socket keeps a real kernel fd number; fd_table[fd] points at its
 *   struct shim_sock (several fds after dup). An fd without an entry is the kernel's: every
 *   call on it goes straight to libc.
 * - A socket becomes accelerated when it is made a listener on a selected port (listen) or
 *   connects to a selected destination (connect); until then it is a plain kernel socket.
 * - One lock (shim_lock), shared by every process of the fork family (family.h), serialises
 *   every use of the engine and the stack and every change of the fd table. Blocking waits
 *   release it while they sleep.
 * - After fork() parent and child share the engine and the stack: the child uses inherited
 *   accelerated sockets like its own; a stack socket closes when no process of the family
 *   holds it any more (family.h).
 */
#ifndef TPA_SHIM_H
#define TPA_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "family.h"
#include "real.h"

struct tpa_stack;
struct shim_epoll_member;

enum shim_kind {
	SHIM_LISTENER = 1, /* listening: the fd is also the kernel listener holding the port */
	SHIM_CONN = 2,     /* a connection (or connecting); the fd is an unconnected socket */
};

struct shim_sock {
	int sock; /* the stack's socket id */
	enum shim_kind kind;
	int refs;        /* fd table entries pointing here (dup) */
	bool nonblock;   /* O_NONBLOCK of the open file description */
	bool inherited;  /* closed at exit (or no room in the family): never touch the stack */
	bool wildcard;   /* listener bound to INADDR_ANY: also accept from the kernel fd */
	bool connecting; /* connect() returned EINPROGRESS and nobody has seen the outcome */
	bool shut_wr;    /* shutdown(SHUT_WR/RDWR) done: writes fail with EPIPE */
	bool v6;         /* an AF_INET6 socket: addresses are shown IPv4-mapped (::ffff:a.b.c.d) */
	bool shut_rd;    /* a listener shut down (SHUT_RD/RDWR): accept() fails until listen() */
	/* A read took less than it asked for, without an end of stream or error, and no hook call
	 * came since: nothing is readable (nothing arrives without one). A wait drops members
	 * waiting only for input on this without asking the stack (poll.c member_bits). */
	bool rd_dry;
	uint32_t events; /* last readiness reported by the stack's sock_event hook */
	/* readable bytes at the last hook call or read: new data = IN edge. Only edge-triggered
	 * members use it, so it is kept only while there are some (n_et), and set afresh from the
	 * stack when the first one comes. */
	int last_nread;
	int last_nwrite; /* unacknowledged bytes then: space freed = OUT edge */
	/* poll bits of the last hook call, true while the lock is held since (lock_epoch): a
	 * socket changes only under the lock, through a hook or a call, which resets it; never
	 * set on an inherited socket (reset when it becomes one) */
	uint32_t bits;
	uint64_t bits_epoch;
	int kfd;  /* one kernel fd of ours for this socket (kernel accept for listeners) */
	int busy; /* calls of this process using it now, maybe asleep (shim_sock_idle) */
	struct shim_epoll_member *members; /* epoll registrations (removed when refs hit 0) */
	int n_et;                          /* how many of them are edge-triggered */
};

struct shim_state {
	struct shim_config cfg;
	bool enabled;       /* something is selected */
	bool engine_failed; /* engine start failed once (we already stopped the program) */
	bool forked_child;  /* a fork child of an engine user: shares the family's engine */
	uint32_t iface_ip;  /* IPv4 address of TPA_IFACE (network order), found at engine start */
	struct tpa_engine *engine;
	struct tpa_stack *stack;
	int wait_fd; /* engine wait fd or -1 */
	/* Connections to an accelerated listener that the kernel socket accepted instead of the
	 * stack: legitimately only from this host (loopback, or the interface's own address),
	 * which never crosses the interface. Shown with the stats (TPA_SHIM_STATS). */
	uint64_t kernel_accepted;
	uint64_t kernel_accepted_remote; /* from another host later: steering missed them */
	bool stats; /* TPA_SHIM_STATS=1: counters at exit, listeners at start */
};

extern struct shim_state shim;

/* ---- lock ----
 * Inline: the family levels' uncontended path (family.h); core.c and family.c do the rest:
 * the local level busy, the family level needed, or a nested taking by the thread that holds
 * it (its token in the lock word says so: shim_family_held_here), which only counts. */
/* Takings beyond the first by the thread that holds the lock; only that thread uses it. */
extern uint32_t shim_lock_nested;
extern uint64_t shim_lock_epoch;
void shim_lock_rest(bool have_local); /* core.c */
static inline void shim_lock(void)
{
	bool have_local = shim_family_local_try_inline();
	if (__builtin_expect(have_local && !shim_family_multi_inline(), 1)) {
		shim_lock_epoch++;
		return;
	}
	shim_lock_rest(have_local);
}
static inline void shim_unlock(void)
{
	if (__builtin_expect(shim_lock_nested != 0, 0))
		shim_lock_nested--;
	else
		shim_family_unlock_inline();
}
/* Take it only if nobody holds it, this thread included (core.c). */
bool shim_trylock(void);
/* Another thread waits for the lock: a spinning round yields to it (core.c). */
bool shim_lock_wanted(void);
/* shim_lock_epoch counts this process's takings of the lock (never 0): what was seen under the
 * same value was seen under the lock held since. */

/* ---- deferred output (engine.c) ----
 * Sends queue their frames (shim_tx_defer); they leave in one device burst at the thread's
 * next engine poll or wait, at close/shutdown/exit, or from the progress thread after 1 ms.
 * shim_tx_flush: lock held. shim_tx_flush_unlocked: before a pass-through call that may block
 * (best effort, never waits for the lock). */
extern bool shim_tx_pending; /* frames queued and not handed to the device yet (engine.c) */
void shim_tx_defer_first(void);
static inline void shim_tx_defer(void)
{
	if (!shim_tx_pending)
		shim_tx_defer_first(); /* the first of the turn: the progress thread may need a kick
		                        */
}
void shim_tx_flush(void);
void shim_tx_flush_unlocked(void);

/* ---- fd table (fdtable.c) ---- */
/* Size = hard RLIMIT_NOFILE (capped); fds beyond it are never accelerated. */
int shim_fdt_init(void);
/* The table (fdtable.c), read inline by shim_fdt_get on every call: one word per fd, the low
 * bit the fd's FD_CLOEXEC; shim_fdt_n is 0 until the table exists, then its size. */
#define SHIM_FDT_CLOEXEC ((uintptr_t)1)
extern uintptr_t *shim_fdt_slots;
extern uint32_t shim_fdt_n;
static inline struct shim_sock *shim_fdt_get(int fd)
{
	/* One unsigned compare: negative fds and fds beyond the table (or no table yet). */
	if ((uint32_t)fd >= __atomic_load_n(&shim_fdt_n, __ATOMIC_ACQUIRE))
		return NULL;
	uintptr_t v = __atomic_load_n(&shim_fdt_slots[fd], __ATOMIC_ACQUIRE);
	return (struct shim_sock *)(v & ~SHIM_FDT_CLOEXEC);
}
bool shim_fdt_cloexec(int fd);
void shim_fdt_set(int fd, struct shim_sock *s, bool cloexec);
void shim_fdt_set_cloexec(int fd, bool cloexec);
/* Remove the entry (if any) and return it. */
struct shim_sock *shim_fdt_take(int fd);
int shim_fdt_size(void);

/* ---- sockets (core.c) ---- */
struct shim_sock *shim_sock_new(int sock, enum shim_kind kind, int kfd);
/* Process exit (lock held): close every accelerated socket, as the kernel closes a dying
 * process's fds (FIN after queued data, RST with unread data). Returns how many. */
int shim_close_all_at_exit(void);
/* Drop one fd's reference (lock held). The last one removes the socket from every epoll set
 * and closes the stack socket unless another process of the family still holds it. */
void shim_sock_unref(struct shim_sock *s);
/* A call that took s->busy++ after taking the lock is done with s (lock held): the last fd
 * closed meanwhile by another thread, s goes now. */
void shim_sock_idle(struct shim_sock *s);
/* s now stands for stack socket `sock` instead of its old one (lock held): a listener shut down
 * gets a fresh bound socket in place of the closed listener (socket.c). */
void shim_sock_renumber(struct shim_sock *s, int sock);
/* An fd number came back from the kernel: any entry there is stale (closed behind our back). */
void shim_fd_appeared(int fd);
/* fd is (now also) a descriptor of s: in the table with the program's FD_CLOEXEC, and the
 * kernel fd made invisible to exec'd images (lock held); socket.c */
void shim_adopt_fd(int fd, struct shim_sock *s, bool app_cloexec);
/* Errno-style helper: -errno in, -1 out with errno set; values >= 0 pass. */
long shim_ret(long r);

/* ---- engine (engine.c) ---- */
/* Start the engine if needed (lock held). Stops the program with one line on failure. */
void shim_engine_ensure(void);
/* The same without stopping the program: 0, or -errno with the reason in err (lock held). */
int shim_engine_try_start(char *err, size_t errlen);
/* The process is about to give up root (privileges.c): start the engine while it can. A
 * failure is kept and returned by every later shim_engine_try_start (lock held). */
void shim_engine_start_before_drop(void);
/* TPA_USER (privileges.c): start the engine now, then become that user (constructor; stops
 * the program with one line when the user does not exist or the process is not root). */
void shim_become_user(void);
/* Stop the program: the engine could not start, for the reason err. */
void shim_engine_fatal(const char *err) __attribute__((noreturn));
/* The engine opened fd at its start (exec.c: a relay helper keeps these). */
bool shim_engine_owns_fd(int fd);
/* What exit does for the engine (close this process's sockets, linger for their FINs, leave
 * the family or tear the engine down): for a helper that ends with _exit (lock not held). */
void shim_engine_exit(void);
/* exec (exec.c): accelerated connections the new image keeps become kernel sockets relayed
 * to the stack by a helper process of the family; kept listeners stay kernel listeners. */
void shim_exec_prepare(void);
void shim_exec_failed(void);

/* Checks the engine settings now (constructor: a typo stops the program before main());
 * returns the socket table size the stack will have. */
uint32_t shim_engine_validate_config(void);
/* atfork child handler: a fork child has no progress thread (threads do not survive fork);
 * it gets its own at its first poll of the shared engine, which a child that never uses a
 * socket never makes. */
void shim_engine_fork_child(void);
/* The family's dead processes reaped: what they alone held is closed (core.c, lock held). */
void shim_family_check(void);
/* Live processes of the family other than this one, dead ones reaped first (core.c). */
int shim_family_others_alive(void);

/* One poll round (lock held). */
int shim_engine_poll(void);
uint64_t shim_now_ns(void);
uint64_t shim_next_timer_ns(void);

#include "sleep.h"

/* ---- waiting (wait.c): the one spin-then-sleep wait of every blocking call ---- */
struct shim_waiter {
	/* Lock held: poll the engine and look at what the caller waits for. look_kernel: also
	 * look at its kernel fds without blocking (a syscall: asked on the first look, after a
	 * sleep and every 200 us of spinning). > 0: done, the wait returns it; 0: not yet;
	 * < 0: -errno, the wait returns it. */
	int (*check)(void *arg, bool look_kernel);
	/* Lock not held: sleep in the kernel on the caller's kernel fds, the engine's wait fd
	 * and the kick fd, with signal mask `mask`, until `ts` (NULL: no limit). >= 0: woke
	 * (what woke it is for the next check to see); -EINTR: a handler ran; < 0: error. */
	int (*sleep)(void *arg, const struct timespec *ts, const sigset_t *mask);
	void *arg;
};
/* Lock held (released while spinning and sleeping). deadline_ns: absolute shim_now_ns()
 * time, UINT64_MAX = none, <= now: look once. app_mask: the mask to sleep with (ppoll,
 * epoll_pwait), NULL = the thread's. Returns check's result, 0 at the deadline, -EINTR. */
int shim_wait(const struct shim_waiter *w, uint64_t deadline_ns, const sigset_t *app_mask);
/* Block until cond(arg) holds (1), the deadline passes (0) or a signal arrives (-EINTR).
 * extra_fd (>= 0) is a kernel fd also worth waking for (POLLIN). */
int shim_block(bool (*cond)(void *), void *arg, int extra_fd, uint64_t deadline_ns);
/* Block every signal but faults; the old mask in orig. */
void shim_block_sigs(sigset_t *orig);

/* ---- readiness ---- */
/* The stack's sock_event hook. */
struct tpa_sock_state;
void shim_sock_event(void *ctx, int sock, const struct tpa_sock_state *st);
/* Current readiness, EPOLL* bits (lock held). */
uint32_t shim_sock_readiness(struct shim_sock *s);
/* The poll(2)/epoll bits of a stack socket's state (Linux's rules: poll.c). */
uint32_t shim_poll_bits(const struct tpa_sock_state *st);
/* Readiness changed (s->bits just set by the hook): `edges` are the bits that rose or were
 * renewed (new data, space freed); level-triggered members look at the current state (lock
 * held); poll.c */
void shim_epoll_notify(struct shim_sock *s, uint32_t edges);
/* Remove every epoll registration of s (lock held); poll.c */
void shim_epoll_forget(struct shim_sock *s);
/* An fd number was closed or reused: drop the epoll state kept under it (lock not held). */
void shim_epoll_fd_gone(int fd);
/* The IN edge tracking of s's edge-triggered members starts again from what is readable now
 * (lock held); poll.c. */
void shim_et_restart(struct shim_sock *s);
/* socket() made fd (lock not held): a TCP socket's kernel epoll registrations are kept from
 * now on, for shim_epoll_adopted; any other resets what was kept under the number. */
void shim_epoll_candidate(int fd, int domain, int type);
/* The shim took fd over as s (lock held): the kernel epoll registrations made before move to
 * s, with the same events and data. */
void shim_epoll_adopted(int fd, struct shim_sock *s);

/* SIGPIPE on EPIPE unless MSG_NOSIGNAL (as the kernel does). */
void shim_raise_sigpipe(void);

#endif
