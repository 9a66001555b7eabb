/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hashed timer wheel: 1 ms ticks, 4096 slots (longer timers wait for their round). Arm and
 * cancel are O(1); running visits only the slots whose ticks elapsed. Deadlines are absolute
 * stack-clock nanoseconds. Expired entries are unlinked before their callback runs, so the
 * callback may re-arm them.
 */
#ifndef TPA_TCP_TIMER_H
#define TPA_TCP_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define TCP_WHEEL_SLOTS   4096u
#define TCP_WHEEL_TICK_NS 1000000ull

struct tcp_timer {
	struct tcp_timer *next, **pprev;
	uint64_t expire_ns;
	uint32_t slot; /* its slot while armed */
};

struct tcp_wheel {
	struct tcp_timer *slot[TCP_WHEEL_SLOTS];
	/* One bit per non-empty slot: walks and the earliest-deadline scan skip empty slots 64 at
	 * a time (a stack whose clock jumps, or that is asked when to wake, scanned all 4096). */
	uint64_t busy[TCP_WHEEL_SLOTS / 64];
	uint64_t cur_tick; /* every tick before this one has run */
	uint32_t armed;
	uint64_t next_hint; /* lower bound on the earliest deadline */
};

void tcp_wheel_init(struct tcp_wheel *w, uint64_t now_ns);
static inline bool tcp_timer_armed(const struct tcp_timer *t)
{
	return t->pprev != 0;
}
void tcp_timer_arm(struct tcp_wheel *w, struct tcp_timer *t, uint64_t expire_ns);
void tcp_timer_cancel(struct tcp_wheel *w, struct tcp_timer *t);
/* Unlinks and returns one timer due at now_ns, or NULL when none is left. */
struct tcp_timer *tcp_wheel_expired(struct tcp_wheel *w, uint64_t now_ns);
/* Earliest deadline, UINT64_MAX if nothing is armed (may be early, never late). */
uint64_t tcp_wheel_next(struct tcp_wheel *w);

#endif
