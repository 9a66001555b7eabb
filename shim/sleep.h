/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Waking threads that sleep while other threads, or other processes of a fork family, run the
 * stack.
 *
 * A thread about to sleep in the kernel (with the engine's wait fd and shim_kick_fd() in its
 * set) registers; whoever then changes the stack's state (packets processed, socket events
 * raised, a socket closed) kicks every registered sleeper once. The kick fd is a semaphore
 * eventfd holding one token per kicked sleeper, and a sleeper takes a token back only if it was
 * kicked itself: a thread that wakes for another reason (its own timeout, the wait fd) and goes
 * back to sleep can never swallow the token meant for a thread that has not run yet.
 * The registry is a table that may live in memory shared across fork (shim_sleep_use_shared),
 * with the kick fd inherited: a parent's poll then wakes a child's sleeper and vice versa.
 * Every call is made with the shim lock held.
 */
#ifndef TPA_SHIM_SLEEP_H
#define TPA_SHIM_SLEEP_H

#include <stdbool.h>
#include <stdint.h>

#define SHIM_SLEEPERS_MAX 128

struct shim_sleep_registry {
	uint32_t used; /* entries in use */
	struct {
		int32_t owner; /* process slot (shim_family) or -1; 0 = free when !busy */
		uint8_t busy, kicked;
	} e[SHIM_SLEEPERS_MAX];
};

struct shim_sleeper {
	int idx; /* registry entry, -1 if the table was full (then sleep in short slices) */
};

int shim_sleep_init(void); /* creates the kick fd (once); -1 if eventfd fails */
int shim_kick_fd(void);    /* -1 before shim_sleep_init */
/* Put the registry in r (zeroed memory shared across fork); `owner` tags new entries. */
void shim_sleep_use_shared(struct shim_sleep_registry *r, int owner);
void shim_sleep_set_owner(int owner);          /* a fork child's own process slot */
void shim_sleep_begin(struct shim_sleeper *w); /* just before unlocking to sleep */
void shim_sleep_end(struct shim_sleeper *w);   /* lock taken again after the sleep */
void shim_sleepers_kick(void);
bool shim_sleeper_kicked(const struct shim_sleeper *w); /* registered and kicked */
void shim_sleep_note_event(void);                       /* a socket event was raised */
void shim_sleepers_after_poll(int packets);             /* kick if the poll changed anything */
bool shim_sleepers_any(void);
/* A dead process's entries: freed, and the tokens its kicked sleepers never took drained. */
void shim_sleepers_reap(int owner);

#endif
