/* SPDX-License-Identifier: BSD-3-Clause */
#include "sim_capture.h"

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_eal.h"

#define RX_ROOM 1024

const uint8_t rig_isn_key[16] = {0x74, 0x70, 0x61, 0x2d, 0x72, 0x69, 0x67, 0x2d,
                                 0x69, 0x73, 0x6e, 0x2d, 0x6b, 0x65, 0x79, 0x31};

uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	uint8_t v[4] = {a, b, c, d};
	uint32_t r;
	memcpy(&r, v, 4);
	return r;
}

uint32_t rig_ip(void)
{
	return ip4(10, 0, 0, 1);
}

static uint16_t cap_tx(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	struct sim_capture *c = ctx;
	c->tx_calls++;
	uint16_t take = n;
	if (c->tx_accept >= 0 && c->tx_accept < n)
		take = (uint16_t)c->tx_accept;
	for (uint16_t i = 0; i < take; i++) {
		struct rte_mbuf *m = pkts[i];
		if (c->count < CAPTURE_MAX_FRAMES && m->pkt_len <= CAPTURE_FRAME_ROOM) {
			struct captured_frame *f = &c->frames[c->count];
			const void *p = rte_pktmbuf_read(m, 0, m->pkt_len, f->data);
			if (p != f->data)
				memcpy(f->data, p, m->pkt_len);
			f->len = m->pkt_len;
			f->ol_flags = m->ol_flags;
			f->l2_len = (uint16_t)m->l2_len;
			f->l3_len = (uint16_t)m->l3_len;
		}
		c->count++;
		rte_pktmbuf_free(m);
	}
	return take;
}

static uint16_t cap_rx(void *ctx, struct rte_mbuf **pkts, uint16_t max)
{
	struct sim_capture *c = ctx;
	uint16_t n = 0;
	while (n < max && c->rx_head < c->rx_len)
		pkts[n++] = c->rx[c->rx_head++];
	if (c->rx_head == c->rx_len)
		c->rx_head = c->rx_len = 0;
	return n;
}

void sim_rig_init(struct sim_rig *r, void (*cfg_tweak)(struct tpa_stack_config *cfg))
{
	static unsigned instance;
	memset(r, 0, sizeof(*r));
	r->clock.now_ns = 5000000000ull;
	r->cap.frames = calloc(CAPTURE_MAX_FRAMES, sizeof(*r->cap.frames));
	r->cap.rx = calloc(RX_ROOM, sizeof(*r->cap.rx));
	r->cap.tx_accept = -1;
	char name[32];
	snprintf(name, sizeof(name), "rig%u", instance++);
	r->pool_size = 1023;
	r->pool = test_pool_create(name, r->pool_size);
	struct tpa_stack_config cfg;
	tpa_stack_config_init(&cfg);
	cfg.dev.rx_burst = cap_rx;
	cfg.dev.tx_burst = cap_tx;
	cfg.dev.ctx = &r->cap;
	const uint8_t mac[6] = RIG_MAC;
	memcpy(cfg.dev.mac, mac, 6);
	cfg.clock = vclock_clock(&r->clock);
	cfg.pool = r->pool;
	cfg.ipv4_addr = rig_ip();
	cfg.ipv4_prefix_len = 24;
	cfg.max_sockets = 1024;
	memcpy(cfg.isn_key, rig_isn_key, sizeof(cfg.isn_key));
	if (cfg_tweak)
		cfg_tweak(&cfg);
	r->s = tpa_stack_create(&cfg);
	if (!r->cap.frames || !r->cap.rx || !r->s) {
		fprintf(stderr, "sim_rig_init: %s\n", tpa_stack_last_error());
		abort();
	}
}

bool sim_rig_destroy(struct sim_rig *r)
{
	bool ok = true;
	uint32_t held = r->s ? tpa_stack_mbufs_held(r->s) : 0;
	if (held) {
		fprintf(stderr, "sim_rig_destroy: stack still holds %u mbufs\n", held);
		ok = false;
	}
	tpa_stack_destroy(r->s);
	for (uint32_t i = r->cap.rx_head; i < r->cap.rx_len; i++)
		rte_pktmbuf_free(r->cap.rx[i]);
	unsigned avail = rte_mempool_avail_count(r->pool);
	if (avail != r->pool_size) {
		fprintf(stderr, "sim_rig_destroy: pool has %u of %u mbufs\n", avail, r->pool_size);
		ok = false;
	}
	rte_mempool_free(r->pool);
	free(r->cap.frames);
	free(r->cap.rx);
	return ok;
}

struct rte_mbuf *sim_rig_mbuf(struct sim_rig *r, const void *data, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(r->pool);
	if (!m)
		abort();
	char *p = rte_pktmbuf_append(m, (uint16_t)len);
	if (!p)
		abort();
	memcpy(p, data, len);
	return m;
}

void sim_rig_input(struct sim_rig *r, const void *frame, size_t len, uint64_t ol_flags)
{
	struct rte_mbuf *m = sim_rig_mbuf(r, frame, len);
	m->ol_flags = ol_flags;
	tpa_stack_input(r->s, &m, 1);
	tpa_stack_flush(r->s);
}

void sim_rig_input_chained(struct sim_rig *r, const void *frame, size_t len, size_t first_len)
{
	struct rte_mbuf *a = sim_rig_mbuf(r, frame, first_len);
	struct rte_mbuf *b = sim_rig_mbuf(r, (const uint8_t *)frame + first_len, len - first_len);
	if (rte_pktmbuf_chain(a, b) != 0)
		abort();
	tpa_stack_input(r->s, &a, 1);
	tpa_stack_flush(r->s);
}

void sim_rig_queue_rx(struct sim_rig *r, const void *frame, size_t len)
{
	if (r->cap.rx_len == RX_ROOM)
		abort();
	r->cap.rx[r->cap.rx_len++] = sim_rig_mbuf(r, frame, len);
}

void sim_rig_clear(struct sim_rig *r)
{
	r->cap.count = 0;
}
