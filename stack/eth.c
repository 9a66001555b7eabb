/* SPDX-License-Identifier: BSD-3-Clause */
#include "eth.h"

#include <errno.h>
#include <rte_mbuf.h>

#include "arp.h"
#include "ipv4.h"
#include "stack_impl.h"

const uint8_t eth_broadcast_addr[ETH_ADDR_LEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

void eth_input(struct tpa_stack *s, struct rte_mbuf *m)
{
	STAT_INC(s, eth_rx);
	if (m->pkt_len < ETH_HDR_LEN) {
		STAT_INC(s, eth_drop_short);
		goto drop;
	}
	/* Upper layers read headers from the first segment. Frames from a scattering device
	 * whose first segment is tiny are made contiguous (rare: costs a copy). */
	uint32_t contig = m->pkt_len < ETH_CONTIG_LEN ? m->pkt_len : ETH_CONTIG_LEN;
	if (m->data_len < contig && rte_pktmbuf_linearize(m) != 0) {
		/* No tailroom to gather the headers in: a resource problem, not a bad frame. */
		STAT_INC(s, mbuf_alloc_fail);
		goto drop;
	}

	const uint8_t *h = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *dst = h + ETH_OFF_DST;
	if (memcmp(dst, s->cfg.dev.mac, ETH_ADDR_LEN) != 0 && !eth_addr_is_broadcast(dst)) {
		STAT_INC(s, eth_drop_not_ours);
		goto drop;
	}
	uint16_t type = wire_load_be16(h + ETH_OFF_TYPE);
	rte_pktmbuf_adj(m, ETH_HDR_LEN);
	switch (type) {
	case ETH_TYPE_IPV4:
		/* A broadcast MAC carrying IPv4 is still checked against our address by IPv4. */
		ipv4_input(s, m);
		return;
	case ETH_TYPE_ARP:
		arp_input(s, m);
		return;
	default:
		/* VLAN tags (0x8100, 0x88a8) land here too: this stack runs on untagged ports. */
		STAT_INC(s, eth_drop_ethertype);
		goto drop;
	}
drop:
	rte_pktmbuf_free(m);
}

int eth_output(struct tpa_stack *s, struct rte_mbuf *m, const uint8_t dst[ETH_ADDR_LEN],
               uint16_t ethertype)
{
	uint8_t *h = (uint8_t *)rte_pktmbuf_prepend(m, ETH_HDR_LEN);
	if (!h) {
		STAT_INC(s, mbuf_alloc_fail);
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	memcpy(h + ETH_OFF_DST, dst, ETH_ADDR_LEN);
	memcpy(h + ETH_OFF_SRC, s->cfg.dev.mac, ETH_ADDR_LEN);
	wire_store_be16(h + ETH_OFF_TYPE, ethertype);
	m->l2_len = ETH_HDR_LEN;
	stack_tx_frame(s, m);
	return 0;
}
