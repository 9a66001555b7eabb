/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RFC 9293 section 3.10.7 (SEGMENT ARRIVES), state by state: for each state a connection can be
 * in (and for no connection at all: CLOSED), what one arriving SYN, RST, ACK, FIN or data
 * segment, in and out of the window, makes the stack send and which state it leaves behind.
 * One table row per case, named <state>_<event>_<result>; each row runs on a fresh rig
 * (tcp_script.h fixtures), sends its segment, then checks the exact reply (every field and
 * option) or that nothing was sent, and the connection's state. RFC 5961 (challenge ACKs for an
 * in-window RST or SYN, the ACK acceptability range) is part of the table where the stack
 * implements it. Where the stack deliberately differs from the RFC the row says why.
 *
 * Numbers in the table are relative to the connection: RNXT is the stack's RCV.NXT (the peer's
 * next sequence number), SNXT the stack's SND.NXT, ISS the initial sequence number the stack
 * picks for the script's connection now (RFC 6528 with the rig's fixed key); a bare number is
 * absolute. The stack's receive window is 65535 (no window scaling: the peer offers no
 * options), so RNXT + 100 is inside it and RNXT + 100000 beyond it.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "tcp_script.h"
#include "test_eal.h"

#define BASE (1ll << 40)
#define RNXT (1 * BASE)
#define SNXT (2 * BASE)
#define ISS  (3 * BASE)

#define FIN TS_FIN
#define SYN TS_SYN
#define RST TS_RST
#define ACK TS_ACK

/* The fixtures' states; NO_TCB: no connection for the script's ports. */
enum {
	NO_TCB = TSCRIPT_NO_TCB,
	CLOSED = TPA_TCP_CLOSED,
	LISTEN = TPA_TCP_LISTEN,
	SYN_SENT = TPA_TCP_SYN_SENT,
	SYN_RECEIVED = TPA_TCP_SYN_RECV,
	ESTABLISHED = TPA_TCP_ESTABLISHED,
	FIN_WAIT_1 = TPA_TCP_FIN_WAIT1,
	FIN_WAIT_2 = TPA_TCP_FIN_WAIT2,
	CLOSE_WAIT = TPA_TCP_CLOSE_WAIT,
	CLOSING = TPA_TCP_CLOSING,
	LAST_ACK = TPA_TCP_LAST_ACK,
	TIME_WAIT = TPA_TCP_TIME_WAIT,
	/* The same states after the program closed the socket (the connection an orphan). */
	ORPHAN = 100,
	FIN_WAIT_1_ORPHAN = ORPHAN + FIN_WAIT_1,
	FIN_WAIT_2_ORPHAN = ORPHAN + FIN_WAIT_2,
};

/* A segment in connection-relative numbers. */
struct rel_seg {
	uint8_t flags;
	int64_t seq, ack;
	uint16_t len;
	uint16_t mss;    /* SYN-ACK replies: the MSS option the stack announces */
	uint32_t window; /* replies: 0 = tcp_script's default (none in a RST) */
};

struct arrival {
	const char *name;
	int state; /* the fixture; CLOSED = no connection and no listener */
	struct rel_seg in;
	bool reply;
	struct rel_seg out;
	int after; /* the connection's state afterwards */
};

/* clang-format off */
#define IN(f, s, a)          {f, s, a, 0, 0, 0}
#define IN_DATA(f, s, a, n)  {f, s, a, n, 0, 0}
#define REPLY(f, s, a)       true, {f, s, a, 0, 0, 0}
#define REPLY_WIN(f, s, a, w) true, {f, s, a, 0, 0, w}
#define REPLY_SYNACK(s, a)   true, {SYN | ACK, s, a, 0, 1460, 0}
#define NO_REPLY             false, {0, 0, 0, 0, 0, 0}
#define CHALLENGE_ACK        REPLY(ACK, SNXT, RNXT) /* RFC 5961 3.2, 4.2 */
#define ACK_AND_DROP         REPLY(ACK, SNXT, RNXT) /* RFC 9293 3.10.7.4 first check */

