/* SPDX-License-Identifier: BSD-3-Clause */
#include "ipv4.h"

#include <errno.h>
#include <netinet/in.h>
#include <rte_mbuf.h>
#include <string.h>

#include "checksum.h"
#include "eth.h"
#include "neigh.h"
#include "stack_impl.h"
#include "tcp_layer.h"
#include "wire.h"

#define IPV4_TTL 64

static bool addr_is_group_or_bcast(uint32_t a_be)
{
	return ((const uint8_t *)&a_be)[0] >= 224; /* multicast, class E, 255.255.255.255 */
}

/* Remove len bytes from the end of a chain (Ethernet padding after the datagram). */
static void trim_tail(struct rte_mbuf *m, uint32_t new_len)
{
	uint32_t left = new_len;
	struct rte_mbuf *seg = m, *prev = NULL;
	while (seg && left >= seg->data_len && seg->next) {
		left -= seg->data_len;
		prev = seg;
		seg = seg->next;
	}
	if (left == 0 && prev) {
		/* The datagram ends exactly at a segment boundary: drop the padding segments. */
		prev->next = NULL;
		rte_pktmbuf_free(seg);
	} else {
		seg->data_len = (uint16_t)left;
		if (seg->next) {
			rte_pktmbuf_free(seg->next);
			seg->next = NULL;
		}
	}
	uint16_t n = 0;
	for (struct rte_mbuf *x = m; x; x = x->next)
		n++;
	m->nb_segs = n;
	m->pkt_len = new_len;
}

bool ipv4_rx_plain_off;

/* The usual datagram, told in one test: version 4 without options, exactly the rest of the
 * frame (no padding) and not a fragment. Every check of the general path before the checksum
 * passes for it, and so does the fragment check after it. */
static bool plain_datagram(const struct rte_mbuf *m, const uint8_t *h)
{
	return m->pkt_len >= IPV4_HDR_LEN && h[IPV4_OFF_VER_IHL] == IPV4_VER_IHL_NO_OPTS &&
	       wire_load_be16(h + IPV4_OFF_TOT_LEN) == m->pkt_len &&
	       !(wire_load_be16(h + IPV4_OFF_FRAG) & (IPV4_FLAG_MF | IPV4_FRAG_OFFSET_MASK)) &&
	       !ipv4_rx_plain_off;
}

/* The header checksum: the device's verdict where it gives one, else the sum of hlen4 words
 * (inline: a constant count for the plain datagram). */
static inline bool cksum_bad(const struct tpa_stack *s, const struct rte_mbuf *m, const uint8_t *h,
                             uint32_t hlen4)
{
	bool rx_offload = s->cfg.dev.rx_offloads & TPA_DEV_OFFLOAD_RX_CKSUM;
	uint64_t ip_verdict = rx_offload ? (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) : 0;
	return ip_verdict == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
	       (ip_verdict != RTE_MBUF_F_RX_IP_CKSUM_GOOD &&
	        tpa_csum_fold(tpa_csum_words(h, hlen4, 0)) != 0);
}

/* Everything but the addresses and the protocol, for any datagram: false (counted) to drop. */
static bool header_valid(struct tpa_stack *s, const struct rte_mbuf *m, const uint8_t *h,
                         uint32_t *hlen_out, uint32_t *tot_len_out)
{
	if (m->pkt_len < IPV4_HDR_LEN) {
		STAT_INC(s, ip_drop_short);
		return false;
	}
	if (ipv4_hdr_version(h) != IPV4_VERSION) {
		STAT_INC(s, ip_drop_version);
		return false;
	}
	uint32_t hlen = ipv4_hdr_len(h);
	/* eth made the first ETH_CONTIG_LEN - 14 bytes contiguous: every legal header fits. */
	if (hlen < IPV4_HDR_LEN || hlen > m->pkt_len) {
		STAT_INC(s, ip_drop_ihl);
		return false;
	}
	uint32_t tot_len = wire_load_be16(h + IPV4_OFF_TOT_LEN);
	if (tot_len > m->pkt_len || tot_len < hlen) {
		STAT_INC(s, ip_drop_len);
		return false;
	}
	if (cksum_bad(s, m, h, hlen / 4)) {
		STAT_INC(s, ip_drop_cksum);
		return false;
	}
	uint16_t frag = wire_load_be16(h + IPV4_OFF_FRAG);
	if (frag & (IPV4_FLAG_MF | IPV4_FRAG_OFFSET_MASK)) {
		/* No reassembly: peers use DF + PMTU discovery for TCP. */
		STAT_INC(s, ip_drop_fragment);
		return false;
	}
	*hlen_out = hlen;
	*tot_len_out = tot_len;
	return true;
}

