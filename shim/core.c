/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Library start, the process-wide lock, accelerated socket lifetime, fork.
 *
 * The constructor only reads configuration (a malformed setting stops the program here, before
 * main) and resolves libc; the engine starts later, at the first accelerated socket.
 * fork: the prepare handler takes the lock so the child never inherits a half-done stack
 * operation and reserves the child's place in the family (family.h); the child keeps using
 * every inherited accelerated socket on the shared stack (see shim.h).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "family.h"
#include "shim.h"
#include "tpa/stack.h"

struct shim_state shim = {.wait_fd = -1};

/* The lock is the family's (family.c): recursive, since a purge path (close of an fd number
 * the engine reuses) may run while we hold it; process-shared and robust. */
/* Every live shim_sock, for fork. */
static struct shim_sock_node {
	struct shim_sock_node *next, *prev;
} all_socks = {&all_socks, &all_socks};

struct shim_sock_with_node {
	struct shim_sock sock;
	struct shim_sock_node node;
};

/* This process's socket for each stack socket id (the stack is shared by the family, and each
 * process has its own struct shim_sock at its own address). by_id_n is 0 until by_id exists. */
static struct shim_sock **by_id;
static uint32_t by_id_n;

/* shim.h says what it is. */
uint32_t shim_lock_nested;

/* Threads (of any process of the family) blocked in shim_lock: a spinning waiter that drops
 * and retakes the lock between rounds (no syscall in between) lets them in (shim_lock_wanted).
 */
static void family_events_catch_up(void);
static inline void sock_state_seen(int sock, const struct tpa_sock_state *st);

uint64_t shim_lock_epoch = 1;

void shim_lock_rest(bool have_local)
{
	if (!have_local && shim_family_held_here()) {
		shim_lock_nested++;
		return;
	}
	bool family = shim_family_lock_rest(have_local);
	shim_lock_epoch++;
	/* The family level: other processes may have run the stack (one process alone: nobody
	 * else runs it). */
	if (family)
		family_events_catch_up();
}

bool shim_lock_wanted(void)
{
	return shim_family_lock_wanted();
}

/* Take the lock only if nobody holds it, this thread included: for work that may be skipped
 * (a later poll does it) and must never run nested inside a stack call, e.g. from a signal
 * handler that interrupted one, nor wait for threads that are not the program's. */
bool shim_trylock(void)
{
	if (!shim_family_trylock()) /* busy, by this thread too */
		return false;
	shim_lock_epoch++;
	family_events_catch_up();
	return true;
}

/* Another process of the family ran the stack: its socket events went to its own sockets.
 * Ours may have changed too: look at their state (edges and ready lists follow from it). */
static void family_events_catch_up(void)
{
	if (!shim.stack || !shim_family_events_from_others())
		return;
	for (struct shim_sock_node *nd = all_socks.next; nd != &all_socks; nd = nd->next) {
		struct shim_sock_with_node *w =
		        (struct shim_sock_with_node *)((char *)nd -
		                                       offsetof(struct shim_sock_with_node, node));
		if (!w->sock.inherited) {
			struct tpa_sock_state st;
			tpa_sock_state(shim.stack, w->sock.sock, &st);
			sock_state_seen(w->sock.sock, &st);
		}
	}
}

/* A stack socket no process holds any more (its last holder died). */
static void close_orphan(int sock)
{
	if (!shim.stack)
		return;
	tpa_close(shim.stack, sock);
	shim_sleepers_kick();
}

void shim_family_check(void)
{
	if (shim.stack)
		shim_family_reap(close_orphan);
}

int shim_family_others_alive(void)
{
	return shim_family_others(close_orphan);
}

