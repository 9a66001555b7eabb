/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RACK-TLP (RFC 8985): time-based loss detection and the tail loss probe, for connections with
 * SACK.
 *
 * Contract:
 * - Per-segment transmit times: struct tcp_rack keeps one record per segment sent, in sequence
 *   order, covering [snd_una, snd_max): its range, the time of its last (re)transmission and
 *   whether it was SACKed, deemed lost or ever retransmitted. The array grows on demand (from
 *   TCP_RACK_MIN_SEGS, doubling up to TCP_RACK_MAX_SEGS) and is freed with the send buffer.
 *   When it cannot grow, a new segment joins the last record and takes its time: data only
 *   ever looks sent later than it was (lost later, never spuriously early).
 * - Loss rule (RFC 8985 6.2): a segment neither acknowledged nor SACKed is lost when a segment
 *   sent after it was delivered and it was sent more than RACK.rtt + reo_wnd ago. reo_wnd is
 *   min_RTT/4 times a multiplier raised once per round trip with D-SACKs (reset after 16
 *   recoveries without), capped at SRTT; 0 while no reordering was seen and either recovery is
 *   on or DupThresh segments are SACKed (the DupThresh rule, RFC 8985 6.2 step 4).
 * - Segments not yet due are watched by the reordering timer (TT_REO): when it fires, the rule
 *   runs again. Marking is all this module does; the caller enters recovery and retransmits
 *   (tcp_rack_next_lost(), tcp_rack_pipe()). A retransmission gets a new time, so a lost
 *   retransmission is found by the same rule.
 * - Tail loss probe (RFC 8985 7): PTO = 2 SRTT (plus the peer's delayed-ACK time when one
 *   segment is in flight), at least 10 ms, armed only when it fires before the RTO, never in
 *   recovery or while persisting; the probe is new data if the peer's window allows, else the
 *   last segment again. A retransmitted probe that repaired a loss (its ACK goes beyond it
 *   without a D-SACK for it) reduces cwnd once, as a recovery would (RFC 8985 7.4).
 * - Counters: tcp_rack_lost (segments marked lost), tcp_rack_reo_timeout (reordering timer
 *   expirations that found a loss), tcp_tlp_probes, tcp_tlp_recovered.
 */
#ifndef TPA_TCP_RACK_H
#define TPA_TCP_RACK_H

#include <stdbool.h>
#include <stdint.h>

#include "tcp_seq.h"

#define TCP_RACK_MIN_SEGS    32u
#define TCP_RACK_MAX_SEGS    8192u
#define TCP_RACK_REO_PERSIST 16 /* recoveries a raised reo_wnd outlives (RFC 8985 6.2) */

enum tcp_rack_seg_flag {
	TCP_RACK_SACKED = 1u << 0,
	TCP_RACK_LOST = 1u << 1,    /* deemed lost, not retransmitted since */
	TCP_RACK_RETRANS = 1u << 2, /* retransmitted at least once */
};

struct tcp_rack_seg {
	uint64_t xmit_ns; /* last (re)transmission */
	uint32_t start, end;
	uint32_t flags;
};

struct tcp_rack {
	struct tcp_rack_seg *v; /* ring of cap (a power of two) records */
	uint32_t head, count, cap;
	/* RFC 8985 section 5.2 */
	uint64_t xmit_ns;    /* RACK.xmit_ts of the most recently sent delivered segment */
	uint32_t end_seq;    /* RACK.end_seq */
	uint64_t rtt_ns;     /* RACK.rtt */
	uint64_t min_rtt_ns; /* UINT64_MAX: no sample yet */
	uint32_t fack;       /* highest end of a delivered segment */
	uint32_t dsack_round;
	bool dsack_round_on;
	bool valid; /* xmit_ns, end_seq and rtt_ns are set */
	bool reordering_seen;
	uint8_t reo_wnd_mult;
	int8_t reo_wnd_persist;
	/* Tail loss probe in flight (RFC 8985 7.4): snd_max after it, whether it resent data. */
	bool tlp_on, tlp_retrans;
	uint32_t tlp_end;
};

struct tpa_stack;
struct tcp_sock;
struct tcp_sack_block;

/* Connection established with snd_una = una. */
void tcp_rack_init(struct tcp_rack *r, uint32_t una);
void tcp_rack_free(struct tpa_stack *s, struct tcp_rack *r);
/* Whether RACK decides losses for this connection (SACK on, records available). */
bool tcp_rack_on(const struct tcp_sock *ts);
/* [seq, end) was (re)sent just now (end includes a FIN). */
void tcp_rack_on_send(struct tpa_stack *s, struct tcp_sock *ts, uint32_t seq, uint32_t end);
/* A new record [seq, end) sent at now_ns at the end of the list (room checked by the caller). */
static inline void tcp_rack_push(struct tcp_rack *r, uint32_t seq, uint32_t end, uint64_t now_ns)
{
	struct tcp_rack_seg *g = &r->v[(r->head + r->count) & (r->cap - 1)];
	r->count++;
	g->start = seq;
	g->end = end;
	g->xmit_ns = now_ns;
	g->flags = 0;
}
/* RFC 8985 6.2 step 2-3's end for a delivered record, rtt its sample: FACK, the minimum
 * RTT, and RACK.rtt/xmit_ts/end_seq when it was sent after the one they describe. */
