/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Library start, the process-wide lock, accelerated socket lifetime, fork.
 *
 * The constructor only reads configuration (a malformed setting stops the program here, before
 * main) and resolves libc; the engine starts later, at the first accelerated socket.
 * fork: the prepare handler takes the lock so the child never inherits a half-done stack
 * operation; the child marks every accelerated socket inherited (see shim.h).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"
#include "tpa/stack.h"

struct shim_state shim = {.wait_fd = -1};

/* Recursive: a purge path (close of an fd number the engine reuses) may run while we hold it. */
static pthread_mutex_t shim_mutex = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
/* Every live shim_sock, for fork. */
static struct shim_sock_node {
	struct shim_sock_node *next, *prev;
} all_socks = {&all_socks, &all_socks};

struct shim_sock_with_node {
	struct shim_sock sock;
	struct shim_sock_node node;
};

void shim_engine_validate_config(void);
void shim_epoll_fd_gone(int fd);

/* Nesting depth of the owner; only the owning thread touches it. */
static int lock_depth;

/* Threads blocked in shim_lock: a spinning waiter that drops and retakes the lock between
 * rounds (no syscall in between) lets them in (shim_lock_wanted). */
static int lock_waiters;

void shim_lock(void)
{
	if (pthread_mutex_trylock(&shim_mutex) != 0) {
		__atomic_add_fetch(&lock_waiters, 1, __ATOMIC_RELAXED);
		pthread_mutex_lock(&shim_mutex);
		__atomic_sub_fetch(&lock_waiters, 1, __ATOMIC_RELAXED);
	}
	lock_depth++;
}

bool shim_lock_wanted(void)
{
	return __atomic_load_n(&lock_waiters, __ATOMIC_RELAXED) > 0;
}

/* Take the lock only if nobody holds it, this thread included: for work that may be skipped
 * (a later poll does it) and must never run nested inside a stack call, e.g. from a signal
 * handler that interrupted one, nor wait for threads that are not the program's. */
bool shim_trylock(void)
{
	if (pthread_mutex_trylock(&shim_mutex) != 0)
		return false;
	if (lock_depth > 0) {
		pthread_mutex_unlock(&shim_mutex);
		return false;
	}
	lock_depth++;
	return true;
}

void shim_unlock(void)
{
	lock_depth--;
	pthread_mutex_unlock(&shim_mutex);
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
	if (shim.stack)
		tpa_sock_set_user(shim.stack, sock, &w->sock);
	return &w->sock;
}

int shim_close_all_at_exit(void)
{
	int n = 0;
	if (!shim.stack || shim.forked_child)
		return 0;
	for (struct shim_sock_node *nd = all_socks.next; nd != &all_socks; nd = nd->next) {
		struct shim_sock_with_node *w =
		        (struct shim_sock_with_node *)((char *)nd -
		                                       offsetof(struct shim_sock_with_node, node));
		if (w->sock.inherited)
			continue;
		tpa_sock_set_user(shim.stack, w->sock.sock, NULL);
		tpa_close(shim.stack, w->sock.sock);
		w->sock.inherited = true; /* the fd may still be used by a late destructor: EBADF */
		n++;
	}
	return n;
}

void shim_sock_unref(struct shim_sock *s)
{
	if (--s->refs > 0)
		return;
	shim_epoll_forget(s);
	if (!s->inherited && shim.stack) {
		tpa_sock_set_user(shim.stack, s->sock, NULL);
		tpa_close(shim.stack, s->sock);
		tpa_stack_flush(shim.stack);
		shim_sleepers_kick();
	}
	struct shim_sock_with_node *w = (struct shim_sock_with_node *)s;
	w->node.prev->next = w->node.next;
	w->node.next->prev = w->node.prev;
	free(w);
}

void shim_fd_appeared(int fd)
{
	shim_epoll_fd_gone(fd);
	shim_pending_forget(fd);
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

void shim_sock_event(void *ctx, int sock, uint32_t events)
{
	struct shim_sock *s = shim.stack ? tpa_sock_get_user(shim.stack, sock) : NULL;
	if (!s)
		return;
	uint32_t edges = events & ~s->events;
	struct tpa_sock_state st;
	if ((events & (TPA_EV_IN | TPA_EV_OUT)) && tpa_sock_state(shim.stack, sock, &st) == 0) {
		if (events & TPA_EV_IN) {
			if ((int)st.rcv_queued > s->last_nread)
				edges |= TPA_EV_IN;
			s->last_nread = (int)st.rcv_queued;
		}
		if (events & TPA_EV_OUT) {
			if ((int)st.snd_queued < s->last_nwrite)
				edges |= TPA_EV_OUT;
			s->last_nwrite = (int)st.snd_queued;
		}
	}
	s->events = events;
	s->ev_seq++;
	shim_sleep_note_event();
	shim_epoll_notify(s, edges);
}

static void atfork_prepare(void)
{
	shim_lock();
}

static void atfork_parent(void)
{
	shim_unlock();
}

static void atfork_child(void)
{
	shim_sleepers_reset();
	if (shim.engine) {
		shim.forked_child = true;
		for (struct shim_sock_node *n = all_socks.next; n != &all_socks; n = n->next) {
			struct shim_sock_with_node *w =
			        (struct shim_sock_with_node *)((char *)n -
			                                       offsetof(struct shim_sock_with_node,
			                                                node));
			w->sock.inherited = true;
		}
	}
	/* The forking thread holds the mutex (the prepare handler's hold plus whatever the
	 * code that forked held, e.g. the engine's watchdog fork during engine start). The
	 * child's thread has a new tid, so the recursive mutex would not recognise it as owner:
	 * start a fresh one and re-take the holds the interrupted code will release. */
	int depth = lock_depth - 1;
	pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
	memcpy(&shim_mutex, &fresh, sizeof(fresh));
	lock_depth = 0;
	lock_waiters = 0;
	while (depth-- > 0)
		shim_lock();
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
	shim_engine_validate_config();
	if (shim_fdt_init() < 0)
		shim_die("tpa: cannot reserve memory for the fd table");
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	shim.enabled = true;
}
