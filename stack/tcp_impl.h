/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP internals shared by the stack/tcp_*.c files (not used outside TCP).
 *
 * A socket is a struct tcp_sock owned by the table in struct tcp_layer, addressed by its id
 * (the API handle). Buffers are per socket and grow on demand up to the configured sizes: the
 * send side is a byte ring starting at snd_una (retransmissions copy from it again), the receive
 * side queues the received mbufs themselves (copied once, by recv). Out-of-order segments wait
 * in a sorted array bounded by ooo_limit. Each socket has one timer-wheel entry whose deadline is
 * the earliest of its logical timers; firing re-evaluates them all.
 */
#ifndef TPA_TCP_IMPL_H
#define TPA_TCP_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ipv4.h"
#include "stack_impl.h"
#include "tcp_cc.h"
#include "tcp_rack.h"
#include "tcp_rtt.h"
#include "tcp_sack.h"
#include "tcp_seq.h"
#include "tcp_timer.h"

struct rte_mbuf;
struct ipv4_rx_meta;

#define TCP_NO_SOCK         (-1)
#define TCP_DEFAULT_MSS     536
#define TCP_MAX_WSCALE      14
#define TCP_MAX_REORDERING  300 /* segments (Linux: tcp_max_reordering) */
#define TCP_UNDO_MAX        16
#define TCP_HDR_LEN         20
#define TCP_MAX_OPT_LEN     40
#define TCP_MAX_SACK_BLOCKS 4
/* Quick-ACK mode lasts at most this many segments (Linux uses the same bound). */
#define TCP_MAX_QUICKACKS 16

/* Header flags. */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20

struct tcp_hdr {
	uint16_t sport;
	uint16_t dport;
	uint32_t seq;
	uint32_t ack;
	uint8_t off; /* data offset in the high nibble */
	uint8_t flags;
	uint16_t win;
	uint16_t cksum;
	uint16_t urp;
} __attribute__((packed));

/* Options parsed from one segment. */
struct tcp_opts {
	uint16_t mss;
	uint8_t wscale;
	bool has_mss, has_wscale, sack_ok, has_ts;
	uint32_t tsval, tsecr;
	uint8_t nsack;
	struct tcp_sack_block sack[TCP_MAX_SACK_BLOCKS];
};

/* A received mbuf holding [off, off+len) of in-order or out-of-order payload. */
struct tcp_rxseg {
	struct rte_mbuf *m;
	uint32_t seq; /* sequence number of the first held byte (ooo queue) */
	uint32_t off; /* payload byte offset inside the mbuf chain */
	uint32_t len;
};

struct tcp_rxq {
	struct tcp_rxseg *v;
	uint32_t head, count, cap; /* ring of entries */
};

struct tcp_sndbuf {
	uint8_t *buf;
	uint32_t cap;  /* power of two */
	uint32_t head; /* byte index of snd_una's data */
	uint32_t len;  /* bytes held (sent-unacked + unsent) */
};

enum tcp_sock_flag {
	TSF_USER_CLOSED = 1u << 0, /* handle released (orphan) */
	TSF_SHUT_RD = 1u << 1,
	TSF_SHUT_WR = 1u << 2, /* user wants a FIN after the queued data */
	TSF_FIN_SENT = 1u << 3,
	TSF_FIN_RCVD = 1u << 4,
	TSF_NODELAY = 1u << 5,
	TSF_CORK = 1u << 6,
	TSF_KEEPALIVE = 1u << 7,
	TSF_REUSEADDR = 1u << 8,
	TSF_TS_OK = 1u << 9,
	TSF_SACK_OK = 1u << 10,
	TSF_WS_OK = 1u << 11,
	TSF_BOUND = 1u << 12,       /* in the bind chain of lport */
	TSF_EPHEMERAL = 1u << 13,   /* lport from port_reserve: release on final close */
	TSF_STEERED = 1u << 14,     /* holds a steering reference on lport */
	TSF_HASHED = 1u << 15,      /* in the 4-tuple hash */
	TSF_ACK_NOW = 1u << 16,     /* send an ACK at end of burst */
	TSF_IN_PENDING = 1u << 17,  /* on the end-of-burst list */
	TSF_EV_PENDING = 1u << 18,  /* readiness hook due at end of burst */
	TSF_RESET = 1u << 19,       /* connection was reset (ECONNRESET once, then EPIPE) */
	TSF_IN_RECOVERY = 1u << 20, /* fast recovery */
	TSF_RTT_TIMING = 1u << 21,  /* rtt_seq is being timed (no timestamps) */
	TSF_LINGER0 = 1u << 22,
	TSF_MSG_MORE = 1u << 23,     /* last send had MSG_MORE */
	TSF_CONNECT_SEEN = 1u << 24, /* connect() reported completion (EISCONN next) */
	TSF_ACCEPTED = 1u << 25,     /* child handed out by accept */
	TSF_FIN_ACKED = 1u << 27,
	TSF_FREE_PENDING = 1u << 28,  /* freed at the end of the burst */
	TSF_WAS_CONNECTED = 1u << 29, /* reached ESTABLISHED once */
	TSF_SYN_ATTEMPTED = 1u << 30, /* connect() started (its outcome not yet reported) */
};

