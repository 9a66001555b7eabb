/* SPDX-License-Identifier: BSD-3-Clause */
#include "tcp_timer.h"

#include <stddef.h>
#include <string.h>

static inline uint64_t tick_of(uint64_t ns)
{
	return ns / TCP_WHEEL_TICK_NS;
}

void tcp_wheel_init(struct tcp_wheel *w, uint64_t now_ns)
{
	memset(w, 0, sizeof(*w));
	w->cur_tick = tick_of(now_ns);
	w->next_hint = UINT64_MAX;
}

void tcp_timer_arm(struct tcp_wheel *w, struct tcp_timer *t, uint64_t expire_ns)
{
	if (t->pprev)
		tcp_timer_cancel(w, t);
	uint64_t tick = tick_of(expire_ns);
	/* A deadline already past is handled at the next run. */
	if (tick < w->cur_tick)
		tick = w->cur_tick;
	uint32_t i = (uint32_t)(tick % TCP_WHEEL_SLOTS);
	struct tcp_timer **head = &w->slot[i];
	w->busy[i / 64] |= 1ull << (i % 64);
	t->slot = i;
	t->expire_ns = expire_ns;
	t->next = *head;
	if (*head)
		(*head)->pprev = &t->next;
	*head = t;
	t->pprev = head;
	w->armed++;
	if (expire_ns < w->next_hint)
		w->next_hint = expire_ns;
}

void tcp_timer_cancel(struct tcp_wheel *w, struct tcp_timer *t)
{
	if (!t->pprev)
		return;
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	t->next = NULL;
	t->pprev = NULL;
	if (!w->slot[t->slot])
		w->busy[t->slot / 64] &= ~(1ull << (t->slot % 64));
	w->armed--;
}

/* The first tick in [from, from + n) whose slot holds a timer, or from + n if none does. */
static uint64_t next_busy_tick(const struct tcp_wheel *w, uint64_t from, uint64_t n)
{
	uint64_t off = 0;
	while (off < n) {
		uint32_t i = (uint32_t)((from + off) % TCP_WHEEL_SLOTS);
		uint64_t bits = w->busy[i / 64] >> (i % 64);
		if (bits) {
			off += (uint64_t)__builtin_ctzll(bits);
			return off < n ? from + off : from + n;
		}
		off += 64 - i % 64;
	}
	return from + n;
}

struct tcp_timer *tcp_wheel_expired(struct tcp_wheel *w, uint64_t now_ns)
{
	uint64_t now_tick = tick_of(now_ns);
	if (!w->armed) {
		if (now_tick > w->cur_tick)
			w->cur_tick = now_tick;
		return NULL;
	}
	/* Walking more than one round only repeats slots: clamp the walk to one round. */
	if (now_tick >= w->cur_tick + TCP_WHEEL_SLOTS)
		w->cur_tick = now_tick - TCP_WHEEL_SLOTS + 1;
	while (w->cur_tick <= now_tick) {
		w->cur_tick = next_busy_tick(w, w->cur_tick, now_tick - w->cur_tick + 1);
		if (w->cur_tick > now_tick) {
			w->cur_tick = now_tick;
			break;
		}
		for (struct tcp_timer *t = w->slot[w->cur_tick % TCP_WHEEL_SLOTS]; t; t = t->next) {
			if (t->expire_ns <= now_ns) {
				tcp_timer_cancel(w, t);
				return t;
			}
		}
		if (w->cur_tick == now_tick)
			break;
		w->cur_tick++;
	}
	/* next_hint is a lower bound of every armed deadline (arming lowers it, removing keeps
	 * it one): still in the future, it stands, and a poll that found nothing due costs no
	 * rescan of the wheel before the next sleep. */
	if (w->next_hint <= now_ns)
		w->next_hint = 0; /* unknown: recomputed by tcp_wheel_next */
	return NULL;
}

uint64_t tcp_wheel_next(struct tcp_wheel *w)
{
	if (!w->armed)
		return UINT64_MAX;
	if (w->next_hint && w->next_hint != UINT64_MAX)
		return w->next_hint;
	/* Scan one round from the current tick: the first slot holding a deadline of this round
	 * gives the answer; otherwise take the minimum over everything (all later rounds). */
	uint64_t best = UINT64_MAX;
	uint64_t round_end = (w->cur_tick + TCP_WHEEL_SLOTS) * TCP_WHEEL_TICK_NS;
	uint64_t end = w->cur_tick + TCP_WHEEL_SLOTS;
	for (uint64_t tick = next_busy_tick(w, w->cur_tick, TCP_WHEEL_SLOTS); tick < end;
	     tick = next_busy_tick(w, tick + 1, end - tick - 1)) {
		for (struct tcp_timer *t = w->slot[tick % TCP_WHEEL_SLOTS]; t; t = t->next) {
			if (t->expire_ns < best)
				best = t->expire_ns;
		}
		if (best < round_end && tick_of(best) <= tick)
			break;
	}
	w->next_hint = best;
	return best;
}
