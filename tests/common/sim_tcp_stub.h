/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A recording stand-in for the TCP layer, for unit tests of the layers below it (Ethernet,
 * ARP, neighbours, IPv4): it keeps a copy of every segment IPv4 delivers with its metadata.
 * Include it in exactly one file of a test executable that does not use sockets: its
 * definitions of the tcp_layer.h functions then take the place of the real TCP layer.
 */
#ifndef TPA_TEST_SIM_TCP_STUB_H
#define TPA_TEST_SIM_TCP_STUB_H

#include <rte_mbuf.h>
#include <stdlib.h>
#include <string.h>

#include "ipv4.h"
#include "stack_impl.h"
#include "tcp_layer.h"

struct stub_segment {
	uint8_t data[2048];
	uint32_t len;
	uint16_t nb_segs;
	struct ipv4_rx_meta meta;
};

static struct stub_tcp_record {
	unsigned inputs;
	unsigned bursts;
	struct stub_segment last;
} stub_tcp;

int tcp_layer_create(struct tpa_stack *s)
{
	memset(&stub_tcp, 0, sizeof(stub_tcp));
	s->tcp = NULL;
	return 0;
}

void tcp_layer_destroy(struct tpa_stack *s) {}

void tcp_input(struct tpa_stack *s, struct rte_mbuf *m, const struct ipv4_rx_meta *meta)
{
	stub_tcp.inputs++;
	stub_tcp.last.len = m->pkt_len;
	stub_tcp.last.nb_segs = m->nb_segs;
	stub_tcp.last.meta = *meta;
	if (m->pkt_len <= sizeof(stub_tcp.last.data)) {
		const void *p = rte_pktmbuf_read(m, 0, m->pkt_len, stub_tcp.last.data);
		if (p != stub_tcp.last.data)
			memcpy(stub_tcp.last.data, p, m->pkt_len);
	}
	rte_pktmbuf_free(m);
}

void tcp_end_of_burst(struct tpa_stack *s)
{
	stub_tcp.bursts++;
}
void tcp_run_timers(struct tpa_stack *s) {}
uint64_t tcp_next_timer_ns(const struct tpa_stack *s)
{
	return UINT64_MAX;
}
uint32_t tcp_socket_count(const struct tpa_stack *s)
{
	return 0;
}
uint32_t tcp_mbufs_held(const struct tpa_stack *s)
{
	return 0;
}

#endif
