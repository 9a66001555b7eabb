/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tpad's frame switch. From the wire (every queue's AF_XDP port, which the XDP program feeds
 * with the claimed ports' frames only) to the slot that claimed the destination port; from a
 * slot to the wire if the frame is IPv4 TCP from the interface's address and a port that slot
 * claimed (a program cannot speak for another's connections). The flow table remembers, per
 * connection a program sent on, the next sequence number it would use and the peer's MAC: all
 * a RST needs once the program is gone.
 *
 * The memif links are guarded against EAL's interrupt thread (port_guard.c): net_memif unmaps
 * a link's rings in that thread when its program goes. tpad has no shim to see that thread's
 * epoll_wait, so it wraps epoll_wait itself (the executable's definition is the one EAL's
 * library binds to).
 */
#include <errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tpad.h"

#define BURST 32

static struct port_guard guard;

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
	tpa_engine_epoll_wait_begin();
	int rc = (int)syscall(SYS_epoll_wait, epfd, events, maxevents, timeout);
	int e = errno;
	tpa_engine_epoll_wait_end();
	errno = e;
	return rc;
}

static int watch(struct tpad *t, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TPAD_EV_WAKE};
	return epoll_ctl(t->ep_fd, EPOLL_CTL_ADD, fd, &ev);
}

/* The flow table, the doorbells and their page, and what wakes tpad: every queue's AF_XDP
 * socket (readable when the XDP program gave it frames) and every slot's doorbell. */
int tpad_switch_init(struct tpad *t)
{
	if (tpad_flows_init(&t->flows, TPAD_FLOWS))
		return -ENOMEM;
	port_guard_install(&guard);
	t->bell_fd = memfd_create("tpad-bell", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (t->bell_fd < 0 || ftruncate(t->bell_fd, 4096) < 0)
		return -errno;
	t->bell = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, t->bell_fd, 0);
	if (t->bell == MAP_FAILED)
		return -errno;
	/* Programs may map it to read only: no writable mapping but ours. */
	fcntl(t->bell_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE);
	for (unsigned q = 0; q < t->nq; q++)
		if (watch(t, t->xsk_fds[q]))
			return -errno;
	for (unsigned s = 0; s < t->nslots; s++) {
		struct tpad_slot *sl = &t->slots[s];
		sl->bell_tpad = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		sl->bell_prog = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (sl->bell_tpad < 0 || sl->bell_prog < 0 || watch(t, sl->bell_tpad))
			return -errno;
	}
	return 0;
}

int tpad_switch_sleep(struct tpad *t, int timeout_ms, struct epoll_event *ev, int max)
{
	/* Announce the sleep, then look once more: a program that sent before it saw the flag
	 * left its frames in the ring, one that sent after it rang. */
	__atomic_store_n(&t->bell->sleeping, 1, __ATOMIC_SEQ_CST);
	int n = 0;
	if (!tpad_switch_round(t))
		n = epoll_wait(t->ep_fd, ev, max, timeout_ms);
	__atomic_store_n(&t->bell->sleeping, 0, __ATOMIC_SEQ_CST);
	tpad_switch_drain_events(t);
	return n;
}

struct tcp_frame {
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct rte_tcp_hdr *tcp;
	uint32_t payload;
};