/* Logical timers, each an absolute deadline (0 = off), merged into one wheel entry. */
enum tcp_timer_kind {
	TT_RTX, /* retransmission / SYN retry / persist */
	TT_DELACK,
	TT_KEEPALIVE,
	TT_LINGER, /* TIME_WAIT / orphaned FIN_WAIT_2 */
	TT_TLP,    /* tail loss probe (RFC 8985 section 7) */
	TT_REO,    /* RACK reordering timer (RFC 8985 section 6.2 step 5) */
	TT_COUNT
};

struct tcp_sock {
	int id;
	uint8_t state;
	uint8_t soerror; /* pending error (positive errno) */
	uint8_t snd_wscale, rcv_wscale;
	uint32_t flags;
	void *user;

	/* addresses, network order */
	uint32_t laddr, raddr;
	uint16_t lport, rport;
	struct ipv4_frame_cache fc; /* this connection's Ethernet + IPv4 headers */
	int hash_next;              /* 4-tuple chain */
	int bind_next;              /* lport chain */

	/* listener */
	int listener; /* for children: the listener id (TCP_NO_SOCK once accepted) */
	int backlog;
	uint32_t syn_count, acc_count;
	int acc_head, acc_tail;      /* accept queue of children (FIFO via acc_next) */
	int syn_head;                /* children in SYN_RECV (via acc_next) */
	uint64_t syncookie_until_ns; /* cookies sent: ACKs are checked for one until then */
	int acc_next;

	/* send sequence space */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2;
	uint32_t max_snd_wnd;
	/* End of the last short (sub-MSS) segment sent: Nagle holds another short segment only
	 * while that one is unacknowledged (Minshall), never behind full-sized segments. */
	uint32_t snd_sml;
	uint32_t snd_mss; /* payload per segment (options excluded) */
	uint32_t peer_mss;
	uint32_t user_mss; /* TPA_SO_MAXSEG, 0 = none */
	uint32_t sndbuf_max;
	struct tcp_sndbuf sb;

	/* receive sequence space */
	uint32_t irs, rcv_nxt;
	uint32_t rcv_adv_edge; /* right edge of the window last advertised */
	uint32_t rcvbuf_max;
	uint32_t rcv_queued; /* in-order bytes waiting for recv */
	struct tcp_rxq rq;
	struct tcp_rxq ooo; /* sorted by seq, non-overlapping */
	uint32_t ooo_bytes;
	uint32_t ooo_last_seq; /* start of the block touched last (first SACK block) */
	uint32_t last_ack_sent;
	uint32_t segs_unacked; /* full-sized segments received since our last ACK */
	/* Quick-ACK mode: this many more in-order data segments are acknowledged at once (after
	 * an idle period or a retransmission timeout), so a peer restarting from a small window
	 * does not wait for our delayed-ACK timer. */
	uint32_t quickacks;
	uint64_t last_data_rx_ns; /* when in-order data last arrived (idle detection) */

	/* timestamps */
	uint32_t ts_recent, ts_offset;
	uint64_t ts_recent_age;

