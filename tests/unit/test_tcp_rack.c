/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RACK-TLP (RFC 8985) on the capture rig with a hand-driven peer and a virtual clock: a hole is
 * lost only once a segment sent after it was delivered and RACK.rtt + reo_wnd have passed since
 * it was sent (at once when DupThresh segments are SACKed and no reordering was seen); the
 * reordering timer finds it when no ACK comes; reordering seen and D-SACKs widen the window; a
 * lost retransmission is found by its own send time; the tail loss probe resends the last
 * segment after 2 SRTT and a probe that repaired a loss is counted. Also the ACKs the network
 * reorders: an old ACK's D-SACK still undoes, and a pure ACK older than TS.Recent is not
 * thrown away by PAWS. And Eifel (RFC 3522): an ACK echoing the original's timestamp undoes the
 * recovery at once.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "sim_peer.h"
#include "test_eal.h"

#define PEER_PORT 40000
#define SRV_PORT  80
#define PEER_ISN  1000u
#define MSS       100u
#define RTT_MS    10u

static struct sim_rig rig;
static int sock;
static uint32_t iss;      /* the stack's ISN */
static uint32_t peer_nxt; /* the peer's next sequence number */
static bool with_ts;      /* the peer negotiated timestamps */
static uint32_t peer_tsval;
static uint32_t seg_len;     /* payload per segment: the MSS less 12 with timestamps */
static uint16_t peer_window; /* what the peer advertises, 0: 65535 */

/* The peer's segment; with timestamps it carries TSval peer_tsval and echoes tsecr, then the
 * given options (SACK). */
static void send_seg_ts(uint8_t flags, uint32_t seq, uint32_t ack, const uint8_t *opts,
                        uint8_t optlen, uint16_t len, uint32_t tsval, uint32_t tsecr)
{
	uint8_t o[40];
	uint8_t n = 0;
	if (with_ts) {
		uint32_t v[2] = {htonl(tsval), htonl(tsecr)};
		o[0] = o[1] = 1;
		o[2] = 8;
		o[3] = 10;
		memcpy(o + 4, v, 8);
		n = 12;
	}
	if (optlen)
		memcpy(o + n, opts, optlen);
	n = (uint8_t)(n + optlen);
	struct sim_peer_seg g = {.sport = PEER_PORT,
	                         .dport = SRV_PORT,
	                         .flags = flags,
	                         .seq = seq,
	                         .ack = ack,
	                         .opts = n ? o : NULL,
	                         .optlen = n,
	                         .len = len,
	                         .window = peer_window};
	sim_peer_send(&rig, &g);
}

static void send_seg(uint8_t flags, uint32_t seq, uint32_t ack, const uint8_t *opts, uint8_t optlen,
                     uint16_t len)
{
	send_seg_ts(flags, seq, ack, opts, optlen, len, peer_tsval, 0);
}

/* SACK option with one or two blocks (NOP NOP padded). */
static uint8_t sack_opt(uint8_t *o, uint32_t s1, uint32_t e1, uint32_t s2, uint32_t e2)
{
	uint8_t n = s2 == e2 ? 1 : 2;
	o[0] = o[1] = 1;
	o[2] = 5;
	o[3] = (uint8_t)(2 + 8 * n);
	uint32_t v[4] = {htonl(s1), htonl(e1), htonl(s2), htonl(e2)};
	memcpy(o + 4, v, 8u * n);
	return (uint8_t)(4 + 8 * n);
}

/* Sequence number of the k-th (1-based) segment of the data sent so far. */
static uint32_t seg(uint32_t k)
{
	return iss + 1 + (k - 1) * seg_len;
}

/* The peer acknowledges up to `ack` and SACKs segments [from, to]. */
static void ack_sack(uint32_t ack, uint32_t from, uint32_t to)
{
	uint8_t o[20];
	send_seg(CRAFT_TCP_ACK, peer_nxt, ack, o, sack_opt(o, seg(from), seg(to + 1), 0, 0), 0);
}

static void ack_only(uint32_t ack)
{
	send_seg(CRAFT_TCP_ACK, peer_nxt, ack, NULL, 0, 0);
}

