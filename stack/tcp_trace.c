/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-connection event rings in the caller's memory (tcp_trace.h, tpa/trace.h). */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>

#include "tcp_trace.h"

/* A new connection looks this far ahead for a ring whose connection is gone before it takes
 * one from a live connection: a few stale connections in turn are the common case. */
#define TRACE_FREE_LOOKAHEAD 8u

int tpa_stack_trace_attach(struct tpa_stack *s, void *mem, size_t len)
{
	struct tcp_layer *tl = tcp_of(s);
	if (!tl)
		return -EINVAL;
	/* Connections keep no pointer into an area that goes away. */
	for (uint32_t id = 0; id < tl->max_socks; id++)
		if (tl->socks[id])
			tl->socks[id]->trace = NULL;
	tl->trace_area = NULL;
	tl->trace_nrings = 0;
	if (!mem)
		return 0;
	if (len < tpa_trace_area_size(1) || ((uintptr_t)mem & 7))
		return -EINVAL;
	size_t n = (len - sizeof(struct tpa_trace_area)) / sizeof(struct tpa_trace_ring);
	struct tpa_trace_area *a = mem;
	a->version = TPA_TRACE_VERSION;
	a->nrings = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	a->ring_size = sizeof(struct tpa_trace_ring);
	a->events = TPA_TRACE_RING_EVENTS;
	__atomic_store_n(&a->magic, TPA_TRACE_MAGIC, __ATOMIC_RELEASE);
	tl->trace_nrings = a->nrings;
	tl->trace_area = a;
	return 0;
}

/* The live connection that holds ring r, if any. */
static struct tcp_sock *ring_owner(const struct tcp_layer *tl, const struct tpa_trace_ring *r)
{
	if (!r->gen || r->sock_id < 0 || (uint32_t)r->sock_id >= tl->max_socks)
		return NULL;
	struct tcp_sock *o = tl->socks[r->sock_id];
	return o && o->trace == r ? o : NULL;
}

static struct tpa_trace_ring *pick_ring(struct tcp_layer *tl)
{
	struct tpa_trace_area *a = tl->trace_area;
	struct tpa_trace_ring *rings = (struct tpa_trace_ring *)(a + 1);
	/* Our own count of rings, never the area's: the area is writable by others. */
	uint32_t nr = tl->trace_nrings;
	uint64_t next = a->opened;
	for (uint32_t i = 0; i < TRACE_FREE_LOOKAHEAD && i < nr; i++) {
		struct tpa_trace_ring *r = &rings[(next + i) % nr];
		if (!ring_owner(tl, r)) {
			a->opened = next + i + 1;
			return r;
		}
	}
	struct tpa_trace_ring *r = &rings[next % nr];
	ring_owner(tl, r)->trace = NULL; /* the oldest in turn is traced no more */
	a->opened = next + 1;
	return r;
}

void tcp_trace_open(struct tpa_stack *s, struct tcp_sock *ts)
{
	struct tcp_layer *tl = tcp_of(s);
	if (!tl->trace_area || ts->trace)
		return;
	struct tpa_trace_ring *r = pick_ring(tl);
	/* Odd while the header and the records are another connection's. */
	__atomic_store_n(&r->gen, r->gen | 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	r->nevents = 0;
	for (uint32_t i = 0; i < TPA_TRACE_RING_EVENTS; i++)
		r->rec[i].n = 0;
	r->sock_id = ts->id;
	r->cause = TPA_TRACE_CAUSE_NONE;
	r->laddr = ts->laddr;
	r->raddr = ts->raddr;
	r->lport = rte_be_to_cpu_16(ts->lport);
	r->rport = rte_be_to_cpu_16(ts->rport);
	r->iss = ts->iss;
	r->open_ns = s->now_ns;
	__atomic_store_n(&r->gen, r->gen + 1, __ATOMIC_RELEASE);
	ts->trace = r;
	tcp_trace_put(s, r, TPA_TRACE_STATE, ts->state, TPA_TCP_CLOSED, ts->snd_una, ts->snd_nxt,
	              ts->rcv_nxt, 0);
}

void tcp_trace_put(const struct tpa_stack *s, struct tpa_trace_ring *r, uint8_t type, uint8_t a8,
                   uint16_t a16, uint32_t v0, uint32_t v1, uint32_t v2, uint32_t v3)
{
	uint64_t n = r->nevents;
	struct tpa_trace_rec *e = &r->rec[n & (TPA_TRACE_RING_EVENTS - 1)];
	/* A reader copying this slot sees n change and drops its copy. */
	__atomic_store_n(&e->n, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	e->t_ns = s->now_ns;
	e->type = type;
	e->a8 = a8;
	e->a16 = a16;
	e->v[0] = v0;
	e->v[1] = v1;
	e->v[2] = v2;
	e->v[3] = v3;
	__atomic_store_n(&e->n, (uint32_t)(n + 1), __ATOMIC_RELEASE);
	__atomic_store_n(&r->nevents, n + 1, __ATOMIC_RELEASE);
}
