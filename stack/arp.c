/* SPDX-License-Identifier: BSD-3-Clause */
#include "arp.h"

#include <errno.h>
#include <rte_mbuf.h>
#include <string.h>

#include "eth.h"
#include "neigh.h"
#include "stack_impl.h"

#define ARP_HTYPE_ETHER 1

/* Field offsets in the 28-byte IPv4-over-Ethernet ARP packet. */
enum {
	ARP_OFF_HTYPE = 0,
	ARP_OFF_PTYPE = 2,
	ARP_OFF_HLEN = 4,
	ARP_OFF_PLEN = 5,
	ARP_OFF_OP = 6,
	ARP_OFF_SHA = 8,
	ARP_OFF_SPA = 14,
	ARP_OFF_THA = 18,
	ARP_OFF_TPA = 24,
};

static uint16_t load_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void store_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Addresses are kept in network byte order: copy them as bytes. */
static uint32_t load_addr(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static bool ipv4_is_group_or_bcast(uint32_t a_be)
{
	uint8_t first = ((const uint8_t *)&a_be)[0];
	return first >= 224 || a_be == 0xffffffffu;
}

static int arp_send(struct tpa_stack *s, uint16_t op, const uint8_t eth_dst[ETH_ADDR_LEN],
                    const uint8_t tha[ETH_ADDR_LEN], uint32_t tpa_be)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(s->cfg.pool);
	if (!m) {
		STAT_INC(s, mbuf_alloc_fail);
		return -ENOBUFS;
	}
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, ARP_PKT_LEN);
	if (!p) {
		STAT_INC(s, mbuf_alloc_fail);
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	store_be16(p + ARP_OFF_HTYPE, ARP_HTYPE_ETHER);
	store_be16(p + ARP_OFF_PTYPE, ETH_TYPE_IPV4);
	p[ARP_OFF_HLEN] = ETH_ADDR_LEN;
	p[ARP_OFF_PLEN] = 4;
	store_be16(p + ARP_OFF_OP, op);
	memcpy(p + ARP_OFF_SHA, s->cfg.dev.mac, ETH_ADDR_LEN);
	memcpy(p + ARP_OFF_SPA, &s->cfg.ipv4_addr, 4);
	memcpy(p + ARP_OFF_THA, tha, ETH_ADDR_LEN);
	memcpy(p + ARP_OFF_TPA, &tpa_be, 4);
	STAT_INC(s, arp_tx);
	return eth_output(s, m, eth_dst, ETH_TYPE_ARP);
}

int arp_send_request(struct tpa_stack *s, uint32_t target_be)
{
	static const uint8_t unknown[ETH_ADDR_LEN];
	return arp_send(s, ARP_OP_REQUEST, eth_broadcast_addr, unknown, target_be);
}

void arp_input(struct tpa_stack *s, struct rte_mbuf *m)
{
	STAT_INC(s, arp_rx);
	/* eth guarantees the first segment holds min(frame, ETH_CONTIG_LEN) bytes. */
	if (m->pkt_len < ARP_PKT_LEN) {
		STAT_INC(s, arp_drop_malformed);
		goto done;
	}
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint16_t op = load_be16(p + ARP_OFF_OP);
	const uint8_t *sha = p + ARP_OFF_SHA;
	uint32_t spa = load_addr(p + ARP_OFF_SPA);
	uint32_t tpa = load_addr(p + ARP_OFF_TPA);
	if (load_be16(p + ARP_OFF_HTYPE) != ARP_HTYPE_ETHER ||
	    load_be16(p + ARP_OFF_PTYPE) != ETH_TYPE_IPV4 || p[ARP_OFF_HLEN] != ETH_ADDR_LEN ||
	    p[ARP_OFF_PLEN] != 4 || (op != ARP_OP_REQUEST && op != ARP_OP_REPLY) ||
	    eth_addr_is_group(sha) || eth_addr_is_zero(sha) || ipv4_is_group_or_bcast(spa) ||
	    ipv4_is_group_or_bcast(tpa)) {
		STAT_INC(s, arp_drop_malformed);
		goto done;
	}
	uint32_t ours = s->cfg.ipv4_addr;
	/* Someone else claiming our address: never let it redirect our traffic. */
	if (spa == ours)
		goto done;
	bool for_us = tpa == ours;
	/* spa 0 is an address probe (RFC 5227): nothing to learn, but it gets its answer. */
	if (spa != 0)
		neigh_confirm(s, spa, sha, for_us);
	if (for_us && op == ARP_OP_REQUEST) {
		uint8_t dst[ETH_ADDR_LEN];
		memcpy(dst, sha, ETH_ADDR_LEN);
		rte_pktmbuf_free(m);
		arp_send(s, ARP_OP_REPLY, dst, dst, spa);
		return;
	}
done:
	rte_pktmbuf_free(m);
}
