/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The port guard: EAL's interrupt thread and the threads polling a memif port never touch the
 * port at the same time.
 *
 * DPDK 22.11's net_memif runs its control channel in EAL's interrupt thread. When the peer
 * goes (exits, is killed, refuses us), that thread takes the link down and, in the same
 * callback, unmaps the shared rings and frees the PMD's table of them, with no lock against the
 * thread inside rte_eth_rx_burst/tx_burst: a burst that read the ring address just before
 * copies into unmapped memory (SIGSEGV in librte_net_memif). On a busy-polling server the
 * polling thread is inside a burst most of the time, so each client that leaves is a chance.
 * At exit the engine's own rte_eth_dev_stop/close races that thread the same way, and the
 * PMD's close frees its listener without unregistering it.
 *
 * So: a burst holds the guard for its length; EAL's interrupt thread holds it for one round of
 * callbacks, from the return of its epoll_wait to its next call (the shim sees that epoll_wait,
 * as every libc call of the process, and calls tpa_engine_epoll_wait_begin/end around it). A
 * burst that finds the interrupt side in skips, as if the ring were empty or full: the link
 * is changing anyway. The engine takes the interrupt side itself to restart or stop the port.
 *
 * The burst flag is in the engine (shared memory): a fork child that polls the port is kept
 * out as well. It holds the burster's pid, so that a process killed inside a burst does not
 * hold the port for ever.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <rte_interrupts.h>
#include <rte_pause.h>

#include "engine_impl.h"

/* The guard of this process's memif port, NULL while there is none. Read without the lock by
 * the interrupt thread's hooks (a cheap test in every epoll_wait of the process). */
static struct port_guard *installed;
/* Serialises the interrupt side (the interrupt thread, and the engine restarting or stopping
 * the port): held for a whole round. Process-local: only the creator has the interrupt thread.
 */
static pthread_mutex_t intr_mu = PTHREAD_MUTEX_INITIALIZER;
/* The interrupt thread holds intr_mu between two epoll_wait calls. */
static __thread int intr_holding;
static pid_t self_pid;
static int atfork_done;

static void guard_atfork_child(void)
{
	self_pid = getpid();
	/* The interrupt thread is not in the child: nothing holds the interrupt side there. */
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	intr_mu = fresh;
	intr_holding = 0;
}

void port_guard_install(struct port_guard *g)
{
	__atomic_store_n(&g->burst, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&g->intr, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&g->stopped, 0, __ATOMIC_RELAXED);
	self_pid = getpid();
	if (!atfork_done) {
		atfork_done = 1;
		pthread_atfork(NULL, NULL, guard_atfork_child);
	}
	__atomic_store_n(&installed, g, __ATOMIC_RELEASE);
}

int port_guard_enter(struct port_guard *g)
{
	/* Dekker with port_guard_lock: each side announces itself, then looks at the other. */
	__atomic_store_n(&g->burst, self_pid, __ATOMIC_SEQ_CST);
	if (__builtin_expect(!__atomic_load_n(&g->intr, __ATOMIC_SEQ_CST), 1) &&
	    __builtin_expect(!__atomic_load_n(&g->stopped, __ATOMIC_RELAXED), 1))
		return 1;
	__atomic_store_n(&g->burst, 0, __ATOMIC_RELEASE);
	return 0;
}

void port_guard_leave(struct port_guard *g)
{
	__atomic_store_n(&g->burst, 0, __ATOMIC_RELEASE);
}

/* Wait until no burst is under way: bursts are short (a copy of at most a burst of frames),
 * so spin, then yield; after 100 ms check that the burster still exists. */
static void wait_no_burst(struct port_guard *g)
{
	uint64_t spins = 0;
	pid_t p;
	while ((p = __atomic_load_n(&g->burst, __ATOMIC_SEQ_CST)) != 0) {
		if (++spins < 1000) {
			rte_pause();
			continue;
		}
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
		if (spins % 1000 == 0 && p != self_pid && kill(p, 0) < 0 && errno == ESRCH)
			__atomic_compare_exchange_n(&g->burst, &p, 0, 0, __ATOMIC_SEQ_CST,
			                            __ATOMIC_SEQ_CST);
	}
}

void port_guard_lock(struct port_guard *g)
{
	pthread_mutex_lock(&intr_mu);
	__atomic_store_n(&g->intr, 1, __ATOMIC_SEQ_CST);
	wait_no_burst(g);
}

void port_guard_unlock(struct port_guard *g)
{
	__atomic_store_n(&g->intr, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&intr_mu);
}

void port_guard_retire(struct port_guard *g, int for_good)
{
	/* The caller holds the interrupt side (port_guard_lock) and has stopped the port. */
	if (for_good) {
		/* EAL stays up with its interrupt thread but has no port for it any more, and the
		 * PMD left a freed listener registered: the thread's next round would run it. It
		 * blocks in tpa_engine_epoll_wait_end instead, until the process ends. The guard
		 * itself (in memory about to go) is no longer looked at: the lock is enough. */
		return;
	}
	__atomic_store_n(&installed, NULL, __ATOMIC_RELEASE);
	port_guard_unlock(g);
}

void tpa_engine_epoll_wait_begin(void)
{
	if (!intr_holding)
		return;
	/* The round of callbacks is over. */
	intr_holding = 0;
	struct port_guard *g = __atomic_load_n(&installed, __ATOMIC_ACQUIRE);
	if (g)
		__atomic_store_n(&g->intr, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&intr_mu);
}

void tpa_engine_epoll_wait_end(void)
{
	if (!__atomic_load_n(&installed, __ATOMIC_ACQUIRE) || !rte_thread_is_intr())
		return;
	int saved = errno;
	pthread_mutex_lock(&intr_mu);
	struct port_guard *g = __atomic_load_n(&installed, __ATOMIC_ACQUIRE);
	if (!g) {
		pthread_mutex_unlock(&intr_mu);
		errno = saved;
		return;
	}
	__atomic_store_n(&g->intr, 1, __ATOMIC_SEQ_CST);
	wait_no_burst(g);
	intr_holding = 1;
	errno = saved;
}

int tpa_engine_eal_thread(void)
{
	return rte_thread_is_intr();
}

ssize_t tpa_engine_sendmsg_failed(const struct msghdr *msg)
{
	/* The memif server greets a new peer from its listener callback and, if that send fails
	 * (the peer already went: a client killed while it connected), closes the socket without
	 * unregistering the callback it registered for it: at its next rebuild EAL's interrupt
	 * thread panics on the closed fd ("Error adding fd ... epoll_ctl"), or a reused fd number
	 * runs the callback on freed memory. Reporting the send as done leaves the PMD on its
	 * normal path: the peer's end of file comes next and is cleaned up like any departure. */
	int err = errno;
	if ((err == EPIPE || err == ECONNRESET || err == ENOTCONN) &&
	    __atomic_load_n(&installed, __ATOMIC_ACQUIRE) && rte_thread_is_intr()) {
		size_t len = 0;
		for (size_t i = 0; i < (size_t)msg->msg_iovlen; i++)
			len += msg->msg_iov[i].iov_len;
		return (ssize_t)len;
	}
	errno = err;
	return -1;
}
