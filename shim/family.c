/* SPDX-License-Identifier: BSD-3-Clause */
/* The fork family's shared region; see family.h. */
#include "family.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sleep.h"

enum { SLOT_FREE = 0, SLOT_RESERVED, SLOT_ALIVE };

/* A slot reserved for a fork child that never claimed it (the fork failed) is freed after
 * this long; a child claims its slot as the first thing it does. */
#define RESERVED_EXPIRY_NS 10000000000ull

struct shim_proc {
	pthread_mutex_t alive; /* robust, held by the process while it lives */
	int32_t state;
	int32_t execing; /* exec in progress: a free mutex means the exec succeeded */
	pid_t pid;
	uint64_t reserved_ns;
};

struct shim_family {
	pthread_mutex_t lock;
	uint32_t lock_waiters;
	/* 1 while more than one process may take the lock (set at a fork, under both levels);
	 * 0 while this family is one process: the process-local level alone is enough. */
	int32_t multi;
	/* A process may join without a slot of ours (a fork before the engine started, a child
	 * that found the table full): multi stays 1 for good. */
	int32_t sticky;
	uint32_t nbits;
	uint64_t bitmap_bytes;
	uint64_t ev_seq;
	int32_t slots_hi; /* slots ever claimed are below this: the loops stop there */
	struct shim_sleep_registry sleepers;
	struct shim_proc procs[SHIM_FAMILY_PROCS];
	/* bitmaps follow, bitmap_bytes each */
};

static struct shim_family *fam;
/* The process-local level of the lock: a futex word (0 free, else the holder's token, with
 * SHIM_FAMILY_WAITERS while others may wait), taken first by every thread; the robust family mutex
 * is taken after it only while the family has several processes. A robust, process-shared,
 * recursive mutex costs ~100 instructions a round trip (its robust-list bookkeeping); this costs a
 * compare-and-swap. The uncontended path is inline (family.h), reading these four. */
uint32_t shim_family_local_word;
/* The thread's token in the local level's word: its thread id (never 0, unique among the
 * process's live threads, below 2^22 (pid_max), so clear of SHIM_FAMILY_WAITERS); 0 until
 * the thread first waits for the lock (thread_token). */
__thread uint32_t shim_family_token __attribute__((tls_model("initial-exec")));
/* The holder of the local level holds the family mutex too (it saw multi when it locked).
 * Only the thread holding the local level reads or writes it: a plain variable. */
bool shim_family_holds_shared;
/* &fam->multi, or a word that stays 0 while there is no region: one load says whether the
 * local level is enough. */
static int32_t no_region_multi;
int32_t *shim_family_multi_word = &no_region_multi;
static uint32_t local_waiters;
static int my_slot = -1;
static int forking_slot = -1; /* reserved for the child of the fork in progress */
static uint64_t ev_seen;
/* Test hook (family.h): TPA_TEST_STOP_LOCKED read at start; the forks this process made. */
static int test_stop_nth, test_forks;
static bool test_stop_armed;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Slots that may be in use: loops over the table stop there (a table sized for the largest
 * families costs a small one nothing per close). */
static int slots_in_use(void)
{
	return __atomic_load_n(&fam->slots_hi, __ATOMIC_ACQUIRE);
}

static uint8_t *bitmap(int slot)
{
	return (uint8_t *)(fam + 1) + (size_t)slot * fam->bitmap_bytes;
}

static void robust_init(pthread_mutex_t *m, int type)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutexattr_settype(&a, type);
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
}

static int map_region(uint32_t max_sockets)
{
	uint64_t bytes = ((uint64_t)max_sockets + 63) / 64 * 8;
	size_t size = sizeof(*fam) + (size_t)bytes * SHIM_FAMILY_PROCS;
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	fam = m;
	shim_family_multi_word = &fam->multi;
	robust_init(&fam->lock, PTHREAD_MUTEX_RECURSIVE);
	fam->nbits = max_sockets;
	fam->bitmap_bytes = bytes;
	for (int i = 0; i < SHIM_FAMILY_PROCS; i++)
		robust_init(&fam->procs[i].alive, PTHREAD_MUTEX_NORMAL);
	shim_sleep_use_shared(&fam->sleepers, -1);
	return 0;
}