/* IPv4 TCP with whole headers in the first segment, else 0. */
static int parse(struct rte_mbuf *m, struct tcp_frame *f)
{
	uint32_t len = rte_pktmbuf_data_len(m);
	if (len < sizeof(struct rte_ether_hdr) + 20 + 20)
		return 0;
	f->eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (f->eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return 0;
	f->ip = (struct rte_ipv4_hdr *)(f->eth + 1);
	uint32_t ihl = (uint32_t)(f->ip->version_ihl & 0xf) * 4;
	if ((f->ip->version_ihl >> 4) != 4 || ihl < 20 || f->ip->next_proto_id != IPPROTO_TCP ||
	    len < sizeof(struct rte_ether_hdr) + ihl + 20)
		return 0;
	f->tcp = (struct rte_tcp_hdr *)((uint8_t *)f->ip + ihl);
	uint32_t thl = (uint32_t)(f->tcp->data_off >> 4) * 4;
	uint32_t tot = rte_be_to_cpu_16(f->ip->total_length);
	f->payload = tot > ihl + thl ? tot - ihl - thl : 0;
	return 1;
}

/* The segment as the flow table sees it; from_prog: the program sent it (else its peer). */
static void to_seg(const struct tcp_frame *f, int from_prog, struct tpad_seg *s)
{
	s->raddr = from_prog ? f->ip->dst_addr : f->ip->src_addr;
	s->rport = from_prog ? f->tcp->dst_port : f->tcp->src_port;
	s->lport = from_prog ? f->tcp->src_port : f->tcp->dst_port;
	s->seq = rte_be_to_cpu_32(f->tcp->sent_seq);
	s->payload = f->payload;
	s->flags = f->tcp->tcp_flags & (TPAD_TCP_FIN | TPAD_TCP_SYN | TPAD_TCP_RST);
	memcpy(s->peer_mac, f->eth->dst_addr.addr_bytes, 6);
}

static unsigned wire_to_slots(struct tpad *t)
{
	unsigned moved = 0;
	for (unsigned q = 0; q < t->nq; q++) {
		struct rte_mbuf *pkts[BURST], *out[TPAD_SLOTS_MAX][BURST];
		uint16_t nout[TPAD_SLOTS_MAX] = {0};
		uint16_t n = rte_eth_rx_burst(t->xdp_ports[q], 0, pkts, BURST);
		if (!n)
			continue;
		moved += n;
		uint32_t used = 0; /* slots with frames */
		for (uint16_t i = 0; i < n; i++) {
			struct tcp_frame f;
			unsigned o = parse(pkts[i], &f)
			                     ? t->owner[rte_be_to_cpu_16(f.tcp->dst_port)]
			                     : 0;
			if (!o || !t->slots[o - 1].conns) {
				t->rx_unowned++;
				rte_pktmbuf_free(pkts[i]);
				continue;
			}
			struct tpad_seg sg;
			to_seg(&f, 0, &sg);
			tpad_flows_rx(&t->flows, &sg);
			out[o - 1][nout[o - 1]++] = pkts[i];
			used |= 1u << (o - 1);
		}
		for (unsigned s = 0; used; s++) {
			if (!(used & (1u << s)))
				continue;
			used &= ~(1u << s);
			struct tpad_slot *sl = &t->slots[s];
			uint16_t sent = 0;
			if (port_guard_enter(&guard)) {
				sent = rte_eth_tx_burst(sl->port_id, 0, out[s], nout[s]);
				port_guard_leave(&guard);
			}
			sl->rx += sent;
			sl->rx_dropped += nout[s] - sent;
			if (sent)
				tpad_switch_ring(t, s);
			for (uint16_t i = sent; i < nout[s]; i++)
				rte_pktmbuf_free(out[s][i]);
		}
	}
	return moved;
}

static unsigned slots_to_wire(struct tpad *t)
{
	unsigned moved = 0;
	for (unsigned s = 0; s < t->nslots; s++) {
		struct tpad_slot *sl = &t->slots[s];
		if (!sl->conns)
			continue;
		struct rte_mbuf *pkts[BURST];
		uint16_t n = 0, keep = 0;
		if (port_guard_enter(&guard)) {
			n = rte_eth_rx_burst(sl->port_id, 0, pkts, BURST);
			port_guard_leave(&guard);
		}
		for (uint16_t i = 0; i < n; i++) {
			struct tcp_frame f;
			if (!parse(pkts[i], &f) || f.ip->src_addr != t->ipv4 ||
			    t->owner[rte_be_to_cpu_16(f.tcp->src_port)] != s + 1) {
				sl->tx_refused++;
				t->tx_foreign++;
				rte_pktmbuf_free(pkts[i]);
				continue;
			}
			struct tpad_seg sg;
			to_seg(&f, 1, &sg);
			tpad_flows_tx(&t->flows, s, &sg);
			pkts[keep++] = pkts[i];
		}
		if (!keep)
			continue;
		moved += keep;
		uint16_t sent = rte_eth_tx_burst(t->xdp_ports[s % t->nq], 0, pkts, keep);
		sl->tx += sent;
		for (uint16_t i = sent; i < keep; i++)
			rte_pktmbuf_free(pkts[i]);
	}
	return moved;
}

unsigned tpad_switch_round(struct tpad *t)
{
	return wire_to_slots(t) + slots_to_wire(t);
}

static void send_reset(void *arg, const struct tpad_flow *x)
{
	struct tpad *t = arg;
	struct rte_mbuf *m = rte_pktmbuf_alloc(t->pool);
	if (!m)
		return;
	const uint16_t len = sizeof(struct rte_ether_hdr) + 20 + 20;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, len);
	if (!p) {
		rte_pktmbuf_free(m);
		return;
	}
	memset(p, 0, len);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	memcpy(eth->dst_addr.addr_bytes, x->peer_mac, 6);
	memcpy(eth->src_addr.addr_bytes, t->mac, 6);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(40);
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = t->ipv4;
	ip->dst_addr = x->raddr;
	struct rte_tcp_hdr *tcp = (struct rte_tcp_hdr *)(ip + 1);
	tcp->src_port = x->lport;
	tcp->dst_port = x->rport;
	tcp->sent_seq = rte_cpu_to_be_32(x->snd_next);
	tcp->data_off = 5 << 4;
	tcp->tcp_flags = RTE_TCP_RST_FLAG;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
	if (rte_eth_tx_burst(t->xdp_ports[0], 0, &m, 1) == 1)
		t->resets_sent++;
	else
		rte_pktmbuf_free(m);
}

void tpad_switch_reset_slot(struct tpad *t, unsigned slot)
{
	tpad_flows_take_slot(&t->flows, slot, send_reset, t);
}

/* Memif in DPDK 22.11 has no Rx interrupts: each slot has two doorbells (eventfds) instead.
 * A program rings tpad's after it sent frames while tpad sleeps (t->bell->sleeping, a page it
 * maps read-only); tpad rings the program's after every burst it gave it. */
void tpad_switch_ring(struct tpad *t, unsigned slot)
{
	uint64_t one = 1;
	(void)!write(t->slots[slot].bell_prog, &one, sizeof(one));
}

void tpad_switch_drain_events(struct tpad *t)
{
	for (unsigned s = 0; s < t->nslots; s++) {
		uint64_t v;
		if (t->slots[s].conns)
			(void)!read(t->slots[s].bell_tpad, &v, sizeof(v));
	}
}