static const struct tpa_stack_stats *st(void)
{
	return tpa_stack_stats(rig.s);
}

static void advance_ms(double ms)
{
	vclock_advance(&rig.clock, (uint64_t)(ms * 1e6));
	tpa_stack_run_timers(rig.s);
	tpa_stack_flush(rig.s);
}

/* Data segments the stack sent since the last clear starting at seq. */
static uint32_t sent_at(uint32_t seq)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < rig.cap.count; i++) {
		struct parsed_tcp f = sim_frame_tcp(&rig, i);
		n += f.seq == seq && f.payload_len > 0;
	}
	return n;
}

static void send_data(uint32_t bytes)
{
	static char data[4000];
	ck_assert_int_eq(tpa_send(rig.s, sock, data, bytes, 0), (int)bytes);
	tpa_stack_flush(rig.s);
}

/* An accepted connection with SACK, an MSS of 100 and a 10 ms handshake RTT. */
static void establish(bool ts)
{
	test_eal_init();
	sim_rig_init(&rig, NULL);
	with_ts = ts;
	seg_len = ts ? MSS - 12 : MSS;
	peer_tsval = 5000;
	static const uint8_t peer_mac[6] = PEER_MAC;
	tpa_stack_neigh_update(rig.s, sim_peer_ip(), peer_mac);
	int l = tpa_socket(rig.s);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(SRV_PORT)};
	ck_assert_int_eq(tpa_bind(rig.s, l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(tpa_listen(rig.s, l, 4), 0);
	static const uint8_t syn_opts[] = {2, 4, 0, MSS, 1, 1, 4, 2};
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, syn_opts, sizeof(syn_opts), 0);
	iss = sim_frame_tcp(&rig, rig.cap.count - 1).seq;
	vclock_advance(&rig.clock, VCLOCK_MS(RTT_MS));
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, iss + 1, NULL, 0, 0);
	sock = tpa_accept(rig.s, l, NULL, NULL);
	ck_assert_int_ge(sock, 0);
	peer_nxt = PEER_ISN + 1;
	sim_rig_clear(&rig);
}

static void setup(void)
{
	establish(false);
}

static void setup_ts(void)
{
	establish(true);
}

/* With timestamps and a peer window of 800 bytes (9 segments). */
static void setup_ts_small_window(void)
{
	peer_window = 800;
	establish(true);
}

static void teardown(void)
{
	peer_window = 0;
	send_seg(CRAFT_TCP_RST, peer_nxt, 0, NULL, 0, 0);
	ck_assert(sim_rig_destroy(&rig));
}

/* Ten segments out at t0; at t0 + RTT the peer SACKs segment 3 only: segments 1-2 are lost
 * only when RACK.rtt (10 ms) + reo_wnd (min_RTT / 4 = 2.5 ms) have passed since they left;
 * the reordering timer finds them without another ACK. */
START_TEST(hole_lost_after_rtt_plus_reo_wnd)
{
	send_data(1000);
	ck_assert_uint_eq(rig.cap.count, 10);
	sim_rig_clear(&rig);
	vclock_advance(&rig.clock, VCLOCK_MS(RTT_MS));
	ack_sack(seg(1), 3, 3);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(sent_at(seg(1)), 0);
	advance_ms(2.4); /* 12.4 ms after the send: still within the window */
	ck_assert_uint_eq(sent_at(seg(1)), 0);
	ck_assert_uint_eq(st()->tcp_rack_lost, 0);
	advance_ms(0.1);
	ck_assert_uint_eq(st()->tcp_rack_lost, 2);
	ck_assert_uint_eq(st()->tcp_rack_reo_timeout, 1);
	ck_assert_uint_eq(st()->tcp_fast_retransmit, 1);
	ck_assert_uint_eq(sent_at(seg(1)), 1);
	ck_assert_uint_eq(sent_at(seg(4)), 0); /* sent after segment 3: not lost */
}
END_TEST

/* DupThresh (3) segments SACKed and no reordering seen: reo_wnd is 0, the hole is lost on
 * that ACK. */
