/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4: validates received datagrams (version, IHL, lengths, checksum, fragments, destination)
 * and hands them to the transport; builds outgoing headers (DF set, no fragmentation), picks the
 * next hop (on-link or gateway) and passes the frame to the neighbour layer.
 */
#ifndef TPA_IPV4_H
#define TPA_IPV4_H

#include <stdbool.h>
#include <stdint.h>

struct rte_mbuf;
struct tpa_stack;

/* What the transport learns about a received datagram. */
struct ipv4_rx_meta {
	uint32_t src_be;
	uint32_t dst_be;
	uint8_t tos;
	uint8_t ttl;
	/* The device already verified the L4 checksum (rx offload): skip it. */
	bool l4_cksum_ok;
	/* The port is virtual (TPA_DEV_OFFLOAD_RX_CSUM_PARTIAL): a checksum field holding just the
	 * pseudo-header sum is a local sender's CHECKSUM_PARTIAL, not corruption. */
	bool l4_partial_ok;
};

/* Called by eth with m's data at the IPv4 header; takes ownership. */
void ipv4_input(struct tpa_stack *s, struct rte_mbuf *m);
/* Tests only: true sends every datagram through the general header checks. */
extern bool ipv4_rx_plain_off;

/*
 * Send a transport segment. m's data starts at the L4 header, with at least 64 bytes of
 * headroom; the L4 checksum is already filled in, or ipv4_tx_l4_cksum_offload() is true and the
 * caller set RTE_MBUF_F_TX_TCP_CKSUM with the pseudo-header sum. Prepends the IPv4 and Ethernet
 * headers (sets l2_len/l3_len/ol_flags), resolves the next hop (queueing while it resolves) and
 * queues the frame. Always takes ownership; returns 0 or a negative errno (dropped, counted).
 */
int ipv4_output(struct tpa_stack *s, struct rte_mbuf *m, uint32_t dst_be, uint8_t proto);

/*
 * A destination's Ethernet and IPv4 headers, built once and reused while the route and the
 * neighbour entry stay as they were (a connection's transmit template). Zeroed: empty.
 */
struct ipv4_frame_cache {
	uint8_t hdr[34];   /* Ethernet + IPv4 without options; total length, id, checksum 0 */
	uint32_t sum;      /* of the IPv4 header as cached, folded to 16 bits */
	uint32_t dst_be;   /* the destination it was built for */
	uint32_t gen;      /* neigh_gen() when it was built */
	uint64_t until_ns; /* usable while now_ns < until_ns */
};

/* ipv4_output() for a destination sent to repeatedly: the same frame, from the cache when it is
 * valid (one copy of the headers and an incremental checksum), else through ipv4_output(),
 * after which the cache is rebuilt. */
int ipv4_output_cached(struct tpa_stack *s, struct rte_mbuf *m, uint32_t dst_be, uint8_t proto,
                       struct ipv4_frame_cache *c);

/* ipv4_output_cached() in two halves, for a transport that builds the whole frame in one go:
 * whether it would take the headers of a datagram of tot_len bytes to dst_be from the cache
 * (m as it gets a fresh mbuf: no TSO, the headers' room in front), then the headers written at
 * f, the frame's start, with m's lengths and offload flags set as it sets them (the L4 flags
 * already in m->ol_flags) and the datagram counted. The caller queues the frame. */
bool ipv4_cache_usable(const struct tpa_stack *s, const struct ipv4_frame_cache *c, uint32_t dst_be,
                       uint8_t proto, uint32_t tot_len);
void ipv4_cache_put(struct tpa_stack *s, struct rte_mbuf *m, uint8_t *f,
                    const struct ipv4_frame_cache *c, uint32_t tot_len);
bool ipv4_tx_l4_cksum_offload(const struct tpa_stack *s);
/* Largest L4 segment (header included) that fits the MTU. */
uint16_t ipv4_max_l4_len(const struct tpa_stack *s);

#endif
