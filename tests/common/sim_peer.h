/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A hand-driven TCP peer for the capture rig (sim_capture.h): it builds one segment from its
 * fields (flags, sequence numbers, raw options, payload), hands it to the rig's stack, and
 * reads back what the stack sent: a captured frame as TCP, and an option of it by kind. The
 * peer is 10.0.0.2 with PEER_MAC; the rig's neighbour table must know it (tests add it).
 */
#ifndef TPA_TEST_SIM_PEER_H
#define TPA_TEST_SIM_PEER_H

#include <stdint.h>

#include "sim_capture.h"
#include "sim_craft.h"

struct sim_peer_seg {
	uint16_t sport, dport; /* host order */
	uint8_t flags;         /* CRAFT_TCP_* */
	uint32_t seq, ack;
	uint16_t window;     /* 0 = 65535 */
	const uint8_t *opts; /* raw TCP options, length a multiple of 4 */
	uint8_t optlen;
	const void *payload; /* NULL with len > 0: zero bytes */
	uint16_t len;
};

uint32_t sim_peer_ip(void); /* 10.0.0.2, network order */
/* Build the segment and give it to the stack now. */
void sim_peer_send(struct sim_rig *r, const struct sim_peer_seg *g);
/* Captured frame i as TCP (fails the test when it is not). */
struct parsed_tcp sim_frame_tcp(const struct sim_rig *r, uint32_t i);
/* The option of that kind in captured frame i (pointer to its kind byte), or NULL. */
const uint8_t *sim_frame_tcp_opt(const struct sim_rig *r, uint32_t i, uint8_t kind);
uint32_t sim_be32(const uint8_t *p);

#endif