	/* congestion control and recovery */
	struct tcp_cc_state cc;
	struct tcp_sack_scoreboard scoreboard;
	struct tcp_rack rack; /* RACK-TLP: per-segment send times (tcp_rack.h) */
	uint32_t recover;     /* recovery point: snd_max when recovery began */
	uint32_t high_rxt;    /* end of what was retransmitted in this recovery */
	uint32_t rescue_rxt;
	bool rescue_valid;
	uint32_t dupacks;
	uint8_t cc_algo;
	uint64_t last_send_ns;

	/* RTT (RFC 6298) */
	struct tcp_rtt rtt;
	uint32_t rtt_seq;
	uint64_t rtt_start_ns;
	uint32_t retries; /* consecutive RTO expirations / SYN retries */
	uint32_t user_timeout_ms;
	uint64_t first_rto_ns; /* when the current run of retransmissions began */
	uint32_t probes;       /* keepalive / zero-window probes without answer */
	bool persist;
	uint32_t persist_probes; /* zero-window probes since the window last opened */
	bool syn_retransmitted;
	bool tlp_sent; /* one probe per episode of unacknowledged data */
	/* Reordering (RFC 2883/3708 D-SACK, Linux's tp->reordering): segments SACKed above a hole
	 * before it counts as lost; raised each time a fast retransmission proves spurious. */
	uint16_t reordering;
	/* Receiver side: a duplicate arrived; the next ACK reports it as a D-SACK (RFC 2883). */
	bool dsack_pending;
	uint32_t dsack_start, dsack_end;
	/* Undo of the last fast recovery's window reduction: valid from its start until an RTO
	 * or the next recovery; undone when every retransmission of it came back D-SACKed. */
	bool undo_valid;
	/* The episode's retransmissions not yet reported as duplicates (their first sequence
	 * numbers, as Linux marks retransmitted skbs): a D-SACK counts only when it names one, so
	 * a duplicate the network made of an original never passes for a spurious retransmission.
	 * More than TCP_UNDO_MAX of them: no undo for that episode. */
	uint8_t undo_n;
	uint32_t undo_rtx[TCP_UNDO_MAX];
	uint32_t undo_marker; /* snd_una when it started */
	uint32_t undo_tsval;  /* our TSval on its first retransmission (Eifel, RFC 3522) */
	uint32_t undo_cwnd, undo_ssthresh;
	/* Lost-retransmission detection in SACK recovery: the hole at rxt_una was retransmitted
	 * when snd_max was rxt_mark; SACKs beyond rxt_mark while it is still missing mean the
	 * retransmission was lost too. */
	uint32_t rxt_una, rxt_mark;
	bool rxt_marked;

	/* keepalive */
	uint32_t ka_idle_s, ka_intvl_s, ka_cnt;
	uint64_t last_rx_ns;

	/* timers */
	uint64_t tmr[TT_COUNT];
	struct tcp_timer wheel;

	/* statistics */
	uint64_t stat_retransmits, stat_bytes_acked, stat_bytes_received;
	struct tpa_trace_ring *trace; /* its event ring (tcp_trace.h), NULL: not traced */
	bool trace_wnd_zero;          /* the peer's window was 0 at the last look (tcp_trace.h) */
};

struct tcp_layer {
	struct tpa_stack *s;
	struct tcp_sock **socks;
	uint32_t max_socks;
	uint32_t nsocks;
	/* FIFO of free ids so a closed id is reused as late as possible */
	uint32_t *free_ids;
	uint32_t free_head, free_count;
	/* 4-tuple hash */
	int *hash;
	uint32_t hash_mask;
	/* per-port chains of bound sockets and steering reference counts (one per socket on
	 * the port: a listener's connections alone can pass 65535) */
	int bind_head[65536];
	uint32_t steer_ref[65536];
	uint16_t eph_next;
	/* sockets needing work at the end of the current burst */
	int *pending;
	uint32_t npending;
	bool frees_pending; /* one of them waits to be freed (TSF_FREE_PENDING) */
	uint32_t mbufs_held;
	struct tcp_wheel timers;
	uint8_t isn_key[16];
	bool in_burst;
	/* RFC 5961 section 7: challenge ACKs are rate limited per stack. */
	uint64_t challenge_epoch_ns;
	uint32_t challenge_count;
	struct tpa_trace_area *trace_area; /* tcp_trace.h: NULL, tracing off */
	uint32_t trace_nrings;
};

