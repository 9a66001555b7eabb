/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP for IPv4 over Ethernet (RFC 826). Validates every field of received packets, answers
 * requests for our address, and feeds the neighbour table: any valid packet refreshes an entry
 * that already exists for its sender (this is how gratuitous ARP moves an address), and a
 * packet aimed at our address may also create one. Sends requests for the neighbour layer.
 */
#ifndef TPA_ARP_H
#define TPA_ARP_H

#include <stdint.h>

#include "wire.h" /* ARP_PKT_LEN, ARP_OP_* */

struct rte_mbuf;
struct tpa_stack;

/* m's data at the ARP header; takes ownership. */
void arp_input(struct tpa_stack *s, struct rte_mbuf *m);

/* Broadcast a request for target_be. 0, or -ENOBUFS when no mbuf is free (counted). */
int arp_send_request(struct tpa_stack *s, uint32_t target_be);

#endif
