/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stack instance as the layers inside stack/ see it. Everything the stack owns hangs off
 * struct tpa_stack (no globals), so several instances can live in one process.
 * Time: layers call stack_now() (reads the clock, caches it in now_ns); within one packet's
 * processing now_ns may be used directly.
 */
#ifndef TPA_STACK_IMPL_H
#define TPA_STACK_IMPL_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "tpa/stack.h"

#define TPA_TX_BATCH 64
#define TPA_RX_BURST 64

struct neigh_table;
struct tcp_layer;

#define STACK_RECYCLE_MAX 32
#define STACK_SENT_MAX    256

struct tpa_stack {
	struct tpa_stack_config cfg;
	struct tpa_stack_stats stats;
	uint64_t now_ns;
	struct neigh_table *neigh;
	struct tcp_layer *tcp;
	/* Frames ready for the device; sent by tpa_stack_flush() or when the batch fills. */
	struct rte_mbuf *txq[TPA_TX_BATCH];
	uint16_t txq_len;
	uint16_t ip_id;
	/* Consumed receive mbufs kept for the next segments built (a request's buffer becomes a
	 * reply's) without the pool's generic get and put; returned to the pool at every flush,
	 * so between polls the stack holds none it does not account for. */
	uint32_t recycled_n;
	struct rte_mbuf *recycled[STACK_RECYCLE_MAX];
	/* Frames handed to the device with a second reference kept here, oldest first. A driver
	 * that frees each buffer on completion (af_xdp's one rte_pktmbuf_free per frame, with its
	 * per-lcore cache lookup) then only lowers the count; once it is back to 1 the frame is
	 * the stack's again and goes to the pool in one bulk put (stack_sent_reclaim). */
	uint32_t sent_n;
	struct rte_mbuf *sent[STACK_SENT_MAX];
	uint32_t ipv4_mask_be; /* from ipv4_prefix_len, network byte order */
	uint32_t seg_room;     /* the most payload a pool mbuf holds after the headroom, the TCP
	                        * header and the longest options (tcp_eff_mss) */
};

/* Memory of an instance: every allocation goes through the configured allocator
 * (tpa_stack_config.mem), never malloc directly. */
void *stack_mem_alloc(const struct tpa_allocator *m, size_t size);
void stack_mem_free(const struct tpa_allocator *m, void *p);
static inline void *stack_alloc(const struct tpa_stack *s, size_t size)
{
	return stack_mem_alloc(&s->cfg.mem, size);
}
/* Zeroed; n * size checked for overflow. */
void *stack_zalloc(const struct tpa_stack *s, size_t n, size_t size);
static inline void stack_free(const struct tpa_stack *s, void *p)
{
	stack_mem_free(&s->cfg.mem, p);
}

static inline uint64_t stack_now(struct tpa_stack *s)
{
	s->now_ns = s->cfg.clock.now_ns(s->cfg.clock.ctx);
	return s->now_ns;
}

#define NS_PER_MS 1000000ull

#define STAT_INC(s, name)    ((s)->stats.name++)
#define STAT_ADD(s, name, n) ((s)->stats.name += (n))

/* An mbuf of the stack's pool, reset as rte_pktmbuf_alloc leaves it; NULL when the pool is
 * empty. */
static inline struct rte_mbuf *stack_mbuf_alloc(struct tpa_stack *s)
{
	if (!s->recycled_n)
		return rte_pktmbuf_alloc(s->cfg.pool);
	struct rte_mbuf *m = s->recycled[--s->recycled_n];
	rte_pktmbuf_reset(m);
	return m;
}
/* A consumed mbuf that is one segment, direct and referenced once (rte_mbuf_raw_free's
 * conditions): kept for stack_mbuf_alloc when it is of the stack's pool. */
static inline void stack_mbuf_recycle(struct tpa_stack *s, struct rte_mbuf *m)
{
	if (m->pool == s->cfg.pool && s->recycled_n < STACK_RECYCLE_MAX)
		s->recycled[s->recycled_n++] = m;
	else
		rte_mbuf_raw_free(m);
}
/* Keep a reference to a frame about to be sent, if there is room to track it: m is a buffer
 * from stack_mbuf_alloc, one segment, direct and held by the stack alone. */
static inline void stack_sent_hold(struct tpa_stack *s, struct rte_mbuf *m)
{
	if (s->sent_n < STACK_SENT_MAX) {
		rte_mbuf_refcnt_set(m, 2);
		s->sent[s->sent_n++] = m;
	}
}
/* Back to the pool, all of them (at each flush and at the end). */
void stack_mbuf_recycle_drain(struct tpa_stack *s);

/* Queue a complete Ethernet frame for transmission (takes ownership). */
void stack_tx_frame(struct tpa_stack *s, struct rte_mbuf *m);

#endif