static inline struct tcp_layer *tcp_of(const struct tpa_stack *s)
{
	return s->tcp;
}
/* The RTT sample for a timing that started at start_ns: microseconds, at least 1, saturated. */
static inline uint32_t tcp_rtt_elapsed_us(const struct tpa_stack *s, uint64_t start_ns)
{
	uint64_t now = s->now_ns;
	uint64_t us = now > start_ns ? (now - start_ns) / 1000 : 0;
	return us == 0 ? 1 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static inline uint32_t tcp_now_ms(const struct tpa_stack *s)
{
	return (uint32_t)(s->now_ns / 1000000u);
}

/* tcp_sock.c */
/* The socket with that id, NULL for none (inline: every API call starts with it). */
static inline struct tcp_sock *tcp_sock_get(const struct tpa_stack *s, int id)
{
	const struct tcp_layer *tl = tcp_of(s);
	if (!tl || (uint32_t)id >= tl->max_socks)
		return NULL;
	return tl->socks[id];
}
struct tcp_sock *tcp_sock_alloc(struct tpa_stack *s);
void tcp_sock_free(struct tpa_stack *s, struct tcp_sock *ts);
void tcp_sock_hash_add(struct tpa_stack *s, struct tcp_sock *ts);
void tcp_sock_hash_del(struct tpa_stack *s, struct tcp_sock *ts);
/* The bucket of a 4-tuple: keyed mixing so a remote peer cannot aim at one chain. */
static inline uint32_t tcp_tuple_hash(const struct tcp_layer *tl, uint32_t laddr, uint16_t lport,
                                      uint32_t raddr, uint16_t rport)
{
	uint64_t k;
	memcpy(&k, tl->isn_key, sizeof(k));
	uint64_t h = ((uint64_t)raddr << 32 | (uint64_t)rport << 16 | lport) ^ k;
	h ^= (uint64_t)laddr * 0x9e3779b97f4a7c15ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (uint32_t)h & tl->hash_mask;
}
/* The connection of a 4-tuple (network order), NULL for none. Inline: once per segment. */
static inline struct tcp_sock *tcp_sock_lookup(struct tpa_stack *s, uint32_t laddr, uint16_t lport,
                                               uint32_t raddr, uint16_t rport)
{
	struct tcp_layer *tl = tcp_of(s);
	for (int id = tl->hash[tcp_tuple_hash(tl, laddr, lport, raddr, rport)];
	     id != TCP_NO_SOCK;) {
		struct tcp_sock *ts = tl->socks[id];
		if (ts->lport == lport && ts->rport == rport && ts->raddr == raddr &&
		    ts->laddr == laddr)
			return ts;
		id = ts->hash_next;
	}
	return NULL;
}
struct tcp_sock *tcp_sock_listener(struct tpa_stack *s, uint32_t laddr, uint16_t lport);
void tcp_sock_bind_add(struct tpa_stack *s, struct tcp_sock *ts);
void tcp_sock_bind_del(struct tpa_stack *s, struct tcp_sock *ts);
/* Whether ts may bind lport (EADDRINUSE rules). */
int tcp_sock_bind_check(struct tpa_stack *s, struct tcp_sock *ts, uint32_t laddr, uint16_t lport);
int tcp_sock_pick_port(struct tpa_stack *s, struct tcp_sock *ts, uint16_t *port);
void tcp_sock_steer(struct tpa_stack *s, struct tcp_sock *ts, bool on);
/* Final teardown of a connection (state CLOSED): frees it if the user released it. */
void tcp_sock_closed(struct tpa_stack *s, struct tcp_sock *ts);
/* Enter CLOSED with an error (reset / timeout): notify, drop buffers, maybe free. */
void tcp_sock_abort(struct tpa_stack *s, struct tcp_sock *ts, int err);
void tcp_sock_mark_pending(struct tpa_stack *s, struct tcp_sock *ts, uint32_t flag);
void tcp_sock_notify(struct tpa_stack *s, struct tcp_sock *ts);
uint32_t tcp_sock_events_general(const struct tcp_sock *ts);
/* Tests only: true computes every socket's events the general way (to compare the two). */
extern bool tcp_sock_events_general_only;
/* A socket's TPA_EV_* readiness. Inline for the usual case, asked once or twice a request: an
 * established connection open both ways without an error is readable with data queued and
 * writable with room. */
static inline uint32_t tcp_sock_events(const struct tcp_sock *ts)
{
	if (ts->state == TPA_TCP_ESTABLISHED && !ts->soerror &&
	    !(ts->flags & (TSF_FIN_RCVD | TSF_SHUT_RD | TSF_SHUT_WR)) &&
	    !tcp_sock_events_general_only)
		return (ts->rcv_queued ? TPA_EV_IN : 0) |
		       (ts->sb.len < ts->sndbuf_max ? TPA_EV_OUT : 0);
	return tcp_sock_events_general(ts);
}
void tcp_sock_state_fill(const struct tcp_sock *ts, struct tpa_sock_state *st);
/* The sock_event hook, with the socket's state (no-op without a hook). */
void tcp_sock_raise_event(struct tpa_stack *s, const struct tcp_sock *ts);
void tcp_sock_release_buffers(struct tpa_stack *s, struct tcp_sock *ts);
void tcp_set_state(struct tpa_stack *s, struct tcp_sock *ts, int state);
void tcp_sock_child_add(struct tpa_stack *s, struct tcp_sock *l, struct tcp_sock *c);
void tcp_sock_child_established(struct tpa_stack *s, struct tcp_sock *l, struct tcp_sock *c);
struct tcp_sock *tcp_sock_accept_pop(struct tpa_stack *s, struct tcp_sock *l);

/* tcp_dump.c: what TPA_SO_INFO and tpa_stack_sock_foreach report. */
void tcp_fill_info(const struct tcp_sock *ts, struct tpa_tcp_info *ti);

/* tcp_buf.c */
int tcp_sndbuf_reserve(struct tpa_stack *s, struct tcp_sock *ts, uint32_t want);
uint32_t tcp_sndbuf_space(const struct tcp_sock *ts);
size_t tcp_sndbuf_append(struct tpa_stack *s, struct tcp_sock *ts, const void *data, size_t len);
void tcp_sndbuf_copy_out(const struct tcp_sock *ts, uint32_t off, void *dst, uint32_t len);
/* The same copy, returning sum plus the Internet checksum sum of the bytes copied. */
uint32_t tcp_sndbuf_copy_out_csum(const struct tcp_sock *ts, uint32_t off, void *dst, uint32_t len,
                                  uint32_t sum);
void tcp_sndbuf_consume(struct tcp_sock *ts, uint32_t len);
/* Whether len bytes (len > 0) go into an empty ring as they are: within its capacity and the
 * socket's limit. An empty ring starts at 0 (tcp_sndbuf_consume, tcp_sndbuf_reserve). */
static inline bool tcp_sndbuf_fits_empty(const struct tcp_sock *ts, size_t len)
{
	return !ts->sb.len && len && len <= ts->sb.cap && len <= ts->sndbuf_max;
}
/* tcp_sndbuf_append() where tcp_sndbuf_fits_empty() holds: one copy to the ring's start. */
static inline size_t tcp_sndbuf_fill_empty(struct tcp_sock *ts, const void *data, size_t len)
{
	memcpy(ts->sb.buf, data, len);
	ts->sb.len = (uint32_t)len;
	return len;
}
int tcp_rxq_push(struct tpa_stack *s, struct tcp_rxq *q, const struct tcp_rxseg *e);
void tcp_rxq_clear(struct tpa_stack *s, struct tcp_rxq *q);
/* Queue [off, off+len) of m as in-order data; takes ownership of m. Inline for an empty
 * queue (a request of a request/response connection); the rest is tcp_rcv_queue_more's. */
void tcp_rcv_queue_more(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m, uint32_t off,
                        uint32_t len);
static inline void tcp_rcv_queue(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m,
                                 uint32_t off, uint32_t len)
{
	struct tcp_rxq *q = &ts->rq;
	if (q->count || !q->cap) {
		tcp_rcv_queue_more(s, ts, m, off, len);
		return;
	}
	ts->rcv_queued += len;
	ts->stat_bytes_received += len;
	STAT_ADD(s, tcp_bytes_rx, len);
	q->v[q->head & (q->cap - 1)] = (struct tcp_rxseg){.m = m, .off = off, .len = len};
	q->count = 1;
	tcp_of(s)->mbufs_held += m->nb_segs;
}
/* Insert out-of-order data; 0 taken, -ENOBUFS over the limit (m not taken). */
int tcp_ooo_insert(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m, uint32_t seq,
                   uint32_t off, uint32_t len, bool *dup);
/* Move now-contiguous ooo data into the receive queue; returns bytes moved. */
uint32_t tcp_ooo_drain(struct tpa_stack *s, struct tcp_sock *ts);
/* Build the SACK blocks to send (most recent first). */
int tcp_ooo_sack_blocks(const struct tcp_sock *ts, struct tcp_sack_block *out, int max);
ssize_t tcp_rcv_copy_one(struct tpa_stack *s, struct tcp_sock *ts, void *buf, size_t len);
/* Tests: reads of one buffer through the general path too (tcp_api.c). */
extern bool tcp_read_direct_off;
size_t tcp_rcv_copy(struct tpa_stack *s, struct tcp_sock *ts, const struct iovec *iov, int iovcnt,
                    size_t want, bool peek, bool discard);

/* tcp_options.c */
/* 0 or -1 on a malformed option list. */
int tcp_options_parse(const uint8_t *p, uint32_t len, bool syn, struct tcp_opts *o);
/* Write options; returns their length (multiple of 4). */
uint32_t tcp_options_write_syn(struct tpa_stack *s, const struct tcp_sock *ts, uint8_t *p,
                               bool synack, const struct tcp_opts *peer);
uint32_t tcp_options_write(struct tpa_stack *s, struct tcp_sock *ts, uint8_t *p, bool with_sack,
                           uint32_t room);
uint32_t tcp_ts_now(const struct tpa_stack *s, const struct tcp_sock *ts);

/* tcp_output.c */
void tcp_output(struct tpa_stack *s, struct tcp_sock *ts);
/*
 * A reply written to an idle connection, sent directly: what tcp_sndbuf_fill_empty(ts, buf, len),
 * clearing TSF_MSG_MORE, stack_now() and tcp_output() would do, every field, counter and byte
 * the same, with the payload read once (into the ring and the segment, summed as it is copied)
 * and the whole frame built in one go from the connection's frame cache. The caller checked
 * that the connection takes data (ESTABLISHED or CLOSE_WAIT, not shut down for writing, no
 * pending error) and that the ring is empty and takes len (tcp_sndbuf_fits_empty). False when
 * it does not apply (data or a probe in flight, more than a segment or the windows allow, cork,
 * recovery, SACK blocks to report, an idle restart, the frame cache stale, no mbuf): nothing
 * was done but reading the clock, and the caller takes the general path.
 */
bool tcp_send_reply(struct tpa_stack *s, struct tcp_sock *ts, const void *buf, uint32_t len);
/* Tests: send an idle connection's reply through the general path too (tcp_output.c). */
extern bool tcp_tx_direct_off;
int tcp_send_ack(struct tpa_stack *s, struct tcp_sock *ts);
int tcp_send_syn(struct tpa_stack *s, struct tcp_sock *ts, const struct tcp_opts *peer);
/* A SYN-ACK for a scratch socket that is in no table (SYN cookies): no timers, no state. */
int tcp_send_synack_stateless(struct tpa_stack *s, struct tcp_sock *ts,
                              const struct tcp_opts *peer);
/* How long after the last cookie sent a listener still checks ACKs for one: the cookie's
 * validity (up to 3 counter ticks of 68.7 s). */
#define TCP_SYNCOOKIE_LIFETIME_NS (210ull * 1000000000ull)
int tcp_send_rst_for(struct tpa_stack *s, const struct ipv4_rx_meta *meta, const struct tcp_hdr *th,
                     uint32_t seglen);
int tcp_send_rst(struct tpa_stack *s, struct tcp_sock *ts);
int tcp_send_probe(struct tpa_stack *s, struct tcp_sock *ts);
/* (Re)send one segment of up to len bytes starting at seq (retransmission). */
int tcp_send_segment(struct tpa_stack *s, struct tcp_sock *ts, uint32_t seq, uint32_t len,
                     bool retransmit);
uint32_t tcp_eff_mss(const struct tpa_stack *s, const struct tcp_sock *ts);
void tcp_arm_rtx(struct tpa_stack *s, struct tcp_sock *ts);
/* Arm the tail loss probe (if an RTT is known and it would fire before the RTO). */
void tcp_arm_tlp(struct tpa_stack *s, struct tcp_sock *ts);
/* DupThresh now: the reordering allowed for, but never more than 3/4 of what is in flight
 * (at least 3): a window too small to ever show that many SACKed segments would leave every
 * loss to the retransmission timer (as Linux's "few packets in flight" rule; 3/4 measured
 * against 1/2 and 7/8 over the impairment matrix: the best for loss and reordering alike). */
uint32_t tcp_dupthresh(const struct tpa_stack *s, const struct tcp_sock *ts);
void tcp_send_tlp(struct tpa_stack *s, struct tcp_sock *ts);
void tcp_timer_set(struct tpa_stack *s, struct tcp_sock *ts, enum tcp_timer_kind k, uint64_t at);

/* The receive window to advertise (unscaled). Inline: every segment sent computes it. */
static inline uint32_t tcp_rcv_window(const struct tcp_sock *ts)
{
	uint32_t max = 65535u << ts->rcv_wscale;
	/* Never move the right edge back (RFC 9293 3.8.6.2.2), and open it only by a useful
	 * amount (receiver SWS avoidance, RFC 1122 4.2.3.3). */
	uint32_t old = seq_gt(ts->rcv_adv_edge, ts->rcv_nxt) ? ts->rcv_adv_edge - ts->rcv_nxt : 0;
	if (old > max)
		old = max;
	/* Everything read (a request/response connection between requests): the space is the
	 * whole buffer, which the SWS test below never holds back. */
	if (!ts->rcv_queued && ts->rcvbuf_max <= max)
		return ts->rcvbuf_max <= old ? old : ts->rcvbuf_max & ~((1u << ts->rcv_wscale) - 1);
	uint32_t space = ts->rcv_queued >= ts->rcvbuf_max ? 0 : ts->rcvbuf_max - ts->rcv_queued;
	if (space > max)
		space = max;
	if (space <= old)
		return old;
	uint32_t step = ts->rcvbuf_max / 2;
	if (step > ts->snd_mss)
		step = ts->snd_mss;
	if (space - old < step && space < ts->rcvbuf_max)
		return old;
	/* Round down to what the scale can express. */
	return space & ~((1u << ts->rcv_wscale) - 1);
}

/* tcp_recovery.c: when recovery starts and ends, D-SACK and undo */
void tcp_enter_recovery(struct tpa_stack *s, struct tcp_sock *ts);
void tcp_exit_recovery(struct tpa_stack *s, struct tcp_sock *ts);
void tcp_check_lost_retransmit(struct tpa_stack *s, struct tcp_sock *ts);
void tcp_recovery_partial_ack(struct tpa_stack *s, struct tcp_sock *ts, uint32_t acked);
void tcp_reordering_seen(struct tpa_stack *s, struct tcp_sock *ts, uint32_t bytes);
void tcp_dsack_seen(struct tpa_stack *s, struct tcp_sock *ts, const struct tcp_sack_block *b);
void tcp_recovery_dupack(struct tpa_stack *s, struct tcp_sock *ts);
void tcp_recovery_eifel(struct tpa_stack *s, struct tcp_sock *ts, const struct tcp_opts *o);
void tcp_recovery_on_loss(struct tpa_stack *s, struct tcp_sock *ts);
void tcp_recovery_after_ack(struct tpa_stack *s, struct tcp_sock *ts, const struct tcp_opts *o,
                            uint32_t ack, bool advanced, bool dsack, bool new_sack);

/* tcp_input.c */
void tcp_input_segment(struct tpa_stack *s, struct rte_mbuf *m, const struct ipv4_rx_meta *meta);

/* tcp_timers (tcp_layer.c) */
void tcp_sock_timer_fire(struct tpa_stack *s, struct tcp_sock *ts);

/* ISN and timestamp offset for the socket's 4-tuple (tcp_layer.c). */
void tcp_sock_init_isn(struct tpa_stack *s, struct tcp_sock *ts);
/* Everything that follows the handshake: MSS, congestion control, buffers. */
void tcp_conn_established(struct tpa_stack *s, struct tcp_sock *ts);

/* The event sites (tpa trace) are in every TCP file: their inline calls need the types above. */
#include "tcp_trace.h"

#endif
