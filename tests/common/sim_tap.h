/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test support for TCP scenarios on the simulated network: a tap that remembers the last TCP
 * segment each node sent (so a test knows the sequence numbers to forge segments with), counts
 * segments, can drop selected ones, and helpers to inject forged segments and read a socket's
 * state and pending error.
 */
#ifndef TPA_TEST_SIM_TAP_H
#define TPA_TEST_SIM_TAP_H

#include <stdbool.h>
#include <stdint.h>

#include "sim_craft.h"
#include "sim_net.h"

struct sim_tap {
	struct parsed_tcp last[2]; /* payload pointer not kept */
	bool seen[2];
	uint64_t segments[2];
	uint64_t with_data[2];
	/* Return true to drop a segment node `from` sends. */
	bool (*drop)(struct sim_tap *t, int from, const struct parsed_tcp *p);
	void *user;
};

/* Install t on w (t must outlive the runs). */
void sim_tap_attach(struct sim_world *w, struct sim_tap *t);

/* Forge a segment of the victim's connection as if node 1-victim sent it (ports from the last
 * segment the victim sent), deliver it at once and let the stacks react for 1 ms. */
void sim_tap_forge(struct sim_world *w, const struct sim_tap *t, int victim, uint8_t flags,
                   uint32_t seq, uint32_t ack, const void *payload, uint16_t len);

int sim_sock_state(struct sim_world *w, int node, int sock);
/* TPA_SO_ERROR (returns and clears the pending error; 0 if none). */
int sim_sock_error(struct sim_world *w, int node, int sock);

#endif
