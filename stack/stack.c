/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stack instance: configuration defaults and validation, the poll loop, the transmit
 * batch, counters. Layers: eth -> (arp | ipv4 -> tcp); output goes ipv4 -> neigh -> eth -> here.
 */
#include <errno.h>
#include <rte_mbuf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth.h"
#include "neigh.h"
#include "siphash.h"
#include "stack_impl.h"
#include "tcp_layer.h"

/* Attempts at handing a batch to a device that takes only part of it before the rest is
 * dropped: a full ring rarely drains within one poll, and TCP recovers the loss. */
#define TX_RETRIES 8

/* Per thread, like errno: creation may fail on any thread before an instance exists. */
static _Thread_local char last_error[256];

static void set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

const char *tpa_stack_last_error(void)
{
	return last_error;
}

void *stack_mem_alloc(const struct tpa_allocator *m, size_t size)
{
	if (size == 0)
		size = 1;
	return m->alloc ? m->alloc(m->ctx, size) : malloc(size);
}

void stack_mem_free(const struct tpa_allocator *m, void *p)
{
	if (!p)
		return;
	if (m->alloc)
		m->free(m->ctx, p);
	else
		free(p);
}

void *stack_zalloc(const struct tpa_stack *s, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	void *p = stack_alloc(s, n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void tpa_stack_config_init(struct tpa_stack_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->dev.mtu = 1500;
	cfg->max_sockets = 65536;
	cfg->arp_timeout_ms = 60000;
	cfg->name = "tpa";
	struct tpa_tcp_params *t = &cfg->tcp;
	t->sndbuf = 256 * 1024;
	t->rcvbuf = 256 * 1024;
	t->ooo_limit = t->rcvbuf;
	t->rto_min_ms = 200;
	t->rto_max_ms = 120000;
	t->rto_initial_ms = 1000;
	t->syn_retries = 6;
	t->synack_retries = 5;
	t->data_retries = 15;
	t->delack_ms = 40;
	t->time_wait_ms = 60000;
	t->fin_wait2_ms = 60000;
	t->keepalive_idle_s = 7200;
	t->keepalive_intvl_s = 75;
	t->keepalive_cnt = 9;
	t->initial_cwnd_segs = 10;
	t->cc = TPA_CC_NEWRENO;
	t->timestamps = 1;
	t->window_scaling = 1;
	t->sack = 1;
	t->syncookies = 1;
}

static bool ipv4_unusable(uint32_t a_be)
{
	uint8_t first = ((const uint8_t *)&a_be)[0];
	return a_be == 0 || first == 0 || first == 127 || first >= 224;
}

static uint32_t prefix_mask_be(uint8_t len)
{
	uint32_t host = len == 0 ? 0 : 0xffffffffu << (32 - len);
	return rte_cpu_to_be_32(host);
}

static bool key_is_zero(const uint8_t *k, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= k[i];
	return acc == 0;
}

/* True (with last_error naming the field) if cfg cannot be used. */
static bool config_invalid(const struct tpa_stack_config *cfg)
{
	const struct tpa_tcp_params *t = &cfg->tcp;
#define REJECT(...)                                                                                \
	do {                                                                                       \
		set_error("tpa_stack_config." __VA_ARGS__);                                        \
		return true;                                                                       \
	} while (0)
	if (!cfg->pool)
		REJECT("pool: required");
	if (!cfg->dev.rx_burst || !cfg->dev.tx_burst)
		REJECT("dev: rx_burst and tx_burst are required");
	if (!cfg->clock.now_ns)
		REJECT("clock.now_ns: required");
	if (cfg->mem.alloc && !cfg->mem.free)
		REJECT("mem: free is required with alloc");
	if (cfg->dev.mtu < 576 || cfg->dev.mtu > 9216)
		REJECT("dev.mtu: %u outside 576..9216", cfg->dev.mtu);
	if (eth_addr_is_zero(cfg->dev.mac) || eth_addr_is_group(cfg->dev.mac))
		REJECT("dev.mac: must be a unicast, non-zero address");
	if (cfg->dev.tx_offloads &
	    ~(TPA_DEV_OFFLOAD_IPV4_CKSUM | TPA_DEV_OFFLOAD_TCP_CKSUM | TPA_DEV_OFFLOAD_TSO))
		REJECT("dev.tx_offloads: unknown bits 0x%x", cfg->dev.tx_offloads);
	if (cfg->dev.rx_offloads & ~(TPA_DEV_OFFLOAD_RX_CKSUM | TPA_DEV_OFFLOAD_RX_CSUM_PARTIAL))
		REJECT("dev.rx_offloads: unknown bits 0x%x", cfg->dev.rx_offloads);
	if (ipv4_unusable(cfg->ipv4_addr))
		REJECT("ipv4_addr: required (a unicast address)");
	if (cfg->ipv4_prefix_len > 32)
		REJECT("ipv4_prefix_len: %u > 32", cfg->ipv4_prefix_len);
	if (cfg->ipv4_gateway) {
		uint32_t mask = prefix_mask_be(cfg->ipv4_prefix_len);
		if (ipv4_unusable(cfg->ipv4_gateway) || cfg->ipv4_gateway == cfg->ipv4_addr ||
		    (cfg->ipv4_gateway & mask) != (cfg->ipv4_addr & mask))
			REJECT("ipv4_gateway: must be another unicast address on the local prefix");
	}
	if (cfg->max_sockets == 0 || cfg->max_sockets > (1u << 24))
		REJECT("max_sockets: %u outside 1..16777216", cfg->max_sockets);
	if (cfg->arp_timeout_ms == 0)
		REJECT("arp_timeout_ms: must be > 0");
	if (key_is_zero(cfg->isn_key, sizeof(cfg->isn_key)))
		REJECT("isn_key: required, 16 secret bytes not all zero (the owner draws them, "
		       "e.g. with getrandom)");
	if (t->sndbuf < 2048 || t->sndbuf > (1u << 30))
		REJECT("tcp.sndbuf: %u outside 2048..1 GiB", t->sndbuf);
	if (t->rcvbuf < 2048 || t->rcvbuf > (1u << 30))
		REJECT("tcp.rcvbuf: %u outside 2048..1 GiB", t->rcvbuf);
	if (t->ooo_limit > (1u << 30))
		REJECT("tcp.ooo_limit: %u > 1 GiB", t->ooo_limit);
	if (t->rto_min_ms == 0 || t->rto_min_ms > t->rto_max_ms)
		REJECT("tcp.rto_min_ms: must be > 0 and <= rto_max_ms");
	if (t->rto_initial_ms < t->rto_min_ms || t->rto_initial_ms > t->rto_max_ms)
		REJECT("tcp.rto_initial_ms: must lie in rto_min_ms..rto_max_ms");
	if (t->syn_retries > 127 || t->synack_retries > 127 || t->data_retries > 127)
		REJECT("tcp.syn_retries/synack_retries/data_retries: at most 127");
	if (t->keepalive_idle_s == 0 || t->keepalive_intvl_s == 0 || t->keepalive_cnt == 0)
		REJECT("tcp.keepalive_*: must be > 0");
	if (t->initial_cwnd_segs == 0 || t->initial_cwnd_segs > 1024)
		REJECT("tcp.initial_cwnd_segs: %u outside 1..1024", t->initial_cwnd_segs);
	if (t->cc != TPA_CC_NEWRENO && t->cc != TPA_CC_CUBIC)
		REJECT("tcp.cc: unknown algorithm %d", (int)t->cc);
#undef REJECT
	return false;
}

struct tpa_stack *tpa_stack_create(const struct tpa_stack_config *cfg)
{
	if (!cfg) {
		set_error("tpa_stack_config: NULL");
		errno = EINVAL;
		return NULL;
	}
	if (config_invalid(cfg)) {
		errno = EINVAL;
		return NULL;
	}
	struct tpa_stack *s = stack_mem_alloc(&cfg->mem, sizeof(*s));
	if (s)
		memset(s, 0, sizeof(*s));
	if (!s) {
		set_error("tpa_stack_create: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	s->cfg = *cfg;
	/* The readiness hook's ctx, resolved once (NULL: the hooks' shared ctx). */
	if (!s->cfg.hooks.sock_event_ctx)
		s->cfg.hooks.sock_event_ctx = s->cfg.hooks.ctx;
	if (!s->cfg.name)
		s->cfg.name = "tpa";
	s->ipv4_mask_be = prefix_mask_be(cfg->ipv4_prefix_len);
	/* The IPv4 identification starts at a secret point too (RFC 6864 4.1: not predictable
	 * across hosts), derived from the key: the stack draws no randomness of its own. */
	static const uint8_t ip_id_tag[] = {'i', 'p', '-', 'i', 'd'};
	s->ip_id = (uint16_t)siphash24(s->cfg.isn_key, ip_id_tag, sizeof(ip_id_tag));
	stack_now(s);
	int rc = neigh_table_create(s);
	if (rc == 0) {
		rc = tcp_layer_create(s);
		if (rc != 0)
			set_error("tpa_stack_create: TCP layer: %s", strerror(-rc));
	} else {
		set_error("tpa_stack_create: neighbour table: %s", strerror(-rc));
	}
	if (rc != 0) {
		neigh_table_destroy(s);
		stack_mem_free(&cfg->mem, s);
		errno = -rc;
		return NULL;
	}
	return s;
}

/* Sent frames whose device reference is gone, in the order sent (a device completes in order;
 * one still held stops the walk until a later flush): back to the pool in one put, as
 * rte_mbuf_raw_free leaves a buffer. */
static void stack_sent_reclaim(struct tpa_stack *s)
{
	uint32_t n = 0;
	while (n < s->sent_n && rte_mbuf_refcnt_read(s->sent[n]) == 1) {
		struct rte_mbuf *m = s->sent[n++];
		m->next = NULL; /* a receiver may have chained it and freed the chain */
		m->nb_segs = 1;
	}
	if (!n)
		return;
	rte_mempool_put_bulk(s->cfg.pool, (void **)s->sent, n);
	s->sent_n -= n;
	memmove(s->sent, s->sent + n, s->sent_n * sizeof(s->sent[0]));
}

/* Drop the stack's references to sent frames; a frame the device still holds goes to the pool
 * when the device frees it. */
static void stack_sent_release(struct tpa_stack *s)
{
	for (uint32_t i = 0; i < s->sent_n; i++)
		rte_pktmbuf_free(s->sent[i]);
	s->sent_n = 0;
}

void tpa_stack_destroy(struct tpa_stack *s)
{
	if (!s)
		return;
	tcp_layer_destroy(s);
	neigh_table_destroy(s);
	for (uint16_t i = 0; i < s->txq_len; i++)
		rte_pktmbuf_free(s->txq[i]);
	s->txq_len = 0;
	stack_mbuf_recycle_drain(s);
	stack_sent_release(s);
	struct tpa_allocator mem = s->cfg.mem;
	stack_mem_free(&mem, s);
}

void stack_tx_frame(struct tpa_stack *s, struct rte_mbuf *m)
{
	if (s->txq_len == TPA_TX_BATCH)
		tpa_stack_flush(s);
	s->txq[s->txq_len++] = m;
}

void stack_mbuf_recycle_drain(struct tpa_stack *s)
{
	if (s->recycled_n)
		rte_mempool_put_bulk(s->cfg.pool, (void **)s->recycled, s->recycled_n);
	s->recycled_n = 0;
}

int tpa_stack_flush(struct tpa_stack *s)
{
	stack_mbuf_recycle_drain(s);
	uint16_t done = 0;
	for (int attempt = 0; done < s->txq_len && attempt < TX_RETRIES; attempt++) {
		uint16_t n = s->cfg.dev.tx_burst(s->cfg.dev.ctx, s->txq + done,
		                                 (uint16_t)(s->txq_len - done));
		if (n > s->txq_len - done)
			n = (uint16_t)(s->txq_len -
			               done); /* a device that overstates: trust none */
		done = (uint16_t)(done + n);
	}
	STAT_ADD(s, eth_tx, done);
	for (uint16_t i = done; i < s->txq_len; i++) {
		rte_pktmbuf_free(s->txq[i]);
		STAT_INC(s, eth_tx_drop_full);
	}
	s->txq_len = 0;
	stack_sent_reclaim(s);
	return done;
}

void tpa_stack_input(struct tpa_stack *s, struct rte_mbuf **pkts, uint16_t n)
{
	stack_now(s);
	for (uint16_t i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		eth_input(s, pkts[i]);
	}
	tcp_end_of_burst(s);
}

void tpa_stack_run_timers(struct tpa_stack *s)
{
	stack_now(s);
	neigh_run_timers(s);
	tcp_run_timers(s);
}

int tpa_stack_poll(struct tpa_stack *s)
{
	struct rte_mbuf *pkts[TPA_RX_BURST];
	uint16_t n = s->cfg.dev.rx_burst(s->cfg.dev.ctx, pkts, TPA_RX_BURST);
	if (n > TPA_RX_BURST)
		n = TPA_RX_BURST;
	if (n)
		tpa_stack_input(s, pkts, n);
	tpa_stack_run_timers(s);
	return n + tpa_stack_flush(s);
}

uint64_t tpa_stack_next_timer_ns(const struct tpa_stack *s)
{
	uint64_t a = neigh_next_timer_ns(s);
	uint64_t b = tcp_next_timer_ns(s);
	return a < b ? a : b;
}

void tpa_stack_neigh_update(struct tpa_stack *s, uint32_t ip_be, const uint8_t mac[6])
{
	stack_now(s);
	if (mac && !eth_addr_is_zero(mac) && !eth_addr_is_group(mac))
		neigh_confirm(s, ip_be, mac, true);
	else
		neigh_fail(s, ip_be);
}

const struct tpa_stack_stats *tpa_stack_stats(const struct tpa_stack *s)
{
	return &s->stats;
}

void tpa_stack_stats_foreach(const struct tpa_stack *s,
                             void (*fn)(void *arg, const char *name, uint64_t value), void *arg)
{
#define TPA_STACK_COUNTER_CALL(name) fn(arg, #name, s->stats.name);
	TPA_STACK_COUNTERS(TPA_STACK_COUNTER_CALL)
#undef TPA_STACK_COUNTER_CALL
}

uint32_t tpa_stack_socket_count(const struct tpa_stack *s)
{
	return tcp_socket_count(s);
}

uint32_t tpa_stack_mbufs_held(const struct tpa_stack *s)
{
	return s->txq_len + s->sent_n + neigh_mbufs_held(s) + tcp_mbufs_held(s);
}
