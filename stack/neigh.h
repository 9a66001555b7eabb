/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Neighbour table: IPv4 next hop -> Ethernet address, one per stack, sized from the config,
 * O(1) lookup. An unresolved next hop gets an INCOMPLETE entry that queues a bounded number of
 * packets while requests go out (ARP, or hooks.neigh_resolve when the owner resolves); they are
 * sent in order once the address is known and dropped (counted in arp_queue_drop) when
 * resolution fails or the queue is full. Resolved entries live arp_timeout_ms; an expired entry
 * that is used again keeps being used while it is re-confirmed, and is removed if it is not.
 */
#ifndef TPA_NEIGH_H
#define TPA_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

struct rte_mbuf;
struct tpa_stack;

#define NEIGH_RETRY_MS    1000u
#define NEIGH_MAX_PROBES  3u
#define NEIGH_QUEUE_MAX   128u  /* packets queued per unresolved neighbour */
#define NEIGH_QUEUE_TOTAL 4096u /* packets queued over all neighbours */

int neigh_table_create(struct tpa_stack *s);
/* Frees every queued packet; sends nothing. */
void neigh_table_destroy(struct tpa_stack *s);

/* m's data at the IPv4 header: send it to next hop nexthop_be (queueing while it resolves).
 * Takes ownership; 0 when sent or queued, else a negative errno (dropped, counted). */
int neigh_output(struct tpa_stack *s, struct rte_mbuf *m, uint32_t nexthop_be);

/* For a cached frame header: true when neigh_output would send to nexthop_be at once (no
 * queueing, no request due), with its address and the time until which that holds while
 * neigh_gen() stays the same (it changes with any entry's state or address). */
bool neigh_ready(const struct tpa_stack *s, uint32_t nexthop_be, uint8_t mac[6], uint64_t *until);
uint32_t neigh_gen(const struct tpa_stack *s);

/* The address of ip_be was learned or confirmed. Updates an existing entry; creates one only
 * when `create` is set. Releases queued packets. */
void neigh_confirm(struct tpa_stack *s, uint32_t ip_be, const uint8_t mac[6], bool create);
/* Resolution of ip_be failed: drop its queued packets and forget it. */
void neigh_fail(struct tpa_stack *s, uint32_t ip_be);

void neigh_run_timers(struct tpa_stack *s);
uint64_t neigh_next_timer_ns(const struct tpa_stack *s);
uint32_t neigh_mbufs_held(const struct tpa_stack *s);
/* For tests and diagnostics: true and *mac filled if ip_be has a usable address. */
bool neigh_lookup(const struct tpa_stack *s, uint32_t ip_be, uint8_t mac[6]);
uint32_t neigh_count(const struct tpa_stack *s);

#endif