START_TEST(three_sacked_lose_hole_at_once)
{
	send_data(1000);
	sim_rig_clear(&rig);
	vclock_advance(&rig.clock, VCLOCK_MS(RTT_MS));
	ack_sack(seg(1), 2, 4);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(st()->tcp_rack_lost, 1);
	ck_assert_uint_eq(st()->tcp_fast_retransmit, 1);
	ck_assert_uint_eq(sent_at(seg(1)), 1);
}
END_TEST

/* Segment 1 arrives after segment 2 without a retransmission: reordering. From then on, three
 * SACKed segments above a hole no longer make it lost at once: it waits for reo_wnd. */
START_TEST(reordering_seen_keeps_reo_wnd)
{
	send_data(1000);
	vclock_advance(&rig.clock, VCLOCK_MS(RTT_MS));
	ack_sack(seg(1), 2, 2);
	ack_only(seg(3)); /* segments 1-2 acknowledged: 1 was only late */
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(st()->tcp_rack_lost, 0);
	ack_only(seg(11));
	send_data(1000); /* segments 11-20 */
	sim_rig_clear(&rig);
	vclock_advance(&rig.clock, VCLOCK_MS(RTT_MS));
	ack_sack(seg(11), 12, 14);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(st()->tcp_rack_lost, 0);
	ck_assert_uint_eq(sent_at(seg(11)), 0);
	advance_ms(RTT_MS / 4.0);
	ck_assert_uint_eq(st()->tcp_rack_lost, 1);
	ck_assert_uint_eq(sent_at(seg(11)), 1);
}
END_TEST

/* A D-SACK doubles reo_wnd (RFC 8985 6.2: min_RTT / 4 times the rounds with D-SACKs). */
START_TEST(dsack_widens_reo_wnd)
{
	send_data(1000);
	vclock_advance(&rig.clock, VCLOCK_MS(RTT_MS));
	ack_sack(seg(1), 2, 4); /* segment 1 lost at once and resent */
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(sent_at(seg(1)), 2);
	/* The original was late: all acknowledged, the retransmission reported duplicate. */
	uint8_t o[20];
	send_seg(CRAFT_TCP_ACK, peer_nxt, seg(11), o, sack_opt(o, seg(1), seg(2), 0, 0), 0);
	ck_assert_uint_eq(st()->tcp_spurious_rtx_undone, 1);
	send_data(1000); /* segments 11-20 */
	sim_rig_clear(&rig);
	vclock_advance(&rig.clock, VCLOCK_MS(RTT_MS));
	ack_sack(seg(11), 12, 14);
	tpa_stack_flush(rig.s);
	advance_ms(RTT_MS / 4.0 + 0.1); /* one quarter: not yet */
	ck_assert_uint_eq(sent_at(seg(11)), 0);
	advance_ms(RTT_MS / 4.0);
	ck_assert_uint_eq(sent_at(seg(11)), 1);
}
END_TEST

/* Segment 1 and its retransmission are both lost. Data sent after the retransmission is
 * SACKed: the retransmission is lost by its own send time and goes again, with no RTO. */
START_TEST(lost_retransmission_resent)
{
	send_data(1000);
	vclock_advance(&rig.clock, VCLOCK_MS(RTT_MS));
	ack_sack(seg(1), 2, 4);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(sent_at(seg(1)), 2);
	send_data(200);
	/* One RTT later everything else is SACKed: the pipe lets segments 11-12 out. */
	vclock_advance(&rig.clock, VCLOCK_MS(RTT_MS));
	ack_sack(seg(1), 2, 10);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(sent_at(seg(11)), 1);
	sim_rig_clear(&rig);
	/* They arrive, sent after the retransmission, which has not: it was lost too. */
	vclock_advance(&rig.clock, VCLOCK_MS(RTT_MS));
	ack_sack(seg(1), 2, 12);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(sent_at(seg(1)), 1);
	ck_assert_uint_eq(st()->tcp_rto_timeout, 0);
	ck_assert_uint_eq(st()->tcp_fast_retransmit, 1);
}
END_TEST