void ipv4_input(struct tpa_stack *s, struct rte_mbuf *m)
{
	STAT_INC(s, ip_rx);
	const uint8_t *h = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t hlen = IPV4_HDR_LEN, tot_len = m->pkt_len;
	if (plain_datagram(m, h)) {
		if (cksum_bad(s, m, h, IPV4_HDR_LEN / 4)) {
			STAT_INC(s, ip_drop_cksum);
			goto drop;
		}
	} else if (!header_valid(s, m, h, &hlen, &tot_len)) {
		goto drop;
	}
	struct ipv4_rx_meta meta;
	meta.src_be = wire_load_addr(h + IPV4_OFF_SRC);
	meta.dst_be = wire_load_addr(h + IPV4_OFF_DST);
	if (meta.dst_be != s->cfg.ipv4_addr || addr_is_group_or_bcast(meta.src_be) ||
	    meta.src_be == 0 || meta.src_be == s->cfg.ipv4_addr) {
		STAT_INC(s, ip_drop_not_ours);
		goto drop;
	}
	if (h[IPV4_OFF_PROTO] != IPPROTO_TCP) {
		STAT_INC(s, ip_drop_proto);
		goto drop;
	}
	meta.tos = h[IPV4_OFF_TOS];
	meta.ttl = h[IPV4_OFF_TTL];
	bool rx_offload = s->cfg.dev.rx_offloads & TPA_DEV_OFFLOAD_RX_CKSUM;
	meta.l4_cksum_ok = rx_offload && (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) ==
	                                         RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	meta.l4_partial_ok = (s->cfg.dev.rx_offloads & TPA_DEV_OFFLOAD_RX_CSUM_PARTIAL) != 0;
	if (m->pkt_len > tot_len)
		trim_tail(m, tot_len);
	rte_pktmbuf_adj(m, (uint16_t)hlen);
	tcp_input(s, m, &meta);
	return;
drop:
	rte_pktmbuf_free(m);
}

bool ipv4_tx_l4_cksum_offload(const struct tpa_stack *s)
{
	return s->cfg.dev.tx_offloads & TPA_DEV_OFFLOAD_TCP_CKSUM;
}

uint16_t ipv4_max_l4_len(const struct tpa_stack *s)
{
	return (uint16_t)(s->cfg.dev.mtu - IPV4_HDR_LEN);
}

/* The next hop for dst_be, or 0 when there is none. */
static uint32_t route(const struct tpa_stack *s, uint32_t dst_be)
{
	if (addr_is_group_or_bcast(dst_be) || dst_be == 0 || dst_be == s->cfg.ipv4_addr ||
	    (s->ipv4_mask_be != 0xffffffffu && (dst_be | s->ipv4_mask_be) == 0xffffffffu))
		return 0; /* multicast, broadcast and ourselves: nothing this stack can deliver */
	if ((dst_be & s->ipv4_mask_be) != (s->cfg.ipv4_addr & s->ipv4_mask_be))
		return s->cfg.ipv4_gateway;
	return dst_be;
}

/* The fields ipv4_output writes, but for total length, id and checksum. */
static void put_header(const struct tpa_stack *s, uint8_t *h, uint32_t dst_be, uint8_t proto)
{
	h[IPV4_OFF_VER_IHL] = IPV4_VER_IHL_NO_OPTS;
	h[IPV4_OFF_TOS] = 0;
	wire_store_be16(h + IPV4_OFF_TOT_LEN, 0);
	wire_store_be16(h + IPV4_OFF_ID, 0);
	wire_store_be16(h + IPV4_OFF_FRAG, IPV4_FLAG_DF);
	h[IPV4_OFF_TTL] = IPV4_TTL;
	h[IPV4_OFF_PROTO] = proto;
	wire_store_be16(h + IPV4_OFF_CSUM, 0);
	wire_store_addr(h + IPV4_OFF_SRC, s->cfg.ipv4_addr);
	wire_store_addr(h + IPV4_OFF_DST, dst_be);
}

