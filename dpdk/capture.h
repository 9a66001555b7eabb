/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's side of tpa capture (tpa/capture.h): the state it keeps (its own copies of the
 * ring's geometry and filter: the shared control block is writable by the reader) and the copy
 * of a burst, called from the device paths (engine_dev.c) only when a ring is attached.
 */
#ifndef TPA_DPDK_CAPTURE_H
#define TPA_DPDK_CAPTURE_H

#include <stdint.h>

#include "tpa/capture.h"

struct rte_mbuf;

struct capture_state {
	struct tpa_capture_ctl *ctl; /* NULL: off */
	uint8_t *ring;
	uint32_t size;
	uint32_t snaplen;
	uint16_t port;
};

/* Copy the burst's frames that pass the filter (dir: TPA_CAPTURE_RX / _TX). */
void capture_burst(struct capture_state *c, struct rte_mbuf *const *pkts, uint16_t n, uint8_t dir);

#endif
