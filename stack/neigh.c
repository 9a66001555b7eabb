/* SPDX-License-Identifier: BSD-3-Clause */
#include "neigh.h"

#include <errno.h>
#include <rte_mbuf.h>
#include <stdlib.h>
#include <string.h>

#include "arp.h"
#include "eth.h"
#include "stack_impl.h"

#define NIL UINT32_MAX

enum neigh_state {
	NEIGH_FREE = 0,
	NEIGH_INCOMPLETE, /* no address yet: packets queue, requests go out */
	NEIGH_REACHABLE,  /* address known until expires_ns */
	NEIGH_PROBE,      /* expired but in use: still used while requests re-confirm it */
};

struct neigh_entry {
	uint32_t ip_be;
	uint8_t state;
	uint8_t probes;
	uint8_t mac[ETH_ADDR_LEN];
	/* REACHABLE: end of validity. INCOMPLETE/PROBE: time of the next request. */
	uint64_t expires_ns;
	uint32_t hash_next;              /* bucket chain, or the free list */
	uint32_t timer_prev, timer_next; /* list of entries with a request timer running */
	uint32_t q_head, q_tail;         /* queued packets (indices into queue_nodes) */
	uint32_t q_len;
};

struct queue_node {
	struct rte_mbuf *m;
	uint32_t next;
};

struct neigh_table {
	uint32_t capacity;
	uint32_t bucket_mask;
	uint32_t count;
	uint32_t free_head;
	uint32_t timer_head; /* entries in INCOMPLETE or PROBE */
	uint32_t *buckets;
	struct neigh_entry *entries;
	struct queue_node nodes[NEIGH_QUEUE_TOTAL];
	uint32_t node_free;
	uint32_t queued;
	uint32_t gen; /* changes with every entry's state or address (frame caches check it) */
};

