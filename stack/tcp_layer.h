/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the rest of the stack calls in TCP. The TCP layer lives in s->tcp, created with the
 * stack and destroyed with it (freeing every socket and mbuf it holds, sending nothing).
 */
#ifndef TPA_TCP_LAYER_H
#define TPA_TCP_LAYER_H

#include <stdint.h>

struct rte_mbuf;
struct tpa_stack;
struct ipv4_rx_meta;

/* 0 or -errno; sets s->tcp. */
int tcp_layer_create(struct tpa_stack *s);
void tcp_layer_destroy(struct tpa_stack *s);
/* A received segment: m's data starts at the TCP header and pkt_len is exactly the segment
 * length (IP padding trimmed). Takes ownership. */
void tcp_input(struct tpa_stack *s, struct rte_mbuf *m, const struct ipv4_rx_meta *meta);
/* After a received burst: send the ACKs and data the burst made due (ACK coalescing). */
void tcp_end_of_burst(struct tpa_stack *s);
void tcp_run_timers(struct tpa_stack *s);
uint64_t tcp_next_timer_ns(const struct tpa_stack *s);
uint32_t tcp_socket_count(const struct tpa_stack *s);
uint32_t tcp_mbufs_held(const struct tpa_stack *s);

#endif