int shim_family_init(uint32_t max_sockets)
{
	if (fam)
		return 0;
	const char *t = getenv("TPA_TEST_STOP_LOCKED");
	test_stop_nth = t ? atoi(t) : 0;
	return map_region(max_sockets ? max_sockets : 65536);
}

bool shim_family_shared(void)
{
	return fam != NULL;
}

static long futex(uint32_t *word, int op, uint32_t val)
{
	return syscall(SYS_futex, word, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

static uint32_t thread_token(void)
{
	if (!shim_family_token)
		shim_family_token = (uint32_t)syscall(SYS_gettid);
	return shim_family_token;
}

bool shim_family_held_here(void)
{
	/* Only this thread puts its token there: a relaxed look is enough. */
	uint32_t me = shim_family_token;
	return me && (__atomic_load_n(&shim_family_local_word, __ATOMIC_RELAXED) &
	              ~SHIM_FAMILY_WAITERS) == me;
}

static bool local_trylock(void)
{
	uint32_t free_word = 0;
	return __atomic_compare_exchange_n(&shim_family_local_word, &free_word, thread_token(),
	                                   false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

/* The waits and wakes apart: the uncontended lock and unlock stay a few instructions inline.
 * A thread that waited takes the word with the waiters mark (others may wait too: at worst
 * one wake too many), as a waiter marks a held word before it sleeps. */
static __attribute__((noinline)) void local_lock_wait(void)
{
	uint32_t me = thread_token();
	__atomic_add_fetch(&local_waiters, 1, __ATOMIC_RELAXED);
	uint32_t w = __atomic_load_n(&shim_family_local_word, __ATOMIC_RELAXED);
	for (;;) {
		if (w == 0) {
			if (__atomic_compare_exchange_n(&shim_family_local_word, &w,
			                                me | SHIM_FAMILY_WAITERS, false,
			                                __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				break;
			continue; /* w: the word now */
		}
		if (!(w & SHIM_FAMILY_WAITERS) &&
		    !__atomic_compare_exchange_n(&shim_family_local_word, &w,
		                                 w | SHIM_FAMILY_WAITERS, false, __ATOMIC_RELAXED,
		                                 __ATOMIC_RELAXED))
			continue;
		futex(&shim_family_local_word, FUTEX_WAIT, w | SHIM_FAMILY_WAITERS);
		w = __atomic_load_n(&shim_family_local_word, __ATOMIC_RELAXED);
	}
	__atomic_sub_fetch(&local_waiters, 1, __ATOMIC_RELAXED);
}

void shim_family_local_wake(void)
{
	futex(&shim_family_local_word, FUTEX_WAKE, 1);
}

static void local_unlock(void)
{
	if (__atomic_exchange_n(&shim_family_local_word, 0, __ATOMIC_RELEASE) & SHIM_FAMILY_WAITERS)
		shim_family_local_wake();
}

static bool family_multi(void)
{
	return __atomic_load_n(shim_family_multi_word, __ATOMIC_ACQUIRE) != 0;
}

/* A process killed while holding it: the state it was changing is taken as it is (the
 * stack's operations are short; what it alone held is closed when it is reaped). */
static __attribute__((noinline)) void shared_lock(void)
{
	int r = pthread_mutex_trylock(&fam->lock);
	if (r == EBUSY) {
		__atomic_add_fetch(&fam->lock_waiters, 1, __ATOMIC_RELAXED);
		r = pthread_mutex_lock(&fam->lock);
		__atomic_sub_fetch(&fam->lock_waiters, 1, __ATOMIC_RELAXED);
	}
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(&fam->lock);
	shim_family_holds_shared = true;
}

bool shim_family_lock_rest(bool have_local)
{
	if (!have_local)
		local_lock_wait();
	/* multi changes only under both levels: read under the local one, it holds. */
	if (!family_multi())
		return false;
	shared_lock();
	return true;
}

bool shim_family_lock(void)
{
	return shim_family_lock_inline();
}

bool shim_family_trylock(void)
{
	if (!local_trylock())
		return false;
	if (!family_multi())
		return true;
	int r = pthread_mutex_trylock(&fam->lock);
	if (r == EOWNERDEAD) {
		pthread_mutex_consistent(&fam->lock);
		r = 0;
	}
	if (r != 0) {
		local_unlock();
		return false;
	}
	shim_family_holds_shared = true;
	return true;
}

static void event_raised(void);

void shim_family_unlock_shared(void)
{
	if (shim_family_events_pending) {
		shim_family_events_pending = false;
		event_raised();
	}
	shim_family_holds_shared = false;
	pthread_mutex_unlock(&fam->lock);
	local_unlock();
}

void shim_family_unlock(void)
{
	shim_family_unlock_inline();
}

bool shim_family_multi(void)
{
	return family_multi();
}

bool shim_family_lock_wanted(void)
{
	if (__atomic_load_n(&local_waiters, __ATOMIC_RELAXED) > 0)
		return true;
	return fam && __atomic_load_n(&fam->lock_waiters, __ATOMIC_RELAXED) > 0;
}

/* Lock held. Another process may use the stack from now on (a fork is about to be made):
 * this thread takes the family level too, so the child finds it held until we release it. */
static void family_go_multi(bool sticky)
{
	if (!fam)
		return;
	if (sticky)
		__atomic_store_n(&fam->sticky, 1, __ATOMIC_RELAXED);
	if (!__atomic_load_n(&fam->multi, __ATOMIC_RELAXED))
		__atomic_store_n(&fam->multi, 1, __ATOMIC_RELEASE);
	if (!shim_family_holds_shared)
		shared_lock();
}

/* Lock held (both levels): no other process can take the lock any more (every other slot
 * is free and none can join without one): back to the local level alone. */
static void family_maybe_single(void)
{
	if (!shim_family_holds_shared || __atomic_load_n(&fam->sticky, __ATOMIC_RELAXED))
		return;
	for (int q = 0; q < slots_in_use(); q++)
		if (q != my_slot &&
		    __atomic_load_n(&fam->procs[q].state, __ATOMIC_ACQUIRE) != SLOT_FREE)
			return;
	__atomic_store_n(&fam->multi, 0, __ATOMIC_RELEASE);
}

static int claim_free_slot(int32_t new_state)
{
	for (int i = 0; i < SHIM_FAMILY_PROCS; i++) {
		int32_t want = SLOT_FREE;
		if (__atomic_compare_exchange_n(&fam->procs[i].state, &want, new_state, false,
		                                __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			int32_t hi = __atomic_load_n(&fam->slots_hi, __ATOMIC_RELAXED);
			while (hi < i + 1 &&
			       !__atomic_compare_exchange_n(&fam->slots_hi, &hi, i + 1, false,
			                                    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
				;
			return i;
		}
	}
	return -1;
}

static void take_alive(int slot)
{
	struct shim_proc *p = &fam->procs[slot];
	int r = pthread_mutex_lock(&p->alive); /* free, or left by a dead owner */
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(&p->alive);
	p->pid = getpid();
	p->execing = 0;
	__atomic_store_n(&p->state, SLOT_ALIVE, __ATOMIC_RELEASE);
}

int shim_family_join(void)
{
	if (!fam)
		return -1;
	if (my_slot >= 0)
		return 0;
	int s = claim_free_slot(SLOT_RESERVED);
	if (s < 0)
		return -1;
	memset(bitmap(s), 0, fam->bitmap_bytes);
	take_alive(s);
	my_slot = s;
	shim_sleep_set_owner(s);
	return 0;
}

int shim_family_slot(void)
{
	return my_slot;
}

void shim_family_hold(int sock)
{
	if (!fam || my_slot < 0 || sock < 0 || (uint32_t)sock >= fam->nbits)
		return;
	bitmap(my_slot)[sock / 8] |= (uint8_t)(1u << (sock % 8));
}

static bool slot_alive(int q)
{
	struct shim_proc *p = &fam->procs[q];
	int32_t st = __atomic_load_n(&p->state, __ATOMIC_ACQUIRE);
	if (st == SLOT_FREE)
		return false;
	if (st == SLOT_RESERVED)
		return mono_ns() - p->reserved_ns < RESERVED_EXPIRY_NS;
	int r = pthread_mutex_trylock(&p->alive);
	if (r == EBUSY)
		return true;
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(&p->alive);
	if (r == 0 || r == EOWNERDEAD)
		pthread_mutex_unlock(&p->alive);
	if (__atomic_load_n(&p->execing, __ATOMIC_ACQUIRE))
		return false; /* the pid is a new image now */
	/* The mutex is free: its process died, or only the thread that took it ended. */
	return p->pid > 0 && (kill(p->pid, 0) == 0 || errno == EPERM);
}

static void reap_slot(int q, void (*close_fn)(int sock));

/* Does a live process other than this one hold sock? Dead holders found on the way are
 * reaped. */
static bool held_elsewhere(int sock, void (*close_fn)(int sock))
{
	for (int q = 0; q < slots_in_use(); q++) {
		if (q == my_slot || fam->procs[q].state == SLOT_FREE)
			continue;
		if (!(bitmap(q)[sock / 8] & (1u << (sock % 8))))
			continue;
		if (slot_alive(q))
			return true;
		reap_slot(q, close_fn);
	}
	return false;
}

static void reap_slot(int q, void (*close_fn)(int sock))
{
	__atomic_store_n(&fam->procs[q].state, SLOT_FREE, __ATOMIC_RELEASE);
	shim_sleepers_reap(q);
	uint8_t *bm = bitmap(q);
	for (uint32_t byte = 0; byte < fam->bitmap_bytes; byte++) {
		if (!bm[byte])
			continue;
		for (int b = 0; b < 8; b++) {
			if (!(bm[byte] & (1u << b)))
				continue;
			int sock = (int)(byte * 8 + (uint32_t)b);
			bm[byte] &= (uint8_t) ~(1u << b);
			bool mine = my_slot >= 0 && (bitmap(my_slot)[byte] & (1u << b));
			if (!mine && !held_elsewhere(sock, close_fn) && close_fn)
				close_fn(sock);
		}
	}
}

void shim_family_exec(bool on)
{
	if (fam && my_slot >= 0)
		__atomic_store_n(&fam->procs[my_slot].execing, on ? 1 : 0, __ATOMIC_RELEASE);
}

bool shim_family_held_elsewhere(int sock)
{
	if (!fam || sock < 0 || (uint32_t)sock >= fam->nbits)
		return false;
	return held_elsewhere(sock, NULL);
}

bool shim_family_release(int sock)
{
	if (!fam || my_slot < 0 || sock < 0 || (uint32_t)sock >= fam->nbits)
		return true;
	bitmap(my_slot)[sock / 8] &= (uint8_t) ~(1u << (sock % 8));
	return !held_elsewhere(sock, NULL);
}

void shim_family_reap(void (*close_fn)(int sock))
{
	if (!fam)
		return;
	for (int q = 0; q < slots_in_use(); q++)
		if (q != my_slot && fam->procs[q].state != SLOT_FREE && !slot_alive(q))
			reap_slot(q, close_fn);
	family_maybe_single();
}

int shim_family_others(void (*close_fn)(int sock))
{
	if (!fam)
		return 0;
	shim_family_reap(close_fn);
	int n = 0;
	for (int q = 0; q < slots_in_use(); q++)
		n += q != my_slot && fam->procs[q].state != SLOT_FREE;
	return n;
}

void shim_family_leave(void)
{
	if (!fam || my_slot < 0)
		return;
	int s = my_slot;
	my_slot = -1;
	shim_sleepers_reap(s);
	memset(bitmap(s), 0, fam->bitmap_bytes);
	fam->procs[s].pid = 0;
	__atomic_store_n(&fam->procs[s].state, SLOT_FREE, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fam->procs[s].alive);
}

void shim_family_fork_prepare(bool engine)
{
	test_forks += engine;
	forking_slot = -1;
	if (!fam)
		return;
	if (!engine)
		return; /* no stack to share: the child takes a region of its own */
	if (my_slot < 0) {
		family_go_multi(true); /* the child shares the stack without a slot */
		return;
	}
	int s = claim_free_slot(SLOT_RESERVED);
	family_go_multi(s < 0); /* s < 0: the child cannot join, and says so */
	if (s < 0)
		return;
	fam->procs[s].reserved_ns = mono_ns();
	fam->procs[s].pid = 0;
	/* The child holds what we hold: one copy of the bitmap, nothing per socket. */
	memcpy(bitmap(s), bitmap(my_slot), fam->bitmap_bytes);
	forking_slot = s;
}

void shim_family_fork_parent(void)
{
	/* The child claims the slot by itself; one that never does (fork failed) expires. */
	forking_slot = -1;
}

bool shim_family_test_stop_due(void)
{
	if (!test_stop_armed)
		return false;
	test_stop_armed = false;
	return true;
}

void shim_family_fork_child_alone(void)
{
	/* Forked before the engine started: a family of its own (a daemon's child that starts
	 * it is one process, with the lock's local level alone). The parent's region stays
	 * mapped here unused: another process may hold its locks. */
	struct shim_family *old = fam;
	if (!old || my_slot >= 0)
		return;
	if (map_region(old->nbits) < 0) {
		__atomic_store_n(&old->sticky, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&old->multi, 1, __ATOMIC_RELEASE);
	}
}

void shim_family_lock_forget(void)
{
	shim_family_local_word = 0;
	local_waiters = 0;
	shim_family_holds_shared = false;
	shim_family_token = 0;
}

bool shim_family_fork_child(void)
{
	test_stop_armed = test_stop_nth > 0 && test_forks == test_stop_nth;
	test_forks = 0;
	bool had = my_slot >= 0;
	my_slot = -1;
	if (!fam)
		return !had;
	int s = forking_slot;
	forking_slot = -1;
	if (s < 0) {
		shim_sleep_set_owner(-1);
		return !had;
	}
	take_alive(s);
	my_slot = s;
	shim_sleep_set_owner(s);
	return true;
}

/* Events matter to other processes only while there are any (a lock of several levels). */
bool shim_family_events_pending;
static void event_raised(void)
{
	if (!family_multi())
		return;
	if (fam->ev_seq == ev_seen)
		ev_seen++;
	fam->ev_seq++;
}

bool shim_family_events_from_others(void)
{
	if (!family_multi() || fam->ev_seq == ev_seen)
		return false;
	ev_seen = fam->ev_seq;
	return true;
}

int shim_family_members(struct shim_family_member *out, int max)
{
	int n = 0;
	if (!fam)
		return 0;
	for (int q = 0; q < slots_in_use() && n < max; q++) {
		struct shim_proc *p = &fam->procs[q];
		if (__atomic_load_n(&p->state, __ATOMIC_ACQUIRE) != SLOT_ALIVE || p->pid <= 0)
			continue;
		out[n++] = (struct shim_family_member){p->pid, bitmap(q), fam->nbits};
	}
	return n;
}
