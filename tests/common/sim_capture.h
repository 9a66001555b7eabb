/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test support for the link and network layer unit tests: a capture device (it records every
 * frame the stack transmits, byte for byte with its offload flags, and can refuse frames to
 * model a full ring) and a rig holding one stack on it with a virtual clock and its own pool.
 */
#ifndef TPA_TEST_SIM_CAPTURE_H
#define TPA_TEST_SIM_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tpa/stack.h"
#include "vclock.h"

#define CAPTURE_MAX_FRAMES 512
#define CAPTURE_FRAME_ROOM 2048

struct captured_frame {
	uint8_t data[CAPTURE_FRAME_ROOM];
	uint32_t len;
	uint64_t ol_flags;
	uint16_t l2_len, l3_len;
};

struct sim_capture {
	struct captured_frame *frames;
	uint32_t count; /* frames recorded (later ones beyond the room are only counted) */
	int tx_accept;  /* frames taken per tx_burst call; < 0 = all */
	uint32_t tx_calls;
	struct rte_mbuf **rx; /* frames rx_burst hands out */
	uint32_t rx_head, rx_len;
};

/* A stack on a capture device: 10.0.0.1/24 (gateway optional), MAC 02:00:00:00:00:01. */
struct sim_rig {
	struct vclock clock;
	struct sim_capture cap;
	struct rte_mempool *pool;
	unsigned pool_size;
	struct tpa_stack *s;
};

#define RIG_MAC                                                                                    \
	{                                                                                          \
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01                                                 \
	}
#define PEER_MAC                                                                                   \
	{                                                                                          \
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02                                                 \
	}

/* Creates the rig; cfg_tweak (may be NULL) edits the config first. Aborts on failure. */
void sim_rig_init(struct sim_rig *r, void (*cfg_tweak)(struct tpa_stack_config *cfg));
/* Destroys the stack (unless the test did, setting s to NULL) and the pool. Returns false (and
 * prints) if the stack held mbufs, or the pool lacked any once the stack was gone. */
bool sim_rig_destroy(struct sim_rig *r);
/* Hand a frame to the stack now (tpa_stack_input), with the given rx ol_flags. */
void sim_rig_input(struct sim_rig *r, const void *frame, size_t len, uint64_t ol_flags);
/* Same, with the frame split over two chained segments after first_len bytes. */
void sim_rig_input_chained(struct sim_rig *r, const void *frame, size_t len, size_t first_len);
/* Queue a frame for rx_burst (the next tpa_stack_poll reads it). */
void sim_rig_queue_rx(struct sim_rig *r, const void *frame, size_t len);
/* Drop recorded frames. */
void sim_rig_clear(struct sim_rig *r);
/* An mbuf from the rig's pool holding len bytes of data after 128 bytes of headroom. */
struct rte_mbuf *sim_rig_mbuf(struct sim_rig *r, const void *data, size_t len);

/* The rig stack's RFC 6528 secret: fixed, so its ISNs and timestamp offsets are known. */
extern const uint8_t rig_isn_key[16];

uint32_t rig_ip(void);                                    /* 10.0.0.1, network order */
uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d); /* network order */

#endif
