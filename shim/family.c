/* SPDX-License-Identifier: BSD-3-Clause */
/* The fork family's shared region; see family.h. */
#include "family.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
	uint32_t nbits;
	uint64_t bitmap_bytes;
	uint64_t ev_seq;
	int32_t slots_hi; /* slots ever claimed are below this: the loops stop there */
	struct shim_sleep_registry sleepers;
	struct shim_proc procs[SHIM_FAMILY_PROCS];
	/* bitmaps follow, bitmap_bytes each */
};

static struct shim_family *fam;
static pthread_mutex_t local_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
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

int shim_family_init(uint32_t max_sockets)
{
	if (fam)
		return 0;
	const char *t = getenv("TPA_TEST_STOP_LOCKED");
	test_stop_nth = t ? atoi(t) : 0;
	if (max_sockets == 0)
		max_sockets = 65536;
	uint64_t bytes = ((uint64_t)max_sockets + 63) / 64 * 8;
	size_t size = sizeof(*fam) + (size_t)bytes * SHIM_FAMILY_PROCS;
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	fam = m;
	robust_init(&fam->lock, PTHREAD_MUTEX_RECURSIVE);
	fam->nbits = max_sockets;
	fam->bitmap_bytes = bytes;
	for (int i = 0; i < SHIM_FAMILY_PROCS; i++)
		robust_init(&fam->procs[i].alive, PTHREAD_MUTEX_NORMAL);
	shim_sleep_use_shared(&fam->sleepers, -1);
	return 0;
}

bool shim_family_shared(void)
{
	return fam != NULL;
}

uint32_t *shim_family_lock_waiters(void)
{
	return fam ? &fam->lock_waiters : &local_waiters;
}

void shim_family_lock(void)
{
	if (!fam) {
		pthread_mutex_lock(&local_lock);
		return;
	}
	/* A process killed while holding it: the state it was changing is taken as it is (the
	 * stack's operations are short; what it alone held is closed when it is reaped). */
	if (pthread_mutex_lock(&fam->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&fam->lock);
}

bool shim_family_trylock(void)
{
	if (!fam)
		return pthread_mutex_trylock(&local_lock) == 0;
	int r = pthread_mutex_trylock(&fam->lock);
	if (r == EOWNERDEAD) {
		pthread_mutex_consistent(&fam->lock);
		r = 0;
	}
	return r == 0;
}

void shim_family_unlock(void)
{
	pthread_mutex_unlock(fam ? &fam->lock : &local_lock);
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

void shim_family_fork_prepare(void)
{
	test_forks++;
	forking_slot = -1;
	if (!fam || my_slot < 0)
		return;
	int s = claim_free_slot(SLOT_RESERVED);
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

void shim_family_event_raised(void)
{
	if (!fam)
		return;
	if (fam->ev_seq == ev_seen)
		ev_seen++;
	fam->ev_seq++;
}

bool shim_family_events_from_others(void)
{
	if (!fam || fam->ev_seq == ev_seen)
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
