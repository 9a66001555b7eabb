/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fork family: every process that shares one engine and stack (the process that started
 * it and its fork children, recursively), in memory shared across fork.
 *
 * Contract:
 * - shim_family_init (constructor, before any fork) maps one anonymous MAP_SHARED region:
 *   the process-shared, robust, recursive lock that replaces a process-local one (shim_lock),
 *   the sleepers registry (sleep.h), and a table of process slots, each with a bitmap of the
 *   stack socket ids that process holds (has at least one fd for).
 * - A process joins with a slot (the engine's starter at engine start; a fork child in the
 *   atfork child handler, in a slot its parent reserved and filled with a copy of its own
 *   bitmap before the fork: the child touches nothing per socket, so a child that never uses
 *   a socket costs what it did before). A slot's robust mutex is held by its process while it
 *   lives: a dead process (exit, _exit, SIGKILL) is found by a trylock (EOWNERDEAD), falling
 *   back to its pid when only the thread that took the mutex ended.
 * - A stack socket is closed when no live process holds it any more: by the process dropping
 *   its last fd (shim_family_release), or when a dead process is reaped (shim_family_reap),
 *   which closes what it alone held, as the kernel closes a dead process's fds.
 * - Every call but init and the fork hooks is made with the shim lock held.
 */
#ifndef TPA_SHIM_FAMILY_H
#define TPA_SHIM_FAMILY_H

#include <stdbool.h>
#include <stdint.h>

/* Processes of one family at once (Apache prefork's ServerLimit and PostgreSQL's backends fit):
 * 64 bytes each and a socket bitmap each (max_sockets / 8), touched only when used. */
#define SHIM_FAMILY_PROCS 1024

/* 0, or -1 when the region cannot be mapped (then the lock is process-local). */
int shim_family_init(uint32_t max_sockets);
bool shim_family_shared(void); /* the region exists */
/* The lock (core.c uses them, not recursive: core.c counts the depth); recovery of a dead
 * holder is done inside. Two levels: a process-local futex word, and the robust family mutex
 * while more than one process may use the stack (from the first fork on, until the family is
 * one process again, found when dead processes are reaped). */
bool shim_family_lock(void); /* true: the family level was taken too */
bool shim_family_trylock(void);
void shim_family_unlock(void);
/* The same two, inline for the lock's uncontended path (shim_lock, shim.h), from family.c's
 * state: the local level's futex word (0 free, else the holder thread's token, with
 * SHIM_FAMILY_WAITERS while others may wait for it), the calling thread's token (0 until its
 * first wait for the lock sets it), whether the holder holds the family mutex too, and the
 * family's "several processes" word (0: the local level is enough). The holder's token in the
 * word lets a thread see that it holds the lock already (shim_family_held_here), so nested
 * takings cost nothing on the uncontended path. The rest is out of line: the local level busy
 * or the family level needed (have_local: the local level is held already), a waiter to wake,
 * the family mutex to free. */
#define SHIM_FAMILY_WAITERS 0x80000000u
extern uint32_t shim_family_local_word;
extern __thread uint32_t shim_family_token __attribute__((tls_model("initial-exec")));
extern bool shim_family_holds_shared;
extern int32_t *shim_family_multi_word;
bool shim_family_lock_rest(bool have_local);
void shim_family_local_wake(void);
void shim_family_unlock_shared(void);
/* The local level taken at once (the family level may be needed too: shim_family_multi_inline).
 * False: busy, maybe by this very thread, or no token yet. */
static inline bool shim_family_local_try_inline(void)
{
	uint32_t me = shim_family_token, free_word = 0;
	return me && __atomic_compare_exchange_n(&shim_family_local_word, &free_word, me, false,
	                                         __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}
static inline bool shim_family_lock_inline(void)
{
	bool have_local = shim_family_local_try_inline();
	if (__builtin_expect(
	            have_local && !__atomic_load_n(shim_family_multi_word, __ATOMIC_ACQUIRE), 1))
		return false;
	return shim_family_lock_rest(have_local);
}
static inline void shim_family_unlock_inline(void)
{
	if (__builtin_expect(shim_family_holds_shared, 0))
		shim_family_unlock_shared();
	else if (__builtin_expect(
	                 __atomic_exchange_n(&shim_family_local_word, 0, __ATOMIC_RELEASE) &
	                         SHIM_FAMILY_WAITERS,
	                 0))
		shim_family_local_wake();
}
/* The calling thread holds the lock (its local level). */
bool shim_family_held_here(void);
static inline bool shim_family_multi_inline(void) /* shim_family_multi, inline */
{
	return __atomic_load_n(shim_family_multi_word, __ATOMIC_ACQUIRE) != 0;
}
bool shim_family_lock_wanted(void); /* a thread of any process of the family waits for it */
bool shim_family_multi(void);       /* the family level is taken (several processes) */
/* In a fork child: the local level copied from the parent is not ours, nor the thread's token
 * (a new thread id). */
void shim_family_lock_forget(void);

/* This process takes a slot (engine start). 0 or -1 (table full). */
int shim_family_join(void);
int shim_family_slot(void); /* -1 when not joined */
/* This process holds stack socket `sock` (a new accelerated socket). */
void shim_family_hold(int sock);
/* This process dropped its last fd of `sock`. True: nobody else holds it: close it. */
bool shim_family_release(int sock);
/* Reap every dead process: the sockets only it held are closed with close_fn. */
void shim_family_reap(void (*close_fn)(int sock));
/* Live processes other than this one (dead ones are reaped first, with close_fn). */
int shim_family_others(void (*close_fn)(int sock));
/* This process is about to exec (on = true) or its exec failed: once the exec succeeded the
 * kernel releases the slot's robust mutex while the pid lives on in the new image; the flag
 * makes that count as dead, so what only this process held is closed. */
void shim_family_exec(bool on);
/* A live process other than this one holds sock (lock held). */
bool shim_family_held_elsewhere(int sock);
/* This process leaves (exit): its slot is freed. */
void shim_family_leave(void);

/* Test hook, for a deterministic "process killed while it holds the lock" (tests/conformance/
 * case_fork_lock_kill.c): with TPA_TEST_STOP_LOCKED=N in the environment at start, true once in
 * the N-th fork child of a process, at its first send on an accelerated socket: the send then
 * stops that child (SIGSTOP) with the lock held, its data queued and flushed. Always false
 * otherwise. */
bool shim_family_test_stop_due(void);

/* fork: prepare (lock held) makes the lock the family's and, with the engine running,
 * reserves the child's slot; child claims it. Returns false in the child when it could not
 * join (table full). */
void shim_family_fork_prepare(bool engine);
void shim_family_fork_parent(void);
bool shim_family_fork_child(void);
/* fork child, the engine not started: the child gets a family (region) of its own. */
void shim_family_fork_child_alone(void);

/* Inspection (publish.c): the processes in the family's table, with the bitmap of stack
 * socket ids each holds (bit sock of bitmap[sock / 8]); reads only. Returns how many were
 * filled (lock held). */
struct shim_family_member {
	int pid;
	const uint8_t *bitmap;
	uint32_t nbits;
};
int shim_family_members(struct shim_family_member *out, int max);

/* Socket events raised by the stack: set (lock held) when the stack raised some; other
 * processes of the family hear of them when the family level is let go
 * (shim_family_unlock_shared: only a holder of it may have others to tell). Whether another
 * process raised some since this one last looked (its epoll ready lists then need a look at
 * its sockets' state). */
extern bool shim_family_events_pending;
bool shim_family_events_from_others(void);

#endif