static uint32_t hash_ip(uint32_t ip_be, uint32_t mask)
{
	/* Multiplicative hashing spreads consecutive host addresses over the buckets. */
	return (uint32_t)(((uint64_t)ip_be * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

int neigh_table_create(struct tpa_stack *s)
{
	uint32_t cap = s->cfg.max_sockets;
	if (cap < 64)
		cap = 64;
	if (cap > 4096)
		cap = 4096; /* on-link peers, not sockets: a few thousand is plenty */
	uint32_t nb = 1;
	while (nb < cap)
		nb <<= 1;
	struct neigh_table *t = stack_zalloc(s, 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->buckets = stack_alloc(s, nb * sizeof(*t->buckets));
	t->entries = stack_zalloc(s, cap, sizeof(*t->entries));
	if (!t->buckets || !t->entries) {
		stack_free(s, t->buckets);
		stack_free(s, t->entries);
		stack_free(s, t);
		return -ENOMEM;
	}
	t->capacity = cap;
	t->bucket_mask = nb - 1;
	for (uint32_t i = 0; i < nb; i++)
		t->buckets[i] = NIL;
	for (uint32_t i = 0; i < cap; i++)
		t->entries[i].hash_next = i + 1 < cap ? i + 1 : NIL;
	t->free_head = 0;
	t->timer_head = NIL;
	for (uint32_t i = 0; i < NEIGH_QUEUE_TOTAL; i++)
		t->nodes[i].next = i + 1 < NEIGH_QUEUE_TOTAL ? i + 1 : NIL;
	t->node_free = 0;
	s->neigh = t;
	return 0;
}

static void queue_drop_all(struct tpa_stack *s, struct neigh_entry *e, bool count)
{
	struct neigh_table *t = s->neigh;
	while (e->q_head != NIL) {
		uint32_t n = e->q_head;
		e->q_head = t->nodes[n].next;
		rte_pktmbuf_free(t->nodes[n].m);
		t->nodes[n].m = NULL;
		t->nodes[n].next = t->node_free;
		t->node_free = n;
		t->queued--;
		if (count)
			STAT_INC(s, arp_queue_drop);
	}
	e->q_tail = NIL;
	e->q_len = 0;
}

void neigh_table_destroy(struct tpa_stack *s)
{
	struct neigh_table *t = s->neigh;
	if (!t)
		return;
	for (uint32_t i = 0; i < t->capacity; i++)
		if (t->entries[i].state != NEIGH_FREE)
			queue_drop_all(s, &t->entries[i], false);
	stack_free(s, t->buckets);
	stack_free(s, t->entries);
	stack_free(s, t);
	s->neigh = NULL;
}

static uint32_t find(const struct neigh_table *t, uint32_t ip_be)
{
	for (uint32_t i = t->buckets[hash_ip(ip_be, t->bucket_mask)]; i != NIL;
	     i = t->entries[i].hash_next)
		if (t->entries[i].ip_be == ip_be)
			return i;
	return NIL;
}

static void timer_link(struct neigh_table *t, uint32_t i)
{
	struct neigh_entry *e = &t->entries[i];
	e->timer_prev = NIL;
	e->timer_next = t->timer_head;
	if (t->timer_head != NIL)
		t->entries[t->timer_head].timer_prev = i;
	t->timer_head = i;
}

static void timer_unlink(struct neigh_table *t, uint32_t i)
{
	struct neigh_entry *e = &t->entries[i];
	if (e->timer_prev != NIL)
		t->entries[e->timer_prev].timer_next = e->timer_next;
	else
		t->timer_head = e->timer_next;
	if (e->timer_next != NIL)
		t->entries[e->timer_next].timer_prev = e->timer_prev;
	e->timer_prev = e->timer_next = NIL;
}

static bool has_timer(uint8_t state)
{
	return state == NEIGH_INCOMPLETE || state == NEIGH_PROBE;
}

static void set_state(struct neigh_table *t, uint32_t i, uint8_t state)
{
	struct neigh_entry *e = &t->entries[i];
	if (has_timer(e->state) && !has_timer(state))
		timer_unlink(t, i);
	else if (!has_timer(e->state) && has_timer(state))
		timer_link(t, i);
	e->state = state;
	t->gen++;
}

static void remove_entry(struct tpa_stack *s, uint32_t i)
{
	struct neigh_table *t = s->neigh;
	struct neigh_entry *e = &t->entries[i];
	queue_drop_all(s, e, true);
	set_state(t, i, NEIGH_FREE);
	uint32_t *link = &t->buckets[hash_ip(e->ip_be, t->bucket_mask)];
	while (*link != i)
		link = &t->entries[*link].hash_next;
	*link = e->hash_next;
	e->hash_next = t->free_head;
	t->free_head = i;
	t->count--;
}

/* A full table gives up a resolved entry that has expired; entries in use are kept. */
static bool evict_one(struct tpa_stack *s)
{
	struct neigh_table *t = s->neigh;
	for (uint32_t i = 0; i < t->capacity; i++) {
		struct neigh_entry *e = &t->entries[i];
		if (e->state == NEIGH_REACHABLE && e->expires_ns <= s->now_ns) {
			remove_entry(s, i);
			return true;
		}
	}
	return false;
}

static uint32_t add_entry(struct tpa_stack *s, uint32_t ip_be)
{
	struct neigh_table *t = s->neigh;
	if (t->free_head == NIL && !evict_one(s))
		return NIL;
	uint32_t i = t->free_head;
	struct neigh_entry *e = &t->entries[i];
	t->free_head = e->hash_next;
	memset(e, 0, sizeof(*e));
	e->ip_be = ip_be;
	e->q_head = e->q_tail = NIL;
	e->timer_prev = e->timer_next = NIL;
	uint32_t b = hash_ip(ip_be, t->bucket_mask);
	e->hash_next = t->buckets[b];
	t->buckets[b] = i;
	t->count++;
	return i;
}

/* Ask for the address: through the owner if it resolves neighbours, else by ARP. */
static void send_probe(struct tpa_stack *s, struct neigh_entry *e)
{
	e->probes++;
	e->expires_ns = s->now_ns + NEIGH_RETRY_MS * NS_PER_MS;
	if (s->cfg.hooks.neigh_resolve)
		s->cfg.hooks.neigh_resolve(s->cfg.hooks.ctx, e->ip_be);
	else
		arp_send_request(s, e->ip_be);
}

static int enqueue(struct tpa_stack *s, struct neigh_entry *e, struct rte_mbuf *m)
{
	struct neigh_table *t = s->neigh;
	if (e->q_len >= NEIGH_QUEUE_MAX || t->node_free == NIL) {
		STAT_INC(s, arp_queue_drop);
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	uint32_t n = t->node_free;
	t->node_free = t->nodes[n].next;
	t->nodes[n].m = m;
	t->nodes[n].next = NIL;
	if (e->q_tail != NIL)
		t->nodes[e->q_tail].next = n;
	else
		e->q_head = n;
	e->q_tail = n;
	e->q_len++;
	t->queued++;
	return 0;
}

uint32_t neigh_gen(const struct tpa_stack *s)
{
	return s->neigh->gen;
}

bool neigh_ready(const struct tpa_stack *s, uint32_t nexthop_be, uint8_t mac[6], uint64_t *until)
{
	const struct neigh_table *t = s->neigh;
	uint32_t i = find(t, nexthop_be);
	if (i == NIL)
		return false;
	const struct neigh_entry *e = &t->entries[i];
	/* The cases neigh_output sends at once, and until when it would go on doing so. */
	if (e->state == NEIGH_REACHABLE && e->expires_ns > s->now_ns)
		*until = e->expires_ns;
	else if (e->state == NEIGH_PROBE)
		*until = UINT64_MAX;
	else
		return false;
	memcpy(mac, e->mac, ETH_ADDR_LEN);
	return true;
}

int neigh_output(struct tpa_stack *s, struct rte_mbuf *m, uint32_t nexthop_be)
{
	struct neigh_table *t = s->neigh;
	uint32_t i = find(t, nexthop_be);
	if (i == NIL) {
		i = add_entry(s, nexthop_be);
		if (i == NIL) {
			STAT_INC(s, arp_queue_drop);
			rte_pktmbuf_free(m);
			return -ENOBUFS;
		}
		set_state(t, i, NEIGH_INCOMPLETE);
		int rc = enqueue(s, &t->entries[i], m);
		send_probe(s, &t->entries[i]);
		return rc;
	}
	struct neigh_entry *e = &t->entries[i];
	switch (e->state) {
	case NEIGH_INCOMPLETE:
		return enqueue(s, e, m);
	case NEIGH_REACHABLE:
		if (e->expires_ns <= s->now_ns) {
			e->probes = 0;
			set_state(t, i, NEIGH_PROBE);
			send_probe(s, e);
		}
		break;
	default:
		break;
	}
	return eth_output(s, m, e->mac, ETH_TYPE_IPV4);
}

void neigh_confirm(struct tpa_stack *s, uint32_t ip_be, const uint8_t mac[6], bool create)
{
	struct neigh_table *t = s->neigh;
	uint32_t i = find(t, ip_be);
	if (i == NIL) {
		if (!create)
			return;
		i = add_entry(s, ip_be);
		if (i == NIL)
			return;
	}
	struct neigh_entry *e = &t->entries[i];
	memcpy(e->mac, mac, ETH_ADDR_LEN);
	t->gen++;
	e->probes = 0;
	e->expires_ns = s->now_ns + (uint64_t)s->cfg.arp_timeout_ms * NS_PER_MS;
	set_state(t, i, NEIGH_REACHABLE);
	/* Release the queue in order. Sending can flush the tx batch but never re-enters the
	 * neighbour table, so e stays valid. */
	while (e->q_head != NIL) {
		uint32_t n = e->q_head;
		struct rte_mbuf *m = t->nodes[n].m;
		e->q_head = t->nodes[n].next;
		t->nodes[n].m = NULL;
		t->nodes[n].next = t->node_free;
		t->node_free = n;
		t->queued--;
		e->q_len--;
		eth_output(s, m, e->mac, ETH_TYPE_IPV4);
	}
	e->q_tail = NIL;
}

void neigh_fail(struct tpa_stack *s, uint32_t ip_be)
{
	uint32_t i = find(s->neigh, ip_be);
	if (i != NIL)
		remove_entry(s, i);
}

void neigh_run_timers(struct tpa_stack *s)
{
	struct neigh_table *t = s->neigh;
	uint32_t i = t->timer_head;
	while (i != NIL) {
		struct neigh_entry *e = &t->entries[i];
		/* A synchronous neigh_resolve hook may resolve or fail other entries while we walk:
		 * stop at an entry that left the timer list (the rest wait for the next run). */
		if (!has_timer(e->state))
			break;
		uint32_t next = e->timer_next;
		if (e->expires_ns <= s->now_ns) {
			if (e->probes >= NEIGH_MAX_PROBES)
				remove_entry(s, i);
			else
				send_probe(s, e);
		}
		i = next;
	}
}

uint64_t neigh_next_timer_ns(const struct tpa_stack *s)
{
	const struct neigh_table *t = s->neigh;
	uint64_t next = UINT64_MAX;
	for (uint32_t i = t->timer_head; i != NIL; i = t->entries[i].timer_next)
		if (t->entries[i].expires_ns < next)
			next = t->entries[i].expires_ns;
	return next;
}

uint32_t neigh_mbufs_held(const struct tpa_stack *s)
{
	return s->neigh ? s->neigh->queued : 0;
}

bool neigh_lookup(const struct tpa_stack *s, uint32_t ip_be, uint8_t mac[6])
{
	uint32_t i = find(s->neigh, ip_be);
	if (i == NIL)
		return false;
	const struct neigh_entry *e = &s->neigh->entries[i];
	if (e->state != NEIGH_REACHABLE && e->state != NEIGH_PROBE)
		return false;
	if (mac)
		memcpy(mac, e->mac, ETH_ADDR_LEN);
	return true;
}

uint32_t neigh_count(const struct tpa_stack *s)
{
	return s->neigh->count;
}
