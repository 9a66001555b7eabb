/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fault injection between the stack and the port: drop, duplicate, reorder and corrupt frames
 * at seeded random rates, per direction. Faulted copies are fresh mbufs: the stack may still
 * reference a transmitted mbuf's data for retransmission, so it is never modified in place on
 * the transmit side.
 */
#include <netinet/in.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
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

/* A frame on a wire has its full checksum before anything can corrupt it. A local sender's
 * frame on a veth carries only the pseudo-header sum (CHECKSUM_PARTIAL), which the stack trusts
 * there: corrupting it as it is would model a fault that cannot happen. Complete the checksum
 * first, as a NIC would have. */
static void complete_partial_csum(struct rte_mbuf *m)
{
	uint32_t len = rte_pktmbuf_data_len(m);
	if (len != rte_pktmbuf_pkt_len(m) || len < sizeof(struct rte_ether_hdr) + 20 + 20)
		return;
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	uint32_t ihl = (uint32_t)(ip->version_ihl & 0xf) * 4;
	uint32_t tot = rte_be_to_cpu_16(ip->total_length);
	if (ip->next_proto_id != IPPROTO_TCP || ihl < 20 || tot < ihl + 20 ||
	    sizeof(*eth) + tot > len || (ip->fragment_offset & rte_cpu_to_be_16(0x3fff)))
		return;
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)((uint8_t *)ip + ihl);
	if (th->cksum != rte_ipv4_phdr_cksum(ip, 0))
		return;
	th->cksum = 0;
	uint32_t sum = rte_raw_cksum(th, tot - ihl) + rte_ipv4_phdr_cksum(ip, 0);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	th->cksum = (uint16_t)~sum;
}

static void corrupt(struct fault_state *f, struct rte_mbuf *m)
{
	uint32_t len = rte_pktmbuf_data_len(m);
	if (len <= 14)
		return;
	complete_partial_csum(m);
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
