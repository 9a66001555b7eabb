/* SPDX-License-Identifier: BSD-3-Clause */
#include "sim_craft.h"

#include <netinet/in.h>
#include <string.h>

#include "checksum.h"
#include "wire.h"

void craft_fix_ip_cksum(uint8_t *frame)
{
	uint8_t *ip = frame + ETH_HDR_LEN;
	wire_store_be16(ip + IPV4_OFF_CSUM, 0);
	uint16_t c = tpa_csum_fold(tpa_csum_partial(ip, ipv4_hdr_len(ip), 0));
	memcpy(ip + IPV4_OFF_CSUM, &c, 2); /* tpa_csum_fold's value is in network order */
}

void craft_fix_tcp_cksum(uint8_t *frame, size_t len)
{
	uint8_t *ip = frame + ETH_HDR_LEN;
	uint8_t *th = ip + ipv4_hdr_len(ip);
	uint16_t l4 = (uint16_t)(len - (size_t)(th - frame));
	wire_store_be16(th + TCP_OFF_CSUM, 0);
	uint32_t sum = tpa_csum_pseudo_ipv4(wire_load_addr(ip + IPV4_OFF_SRC),
	                                    wire_load_addr(ip + IPV4_OFF_DST), IPPROTO_TCP, l4);
	uint16_t c = tpa_csum_fold(tpa_csum_partial(th, l4, sum));
	memcpy(th + TCP_OFF_CSUM, &c, 2);
}

size_t craft_tcp_frame(uint8_t *buf, const struct craft_tcp *t)
{
	size_t thlen = TCP_HDR_LEN + t->options_len;
	size_t ip_len = IPV4_HDR_LEN + thlen + t->payload_len;
	memcpy(buf + ETH_OFF_DST, t->dst_mac, ETH_ADDR_LEN);
	memcpy(buf + ETH_OFF_SRC, t->src_mac, ETH_ADDR_LEN);
	wire_store_be16(buf + ETH_OFF_TYPE, ETH_TYPE_IPV4);
	uint8_t *ip = buf + ETH_HDR_LEN;
	memset(ip, 0, IPV4_HDR_LEN);
	ip[IPV4_OFF_VER_IHL] = IPV4_VER_IHL_NO_OPTS;
	wire_store_be16(ip + IPV4_OFF_TOT_LEN, (uint16_t)ip_len);
	wire_store_be16(ip + IPV4_OFF_FRAG, IPV4_FLAG_DF);
	ip[IPV4_OFF_TTL] = 64;
	ip[IPV4_OFF_PROTO] = IPPROTO_TCP;
	wire_store_addr(ip + IPV4_OFF_SRC, t->src_ip);
	wire_store_addr(ip + IPV4_OFF_DST, t->dst_ip);
	craft_fix_ip_cksum(buf);
	uint8_t *th = ip + IPV4_HDR_LEN;
	memset(th, 0, TCP_HDR_LEN);
	wire_store_be16(th + TCP_OFF_SPORT, t->sport);
	wire_store_be16(th + TCP_OFF_DPORT, t->dport);
	wire_store_be32(th + TCP_OFF_SEQ, t->seq);
	wire_store_be32(th + TCP_OFF_ACK, t->ack);
	th[TCP_OFF_DATAOFF] = (uint8_t)((thlen / 4) << 4);
	th[TCP_OFF_FLAGS] = t->flags;
	wire_store_be16(th + TCP_OFF_WIN, t->window);
	if (t->options_len)
		memcpy(th + TCP_HDR_LEN, t->options, t->options_len);
	if (t->payload_len)
		memcpy(th + thlen, t->payload, t->payload_len);
	uint16_t l4 = (uint16_t)(thlen + t->payload_len);
	uint32_t sum = tpa_csum_pseudo_ipv4(t->src_ip, t->dst_ip, IPPROTO_TCP, l4);
	uint16_t c = tpa_csum_fold(tpa_csum_partial(th, l4, sum));
	memcpy(th + TCP_OFF_CSUM, &c, 2);
	return ETH_HDR_LEN + ip_len;
}

size_t craft_arp_frame(uint8_t *buf, const uint8_t eth_dst[6], const uint8_t eth_src[6],
                       uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6],
                       uint32_t tpa)
{
	memcpy(buf + ETH_OFF_DST, eth_dst, ETH_ADDR_LEN);
	memcpy(buf + ETH_OFF_SRC, eth_src, ETH_ADDR_LEN);
	wire_store_be16(buf + ETH_OFF_TYPE, ETH_TYPE_ARP);
	uint8_t *a = buf + ETH_HDR_LEN;
	wire_store_be16(a + ARP_OFF_HTYPE, ARP_HTYPE_ETHER);
	wire_store_be16(a + ARP_OFF_PTYPE, ETH_TYPE_IPV4);
	a[ARP_OFF_HLEN] = ETH_ADDR_LEN;
	a[ARP_OFF_PLEN] = 4;
	wire_store_be16(a + ARP_OFF_OP, op);
	memcpy(a + ARP_OFF_SHA, sha, ETH_ADDR_LEN);
	wire_store_addr(a + ARP_OFF_SPA, spa);
	memcpy(a + ARP_OFF_THA, tha, ETH_ADDR_LEN);
	wire_store_addr(a + ARP_OFF_TPA, tpa);
	return ETH_HDR_LEN + ARP_PKT_LEN;
}

bool parse_tcp_frame(const uint8_t *f, size_t len, struct parsed_tcp *p)
{
	if (len < ETH_HDR_LEN + IPV4_HDR_LEN + TCP_HDR_LEN ||
	    wire_load_be16(f + ETH_OFF_TYPE) != ETH_TYPE_IPV4)
		return false;
	const uint8_t *ip = f + ETH_HDR_LEN;
	size_t ihl = ipv4_hdr_len(ip);
	if (ipv4_hdr_version(ip) != IPV4_VERSION || ip[IPV4_OFF_PROTO] != IPPROTO_TCP ||
	    ihl < IPV4_HDR_LEN)
		return false;
	size_t tot = wire_load_be16(ip + IPV4_OFF_TOT_LEN);
	if (tot > len - ETH_HDR_LEN || tot < ihl + TCP_HDR_LEN)
		return false;
	const uint8_t *th = ip + ihl;
	size_t thlen = tcp_hdr_len(th);
	if (thlen < TCP_HDR_LEN || ihl + thlen > tot)
		return false;
	p->src_ip = wire_load_addr(ip + IPV4_OFF_SRC);
	p->dst_ip = wire_load_addr(ip + IPV4_OFF_DST);
	p->sport = wire_load_be16(th + TCP_OFF_SPORT);
	p->dport = wire_load_be16(th + TCP_OFF_DPORT);
	p->seq = wire_load_be32(th + TCP_OFF_SEQ);
	p->ack = wire_load_be32(th + TCP_OFF_ACK);
	p->flags = th[TCP_OFF_FLAGS];
	p->window = wire_load_be16(th + TCP_OFF_WIN);
	p->payload = th + thlen;
	p->payload_len = (uint32_t)(tot - ihl - thlen);
	return true;
}
