/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fault injection between the stack and the port: drop, duplicate, reorder and corrupt frames
 * at seeded random rates, per direction. Faulted copies are fresh mbufs: the stack may still
 * reference a transmitted mbuf's data for retransmission, so it is never modified in place on
 * the transmit side.
 */
#include <rte_mbuf.h>
#include <string.h>

#include "engine_impl.h"

/* splitmix64: tiny, seedable, good enough for fault decisions. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int roll(struct fault_state *f, uint32_t ppm)
{
	return ppm && (rng_next(&f->rng) % 1000000u) < ppm;
}

static int rates_active(const struct tpa_fault_rates *r)
{
	return r->drop_ppm || r->dup_ppm || r->reorder_ppm || r->corrupt_ppm;
}

void fault_configure(struct fault_state *f, const struct tpa_fault_config *cfg)
{
	f->rx.rates = cfg->rx;
	f->tx.rates = cfg->tx;
	f->rng = cfg->seed ? cfg->seed : 0x7470615f66617574ull;
	f->active = rates_active(&cfg->rx) || rates_active(&cfg->tx);
}

static void corrupt(struct fault_state *f, struct rte_mbuf *m)
{
	uint32_t len = rte_pktmbuf_data_len(m);
	if (len <= 14)
		return;
	uint32_t off = 14 + (uint32_t)(rng_next(&f->rng) % (len - 14));
	uint8_t *p = rte_pktmbuf_mtod_offset(m, uint8_t *, off);
	*p ^= (uint8_t)(1u << (rng_next(&f->rng) % 8));
}

uint16_t fault_apply(struct fault_state *f, struct fault_dir_state *d, struct rte_mempool *pool,
                     struct rte_mbuf **pkts, uint16_t n, uint16_t max)
{
	struct rte_mbuf *out[2 * 512];
	uint16_t nout = 0;
	if (max > 512)
		max = 512;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		if (roll(f, d->rates.drop_ppm)) {
			rte_pktmbuf_free(m);
			d->dropped++;
			continue;
		}
		if (roll(f, d->rates.corrupt_ppm)) {
			struct rte_mbuf *c = rte_pktmbuf_copy(m, pool, 0, UINT32_MAX);
			if (c) {
				rte_pktmbuf_free(m);
				m = c;
				corrupt(f, m);
				d->corrupted++;
			}
		}
		if (roll(f, d->rates.reorder_ppm) && d->nheld < FAULT_HOLD_MAX) {
			d->held[d->nheld++] = m;
			d->reordered++;
			continue;
		}
		out[nout++] = m;
		if (roll(f, d->rates.dup_ppm)) {
			struct rte_mbuf *c = rte_pktmbuf_copy(m, pool, 0, UINT32_MAX);
			if (c) {
				out[nout++] = c;
				d->duplicated++;
			}
		}
		/* A frame held back for reordering goes out after the next one that passes. */
		while (d->nheld && nout < 2 * 512) {
			out[nout++] = d->held[0];
			memmove(&d->held[0], &d->held[1],
			        (size_t)(--d->nheld) * sizeof(d->held[0]));
		}
	}
	/* Nothing else passed for a while: release held frames rather than lose them. */
	if (n == 0 && d->nheld) {
		if (++d->idle_rounds > 64) {
			while (d->nheld && nout < 2 * 512) {
				out[nout++] = d->held[0];
				memmove(&d->held[0], &d->held[1],
				        (size_t)(--d->nheld) * sizeof(d->held[0]));
			}
			d->idle_rounds = 0;
		}
	} else {
		d->idle_rounds = 0;
	}
	/* The caller's array holds max entries; frames beyond that are dropped (counted). */
	uint16_t keep = nout < max ? nout : max;
	for (uint16_t i = keep; i < nout; i++) {
		rte_pktmbuf_free(out[i]);
		d->dropped++;
	}
	memcpy(pkts, out, keep * sizeof(pkts[0]));
	return keep;
}

void fault_release(struct fault_state *f)
{
	struct fault_dir_state *dirs[] = {&f->rx, &f->tx};
	for (int i = 0; i < 2; i++) {
		for (uint16_t j = 0; j < dirs[i]->nheld; j++)
			rte_pktmbuf_free(dirs[i]->held[j]);
		dirs[i]->nheld = 0;
	}
}
