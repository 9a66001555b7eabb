/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP behaviour as a script: one connection between the capture rig's stack (10.0.0.1) and a
 * hand-driven peer (10.0.0.2, sim_peer.h), written segment by segment as the RFC draws them:
 *
 *     SEG_SEND(sc, .flags = TS_ACK, .seq = sc->rcv_nxt, .ack = sc->snd_nxt, .len = 10);
 *     SEG_EXPECT(sc, .flags = TS_ACK, .seq = sc->snd_nxt, .ack = sc->rcv_nxt + 10);
 *     SEG_EXPECT_NONE(sc);
 *
 * SEG_EXPECT takes the next segment the stack sent and compares it whole: flags, sequence and
 * acknowledgement numbers, window, payload length (and bytes when .data is given), every
 * option, ports and addresses; a field left out of the expectation must be absent or zero in
 * the segment. The window, when not stated, is the one that keeps the right edge the stack
 * last advertised (none in a RST, sc->stack_window in a SYN). A mismatch fails the test at the
 * caller's line and prints both segments in RFC 9293 notation. SEG_EXPECT_NONE fails if the
 * stack sent anything not yet expected.
 *
 * Contract: the rig's ISN key is fixed (sim_capture.h), so the stack's initial sequence numbers
 * and timestamp offsets are known in advance (tscript_iss, tscript_tsval). The fixtures
 * (tscript_listen .. tscript_time_wait) leave a connection in one RFC 9293 state, with
 * sc->snd_nxt / sc->rcv_nxt the stack's SND.NXT and RCV.NXT; every segment they exchange is
 * itself checked with SEG_EXPECT. The peer offers no options unless a test sends them, so the
 * stack's segments carry none after the handshake.
 */
#ifndef TPA_TEST_TCP_SCRIPT_H
#define TPA_TEST_TCP_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_capture.h"
#include "sim_craft.h"

#define TS_FIN CRAFT_TCP_FIN
#define TS_SYN CRAFT_TCP_SYN
#define TS_RST CRAFT_TCP_RST
#define TS_PSH CRAFT_TCP_PSH
#define TS_ACK CRAFT_TCP_ACK

/* .window value that means a window of 0 (a 0 in the field means the script's default). */
#define TSEG_WIN_ZERO 0x10000u
#define TSEG_MAX_SACK 4

/* One TCP segment, as a test states it. Options are present when set: mss != 0, has_ws,
 * sack_perm, has_ts, nsack > 0. */
struct tseg {
	uint8_t flags; /* TS_* */
	uint32_t seq, ack;
	uint32_t window;  /* 0: sc->peer_window (sent) or the default above (expected) */
	const void *data; /* sent: NULL = zero bytes; expected: NULL = bytes not compared */
	uint16_t len;
	uint16_t mss;
	bool has_ws;
	uint8_t ws;
	bool sack_perm;
	bool has_ts;
	uint32_t tsval, tsecr;
	uint8_t nsack;
	uint32_t sack[TSEG_MAX_SACK][2]; /* left, right edges */
	/* Sent segments only: raw option bytes instead of the fields above (malformed lists),
	 * and other ports than the script's (0 = the script's). */
	const uint8_t *raw_opts;
	uint8_t raw_optlen;
	uint16_t sport, dport;
};

struct tcp_script {
	struct sim_rig rig;
	uint16_t port;      /* the stack's port, host order */
	uint16_t peer_port; /* host order */
	uint32_t peer_isn;  /* the peer's ISS */
	uint16_t peer_window;
	uint16_t stack_window; /* what the stack advertises in a SYN */
	uint32_t seen;         /* captured frames already taken by SEG_EXPECT */
	int lsock;             /* the listener, or -1 */
	int sock;              /* the connection's handle (accepted or connecting), or -1 */
	uint32_t iss;          /* the stack's ISS */
	uint32_t snd_nxt;      /* the stack's SND.NXT as the peer has seen it */
	uint32_t rcv_nxt;      /* the stack's RCV.NXT: the peer's next sequence number */
	uint32_t rcv_edge;     /* RCV.NXT + RCV.WND as the stack last advertised them */
	bool rcv_edge_known;
};

/* The state tscript_state() reports when the rig holds no connection for the script's ports. */
#define TSCRIPT_NO_TCB 0

/* A rig for the script (cfg_tweak may be NULL) with the peer in its neighbour table. Ports:
 * the stack's 80, the peer's 40000, the peer's ISS 1000. */
void tscript_init(struct tcp_script *sc, void (*cfg_tweak)(struct tpa_stack_config *cfg));
/* Reads what the connection holds (so no mbuf stays queued) and destroys the rig; false when the
 * rig's pool lost mbufs (sim_rig_destroy). */
bool tscript_destroy(struct tcp_script *sc);

/* The stack's ISS and current TSval for the script's connection (RFC 6528, RFC 7323 offset). */
uint32_t tscript_iss(const struct tcp_script *sc);
uint32_t tscript_tsval(const struct tcp_script *sc);
/* The RFC 9293 state of the script's connection (enum tpa_tcp_state), TSCRIPT_NO_TCB if none. */
int tscript_state(const struct tcp_script *sc);
const char *tscript_state_name(int state);

/* Room for any frame tscript_frame builds. */
#define TSCRIPT_FRAME_ROOM 4096
/* The peer's segment g as an Ethernet frame in buf (for tests that then edit its bytes);
 * returns its length. */
size_t tscript_frame(const struct tcp_script *sc, uint8_t *buf, struct tseg g);
/* Hand the peer's segment g to the stack now (it flushes what the stack sends back). */
void tscript_send(struct tcp_script *sc, struct tseg g);
void tscript_expect(struct tcp_script *sc, struct tseg want, const char *file, int line);
void tscript_expect_none(struct tcp_script *sc, const char *file, int line);
/* The next segment the stack sent, whatever it is (fails when there is none). */
struct tseg tscript_next(struct tcp_script *sc);
/* Write g as "<SEQ=..><ACK=..><CTL=..> win .. len .. [options]" into buf. */
void tseg_format(const struct tseg *g, char *buf, size_t n);

#define SEG_SEND(sc, ...)   tscript_send((sc), (struct tseg){__VA_ARGS__})
#define SEG_EXPECT(sc, ...) tscript_expect((sc), (struct tseg){__VA_ARGS__}, __FILE__, __LINE__)
#define SEG_EXPECT_NONE(sc) tscript_expect_none((sc), __FILE__, __LINE__)

/* Fixtures: each leaves the connection in the state it names, nothing unexpected sent. The
 * stack's side is passive (a listener on 80 accepts) except in tscript_syn_sent, and it ends
 * its side with shutdown(SHUT_WR), so the handle stays open in every state. */
void tscript_listen(struct tcp_script *sc);
void tscript_syn_sent(struct tcp_script *sc);
void tscript_syn_received(struct tcp_script *sc);
void tscript_established(struct tcp_script *sc);
void tscript_fin_wait_1(struct tcp_script *sc);
void tscript_fin_wait_2(struct tcp_script *sc);
void tscript_close_wait(struct tcp_script *sc);
void tscript_closing(struct tcp_script *sc);
void tscript_last_ack(struct tcp_script *sc);
void tscript_time_wait(struct tcp_script *sc);

#endif
