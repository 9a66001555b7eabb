/* SPDX-License-Identifier: BSD-3-Clause */
#include "arp.h"

#include <errno.h>
#include <rte_mbuf.h>
#include <string.h>

#include "eth.h"
#include "neigh.h"
#include "stack_impl.h"

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
	wire_store_be16(p + ARP_OFF_HTYPE, ARP_HTYPE_ETHER);
	wire_store_be16(p + ARP_OFF_PTYPE, ETH_TYPE_IPV4);
	p[ARP_OFF_HLEN] = ETH_ADDR_LEN;
	p[ARP_OFF_PLEN] = 4;
	wire_store_be16(p + ARP_OFF_OP, op);
	memcpy(p + ARP_OFF_SHA, s->cfg.dev.mac, ETH_ADDR_LEN);
	wire_store_addr(p + ARP_OFF_SPA, s->cfg.ipv4_addr);
	memcpy(p + ARP_OFF_THA, tha, ETH_ADDR_LEN);
	wire_store_addr(p + ARP_OFF_TPA, tpa_be);
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
	uint16_t op = wire_load_be16(p + ARP_OFF_OP);
	const uint8_t *sha = p + ARP_OFF_SHA;
	uint32_t spa = wire_load_addr(p + ARP_OFF_SPA);
	uint32_t tpa = wire_load_addr(p + ARP_OFF_TPA);
	if (wire_load_be16(p + ARP_OFF_HTYPE) != ARP_HTYPE_ETHER ||
	    wire_load_be16(p + ARP_OFF_PTYPE) != ETH_TYPE_IPV4 || p[ARP_OFF_HLEN] != ETH_ADDR_LEN ||
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
