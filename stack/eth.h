/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ethernet II. Input validates a received frame (length, destination = our MAC or broadcast,
 * ethertype IPv4 or ARP; VLAN-tagged and every other type are dropped and counted) and passes
 * it up with its data at the L3 header. It guarantees the upper layers that the first segment
 * holds the frame's headers (ETH_CONTIG_LEN bytes, or the whole frame if shorter), so they may
 * read headers through rte_pktmbuf_mtod. Output prepends the header and queues the frame.
 */
#ifndef TPA_ETH_H
#define TPA_ETH_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "wire.h"

struct rte_mbuf;
struct tpa_stack;

/* Ethernet + the largest IPv4 header + the largest TCP header. */
#define ETH_CONTIG_LEN (ETH_HDR_LEN + IPV4_HDR_MAX + TCP_HDR_MAX)

static inline bool eth_addr_is_broadcast(const uint8_t a[ETH_ADDR_LEN])
{
	return (a[0] & a[1] & a[2] & a[3] & a[4] & a[5]) == 0xff;
}

/* Group bit: multicast or broadcast. */
static inline bool eth_addr_is_group(const uint8_t a[ETH_ADDR_LEN])
{
	return a[0] & 1;
}

static inline bool eth_addr_is_zero(const uint8_t a[ETH_ADDR_LEN])
{
	return (a[0] | a[1] | a[2] | a[3] | a[4] | a[5]) == 0;
}

extern const uint8_t eth_broadcast_addr[ETH_ADDR_LEN];

/* A received frame, data at the MAC header; takes ownership. */
void eth_input(struct tpa_stack *s, struct rte_mbuf *m);

/* m's data at the L3 header: prepend the Ethernet header and queue the frame for the device.
 * Takes ownership; 0 or -ENOBUFS (no headroom: dropped, counted in mbuf_alloc_fail). */
int eth_output(struct tpa_stack *s, struct rte_mbuf *m, const uint8_t dst[ETH_ADDR_LEN],
               uint16_t ethertype);

#endif