int ipv4_output(struct tpa_stack *s, struct rte_mbuf *m, uint32_t dst_be, uint8_t proto)
{
	uint32_t tot_len = m->pkt_len + IPV4_HDR_LEN;
	bool tso = m->ol_flags & RTE_MBUF_F_TX_TCP_SEG;
	if (tot_len > 0xffff || (!tso && tot_len > s->cfg.dev.mtu)) {
		STAT_INC(s, ip_drop_len);
		rte_pktmbuf_free(m);
		return -EMSGSIZE;
	}
	uint32_t nexthop = route(s, dst_be);
	if (!nexthop) {
		STAT_INC(s, ip_drop_no_route);
		rte_pktmbuf_free(m);
		return -ENETUNREACH;
	}
	uint8_t *h = (uint8_t *)rte_pktmbuf_prepend(m, IPV4_HDR_LEN);
	if (!h) {
		STAT_INC(s, mbuf_alloc_fail);
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	put_header(s, h, dst_be, proto);
	wire_store_be16(h + IPV4_OFF_TOT_LEN, (uint16_t)tot_len);
	wire_store_be16(h + IPV4_OFF_ID, s->ip_id++);
	m->l3_len = IPV4_HDR_LEN;
	if (s->cfg.dev.tx_offloads & TPA_DEV_OFFLOAD_IPV4_CKSUM) {
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	} else {
		uint16_t c = tpa_csum_fold(tpa_csum_words(h, IPV4_HDR_LEN / 4, 0));
		memcpy(h + IPV4_OFF_CSUM, &c, 2); /* tpa_csum_fold's value is in network order */
		if (m->ol_flags & (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG))
			m->ol_flags |= RTE_MBUF_F_TX_IPV4;
	}
	STAT_INC(s, ip_tx);
	return neigh_output(s, m, nexthop);
}

static void cache_fill(struct tpa_stack *s, struct ipv4_frame_cache *c, uint32_t dst_be,
                       uint8_t proto)
{
	c->until_ns = 0;
	uint32_t nexthop = route(s, dst_be);
	uint64_t until;
	if (!nexthop || !neigh_ready(s, nexthop, c->hdr + ETH_OFF_DST, &until))
		return;
	memcpy(c->hdr + ETH_OFF_SRC, s->cfg.dev.mac, ETH_ADDR_LEN);
	wire_store_be16(c->hdr + ETH_OFF_TYPE, ETH_TYPE_IPV4);
	put_header(s, c->hdr + ETH_HDR_LEN, dst_be, proto);
	uint32_t sum = tpa_csum_words(c->hdr + ETH_HDR_LEN, IPV4_HDR_LEN / 4, 0);
	sum = (sum & 0xffff) + (sum >> 16);
	c->sum = (sum & 0xffff) + (sum >> 16);
	c->dst_be = dst_be;
	c->gen = neigh_gen(s);
	c->until_ns = until;
}

bool ipv4_cache_usable(const struct tpa_stack *s, const struct ipv4_frame_cache *c, uint32_t dst_be,
                       uint8_t proto, uint32_t tot_len)
{
	return s->now_ns < c->until_ns && c->gen == neigh_gen(s) && c->dst_be == dst_be &&
	       c->hdr[ETH_HDR_LEN + IPV4_OFF_PROTO] == proto && tot_len <= s->cfg.dev.mtu;
}

__attribute__((always_inline)) inline void ipv4_cache_put(struct tpa_stack *s, struct rte_mbuf *m,
                                                          uint8_t *f,
                                                          const struct ipv4_frame_cache *c,
                                                          uint32_t tot_len)
{
	memcpy(f, c->hdr, sizeof(c->hdr));
	uint8_t *h = f + ETH_HDR_LEN;
	uint16_t id = s->ip_id++;
	/* Total length and id lie side by side: stored together, in network order. */
	uint16_t len_id[2] = {rte_cpu_to_be_16((uint16_t)tot_len), rte_cpu_to_be_16(id)};
	memcpy(h + IPV4_OFF_TOT_LEN, len_id, sizeof(len_id));
	m->l2_len = ETH_HDR_LEN;
	m->l3_len = IPV4_HDR_LEN;
	if (s->cfg.dev.tx_offloads & TPA_DEV_OFFLOAD_IPV4_CKSUM) {
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	} else {
		/* The cached sum plus the two fields that change, as they lie in memory. */
		uint16_t c16 = tpa_csum_fold(c->sum + len_id[0] + len_id[1]);
		memcpy(h + IPV4_OFF_CSUM, &c16, 2);
		if (m->ol_flags & (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG))
			m->ol_flags |= RTE_MBUF_F_TX_IPV4;
	}
	STAT_INC(s, ip_tx);
}

int ipv4_output_cached(struct tpa_stack *s, struct rte_mbuf *m, uint32_t dst_be, uint8_t proto,
                       struct ipv4_frame_cache *c)
{
	uint32_t tot_len = m->pkt_len + IPV4_HDR_LEN;
	uint8_t *f;
	if (!ipv4_cache_usable(s, c, dst_be, proto, tot_len) ||
	    (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) ||
	    !(f = (uint8_t *)rte_pktmbuf_prepend(m, sizeof(c->hdr)))) {
		int rc = ipv4_output(s, m, dst_be, proto);
		/* After the send: it may have moved the neighbour entry on (to probing). */
		cache_fill(s, c, dst_be, proto);
		return rc;
	}
	ipv4_cache_put(s, m, f, c, tot_len);
	stack_tx_frame(s, m);
	return 0;
}
