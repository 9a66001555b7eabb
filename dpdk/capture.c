/* SPDX-License-Identifier: BSD-3-Clause */
/* Copies of the frames of a burst into the capture ring (capture.h, tpa/capture.h). */
#include "capture.h"

#include <errno.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "engine_state.h"

#define ETH_HLEN       14
#define ETH_TYPE_IPV4  0x0800
#define MAX_FRAME_COPY 65535u

int tpa_engine_capture_start(struct tpa_engine *e, struct tpa_capture_ctl *ctl, void *ring,
                             uint32_t size)
{
	if (!e || !ctl || !ring || size < 4096 || (size & (size - 1)))
		return -EINVAL;
	struct capture_state *c = &e->cap;
	c->ctl = NULL;
	c->ring = ring;
	c->size = size;
	c->snaplen = ctl->snaplen && ctl->snaplen < MAX_FRAME_COPY ? ctl->snaplen : MAX_FRAME_COPY;
	c->port = ctl->port;
	/* The reader's tail is where we start: nothing it has not read is overwritten. */
	ctl->head = __atomic_load_n(&ctl->tail, __ATOMIC_ACQUIRE);
	ctl->size = size;
	__atomic_store_n(&ctl->on, 1, __ATOMIC_RELEASE);
	c->ctl = ctl;
	return 0;
}

void tpa_engine_capture_stop(struct tpa_engine *e)
{
	if (!e || !e->cap.ctl)
		return;
	__atomic_store_n(&e->cap.ctl->on, 0, __ATOMIC_RELEASE);
	e->cap.ctl = NULL;
}

/* IPv4 TCP to or from port? */
static int frame_port_matches(const uint8_t *f, uint32_t len, uint16_t port)
{
	if (len < ETH_HLEN + 20 + 4 || ((uint32_t)f[12] << 8 | f[13]) != ETH_TYPE_IPV4)
		return 0;
	const uint8_t *ip = f + ETH_HLEN;
	uint32_t ihl = (uint32_t)(ip[0] & 0xf) * 4;
	if (ihl < 20 || len < ETH_HLEN + ihl + 4 || ip[9] != IPPROTO_TCP)
		return 0;
	const uint8_t *th = ip + ihl;
	return ((uint16_t)(th[0] << 8 | th[1])) == port || ((uint16_t)(th[2] << 8 | th[3])) == port;
}

/* The device was to fill the IPv4 and TCP checksums of this frame: fill them in the copy. */
static void fill_checksums(const struct rte_mbuf *m, uint8_t *f, uint32_t caplen)
{
	if (!(m->ol_flags & (RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM)) ||
	    caplen != rte_pktmbuf_pkt_len(m) || caplen < ETH_HLEN + 20 ||
	    ((uint32_t)f[12] << 8 | f[13]) != ETH_TYPE_IPV4)
		return;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + ETH_HLEN);
	uint32_t ihl = (uint32_t)(ip->version_ihl & 0xf) * 4;
	uint32_t tot = rte_be_to_cpu_16(ip->total_length);
	if (ihl < 20 || ETH_HLEN + tot > caplen || tot < ihl + 20)
		return;
	if (m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM) {
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	if ((m->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM) && ip->next_proto_id == IPPROTO_TCP) {
		struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)((uint8_t *)ip + ihl);
		th->cksum = 0;
		th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	}
}

/* One frame as one record; 0 when it did not fit. */
static int copy_frame(struct capture_state *c, const struct rte_mbuf *m, uint8_t dir, uint64_t now)
{
	struct tpa_capture_ctl *ctl = c->ctl;
	uint32_t origlen = rte_pktmbuf_pkt_len(m);
	uint32_t caplen = origlen < c->snaplen ? origlen : c->snaplen;
	uint32_t need = (uint32_t)((sizeof(struct tpa_capture_rec) + caplen + 7) & ~7u);
	uint64_t head = ctl->head;
	uint64_t tail = __atomic_load_n(&ctl->tail, __ATOMIC_ACQUIRE);
	uint32_t pos = (uint32_t)(head & (c->size - 1));
	uint32_t to_end = c->size - pos;
	/* A record never wraps: what is left at the end is skipped (a PAD record, or nothing
	 * when not even a header fits). */
	uint32_t skip = to_end < need ? to_end : 0;
	if (head - tail > c->size || c->size - (head - tail) < (uint64_t)skip + need)
		return 0;
	if (skip >= sizeof(struct tpa_capture_rec)) {
		struct tpa_capture_rec *p = (struct tpa_capture_rec *)(c->ring + pos);
		p->len = skip;
		p->caplen = TPA_CAPTURE_PAD;
	}
	head += skip;
	pos = (uint32_t)(head & (c->size - 1));
	struct tpa_capture_rec *r = (struct tpa_capture_rec *)(c->ring + pos);
	r->len = need;
	r->caplen = caplen;
	r->origlen = origlen;
	r->dir = dir;
	r->t_ns = now;
	uint8_t *f = (uint8_t *)(r + 1);
	const void *data = rte_pktmbuf_read(m, 0, caplen, f);
	if (data != f)
		memcpy(f, data, caplen);
	if (dir == TPA_CAPTURE_TX)
		fill_checksums(m, f, caplen);
	__atomic_store_n(&ctl->head, head + need, __ATOMIC_RELEASE);
	return 1;
}

void capture_burst(struct capture_state *c, struct rte_mbuf *const *pkts, uint16_t n, uint8_t dir)
{
	struct tpa_capture_ctl *ctl = c->ctl;
	uint64_t now = tpa_engine_now_ns();
	for (uint16_t i = 0; i < n; i++) {
		const struct rte_mbuf *m = pkts[i];
		if (c->port && !frame_port_matches(rte_pktmbuf_mtod(m, const uint8_t *),
		                                   rte_pktmbuf_data_len(m), c->port))
			continue;
		if (copy_frame(c, m, dir, now))
			ctl->frames++;
		else
			ctl->dropped++;
	}
}
