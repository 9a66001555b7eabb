/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-connection TCP event trace (tpa trace): a ring of the recent events of each connection
 * (state changes, retransmissions with their cause, RTO expiry, recovery with cwnd and
 * ssthresh, the peer's window closing and opening, aborts), kept in memory the stack's owner
 * gives it, so that another process can read it while the program runs and after it died.
 *
 * Contract:
 * - tpa_stack_trace_attach lays the area out and from then on every new connection (the moment
 *   it enters the connection table: connect, a SYN to a listener, a SYN cookie's ACK) takes
 *   a ring: a free one (its connection gone) among the next few in turn, else the next one
 *   in turn is taken from its connection, which is traced no more. Listeners have none.
 * - The stack writes the area with plain stores from whatever thread runs it (one at a time)
 *   and never reads anything back but what it wrote; nothing is formatted and nothing is
 *   allocated on an event: one record is eight stores.
 * - A reader copies a record and keeps it when its `n` equals the event's number (plus one)
 *   before and after the copy; a ring's header is behind `gen`, odd while the ring changes
 *   connection.
 *
 * Layout (little-endian, offsets in bytes): struct tpa_trace_area, then `nrings` struct
 * tpa_trace_ring of `ring_size` bytes each. Bump TPA_TRACE_VERSION on any change.
 */
#ifndef TPA_TRACE_H
#define TPA_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define TPA_TRACE_MAGIC       0x3143525441505400ull /* "\0TPATRC1" read as little-endian u64 */
#define TPA_TRACE_VERSION     1u
#define TPA_TRACE_RING_EVENTS 32u /* a power of two */

enum tpa_trace_event {
	TPA_TRACE_STATE = 1,    /* a8 new state, a16 old state (Linux TCP_* values) */
	TPA_TRACE_RETRANSMIT,   /* a8 cause; v0 seq, v1 bytes, v2 cwnd, v3 ssthresh */
	TPA_TRACE_RTO,          /* a8 1: SYN; a16 retries; v0 rto ms (backed off), v1 snd_una,
	                         * v2 cwnd, v3 ssthresh (after) */
	TPA_TRACE_RECOVERY,     /* a8 cause; v0 snd_una, v1 bytes in flight, v2 cwnd, v3 ssthresh
	                         * (after the reduction) */
	TPA_TRACE_RECOVERY_END, /* v0 snd_una, v2 cwnd, v3 ssthresh */
	TPA_TRACE_UNDO,         /* a spurious recovery undone; v0 snd_una, v2 cwnd, v3 ssthresh */
	TPA_TRACE_TLP,          /* tail loss probe; v0 snd_una, v1 snd_max */
	TPA_TRACE_WINDOW,       /* the peer's window: a8 1 closed (0 bytes), 0 opened; v0 bytes,
	                         * v1 snd_una */
	TPA_TRACE_ABORT,        /* a16 errno (ECONNRESET: RST received, ETIMEDOUT, ...) */
};

/* Why data is sent again (TPA_TRACE_RETRANSMIT, TPA_TRACE_RECOVERY): the cause in force when
 * it left, set by the last RTO, recovery start or tail loss probe of the connection. */
enum tpa_trace_cause {
	TPA_TRACE_CAUSE_NONE = 0,
	TPA_TRACE_CAUSE_RTO = 1,  /* retransmission timeout (go back N) */
	TPA_TRACE_CAUSE_FAST = 2, /* fast retransmit: DupThresh duplicate ACKs / SACKed segments */
	TPA_TRACE_CAUSE_RACK = 3, /* RACK: a segment sent later was delivered (RFC 8985) */
	TPA_TRACE_CAUSE_TLP = 4,  /* tail loss probe */
};

struct tpa_trace_rec { /* 32 bytes */
	uint64_t t_ns; /* 0  the stack's clock */
	uint32_t n;    /* 8  event number + 1 (low 32 bits), stored last */
	uint8_t type;  /* 12 enum tpa_trace_event */
	uint8_t a8;    /* 13 */
	uint16_t a16;  /* 14 */
	uint32_t v[4]; /* 16 */
};

struct tpa_trace_ring {        /* 64 bytes + TPA_TRACE_RING_EVENTS records */
	uint64_t gen;          /* 0  odd while the ring changes connection */
	uint64_t nevents;      /* 8  events of this connection so far */
	int32_t sock_id;       /* 16 the stack's socket id */
	uint8_t cause;         /* 20 enum tpa_trace_cause in force */
	uint8_t pad0[3];       /* 21 */
	uint32_t laddr, raddr; /* 24 network byte order */
	uint16_t lport, rport; /* 32 host byte order */
	uint32_t iss;          /* 36 our initial sequence number (relative sequence numbers) */
	uint64_t open_ns;      /* 40 when the connection took the ring */
	uint8_t pad1[16];      /* 48 */
	struct tpa_trace_rec rec[TPA_TRACE_RING_EVENTS]; /* 64 */
};

struct tpa_trace_area {     /* 64 bytes, then the rings */
	uint64_t magic;     /* 0  TPA_TRACE_MAGIC */
	uint32_t version;   /* 8 */
	uint32_t nrings;    /* 12 */
	uint32_t ring_size; /* 16 sizeof(struct tpa_trace_ring) */
	uint32_t events;    /* 20 TPA_TRACE_RING_EVENTS */
	uint64_t opened;    /* 24 rings handed out so far (the next one in turn: opened % nrings) */
	uint8_t pad[32];    /* 32 */
};

/* Bytes an area of nrings rings takes. */
static inline size_t tpa_trace_area_size(uint32_t nrings)
{
	return sizeof(struct tpa_trace_area) + (size_t)nrings * sizeof(struct tpa_trace_ring);
}

struct tpa_stack;

/* Trace every new connection into mem (len bytes, zeroed or a previous area, 8-byte aligned):
 * as many rings as fit. NULL: stop tracing. 0, or -EINVAL when not even one ring fits. The
 * memory must stay valid until the stack is destroyed or another call replaces it. */
int tpa_stack_trace_attach(struct tpa_stack *s, void *mem, size_t len);

#endif
