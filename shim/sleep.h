/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Waking threads that sleep while other threads run the stack.
 *
 * A thread about to sleep in the kernel (with the engine's wait fd and shim_kick_fd() in its
 * set) registers; whoever then changes the stack's state (packets processed, socket events
 * raised, a socket closed) kicks every registered sleeper once. The kick fd is a semaphore
 * eventfd holding one token per kicked sleeper, and a sleeper takes a token back only if it was
 * kicked itself: a thread that wakes for another reason (its own timeout, the wait fd) and goes
 * back to sleep can never swallow the token meant for a thread that has not run yet.
 * Every call is made with the shim lock held.
 */
#ifndef TPA_SHIM_SLEEP_H
#define TPA_SHIM_SLEEP_H

#include <stdbool.h>

struct shim_sleeper {
	struct shim_sleeper *prev, *next;
	bool kicked;
};

int shim_sleep_init(void); /* creates the kick fd (once); -1 if eventfd fails */
int shim_kick_fd(void);    /* -1 before shim_sleep_init */
void shim_sleep_begin(struct shim_sleeper *w); /* just before unlocking to sleep */
void shim_sleep_end(struct shim_sleeper *w);   /* lock taken again after the sleep */
void shim_sleepers_kick(void);
void shim_sleep_note_event(void);          /* a socket event was raised */
void shim_sleepers_after_poll(int packets); /* kick if the poll changed anything */
bool shim_sleepers_any(void);
void shim_sleepers_reset(void); /* fork child: its only thread is not asleep */

#endif
