/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Two capture rigs (sim_capture.h) holding the same connection, to test a shortcut of the stack
 * against its general path: a hand-driven peer (sim_peer.h, port 40000) opens it to port 80 on
 * both with the same key and clock (timestamps, SACK, window scale 7 negotiated, as with Linux).
 * Every step is done on both, rig 1 with the shortcut switched off (its switch set around
 * everything done on rig 1: timers and input reach the output path too). After each step the
 * two connections must be identical field by field (pointers aside; RACK's records, the receive
 * queues and the send ring compared by content), the counters identical (the shortcut's own
 * aside) and the frames sent identical byte for byte, with the same offload flags and lengths. The
 * steps that return a count say how often rig 0 took the shortcut during it; rig 1 taking it fails
 * the test.
 */
#ifndef TPA_TEST_TWIN_RIG_H
#define TPA_TEST_TWIN_RIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_peer.h"

#define TWIN_PEER_PORT 40000
#define TWIN_SRV_PORT  80
#define TWIN_PEER_ISN  1000u
#define TWIN_WS        7

struct tcp_sock;

struct twin_rig {
	struct sim_rig rig[2]; /* [0] the shortcut on, [1] off */
	int sock[2], lsock[2];
	bool *off;           /* the shortcut's switch (true = off) */
	size_t stat;         /* offsetof(struct tpa_stack_stats, the shortcut's counter) */
	uint32_t peer_nxt;   /* the peer's next sequence number */
	uint32_t peer_ack;   /* what the peer acknowledges: the stack's SND.NXT it has seen */
	uint32_t peer_tsval; /* the peer's TSval; data_in and ack_in step it */
	uint16_t peer_win;   /* the peer's window, scaled by TWIN_WS */
};

/* A segment from the peer; zero fields take the peer's defaults (window, TSval). */
struct twin_seg {
	uint8_t flags; /* CRAFT_TCP_* */
	uint32_t seq, ack;
	uint16_t len, window;
	bool no_ts;     /* no timestamp option */
	uint32_t tsval; /* 0 = the peer's */
	uint8_t nsack;  /* 0 or 1 SACK block */
	uint32_t sack[2];
};

/* The connection opened and accepted on both (a checked fixture's setup), the frames cleared. */
void twin_setup(struct twin_rig *t, bool *off, size_t stat);
/* Whatever is unread read, the peer's RST, both rigs destroyed without an mbuf lost. */
void twin_teardown(struct twin_rig *t);

struct tcp_sock *twin_conn(struct twin_rig *t, int i);
/* How often rig 0 has taken the shortcut (rig 1 must not have). */
uint64_t twin_count(struct twin_rig *t);
/* Before doing something on rig i by hand: the switch set for it (off for rig 1). */
void twin_use(struct twin_rig *t, int i);
/* After doing something on both by hand: the switch back on, then twin_compare(). */
void twin_end(struct twin_rig *t);
void twin_compare(struct twin_rig *t);
void twin_clear_frames(struct twin_rig *t);

/* The same segment to both. */
uint64_t twin_send(struct twin_rig *t, struct twin_seg g);
/* Data from the peer, in order, acknowledging peer_ack. */
uint64_t twin_data_in(struct twin_rig *t, uint16_t len);
/* A pure ACK from the peer (peer_ack becomes ack). */
uint64_t twin_ack_in(struct twin_rig *t, uint32_t ack);
/* Both clocks advanced, both stacks polled. */
void twin_advance(struct twin_rig *t, uint64_t ns);
/* n bytes (a pattern that changes with every call) written on both: by tpa_sendv in iovcnt
 * (1 or 2) pieces with the flags, or by tpa_send (its own path into an empty ring). */
uint64_t twin_writev(struct twin_rig *t, uint32_t n, int iovcnt, int flags);
uint64_t twin_write(struct twin_rig *t, uint32_t n);
/* Everything queued read on both: the same bytes. */
void twin_read(struct twin_rig *t);
/* Up to len bytes (at most 65536) read on both by tpa_recv with the flags: the same count
 * and bytes. */
uint64_t twin_recv(struct twin_rig *t, size_t len, int flags);

#endif
