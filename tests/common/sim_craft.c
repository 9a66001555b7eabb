/* SPDX-License-Identifier: BSD-3-Clause */
#include "sim_craft.h"

#include <string.h>

#include "checksum.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

void craft_fix_ip_cksum(uint8_t *frame)
{
	uint8_t *ip = frame + 14;
	size_t hlen = (size_t)(ip[0] & 0xf) * 4;
	ip[10] = ip[11] = 0;
	uint16_t c = tpa_csum_fold(tpa_csum_partial(ip, hlen, 0));
	memcpy(ip + 10, &c, 2);
}

size_t craft_tcp_frame(uint8_t *buf, const struct craft_tcp *t)
{
	size_t thlen = 20 + t->options_len;
	size_t ip_len = 20 + thlen + t->payload_len;
	memcpy(buf, t->dst_mac, 6);
	memcpy(buf + 6, t->src_mac, 6);
	put16(buf + 12, 0x0800);
	uint8_t *ip = buf + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)ip_len);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, &t->src_ip, 4);
	memcpy(ip + 16, &t->dst_ip, 4);
	craft_fix_ip_cksum(buf);
	uint8_t *th = ip + 20;
	memset(th, 0, 20);
	put16(th, t->sport);
	put16(th + 2, t->dport);
	put32(th + 4, t->seq);
	put32(th + 8, t->ack);
	th[12] = (uint8_t)((thlen / 4) << 4);
	th[13] = t->flags;
	put16(th + 14, t->window);
	if (t->options_len)
		memcpy(th + 20, t->options, t->options_len);
	if (t->payload_len)
		memcpy(th + thlen, t->payload, t->payload_len);
	uint16_t l4 = (uint16_t)(thlen + t->payload_len);
	uint32_t sum = tpa_csum_pseudo_ipv4(t->src_ip, t->dst_ip, 6, l4);
	uint16_t c = tpa_csum_fold(tpa_csum_partial(th, l4, sum));
	memcpy(th + 16, &c, 2);
	return 14 + ip_len;
}

size_t craft_arp_frame(uint8_t *buf, const uint8_t eth_dst[6], const uint8_t eth_src[6],
                       uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6],
                       uint32_t tpa)
{
	memcpy(buf, eth_dst, 6);
	memcpy(buf + 6, eth_src, 6);
	put16(buf + 12, 0x0806);
	uint8_t *a = buf + 14;
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, &spa, 4);
	memcpy(a + 18, tha, 6);
	memcpy(a + 24, &tpa, 4);
	return 42;
}

bool parse_tcp_frame(const uint8_t *f, size_t len, struct parsed_tcp *p)
{
	if (len < 14 + 20 + 20 || get16(f + 12) != 0x0800)
		return false;
	const uint8_t *ip = f + 14;
	size_t ihl = (size_t)(ip[0] & 0xf) * 4;
	if (ip[0] >> 4 != 4 || ip[9] != 6 || ihl < 20)
		return false;
	size_t tot = get16(ip + 2);
	if (tot > len - 14 || tot < ihl + 20)
		return false;
	const uint8_t *th = ip + ihl;
	size_t thlen = (size_t)(th[12] >> 4) * 4;
	if (thlen < 20 || ihl + thlen > tot)
		return false;
	memcpy(&p->src_ip, ip + 12, 4);
	memcpy(&p->dst_ip, ip + 16, 4);
	p->sport = get16(th);
	p->dport = get16(th + 2);
	p->seq = get32(th + 4);
	p->ack = get32(th + 8);
	p->flags = th[13];
	p->window = get16(th + 14);
	p->payload = th + thlen;
	p->payload_len = (uint32_t)(tot - ihl - thlen);
	return true;
}