/* Nothing comes back: after 2 SRTT the probe resends the last segment (no new data). The
 * peer had lost only that one: the probe's ACK, then an ACK beyond it, count a recovered
 * loss. */
START_TEST(tail_loss_probe_recovers_last_segment)
{
	send_data(500);
	sim_rig_clear(&rig);
	uint64_t due = tpa_stack_next_timer_ns(rig.s);
	ck_assert_uint_le(due, rig.clock.now_ns + VCLOCK_MS(2 * RTT_MS + 1));
	advance_ms(2 * RTT_MS + 1);
	ck_assert_uint_eq(st()->tcp_tlp_probes, 1);
	ck_assert_uint_eq(sent_at(seg(5)), 1);
	ck_assert_uint_eq(st()->tcp_rto_timeout, 0);
	ack_only(seg(6));
	ck_assert_uint_eq(st()->tcp_tlp_recovered, 0);
	send_data(100);
	ack_only(seg(7));
	ck_assert_uint_eq(st()->tcp_tlp_recovered, 1);
}
END_TEST

/* The probe was a copy (the original arrived too): its D-SACK says nothing was lost. */
START_TEST(tail_loss_probe_duplicate_not_counted)
{
	send_data(500);
	advance_ms(2 * RTT_MS + 1);
	ck_assert_uint_eq(st()->tcp_tlp_probes, 1);
	ack_only(seg(6));
	uint8_t o[20];
	send_seg(CRAFT_TCP_ACK, peer_nxt, seg(6), o, sack_opt(o, seg(5), seg(6), 0, 0), 0);
	send_data(100);
	ack_only(seg(7));
	ck_assert_uint_eq(st()->tcp_tlp_recovered, 0);
}
END_TEST

/* Recovery of segment 1, which was only late; the ACK that reports its retransmission as a
 * duplicate is overtaken by a later one. Its D-SACK still counts (it was ignored before: an
 * ACK below snd_una was only a window update). */
START_TEST(old_ack_dsack_undoes)
{
	send_data(1000);
	vclock_advance(&rig.clock, VCLOCK_MS(RTT_MS));
	ack_sack(seg(1), 2, 4);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(st()->tcp_fast_retransmit, 1);
	ack_only(seg(11));
	uint8_t o[20];
	send_seg(CRAFT_TCP_ACK, peer_nxt, seg(6), o, sack_opt(o, seg(1), seg(2), 0, 0), 0);
	ck_assert_uint_eq(st()->tcp_dsack_rx, 1);
	ck_assert_uint_eq(st()->tcp_spurious_rtx_undone, 1);
}
END_TEST

/* With timestamps: the D-SACK rides on a pure ACK that a later segment (newer TSval, which
 * became TS.Recent) overtook. PAWS must not throw that reordered ACK away (it did). */
START_TEST(reordered_pure_ack_passes_paws)
{
	send_data(1000);
	vclock_advance(&rig.clock, VCLOCK_MS(RTT_MS));
	ack_sack(seg(1), 2, 4);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(st()->tcp_fast_retransmit, 1);
	uint32_t old_tsval = peer_tsval;
	peer_tsval += 3;
	ack_only(seg(11)); /* newer TSval: TS.Recent */
	uint8_t o[20];
	send_seg_ts(CRAFT_TCP_ACK, peer_nxt, seg(11), o, sack_opt(o, seg(1), seg(2), 0, 0), 0,
	            old_tsval, 0);
	ck_assert_uint_eq(st()->tcp_drop_paws, 0);
	ck_assert_uint_eq(st()->tcp_spurious_rtx_undone, 1);
}
END_TEST