static inline void tcp_rack_delivered_rtt(struct tcp_rack *r, const struct tcp_rack_seg *g,
                                          uint64_t rtt)
{
	if (seq_gt(g->end, r->fack))
		r->fack = g->end;
	if (rtt < r->min_rtt_ns)
		r->min_rtt_ns = rtt;
	if (!r->valid || g->xmit_ns > r->xmit_ns ||
	    (g->xmit_ns == r->xmit_ns && seq_gt(g->end, r->end_seq))) {
		r->rtt_ns = rtt;
		r->valid = true;
		r->xmit_ns = g->xmit_ns;
		r->end_seq = g->end;
	}
}
/* tcp_rack_after_plain_ack's usual case, inline: the ACK took everything in flight (una is
 * both SND.UNA and SND.MAX), which was one record sent once and not SACKed, and neither a
 * probe nor a D-SACK round is open. The record is delivered and retired; the caller then
 * stops the reordering timer. False, with nothing done, in every other case. */
static inline bool tcp_rack_all_acked_one(struct tcp_rack *r, uint32_t una, uint32_t snd_max,
                                          uint64_t now_ns)
{
	if (r->count != 1 || una != snd_max || r->tlp_on || r->dsack_round_on)
		return false;
	struct tcp_rack_seg *g = &r->v[r->head];
	if (g->flags || seq_gt(g->end, una))
		return false;
	if (seq_lt(g->end, r->fack))
		r->reordering_seen = true;
	tcp_rack_delivered_rtt(r, g, now_ns > g->xmit_ns ? now_ns - g->xmit_ns : 0);
	r->head = (r->head + 1) & (r->cap - 1);
	r->count = 0;
	return true;
}
/* The common case of tcp_rack_on_send() for a connection with SACK, inline: new data [seq, end)
 * (seq before end) at or above the last record, with room for its record. False, with nothing
 * done, in every other case (then call tcp_rack_on_send()). */
static inline bool tcp_rack_append_new(struct tcp_rack *r, uint32_t seq, uint32_t end,
                                       uint64_t now_ns)
{
	if (r->count >= r->cap)
		return false;
	uint32_t mask = r->cap - 1;
	if (r->count && (int32_t)(seq - r->v[(r->head + r->count - 1) & mask].end) < 0)
		return false; /* a retransmission */
	tcp_rack_push(r, seq, end, now_ns);
	return true;
}
/* After an ACK updated snd_una and the scoreboard: records acknowledged or newly SACKed by its
 * blocks are delivered (RACK.rtt, RACK.xmit_ts, reordering). tsecr: the ACK's echo (0: none). */
void tcp_rack_on_ack(struct tpa_stack *s, struct tcp_sock *ts, const struct tcp_sack_block *b,
                     unsigned n, uint32_t tsecr);
/* tcp_recovery_after_ack(s, ts, o, ack, advanced, false, false) for an ACK that carries no SACK
 * block (tsecr: its echoed timestamp, 0 without one). */
void tcp_rack_after_plain_ack(struct tpa_stack *s, struct tcp_sock *ts, uint32_t ack, bool advanced,
                              uint32_t tsecr);
/* A D-SACK arrived (RFC 8985 6.2 step 4: reo_wnd grows once per round trip). */
void tcp_rack_on_dsack(struct tcp_sock *ts);
/* Marks what the rule finds lost and arms the reordering timer for the rest; returns the
 * number of segments newly marked. */
uint32_t tcp_rack_detect_loss(struct tpa_stack *s, struct tcp_sock *ts);
/* The reordering window now, in microseconds. */
uint32_t tcp_rack_reo_wnd_us(const struct tpa_stack *s, const struct tcp_sock *ts);
/* Bytes in flight: neither SACKed nor lost (RFC 6675 pipe with RACK's IsLost). */
uint32_t tcp_rack_pipe(const struct tcp_sock *ts);
/* The first lost segment not retransmitted since, at most mss bytes, its SACKed tail cut. */
bool tcp_rack_next_lost(const struct tcp_sock *ts, uint32_t mss, uint32_t *seq, uint32_t *len);
bool tcp_rack_any_lost(const struct tcp_sock *ts);
/* Retransmission timeout: SACK information is forgotten, everything is sent again. */
void tcp_rack_on_rto(struct tcp_sock *ts);
void tcp_rack_exit_recovery(struct tcp_sock *ts);
/* The reordering timer fired. */
void tcp_rack_timer(struct tpa_stack *s, struct tcp_sock *ts);

/* Tail loss probe (RFC 8985 7; armed and sent by tcp_arm_tlp() and tcp_send_tlp()). The
 * probe [seq, end) went out; retrans: it resent data. */
void tcp_tlp_sent(struct tpa_stack *s, struct tcp_sock *ts, uint32_t end, bool retrans);
/* An ACK up to ack arrived; dsack_probe: it carried a D-SACK covering the probe. */
void tcp_tlp_on_ack(struct tpa_stack *s, struct tcp_sock *ts, uint32_t ack, bool advanced,
                    bool dsack_probe, bool new_sack);

#endif
