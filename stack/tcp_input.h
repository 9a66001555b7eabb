/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What tcp_input.c (validation, the synchronized states) and tcp_listen.c (LISTEN, SYN cookies)
 * share: the parsed segment and the steps both take. Internal to the stack.
 */
#ifndef TPA_STACK_TCP_INPUT_H
#define TPA_STACK_TCP_INPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "ipv4.h"
#include "tcp_impl.h"

/* A parsed segment. */
struct seg {
	struct tcp_hdr th;
	struct tcp_opts o;
	uint32_t seq, ack, wnd;
	uint32_t hlen;   /* header + options */
	uint32_t dlen;   /* payload bytes */
	uint32_t seglen; /* dlen + SYN + FIN */
	uint8_t flags;
	bool tw_reuse;       /* a SYN that ends a TIME-WAIT connection to open a new one */
	uint32_t tw_snd_max; /* that old connection's highest sequence number sent */
};

/* A TSval this many ticks older than TS.Recent still passes PAWS, as in Linux
 * (TCP_PAWS_WINDOW): one sender's TSvals can step a tick back (a segment stamped with its
 * planned departure, the next with the current time) and, with no tolerance, such a segment
 * was dropped, its data or its acknowledgement of new data with it. */
#define PAWS_TOLERANCE_TICKS 1u

/* Flag sets no segment may carry: SYN with FIN, SYN with RST, or none of SYN, FIN, RST and
 * ACK. TCP_FLAGS_REFUSED has bit f set for each such 6-bit set f, so the test is one shift. */
#define TCP_FLAGS_REFUSED_1(f)                                                                     \
	((uint64_t)(((f) & (TCP_SYN | TCP_FIN)) == (TCP_SYN | TCP_FIN) ||                          \
	            ((f) & (TCP_SYN | TCP_RST)) == (TCP_SYN | TCP_RST) ||                          \
	            !((f) & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK)))                              \
	 << (f))
#define TCP_FLAGS_REFUSED_4(f)                                                                     \
	(TCP_FLAGS_REFUSED_1(f) | TCP_FLAGS_REFUSED_1((f) + 1) | TCP_FLAGS_REFUSED_1((f) + 2) |    \
	 TCP_FLAGS_REFUSED_1((f) + 3))
#define TCP_FLAGS_REFUSED_16(f)                                                                    \
	(TCP_FLAGS_REFUSED_4(f) | TCP_FLAGS_REFUSED_4((f) + 4) | TCP_FLAGS_REFUSED_4((f) + 8) |    \
	 TCP_FLAGS_REFUSED_4((f) + 12))
#define TCP_FLAGS_REFUSED                                                                          \
	(TCP_FLAGS_REFUSED_16(0) | TCP_FLAGS_REFUSED_16(16) | TCP_FLAGS_REFUSED_16(32) |           \
	 TCP_FLAGS_REFUSED_16(48))
static inline bool tcp_flags_refused(uint8_t flags6)
{
	return (TCP_FLAGS_REFUSED >> (flags6 & 63)) & 1;
}

/* Free a segment that was consumed or refused. */
void tcp_input_drop(struct rte_mbuf *m);
/* Take the peer's SYN options (MSS, window scale, SACK, timestamps) into ts. */
void tcp_negotiate(struct tpa_stack *s, struct tcp_sock *ts, const struct tcp_opts *o);
/* The window scale that lets a receive buffer of rcvbuf bytes be advertised. */
uint32_t tcp_pick_wscale(uint32_t rcvbuf);
/* A segment for a synchronized connection (SYN_RECV and later), after validation. */
void tcp_established_input(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m,
                           struct seg *g);
/* New data acknowledged up to ack, shared by the general and the fast path (inline: once per
 * ACK on the receive path): take releases the bytes and moves snd_una with its RTT sample;
 * settle, after the congestion and recovery work, resets the duplicate/probe state and the
 * timers (the caller then marks the socket for its event). */
static inline void tcp_ack_take(struct tpa_stack *s, struct tcp_sock *ts, uint32_t ack)
{
	uint32_t acked = ack - ts->snd_una;
	uint32_t data_acked = acked > ts->sb.len ? ts->sb.len : acked;
	tcp_sndbuf_consume(ts, data_acked);
	ts->snd_una = ack;
	if (seq_lt(ts->snd_nxt, ts->snd_una))
		ts->snd_nxt = ts->snd_una;
	/* Keep the short-segment mark inside the window so it never wraps. */
	if (seq_lt(ts->snd_sml, ts->snd_una))
		ts->snd_sml = ts->snd_una;
	ts->stat_bytes_acked += data_acked;
	if ((ts->flags & TSF_RTT_TIMING) && seq_geq(ack, ts->rtt_seq)) {
		tcp_rtt_sample(&ts->rtt, tcp_rtt_elapsed_us(s, ts->rtt_start_ns));
		ts->flags &= ~TSF_RTT_TIMING;
	}
	tcp_rtt_reset_backoff(&ts->rtt);
	ts->retries = 0;
	ts->first_rto_ns = 0;
}

static inline void tcp_ack_settle(struct tpa_stack *s, struct tcp_sock *ts)
{
	ts->dupacks = 0;
	ts->persist = false;
	ts->tlp_sent = false;
	if (ts->snd_una == ts->snd_max) {
		ts->tmr[TT_RTX] = 0;
		ts->tmr[TT_TLP] = 0;
	} else {
		tcp_arm_rtx(s, ts);
		tcp_arm_tlp(s, ts);
	}
}
/* Quick-ACK mode after an idle period (tcp_input.c). */
void tcp_enter_quickack(const struct tpa_stack *s, struct tcp_sock *ts);
/* The fast path (tcp_fastpath.c): true when it took the segment, false when it left
 * everything untouched for tcp_established_input. */
bool tcp_fast_input(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m, struct seg *g);
/* Tests only: true sends every segment the general way (to compare the two). */
extern bool tcp_fastpath_off;
/* A segment for listener l (tcp_listen.c). */
void tcp_listen_input(struct tpa_stack *s, struct tcp_sock *l, struct rte_mbuf *m,
                      const struct ipv4_rx_meta *meta, struct seg *g);

#endif