static const struct arrival cases[] = {
	/* ---- CLOSED (3.10.7.1): no TCB. A RST is never answered; any other segment is answered
	 * by a RST that the sender will accept: <SEQ=SEG.ACK> if it had an ACK, else
	 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
	{"closed_syn_rst_ack", CLOSED, IN(SYN, 5000, 0), REPLY(RST | ACK, 0, 5001), NO_TCB},
	{"closed_ack_rst", CLOSED, IN(ACK, 5000, 777), REPLY(RST, 777, 0), NO_TCB},
	{"closed_data_ack_rst", CLOSED, IN_DATA(ACK, 5000, 777, 10), REPLY(RST, 777, 0), NO_TCB},
	/* Deliberate: a segment with none of SYN, FIN, RST, ACK is dropped as malformed before any
	 * lookup (counter tcp_drop_bad_flags); Linux answers one to a closed port with a RST. No TCP
	 * sends it; silence tells a scanner nothing. */
	{"closed_no_flags_dropped", CLOSED, IN_DATA(0, 5000, 0, 10), NO_REPLY, NO_TCB},
	{"closed_fin_rst_ack", CLOSED, IN_DATA(FIN, 5000, 0, 10), REPLY(RST | ACK, 0, 5011), NO_TCB},
	{"closed_rst_ignored", CLOSED, IN(RST, 5000, 0), NO_REPLY, NO_TCB},
	{"closed_rst_ack_ignored", CLOSED, IN(RST | ACK, 5000, 777), NO_REPLY, NO_TCB},

	/* ---- LISTEN (3.10.7.2) */
	{"listen_syn_synack", LISTEN, IN(SYN, RNXT, 0), REPLY_SYNACK(ISS, RNXT + 1), SYN_RECEIVED},
	/* Data on a SYN is not kept (as Linux): the SYN-ACK acknowledges the SYN only and the
	 * peer sends the data again. */
	{"listen_syn_with_data_synack_data_not_acked", LISTEN, IN_DATA(SYN, RNXT, 0, 10),
	 REPLY_SYNACK(ISS, RNXT + 1), SYN_RECEIVED},
	{"listen_rst_ignored", LISTEN, IN(RST, RNXT, 0), NO_REPLY, NO_TCB},
	{"listen_ack_rst", LISTEN, IN(ACK, RNXT, 777), REPLY(RST, 777, 0), NO_TCB},
	{"listen_synack_rst", LISTEN, IN(SYN | ACK, RNXT, 777), REPLY(RST, 777, 0), NO_TCB},
	{"listen_data_ack_rst", LISTEN, IN_DATA(ACK, RNXT, 777, 10), REPLY(RST, 777, 0), NO_TCB},
	{"listen_fin_no_ack_dropped", LISTEN, IN(FIN, RNXT, 0), NO_REPLY, NO_TCB},

	/* ---- SYN-SENT (3.10.7.3) */
	{"syn_sent_synack_established", SYN_SENT, IN(SYN | ACK, RNXT, SNXT),
	 REPLY(ACK, SNXT, RNXT + 1), ESTABLISHED},
	{"syn_sent_synack_unsent_ack_rst", SYN_SENT, IN(SYN | ACK, RNXT, SNXT + 100),
	 REPLY(RST, SNXT + 100, 0), SYN_SENT},
	{"syn_sent_synack_ack_of_iss_rst", SYN_SENT, IN(SYN | ACK, RNXT, SNXT - 1),
	 REPLY(RST, SNXT - 1, 0), SYN_SENT},
	{"syn_sent_ack_unsent_rst", SYN_SENT, IN(ACK, RNXT, SNXT + 100), REPLY(RST, SNXT + 100, 0),
	 SYN_SENT},
	{"syn_sent_ack_without_syn_dropped", SYN_SENT, IN(ACK, RNXT, SNXT), NO_REPLY, SYN_SENT},
	{"syn_sent_rst_ack_closed", SYN_SENT, IN(RST | ACK, RNXT, SNXT), NO_REPLY, CLOSED},
	{"syn_sent_rst_bad_ack_ignored", SYN_SENT, IN(RST | ACK, RNXT, SNXT + 100), NO_REPLY,
	 SYN_SENT},
	/* RFC 9293: without an ACK the RST cannot be tied to our SYN (RFC 5961 3). */
	{"syn_sent_rst_no_ack_ignored", SYN_SENT, IN(RST, RNXT, 0), NO_REPLY, SYN_SENT},
	/* Simultaneous open: SYN-RECEIVED and a SYN-ACK of our ISS, which offers nothing the
	 * peer's SYN did not (no options here) but the MSS. */
	{"syn_sent_syn_synack_syn_received", SYN_SENT, IN(SYN, RNXT, 0),
	 REPLY_SYNACK(SNXT - 1, RNXT + 1), SYN_RECEIVED},
	{"syn_sent_fin_dropped", SYN_SENT, IN(FIN, RNXT, 0), NO_REPLY, SYN_SENT},

	/* ---- SYN-RECEIVED (3.10.7.4) */
	{"syn_received_ack_established", SYN_RECEIVED, IN(ACK, RNXT, SNXT), NO_REPLY, ESTABLISHED},
	{"syn_received_ack_unsent_rst", SYN_RECEIVED, IN(ACK, RNXT, SNXT + 100),
	 REPLY(RST, SNXT + 100, 0), SYN_RECEIVED},
	{"syn_received_ack_of_iss_rst", SYN_RECEIVED, IN(ACK, RNXT, SNXT - 1), REPLY(RST, SNXT - 1, 0),
	 SYN_RECEIVED},
	{"syn_received_data_established_acked", SYN_RECEIVED, IN_DATA(ACK, RNXT, SNXT, 10),
	 REPLY(ACK, SNXT, RNXT + 10), ESTABLISHED},
	{"syn_received_fin_close_wait", SYN_RECEIVED, IN(FIN | ACK, RNXT, SNXT),
	 REPLY(ACK, SNXT, RNXT + 1), CLOSE_WAIT},
	/* A passive open reset by its peer goes back to LISTEN: the child is gone. */
	{"syn_received_rst_exact_gone", SYN_RECEIVED, IN(RST, RNXT, 0), NO_REPLY, NO_TCB},
	{"syn_received_rst_in_window_challenge_ack", SYN_RECEIVED, IN(RST, RNXT + 100, 0),
	 CHALLENGE_ACK, SYN_RECEIVED},
	{"syn_received_rst_out_of_window_ignored", SYN_RECEIVED, IN(RST, RNXT + 100000, 0), NO_REPLY,
	 SYN_RECEIVED},
	/* The peer's SYN again (our SYN-ACK was lost): the SYN-ACK again, not the bare ACK of the
	 * first check, which a peer in SYN-SENT would drop (as Linux). */
	{"syn_received_syn_retransmitted_synack", SYN_RECEIVED, IN(SYN, RNXT - 1, 0),
	 REPLY_SYNACK(SNXT - 1, RNXT), SYN_RECEIVED},
	{"syn_received_syn_in_window_challenge_ack", SYN_RECEIVED, IN(SYN, RNXT + 100, 0),
	 CHALLENGE_ACK, SYN_RECEIVED},
	{"syn_received_data_out_of_window_ack", SYN_RECEIVED, IN_DATA(ACK, RNXT + 100000, SNXT, 10),
	 ACK_AND_DROP, SYN_RECEIVED},
	{"syn_received_no_ack_dropped", SYN_RECEIVED, IN_DATA(0, RNXT, 0, 10), NO_REPLY,
	 SYN_RECEIVED},
	{"syn_received_fin_no_ack_dropped", SYN_RECEIVED, IN(FIN, RNXT, 0), NO_REPLY, SYN_RECEIVED},

	/* ---- ESTABLISHED */
	{"established_syn_in_window_challenge_ack", ESTABLISHED, IN(SYN, RNXT + 100, 0),
	 CHALLENGE_ACK, ESTABLISHED},
	{"established_syn_at_rcv_nxt_challenge_ack", ESTABLISHED, IN(SYN, RNXT, 0), CHALLENGE_ACK,
	 ESTABLISHED},
	{"established_syn_out_of_window_ack", ESTABLISHED, IN(SYN, RNXT + 100000, 0), ACK_AND_DROP,
	 ESTABLISHED},
	{"established_syn_old_ack", ESTABLISHED, IN(SYN, RNXT - 100, 0), ACK_AND_DROP, ESTABLISHED},
	{"established_rst_exact_closed", ESTABLISHED, IN(RST, RNXT, 0), NO_REPLY, CLOSED},
	{"established_rst_ack_exact_closed", ESTABLISHED, IN(RST | ACK, RNXT, SNXT), NO_REPLY, CLOSED},
	{"established_rst_in_window_challenge_ack", ESTABLISHED, IN(RST, RNXT + 100, 0),
	 CHALLENGE_ACK, ESTABLISHED},
	{"established_rst_out_of_window_ignored", ESTABLISHED, IN(RST, RNXT + 100000, 0), NO_REPLY,
	 ESTABLISHED},
	{"established_rst_old_ignored", ESTABLISHED, IN(RST, RNXT - 100, 0), NO_REPLY, ESTABLISHED},
	{"established_ack_current_nothing", ESTABLISHED, IN(ACK, RNXT, SNXT), NO_REPLY, ESTABLISHED},
	{"established_ack_unsent_ack", ESTABLISHED, IN(ACK, RNXT, SNXT + 100), ACK_AND_DROP,
	 ESTABLISHED},
	/* RFC 5961 5.2: an ACK below SND.UNA - MAX.SND.WND is answered with an ACK and dropped. */
	{"established_ack_too_old_ack", ESTABLISHED, IN(ACK, RNXT, SNXT - 70000), ACK_AND_DROP,
	 ESTABLISHED},
	{"established_ack_duplicate_nothing", ESTABLISHED, IN(ACK, RNXT, SNXT - 1), NO_REPLY,
	 ESTABLISHED},
	{"established_data_in_window_acked", ESTABLISHED, IN_DATA(ACK, RNXT, SNXT, 10),
	 REPLY(ACK, SNXT, RNXT + 10), ESTABLISHED},
	/* Out of order but inside the window: kept, and a duplicate ACK at once (RFC 5681 4.2). */
	{"established_data_above_rcv_nxt_dup_ack", ESTABLISHED, IN_DATA(ACK, RNXT + 100, SNXT, 10),
	 REPLY(ACK, SNXT, RNXT), ESTABLISHED},
	{"established_data_out_of_window_ack", ESTABLISHED, IN_DATA(ACK, RNXT + 100000, SNXT, 10),
	 ACK_AND_DROP, ESTABLISHED},
	{"established_data_old_ack", ESTABLISHED, IN_DATA(ACK, RNXT - 100, SNXT, 10), ACK_AND_DROP,
	 ESTABLISHED},
	{"established_data_no_ack_dropped", ESTABLISHED, IN_DATA(0, RNXT, 0, 10), NO_REPLY,
	 ESTABLISHED},
	{"established_fin_close_wait", ESTABLISHED, IN(FIN | ACK, RNXT, SNXT),
	 REPLY(ACK, SNXT, RNXT + 1), CLOSE_WAIT},
	{"established_fin_with_data_close_wait", ESTABLISHED, IN_DATA(FIN | ACK, RNXT, SNXT, 10),
	 REPLY(ACK, SNXT, RNXT + 11), CLOSE_WAIT},
	/* A FIN after a hole waits for the hole (the duplicate ACK asks for it). */
	{"established_fin_above_rcv_nxt_dup_ack", ESTABLISHED, IN(FIN | ACK, RNXT + 100, SNXT),
	 REPLY(ACK, SNXT, RNXT), ESTABLISHED},
	{"established_fin_out_of_window_ack", ESTABLISHED, IN(FIN | ACK, RNXT + 100000, SNXT),
	 ACK_AND_DROP, ESTABLISHED},
	{"established_fin_no_ack_dropped", ESTABLISHED, IN(FIN, RNXT, 0), NO_REPLY, ESTABLISHED},

	/* ---- FIN-WAIT-1: our FIN (SNXT - 1) is not acknowledged yet. */
	{"fin_wait_1_syn_in_window_challenge_ack", FIN_WAIT_1, IN(SYN, RNXT + 100, 0),
	 CHALLENGE_ACK, FIN_WAIT_1},
	{"fin_wait_1_syn_out_of_window_ack", FIN_WAIT_1, IN(SYN, RNXT + 100000, 0), ACK_AND_DROP,
	 FIN_WAIT_1},
	{"fin_wait_1_rst_exact_closed", FIN_WAIT_1, IN(RST, RNXT, 0), NO_REPLY, CLOSED},
	{"fin_wait_1_rst_in_window_challenge_ack", FIN_WAIT_1, IN(RST, RNXT + 100, 0), CHALLENGE_ACK,
	 FIN_WAIT_1},
	{"fin_wait_1_rst_out_of_window_ignored", FIN_WAIT_1, IN(RST, RNXT + 100000, 0), NO_REPLY,
	 FIN_WAIT_1},
	{"fin_wait_1_ack_of_fin_fin_wait_2", FIN_WAIT_1, IN(ACK, RNXT, SNXT), NO_REPLY, FIN_WAIT_2},
	{"fin_wait_1_ack_below_fin_stays", FIN_WAIT_1, IN(ACK, RNXT, SNXT - 1), NO_REPLY, FIN_WAIT_1},
	{"fin_wait_1_ack_unsent_ack", FIN_WAIT_1, IN(ACK, RNXT, SNXT + 100), ACK_AND_DROP,
	 FIN_WAIT_1},
	{"fin_wait_1_ack_too_old_ack", FIN_WAIT_1, IN(ACK, RNXT, SNXT - 70000), ACK_AND_DROP,
	 FIN_WAIT_1},
	{"fin_wait_1_data_in_window_acked", FIN_WAIT_1, IN_DATA(ACK, RNXT, SNXT - 1, 10),
	 REPLY(ACK, SNXT, RNXT + 10), FIN_WAIT_1},
	{"fin_wait_1_data_out_of_window_ack", FIN_WAIT_1, IN_DATA(ACK, RNXT + 100000, SNXT - 1, 10),
	 ACK_AND_DROP, FIN_WAIT_1},
	{"fin_wait_1_data_no_ack_dropped", FIN_WAIT_1, IN_DATA(0, RNXT, 0, 10), NO_REPLY, FIN_WAIT_1},
	/* The FINs crossed. */
	{"fin_wait_1_fin_closing", FIN_WAIT_1, IN(FIN | ACK, RNXT, SNXT - 1),
	 REPLY(ACK, SNXT, RNXT + 1), CLOSING},
	/* Our FIN acknowledged by the FIN itself: straight to TIME-WAIT. */
	{"fin_wait_1_fin_acking_our_fin_time_wait", FIN_WAIT_1, IN(FIN | ACK, RNXT, SNXT),
	 REPLY(ACK, SNXT, RNXT + 1), TIME_WAIT},
	{"fin_wait_1_fin_out_of_window_ack", FIN_WAIT_1, IN(FIN | ACK, RNXT + 100000, SNXT),
	 ACK_AND_DROP, FIN_WAIT_1},

	/* After close() nobody will read (RFC 1122 4.2.2.13): new data is answered with a RST
	 * and the connection ends; it carries our SND.NXT and acknowledges RCV.NXT, like every
	 * RST of a connection here (Linux answers <SEQ=SEG.ACK><CTL=RST>). The FINs still work. */
	{"fin_wait_1_orphan_data_rst", FIN_WAIT_1_ORPHAN, IN_DATA(ACK, RNXT, SNXT - 1, 10),
	 REPLY_WIN(RST | ACK, SNXT, RNXT, 65535), NO_TCB},
	{"fin_wait_1_orphan_ack_of_fin_fin_wait_2", FIN_WAIT_1_ORPHAN, IN(ACK, RNXT, SNXT), NO_REPLY,
	 FIN_WAIT_2},
	{"fin_wait_1_orphan_fin_closing", FIN_WAIT_1_ORPHAN, IN(FIN | ACK, RNXT, SNXT - 1),
	 REPLY(ACK, SNXT, RNXT + 1), CLOSING},

	/* ---- FIN-WAIT-2: our FIN is acknowledged. */
	{"fin_wait_2_syn_in_window_challenge_ack", FIN_WAIT_2, IN(SYN, RNXT + 100, 0),
	 CHALLENGE_ACK, FIN_WAIT_2},
	{"fin_wait_2_syn_out_of_window_ack", FIN_WAIT_2, IN(SYN, RNXT + 100000, 0), ACK_AND_DROP,
	 FIN_WAIT_2},
	{"fin_wait_2_rst_exact_closed", FIN_WAIT_2, IN(RST, RNXT, 0), NO_REPLY, CLOSED},
	{"fin_wait_2_rst_in_window_challenge_ack", FIN_WAIT_2, IN(RST, RNXT + 100, 0), CHALLENGE_ACK,
	 FIN_WAIT_2},
	{"fin_wait_2_rst_out_of_window_ignored", FIN_WAIT_2, IN(RST, RNXT + 100000, 0), NO_REPLY,
	 FIN_WAIT_2},
	{"fin_wait_2_ack_current_nothing", FIN_WAIT_2, IN(ACK, RNXT, SNXT), NO_REPLY, FIN_WAIT_2},
	{"fin_wait_2_ack_unsent_ack", FIN_WAIT_2, IN(ACK, RNXT, SNXT + 100), ACK_AND_DROP,
	 FIN_WAIT_2},
	{"fin_wait_2_ack_too_old_ack", FIN_WAIT_2, IN(ACK, RNXT, SNXT - 70000), ACK_AND_DROP,
	 FIN_WAIT_2},
	{"fin_wait_2_data_in_window_acked", FIN_WAIT_2, IN_DATA(ACK, RNXT, SNXT, 10),
	 REPLY(ACK, SNXT, RNXT + 10), FIN_WAIT_2},
	{"fin_wait_2_data_out_of_window_ack", FIN_WAIT_2, IN_DATA(ACK, RNXT + 100000, SNXT, 10),
	 ACK_AND_DROP, FIN_WAIT_2},
	{"fin_wait_2_data_no_ack_dropped", FIN_WAIT_2, IN_DATA(0, RNXT, 0, 10), NO_REPLY, FIN_WAIT_2},
	{"fin_wait_2_fin_time_wait", FIN_WAIT_2, IN(FIN | ACK, RNXT, SNXT), REPLY(ACK, SNXT, RNXT + 1),
	 TIME_WAIT},
	{"fin_wait_2_fin_above_rcv_nxt_dup_ack", FIN_WAIT_2, IN(FIN | ACK, RNXT + 100, SNXT),
	 REPLY(ACK, SNXT, RNXT), FIN_WAIT_2},
	{"fin_wait_2_fin_out_of_window_ack", FIN_WAIT_2, IN(FIN | ACK, RNXT + 100000, SNXT),
	 ACK_AND_DROP, FIN_WAIT_2},

	{"fin_wait_2_orphan_data_rst", FIN_WAIT_2_ORPHAN, IN_DATA(ACK, RNXT, SNXT, 10),
	 REPLY_WIN(RST | ACK, SNXT, RNXT, 65535), NO_TCB},
	{"fin_wait_2_orphan_fin_time_wait", FIN_WAIT_2_ORPHAN, IN(FIN | ACK, RNXT, SNXT),
	 REPLY(ACK, SNXT, RNXT + 1), TIME_WAIT},
	{"fin_wait_2_orphan_rst_exact_gone", FIN_WAIT_2_ORPHAN, IN(RST, RNXT, 0), NO_REPLY, NO_TCB},

	/* ---- CLOSE-WAIT: the peer's FIN is in (RNXT counts it). */
	{"close_wait_syn_in_window_challenge_ack", CLOSE_WAIT, IN(SYN, RNXT + 100, 0),
	 CHALLENGE_ACK, CLOSE_WAIT},
	{"close_wait_syn_out_of_window_ack", CLOSE_WAIT, IN(SYN, RNXT + 100000, 0), ACK_AND_DROP,
	 CLOSE_WAIT},
	{"close_wait_rst_exact_closed", CLOSE_WAIT, IN(RST, RNXT, 0), NO_REPLY, CLOSED},
	{"close_wait_rst_in_window_challenge_ack", CLOSE_WAIT, IN(RST, RNXT + 100, 0), CHALLENGE_ACK,
	 CLOSE_WAIT},
	{"close_wait_rst_out_of_window_ignored", CLOSE_WAIT, IN(RST, RNXT + 100000, 0), NO_REPLY,
	 CLOSE_WAIT},
	{"close_wait_ack_current_nothing", CLOSE_WAIT, IN(ACK, RNXT, SNXT), NO_REPLY, CLOSE_WAIT},
	{"close_wait_ack_unsent_ack", CLOSE_WAIT, IN(ACK, RNXT, SNXT + 100), ACK_AND_DROP,
	 CLOSE_WAIT},
	{"close_wait_ack_too_old_ack", CLOSE_WAIT, IN(ACK, RNXT, SNXT - 70000), ACK_AND_DROP,
	 CLOSE_WAIT},
	/* Text after the peer's FIN "should not occur": ignored (as Linux), no ACK. */
	{"close_wait_data_in_window_ignored", CLOSE_WAIT, IN_DATA(ACK, RNXT, SNXT, 10), NO_REPLY,
	 CLOSE_WAIT},
	{"close_wait_data_out_of_window_ack", CLOSE_WAIT, IN_DATA(ACK, RNXT + 100000, SNXT, 10),
	 ACK_AND_DROP, CLOSE_WAIT},
	{"close_wait_fin_retransmitted_ack", CLOSE_WAIT, IN(FIN | ACK, RNXT - 1, SNXT), ACK_AND_DROP,
	 CLOSE_WAIT},
	{"close_wait_fin_no_ack_dropped", CLOSE_WAIT, IN(FIN, RNXT, 0), NO_REPLY, CLOSE_WAIT},
	/* The sequence check comes first: an old segment is answered even without an ACK. */
	{"close_wait_fin_old_no_ack_ack", CLOSE_WAIT, IN(FIN, RNXT - 1, 0), ACK_AND_DROP,
	 CLOSE_WAIT},

	/* ---- CLOSING: both FINs sent, ours not acknowledged. */
	{"closing_syn_in_window_challenge_ack", CLOSING, IN(SYN, RNXT + 100, 0), CHALLENGE_ACK,
	 CLOSING},
	{"closing_syn_out_of_window_ack", CLOSING, IN(SYN, RNXT + 100000, 0), ACK_AND_DROP, CLOSING},
	{"closing_rst_exact_closed", CLOSING, IN(RST, RNXT, 0), NO_REPLY, CLOSED},
	{"closing_rst_in_window_challenge_ack", CLOSING, IN(RST, RNXT + 100, 0), CHALLENGE_ACK,
	 CLOSING},
	{"closing_rst_out_of_window_ignored", CLOSING, IN(RST, RNXT + 100000, 0), NO_REPLY, CLOSING},
	{"closing_ack_of_fin_time_wait", CLOSING, IN(ACK, RNXT, SNXT), NO_REPLY, TIME_WAIT},
	{"closing_ack_below_fin_stays", CLOSING, IN(ACK, RNXT, SNXT - 1), NO_REPLY, CLOSING},
	{"closing_ack_unsent_ack", CLOSING, IN(ACK, RNXT, SNXT + 100), ACK_AND_DROP, CLOSING},
	{"closing_ack_too_old_ack", CLOSING, IN(ACK, RNXT, SNXT - 70000), ACK_AND_DROP, CLOSING},
	{"closing_data_in_window_ignored", CLOSING, IN_DATA(ACK, RNXT, SNXT - 1, 10), NO_REPLY,
	 CLOSING},
	{"closing_data_out_of_window_ack", CLOSING, IN_DATA(ACK, RNXT + 100000, SNXT - 1, 10),
	 ACK_AND_DROP, CLOSING},
	{"closing_fin_retransmitted_ack", CLOSING, IN(FIN | ACK, RNXT - 1, SNXT - 1), ACK_AND_DROP,
	 CLOSING},

	/* ---- LAST-ACK: the peer's FIN in, ours sent and not acknowledged. */
	{"last_ack_syn_in_window_challenge_ack", LAST_ACK, IN(SYN, RNXT + 100, 0), CHALLENGE_ACK,
	 LAST_ACK},
	{"last_ack_syn_out_of_window_ack", LAST_ACK, IN(SYN, RNXT + 100000, 0), ACK_AND_DROP,
	 LAST_ACK},
	{"last_ack_rst_exact_closed", LAST_ACK, IN(RST, RNXT, 0), NO_REPLY, CLOSED},
	{"last_ack_rst_in_window_challenge_ack", LAST_ACK, IN(RST, RNXT + 100, 0), CHALLENGE_ACK,
	 LAST_ACK},
	{"last_ack_rst_out_of_window_ignored", LAST_ACK, IN(RST, RNXT + 100000, 0), NO_REPLY,
	 LAST_ACK},
	{"last_ack_ack_of_fin_closed", LAST_ACK, IN(ACK, RNXT, SNXT), NO_REPLY, CLOSED},
	{"last_ack_ack_below_fin_stays", LAST_ACK, IN(ACK, RNXT, SNXT - 1), NO_REPLY, LAST_ACK},
	{"last_ack_ack_unsent_ack", LAST_ACK, IN(ACK, RNXT, SNXT + 100), ACK_AND_DROP, LAST_ACK},
	{"last_ack_ack_too_old_ack", LAST_ACK, IN(ACK, RNXT, SNXT - 70000), ACK_AND_DROP, LAST_ACK},
	{"last_ack_data_in_window_ignored", LAST_ACK, IN_DATA(ACK, RNXT, SNXT - 1, 10), NO_REPLY,
	 LAST_ACK},
	{"last_ack_data_out_of_window_ack", LAST_ACK, IN_DATA(ACK, RNXT + 100000, SNXT - 1, 10),
	 ACK_AND_DROP, LAST_ACK},
	{"last_ack_fin_retransmitted_ack", LAST_ACK, IN(FIN | ACK, RNXT - 1, SNXT - 1), ACK_AND_DROP,
	 LAST_ACK},

	/* ---- TIME-WAIT */
	/* RFC 9293 3.10.7.4 and RFC 6191: a SYN above RCV.NXT may open a new incarnation while a
	 * listener is there; its ISS lies above anything the old one sent (RFC 1122 4.2.2.13). */
	{"time_wait_syn_above_rcv_nxt_new_connection", TIME_WAIT, IN(SYN, RNXT + 100, 0),
	 REPLY_SYNACK(SNXT + 65536, RNXT + 101), SYN_RECEIVED},
	{"time_wait_syn_at_rcv_nxt_challenge_ack", TIME_WAIT, IN(SYN, RNXT, 0), CHALLENGE_ACK,
	 TIME_WAIT},
	{"time_wait_syn_old_ack", TIME_WAIT, IN(SYN, RNXT - 100, 0), ACK_AND_DROP, TIME_WAIT},
	{"time_wait_rst_exact_closed", TIME_WAIT, IN(RST, RNXT, 0), NO_REPLY, CLOSED},
	{"time_wait_rst_in_window_challenge_ack", TIME_WAIT, IN(RST, RNXT + 100, 0), CHALLENGE_ACK,
	 TIME_WAIT},
	{"time_wait_rst_out_of_window_ignored", TIME_WAIT, IN(RST, RNXT + 100000, 0), NO_REPLY,
	 TIME_WAIT},
	{"time_wait_ack_current_nothing", TIME_WAIT, IN(ACK, RNXT, SNXT), NO_REPLY, TIME_WAIT},
	{"time_wait_ack_unsent_ack", TIME_WAIT, IN(ACK, RNXT, SNXT + 100), ACK_AND_DROP, TIME_WAIT},
	{"time_wait_data_in_window_ignored", TIME_WAIT, IN_DATA(ACK, RNXT, SNXT, 10), NO_REPLY,
	 TIME_WAIT},
	{"time_wait_data_out_of_window_ack", TIME_WAIT, IN_DATA(ACK, RNXT + 100000, SNXT, 10),
	 ACK_AND_DROP, TIME_WAIT},
	/* The one segment TIME-WAIT expects: the peer's FIN again, acknowledged again. */
	{"time_wait_fin_retransmitted_ack", TIME_WAIT, IN(FIN | ACK, RNXT - 1, SNXT), ACK_AND_DROP,
	 TIME_WAIT},
	{"time_wait_fin_no_ack_dropped", TIME_WAIT, IN(FIN, RNXT, 0), NO_REPLY, TIME_WAIT},
	{"time_wait_fin_old_no_ack_ack", TIME_WAIT, IN(FIN, RNXT - 1, 0), ACK_AND_DROP, TIME_WAIT},
};
/* clang-format on */

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void tweak(struct tpa_stack_config *cfg)
{
	cfg->tcp.delack_ms = 0; /* every reply at once: the table states replies, not timers */
}