/* With timestamps: a duplicate data segment PAWS rejects is still reported as a D-SACK. */
START_TEST(paws_rejected_duplicate_reported)
{
	send_seg(CRAFT_TCP_ACK, peer_nxt, iss + 1, NULL, 0, 100);
	send_seg(CRAFT_TCP_ACK, peer_nxt + 100, iss + 1, NULL, 0, 100);
	peer_nxt += 200;
	tpa_stack_flush(rig.s); /* acknowledged: the next segment's TSval becomes TS.Recent */
	peer_tsval += 5;
	send_seg(CRAFT_TCP_ACK, peer_nxt, iss + 1, NULL, 0, 0);
	sim_rig_clear(&rig);
	send_seg_ts(CRAFT_TCP_ACK, PEER_ISN + 1, iss + 1, NULL, 0, 100, peer_tsval - 5, 0);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(st()->tcp_drop_paws, 1);
	ck_assert_uint_ge(rig.cap.count, 1);
	const uint8_t *sk = sim_frame_tcp_opt(&rig, rig.cap.count - 1, 5);
	ck_assert_ptr_nonnull(sk);
	ck_assert_uint_eq(sim_be32(sk + 2), PEER_ISN + 1);
	ck_assert_uint_eq(sim_be32(sk + 6), PEER_ISN + 101);
	char b[300];
	ck_assert_int_eq(tpa_recv(rig.s, sock, b, sizeof(b), 0), 200);
}
END_TEST

/* TSval of captured frame i. */
static uint32_t frame_tsval(uint32_t i)
{
	const uint8_t *o = sim_frame_tcp_opt(&rig, i, 8);
	ck_assert_ptr_nonnull(o);
	return sim_be32(o + 2);
}

/* Recovery of segment 1 with timestamps; returns the TSvals of its original and of its
 * retransmission (one RTT later, so they differ). */
static void recovery_with_ts(uint32_t *orig, uint32_t *rtx)
{
	send_data(880);
	*orig = frame_tsval(0);
	sim_rig_clear(&rig);
	vclock_advance(&rig.clock, VCLOCK_MS(RTT_MS));
	ack_sack(seg(1), 2, 4);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(st()->tcp_fast_retransmit, 1);
	ck_assert_uint_eq(sent_at(seg(1)), 1);
	*rtx = frame_tsval(0);
	ck_assert_uint_gt(*rtx, *orig);
}

/* Eifel (RFC 3522): the ACK for segment 1 echoes the original's TSval: it arrived, late; the
 * recovery is undone at once, without waiting for the D-SACK. */
START_TEST(eifel_undo_on_old_echo)
{
	uint32_t orig, rtx;
	recovery_with_ts(&orig, &rtx);
	send_seg_ts(CRAFT_TCP_ACK, peer_nxt, seg(11), NULL, 0, 0, peer_tsval, orig);
	ck_assert_uint_eq(st()->tcp_spurious_rtx_eifel, 1);
	ck_assert_uint_eq(st()->tcp_spurious_rtx_undone, 1);
	ck_assert_uint_eq(st()->tcp_dsack_rx, 0);
}
END_TEST

/* The echo is the retransmission's: it filled the hole, the loss was real. */
START_TEST(eifel_no_undo_on_rtx_echo)
{
	uint32_t orig, rtx;
	recovery_with_ts(&orig, &rtx);
	send_seg_ts(CRAFT_TCP_ACK, peer_nxt, seg(11), NULL, 0, 0, peer_tsval, rtx);
	ck_assert_uint_eq(st()->tcp_spurious_rtx_eifel, 0);
	ck_assert_uint_eq(st()->tcp_spurious_rtx_undone, 0);
}
END_TEST

/* RFC 7323 5.3 with Linux's tolerance (TCP_PAWS_WINDOW): a TSval one tick older than TS.Recent
 * is not an old duplicate (a sender whose data carries departure times a tick ahead of its
 * ACKs); two ticks older is. */
START_TEST(paws_tolerates_one_tick)
{
	peer_tsval += 10;
	send_seg(CRAFT_TCP_ACK, peer_nxt, iss + 1, NULL, 0, 50); /* TS.Recent = peer_tsval */
	peer_nxt += 50;
	send_seg_ts(CRAFT_TCP_ACK, peer_nxt, iss + 1, NULL, 0, 50, peer_tsval - 1, 0);
	peer_nxt += 50;
	ck_assert_uint_eq(st()->tcp_drop_paws, 0);
	send_seg_ts(CRAFT_TCP_ACK, peer_nxt, iss + 1, NULL, 0, 50, peer_tsval - 2, 0);
	ck_assert_uint_eq(st()->tcp_drop_paws, 1);
	char b[200];
	ck_assert_int_eq(tpa_recv(rig.s, sock, b, sizeof(b), 0), 100);
}
END_TEST