long shim_ret(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

struct shim_sock *shim_sock_new(int sock, enum shim_kind kind, int kfd)
{
	struct shim_sock_with_node *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->sock.sock = sock;
	w->sock.kind = kind;
	w->sock.kfd = kfd;
	w->sock.refs = 1;
	w->node.next = all_socks.next;
	w->node.prev = &all_socks;
	all_socks.next->prev = &w->node;
	all_socks.next = &w->node;
	if (by_id && sock >= 0 && (uint32_t)sock < by_id_n)
		by_id[sock] = &w->sock;
	shim_family_hold(sock);
	return &w->sock;
}

/* s is this process's no more (closed at exit, or no room in the family): calls on it fail with
 * EBADF and the hook never sees it again, so it needs no look at the flag (lock held). */
static void sock_inherit(struct shim_sock *s)
{
	if (by_id && (uint32_t)s->sock < by_id_n && by_id[s->sock] == s)
		by_id[s->sock] = NULL;
	s->inherited = true;
	s->bits_epoch = 0; /* never seen ready again (poll.c member_bits) */
}

int shim_close_all_at_exit(void)
{
	int n = 0;
	if (!shim.stack)
		return 0;
	for (struct shim_sock_node *nd = all_socks.next; nd != &all_socks; nd = nd->next) {
		struct shim_sock_with_node *w =
		        (struct shim_sock_with_node *)((char *)nd -
		                                       offsetof(struct shim_sock_with_node, node));
		if (w->sock.inherited)
			continue;
		/* The fd may still be used by a late destructor: EBADF. */
		sock_inherit(&w->sock);
		/* Another process of the family may still hold it (a fork child serving it). */
		if (shim_family_release(w->sock.sock)) {
			tpa_close(shim.stack, w->sock.sock);
			n++;
		}
	}
	return n;
}

static void sock_destroy(struct shim_sock *s);

void shim_sock_unref(struct shim_sock *s)
{
	if (--s->refs > 0)
		return;
	/* A call of another thread still uses it (a read blocked on it): as in the kernel, where
	 * that call holds the file, the socket lives on until the call returns (shim_sock_idle). */
	if (s->busy > 0)
		return;
	sock_destroy(s);
}

void shim_sock_idle(struct shim_sock *s)
{
	if (--s->busy == 0 && s->refs == 0)
		sock_destroy(s);
}

static void sock_destroy(struct shim_sock *s)
{
	shim_epoll_forget(s);
	if (!s->inherited && shim.stack) {
		if (by_id && (uint32_t)s->sock < by_id_n)
			by_id[s->sock] = NULL;
		/* The connection lives on while a process of the family still has an fd for it. */
		if (shim_family_release(s->sock)) {
			tpa_close(shim.stack, s->sock);
			tpa_stack_flush(shim.stack);
			shim_sleepers_kick();
		}
	}
	struct shim_sock_with_node *w = (struct shim_sock_with_node *)s;
	w->node.prev->next = w->node.next;
	w->node.next->prev = w->node.prev;
	free(w);
}

void shim_sock_renumber(struct shim_sock *s, int sock)
{
	if (by_id && s->sock >= 0 && (uint32_t)s->sock < by_id_n && by_id[s->sock] == s)
		by_id[s->sock] = NULL;
	shim_family_release(s->sock);
	s->sock = sock;
	if (by_id && sock >= 0 && (uint32_t)sock < by_id_n && !s->inherited)
		by_id[sock] = s;
	shim_family_hold(sock);
}

void shim_fd_appeared(int fd)
{
	shim_epoll_fd_gone(fd);
	if (!shim_fdt_get(fd))
		return;
	shim_lock();
	struct shim_sock *s = shim_fdt_take(fd);
	if (s)
		shim_sock_unref(s);
	shim_unlock();
}

void shim_raise_sigpipe(void)
{
	/* The kernel sends SIGPIPE to the calling thread. */
	pthread_kill(pthread_self(), SIGPIPE);
}

/* The bits that rose or were renewed since the last hook call (new data, space freed), for the
 * edge-triggered members of s; updates the IN edge tracking (lock held). */
static uint32_t et_edges(struct shim_sock *s, const struct tpa_sock_state *st)
{
	uint32_t edges = st->events & ~s->events;
	/* More readable than last seen: new data, or for a listener a new connection (the
	 * kernel wakes an edge-triggered listener for each one, accepted or not before). */
	if ((st->events & TPA_EV_IN) && (int)st->rcv_queued > s->last_nread)
		edges |= TPA_EV_IN;
	s->last_nread = (st->events & TPA_EV_IN) ? (int)st->rcv_queued : 0;
	if ((st->events & TPA_EV_OUT) && (int)st->snd_queued < s->last_nwrite)
		edges |= TPA_EV_OUT;
	return edges;
}

/* The hook, and a catch-up with what other processes of the family did (lock held). Inline:
 * the hook's body. */
static inline __attribute__((always_inline)) void sock_state_seen(int sock,
                                                                  const struct tpa_sock_state *st)
{
	/* One unsigned compare: a negative id, or no table yet (by_id_n is 0 then). Sockets are
	 * in by_id only while the stack exists and they are not inherited (sock_inherit). */
	if ((uint32_t)sock >= by_id_n)
		return;
	struct shim_sock *s = by_id[sock];
	if (!s)
		return;
	uint32_t events = st->events;
	uint32_t edges = 0; /* only edge-triggered members look at them */
	if (__builtin_expect(s->n_et != 0, 0))
		edges = et_edges(s, st);
	if (events & TPA_EV_OUT)
		s->last_nwrite = (int)st->snd_queued; /* kept for a first edge-triggered member */
	/* The epoll members' checks and the collection of this same look use these. */
	s->bits = shim_poll_bits(st);
	s->bits_epoch = shim_lock_epoch;
	s->events = events;
	s->rd_dry = false;
	shim_sleep_note_event();
	shim_epoll_notify(s, edges);
}

void shim_sock_event(void *ctx, int sock, const struct tpa_sock_state *st)
{
	(void)ctx;
	/* Other processes of the family may care (not about a catch-up's, which are theirs): they
	 * hear of it when the lock is let go, once per taking. */
	shim_family_events_pending = true;
	sock_state_seen(sock, st);
}

/* The forking code held the lock before our prepare handler (a fork from inside the shim). */
static bool fork_nested;

static bool fork_helper; /* a helper process of ours forks: none of this applies */

static void atfork_prepare(void)
{
	fork_helper = !shim.enabled;
	if (fork_helper)
		return;
	fork_nested = shim_family_held_here();
	shim_lock();
	/* A fork from inside the shim (the engine's watchdog) makes a helper, not a member. */
	if (!fork_nested)
		shim_family_fork_prepare(shim.engine != NULL);
}

static void atfork_parent(void)
{
	if (fork_helper)
		return;
	shim_family_fork_parent();
	shim_unlock();
}

static void atfork_child(void)
{
	/* The lock is the family's: it stays held by the parent's thread, which releases it in
	 * its own handler; this process has never taken it. */
	if (fork_helper)
		return;
	shim_lock_nested = 0;
	shim_family_lock_forget();
	if (fork_nested) {
		/* A helper forked from inside the shim (it only forks again or execs): it must
		 * never wait for the lock its parent holds. */
		shim.enabled = false;
		return;
	}
	/* Only the forking thread lives on here, and it is in no call of ours: the calls of the
	 * parent's other threads (a read blocked on a socket) use nothing in this process. */
	for (struct shim_sock_node *n = all_socks.next; n != &all_socks; n = n->next) {
		char *w = (char *)n - offsetof(struct shim_sock_with_node, node);
		((struct shim_sock_with_node *)w)->sock.busy = 0;
	}
	if (!shim.engine) {
		shim_family_fork_child_alone();
		return;
	}
	shim.forked_child = true;
	shim_engine_fork_child();
	if (!shim_family_fork_child()) {
		/* No room in the family table: this child cannot share the stack. Its inherited
		 * sockets only close (the parent keeps them), and it says so once. */
		static const char msg[] =
		        "tpa: a fork child cannot share the stack (more than "
		        "1024 processes): its inherited accelerated sockets fail\n";
		(void)!syscall(SYS_write, 2, msg, sizeof(msg) - 1);
		for (struct shim_sock_node *n = all_socks.next; n != &all_socks; n = n->next) {
			struct shim_sock_with_node *w =
			        (struct shim_sock_with_node *)((char *)n -
			                                       offsetof(struct shim_sock_with_node,
			                                                node));
			sock_inherit(&w->sock);
		}
	}
}

static void shim_die(const char *msg)
{
	syscall(SYS_write, 2, msg, strlen(msg));
	syscall(SYS_write, 2, "\n", 1);
	_exit(1);
}

__attribute__((constructor)) static void shim_init(void)
{
	char err[512];
	shim_real_init();
	shim_config_init(&shim.cfg);
	if (shim_config_load(&shim.cfg, err, sizeof(err)) < 0)
		shim_die(err);
	if (!shim_config_enabled(&shim.cfg))
		return;
	/* Engine settings are checked now too, so a typo stops the program before main(). */
	uint32_t max_socks = shim_engine_validate_config();
	if (shim_fdt_init() < 0)
		shim_die("tpa: cannot reserve memory for the fd table");
	if (shim_family_init(max_socks) < 0)
		shim_die("tpa: cannot map the memory shared with fork children");
	uint32_t n_ids = max_socks ? max_socks : 65536;
	by_id = calloc(n_ids, sizeof(*by_id));
	if (!by_id)
		shim_die("tpa: cannot reserve memory for the socket table");
	by_id_n = n_ids;
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	shim.enabled = true;
	if (shim.cfg.user[0])
		shim_become_user();
}