static struct tcp_script script;

static void setup(void)
{
	test_eal_init();
	tscript_init(&script, tweak);
}

static void teardown(void)
{
	ck_assert(tscript_destroy(&script));
}

static void reach(struct tcp_script *sc, int state)
{
	switch (state) {
	case CLOSED:
		break;
	case LISTEN:
		tscript_listen(sc);
		break;
	case SYN_SENT:
		tscript_syn_sent(sc);
		break;
	case SYN_RECEIVED:
		tscript_syn_received(sc);
		break;
	case ESTABLISHED:
		tscript_established(sc);
		break;
	case FIN_WAIT_1:
		tscript_fin_wait_1(sc);
		break;
	case FIN_WAIT_2:
		tscript_fin_wait_2(sc);
		break;
	case CLOSE_WAIT:
		tscript_close_wait(sc);
		break;
	case CLOSING:
		tscript_closing(sc);
		break;
	case LAST_ACK:
		tscript_last_ack(sc);
		break;
	case TIME_WAIT:
		tscript_time_wait(sc);
		break;
	case FIN_WAIT_1_ORPHAN:
	case FIN_WAIT_2_ORPHAN:
		reach(sc, state - ORPHAN);
		ck_assert_int_eq(tpa_close(sc->rig.s, sc->sock), 0);
		sc->sock = -1;
		tpa_stack_flush(sc->rig.s);
		SEG_EXPECT_NONE(sc); /* the FIN is out already */
		break;
	default:
		ck_abort_msg("no fixture for state %d", state);
	}
}