/* Both ways busy, a peer window of 800: 1000 bytes sent and acknowledged, so snd_una is more
 * than the peer's largest window past iss + 1, the ACK field of a data segment the peer sent
 * before any of it arrived. Returns the TSval of the stack's last segment. */
static uint32_t ack_beyond_max_window(void)
{
	send_data(1000);
	ck_assert_uint_eq(rig.cap.count, 9);
	ack_only(iss + 1 + 9 * seg_len);
	tpa_stack_flush(rig.s);
	ack_only(iss + 1 + 1000);
	tpa_stack_flush(rig.s);
	return frame_tsval(rig.cap.count - 1);
}

/* That segment, held back by the network, arrives now: its ACK is outside the RFC 5961 5.2
 * range, but it echoes a TSval the stack sent moments ago, which a blind injector cannot
 * know. Its data is taken, its ACK field ignored (before: dropped, a loss to the sender). */
START_TEST(reordered_data_with_stale_ack_taken)
{
	uint32_t echo = ack_beyond_max_window();
	send_seg_ts(CRAFT_TCP_ACK, peer_nxt, iss + 1, NULL, 0, 50, peer_tsval, echo);
	ck_assert_uint_eq(st()->tcp_drop_out_of_window, 0);
	ck_assert_uint_eq(st()->tcp_stale_ack_data_rx, 1);
	char b[100];
	ck_assert_int_eq(tpa_recv(rig.s, sock, b, sizeof(b), 0), 50);
}
END_TEST

/* The same segment echoing a TSval the stack never sent recently: a blind injection, dropped. */
START_TEST(blind_data_with_stale_ack_dropped)
{
	uint32_t echo = ack_beyond_max_window();
	send_seg_ts(CRAFT_TCP_ACK, peer_nxt, iss + 1, NULL, 0, 50, peer_tsval, echo - 100000);
	ck_assert_uint_eq(st()->tcp_drop_out_of_window, 1);
	send_seg_ts(CRAFT_TCP_ACK, peer_nxt, iss + 1, NULL, 0, 50, peer_tsval, echo + 1000);
	ck_assert_uint_eq(st()->tcp_drop_out_of_window, 2);
	char b[100];
	ck_assert_int_eq(tpa_recv(rig.s, sock, b, sizeof(b), 0), -EAGAIN);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_rack");
	TCase *tc = tcase_create("rack");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, hole_lost_after_rtt_plus_reo_wnd);
	tcase_add_test(tc, three_sacked_lose_hole_at_once);
	tcase_add_test(tc, reordering_seen_keeps_reo_wnd);
	tcase_add_test(tc, dsack_widens_reo_wnd);
	tcase_add_test(tc, lost_retransmission_resent);
	tcase_add_test(tc, tail_loss_probe_recovers_last_segment);
	tcase_add_test(tc, tail_loss_probe_duplicate_not_counted);
	tcase_add_test(tc, old_ack_dsack_undoes);
	suite_add_tcase(s, tc);
	TCase *tt = tcase_create("timestamps");
	tcase_add_checked_fixture(tt, setup_ts, teardown);
	tcase_add_test(tt, reordered_pure_ack_passes_paws);
	tcase_add_test(tt, paws_rejected_duplicate_reported);
	tcase_add_test(tt, eifel_undo_on_old_echo);
	tcase_add_test(tt, eifel_no_undo_on_rtx_echo);
	tcase_add_test(tt, paws_tolerates_one_tick);
	suite_add_tcase(s, tt);
	TCase *tw = tcase_create("stale_ack");
	tcase_add_checked_fixture(tw, setup_ts_small_window, teardown);
	tcase_add_test(tw, reordered_data_with_stale_ack_taken);
	tcase_add_test(tw, blind_data_with_stale_ack_dropped);
	suite_add_tcase(s, tw);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
