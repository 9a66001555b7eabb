/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tpad's flow table (dpdk/tpad/switch.c): per connection a program sent on, what a RST to its
 * peer needs once the program is gone: the peer's address, port and MAC, our port, and the next
 * sequence number the program would have used (the highest end of what it sent, in sequence
 * space order, so retransmissions never move it back).
 *
 * Contract:
 * - A connection starts with a SYN or data from the program; a lone ACK starts nothing (the last
 *   ACK after both FINs must not bring a closed connection back).
 * - It is forgotten when either side resets it, when both sides sent FIN, or when the program's
 *   slot is taken (tpad_flows_take_slot).
 * - The table is bounded (n entries, open addressing over 8 places); when those are full the
 *   newest connection takes its first place (counted in dropped): the table never grows.
 * - Addresses and ports in network byte order, sequence numbers in host order.
 */
#ifndef TPA_DPDK_TPAD_FLOWS_H
#define TPA_DPDK_TPAD_FLOWS_H

#include <stdint.h>

#define TPAD_TCP_FIN 0x01
#define TPAD_TCP_SYN 0x02
#define TPAD_TCP_RST 0x04

struct tpad_flow {
	uint32_t raddr; /* 0 = empty */
	uint16_t rport;
	uint16_t lport;
	uint32_t snd_next;
	uint8_t peer_mac[6];
	uint8_t slot;
	uint8_t fins; /* 1: the program sent FIN, 2: the peer did */
};

/* One TCP segment as the switch saw it: raddr/rport the peer's, lport ours. */
struct tpad_seg {
	uint32_t raddr;
	uint16_t rport;
	uint16_t lport;
	uint32_t seq;
	uint32_t payload;
	uint8_t flags;
	uint8_t peer_mac[6]; /* tx: the frame's destination */
};

struct tpad_flows {
	struct tpad_flow *t;
	uint32_t n; /* a power of two */
	uint64_t dropped;
};

/* n is rounded up to a power of two. 0 or -ENOMEM. */
int tpad_flows_init(struct tpad_flows *f, uint32_t n);
void tpad_flows_free(struct tpad_flows *f);
/* A segment the program of slot sent. */
void tpad_flows_tx(struct tpad_flows *f, unsigned slot, const struct tpad_seg *s);
/* A segment its peer sent to the program. */
void tpad_flows_rx(struct tpad_flows *f, const struct tpad_seg *s);
/* Call fn for each connection of slot and forget them; returns how many. */
unsigned tpad_flows_take_slot(struct tpad_flows *f, unsigned slot,
                              void (*fn)(void *arg, const struct tpad_flow *x), void *arg);
/* Connections held now (tests, counters). */
unsigned tpad_flows_count(const struct tpad_flows *f);

#endif