/* A relative number made absolute for this connection. */
static uint32_t resolve(const struct tcp_script *sc, int64_t v)
{
	int64_t base = (v + BASE / 2) / BASE;
	uint32_t off = (uint32_t)(v - base * BASE);
	switch (base) {
	case 0:
		return off;
	case 1:
		return sc->rcv_nxt + off;
	case 2:
		return sc->snd_nxt + off;
	default:
		return tscript_iss(sc) + off;
	}
}

START_TEST(segment_arrives)
{
	const struct arrival *c = &cases[_i];
	struct tcp_script *sc = &script;
	reach(sc, c->state);
	struct tseg in = {.flags = c->in.flags,
	                  .seq = resolve(sc, c->in.seq),
	                  .ack = resolve(sc, c->in.ack),
	                  .len = c->in.len};
	struct tseg out = {.flags = c->out.flags,
	                   .seq = resolve(sc, c->out.seq),
	                   .ack = resolve(sc, c->out.ack),
	                   .mss = c->out.mss,
	                   .window = c->out.window};
	tscript_send(sc, in);
	if (c->reply)
		tscript_expect(sc, out, c->name, 0);
	tscript_expect_none(sc, c->name, 0);
	int st = tscript_state(sc);
	ck_assert_msg(st == c->after, "%s: state %s, expected %s", c->name, tscript_state_name(st),
	              tscript_state_name(c->after));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_arrivals");
	TCase *tc = tcase_create("rfc9293_3_10_7");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, segment_arrives, 0, (int)NCASES);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	printf("tcp_arrivals: %zu cases (RFC 9293 3.10.7, state x event)\n", NCASES);
	/* One process: a fork per case (Check's default) costs more than the case itself with
	 * EAL's memory mapped, some 40 times more under ASan. Each case builds its own rig. */
	return check_run(suite(), CK_NOFORK);
}
