/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SYN cookies (RFC 4987): the cookie functions (round trip, every field checked, age limit,
 * timestamps never ahead of the clock), and a listener whose SYN queue is full: it answers
 * with a cookie, keeps no state, and the completing ACK (with data on it) creates an accepted
 * connection with the MSS, window scale and SACK the cookie carried. Forged ACKs are dropped
 * while cookies are out, a stale one gets a RST; without timestamps the connection has no
 * window scaling and no SACK.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../stack/tcp_syncookie.h"
#include "sim_peer.h"
#include "test_eal.h"

static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
#define SEC 1000000000ull

/* ---- the cookie itself ----------------------------------------------------------------- */

START_TEST(cookie_round_trip_and_mss_classes)
{
	const uint16_t peer[] = {0, 500, 536, 1219, 1220, 1400, 1440, 1459, 1460, 8960};
	const uint16_t want[] = {536, 536, 536, 536, 1220, 1220, 1440, 1440, 1460, 1460};
	for (size_t i = 0; i < sizeof(peer) / sizeof(peer[0]); i++) {
		uint16_t mss = 0, got = 0;
		uint32_t c = tcp_syncookie_make(key, 0x0100a8c0, htons(80), 0x0200a8c0,
		                                htons(40000), 12345, peer[i], 1000 * SEC, &mss);
		ck_assert_uint_eq(mss, want[i]);
		ck_assert(tcp_syncookie_check(key, 0x0100a8c0, htons(80), 0x0200a8c0, htons(40000),
		                              12345, c, 1000 * SEC, &got));
		ck_assert_uint_eq(got, want[i]);
	}
}
END_TEST

START_TEST(cookie_bound_to_flow_isn_key_and_time)
{
	uint16_t mss, got;
	uint32_t c = tcp_syncookie_make(key, 1, 2, 3, 4, 777, 1460, 5000 * SEC, &mss);
	ck_assert(tcp_syncookie_check(key, 1, 2, 3, 4, 777, c, 5000 * SEC, &got));
	ck_assert(!tcp_syncookie_check(key, 9, 2, 3, 4, 777, c, 5000 * SEC, &got));
	ck_assert(!tcp_syncookie_check(key, 1, 9, 3, 4, 777, c, 5000 * SEC, &got));
	ck_assert(!tcp_syncookie_check(key, 1, 2, 9, 4, 777, c, 5000 * SEC, &got));
	ck_assert(!tcp_syncookie_check(key, 1, 2, 3, 9, 777, c, 5000 * SEC, &got));
	ck_assert(!tcp_syncookie_check(key, 1, 2, 3, 4, 778, c, 5000 * SEC, &got));
	uint8_t other[16] = {0};
	ck_assert(!tcp_syncookie_check(other, 1, 2, 3, 4, 777, c, 5000 * SEC, &got));
	/* Still good two minutes on, not four minutes on; never before it was made. */
	ck_assert(tcp_syncookie_check(key, 1, 2, 3, 4, 777, c, 5120 * SEC, &got));
	ck_assert(!tcp_syncookie_check(key, 1, 2, 3, 4, 777, c, 5240 * SEC, &got));
	ck_assert(!tcp_syncookie_check(key, 1, 2, 3, 4, 777, c, 4800 * SEC, &got));
	/* No neighbour passes (not even as another MSS class), and of 100000 blind guesses
	 * (almost) none do. */
	for (uint32_t i = 1; i <= 64; i++) {
		ck_assert(!tcp_syncookie_check(key, 1, 2, 3, 4, 777, c + i, 5000 * SEC, &got));
		ck_assert(!tcp_syncookie_check(key, 1, 2, 3, 4, 777, c - i, 5000 * SEC, &got));
	}
	int passed = 0;
	for (uint32_t i = 1; i <= 100000; i++)
		passed +=
		        tcp_syncookie_check(key, 1, 2, 3, 4, 777, c + i * 7919u, 5000 * SEC, &got);
	ck_assert_int_le(passed, 1);
}
END_TEST

START_TEST(timestamp_carries_options_and_never_runs_ahead)
{
	for (uint32_t now = 0; now < 200; now++) {
		for (uint8_t ws = 0; ws <= 15; ws++) {
			uint32_t ts = tcp_syncookie_tsval(0xfffffff0u + now, ws, ws & 1);
			ck_assert((int32_t)(ts - (0xfffffff0u + now)) <= 0);
			ck_assert((int32_t)((0xfffffff0u + now) - ts) < 64);
			uint8_t w;
			bool sack;
			tcp_syncookie_ts_decode(ts, &w, &sack);
			ck_assert_uint_eq(w, ws);
			ck_assert_int_eq(sack, ws & 1);
		}
	}
}
END_TEST

/* ---- a listener whose SYN queue is full ------------------------------------------------ */

#define PEER_PORT 40000
#define SRV_PORT  80
static struct sim_rig rig;
static int lsock;

static void setup(void)
{
	test_eal_init();
	sim_rig_init(&rig, NULL);
	static const uint8_t peer_mac[6] = PEER_MAC;
	tpa_stack_neigh_update(rig.s, sim_peer_ip(), peer_mac);
	lsock = tpa_socket(rig.s);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(SRV_PORT)};
	ck_assert_int_eq(tpa_bind(rig.s, lsock, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(tpa_listen(rig.s, lsock, 1), 0);
	sim_rig_clear(&rig);
}

static void teardown(void)
{
	ck_assert(sim_rig_destroy(&rig));
}

static const struct tpa_stack_stats *st(void)
{
	return tpa_stack_stats(rig.s);
}

static void send_seg(uint16_t sport, uint8_t flags, uint32_t seq, uint32_t ack, const uint8_t *opts,
                     uint8_t optlen, const char *data)
{
	struct sim_peer_seg g = {.sport = sport,
	                         .dport = SRV_PORT,
	                         .flags = flags,
	                         .seq = seq,
	                         .ack = ack,
	                         .window = 1000,
	                         .opts = opts,
	                         .optlen = optlen,
	                         .payload = data,
	                         .len = data ? (uint16_t)strlen(data) : 0};
	sim_peer_send(&rig, &g);
}

static struct parsed_tcp last(void)
{
	return sim_frame_tcp(&rig, rig.cap.count - 1);
}

static const uint8_t *last_opt(uint8_t kind)
{
	return sim_frame_tcp_opt(&rig, rig.cap.count - 1, kind);
}

static struct tpa_tcp_info info(int sock)
{
	struct tpa_tcp_info ti;
	socklen_t len = sizeof(ti);
	ck_assert_int_eq(tpa_getsockopt(rig.s, sock, TPA_SO_INFO, &ti, &len), 0);
	return ti;
}

/* MSS 1400, SACK permitted, TS 500/0, window scale 5. */
static const uint8_t syn_opts[] = {2, 4,    0x05, 0x78, 4, 2, 8, 10, 0, 0,
                                   1, 0xf4, 0,    0,    0, 0, 1, 3,  3, 5};

/* Fill the SYN queue (backlog 1) with one half-open connection. */
static void fill_syn_queue(void)
{
	send_seg(PEER_PORT, CRAFT_TCP_SYN, 1000, 0, syn_opts, sizeof(syn_opts), NULL);
	ck_assert_uint_eq(rig.cap.count, 1);
	ck_assert_uint_eq(tpa_stack_socket_count(rig.s), 2);
}

START_TEST(full_queue_answers_with_cookie_and_keeps_nothing)
{
	fill_syn_queue();
	send_seg(PEER_PORT + 1, CRAFT_TCP_SYN, 5000, 0, syn_opts, sizeof(syn_opts), NULL);
	ck_assert_uint_eq(rig.cap.count, 2);
	struct parsed_tcp sa = last();
	ck_assert_uint_eq(sa.flags, CRAFT_TCP_SYN | CRAFT_TCP_ACK);
	ck_assert_uint_eq(sa.ack, 5001);
	ck_assert_uint_eq(st()->tcp_syncookies_sent, 1);
	ck_assert_uint_eq(st()->tcp_syn_queue_overflow, 1);
	ck_assert_uint_eq(tpa_stack_socket_count(rig.s), 2); /* no state for it */
	/* The SYN-ACK offers what the peer asked for; the options ride in the TSval. */
	ck_assert_ptr_nonnull(last_opt(4));
	ck_assert_ptr_nonnull(last_opt(3));
	const uint8_t *ts = last_opt(8);
	ck_assert_ptr_nonnull(ts);
	ck_assert_uint_eq(sim_be32(ts + 6), 500); /* echoes the peer's TSval */
	uint8_t ws;
	bool sack;
	tcp_syncookie_ts_decode(sim_be32(ts + 2), &ws, &sack);
	ck_assert_uint_eq(ws, 5); /* the peer's scale; ours is recomputed */
	ck_assert(sack);
}
END_TEST

START_TEST(cookie_ack_with_data_creates_accepted_connection)
{
	fill_syn_queue();
	send_seg(PEER_PORT + 1, CRAFT_TCP_SYN, 5000, 0, syn_opts, sizeof(syn_opts), NULL);
	struct parsed_tcp sa = last();
	const uint8_t *tso = last_opt(8);
	uint8_t our_ws = last_opt(3)[2];
	/* ACK with TS (echoing our TSval) and 5 bytes of data. */
	uint8_t ack_opts[12] = {1, 1, 8, 10, 0, 0, 1, 0xf5};
	memcpy(ack_opts + 8, tso + 2, 4);
	send_seg(PEER_PORT + 1, CRAFT_TCP_ACK | CRAFT_TCP_PSH, 5001, sa.seq + 1, ack_opts,
	         sizeof(ack_opts), "hello");
	ck_assert_uint_eq(st()->tcp_syncookies_ok, 1);
	int c = tpa_accept(rig.s, lsock, NULL, NULL);
	ck_assert_int_ge(c, 0);
	char buf[16];
	ck_assert_int_eq(tpa_recv(rig.s, c, buf, sizeof(buf), 0), 5);
	ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
	struct tpa_tcp_info ti = info(c);
	ck_assert_uint_eq(ti.state, TPA_TCP_ESTABLISHED);
	ck_assert_uint_eq(ti.snd_wscale, 5);
	ck_assert_uint_eq(ti.rcv_wscale, our_ws);
	ck_assert_uint_eq(ti.sack, 1);
	ck_assert_uint_eq(ti.timestamps, 1);
	ck_assert_uint_eq(ti.snd_mss, 1220); /* the cookie's class for MSS 1400 */
	/* Our data goes out at the right sequence number, window scaled by the peer's 5. */
	uint32_t n = rig.cap.count;
	ck_assert_int_eq(tpa_send(rig.s, c, "world", 5, 0), 5);
	tpa_stack_flush(rig.s);
	ck_assert_uint_gt(rig.cap.count, n);
	struct parsed_tcp d = last();
	ck_assert_uint_eq(d.seq, sa.seq + 1);
	ck_assert_uint_eq(d.ack, 5006);
	ck_assert_uint_eq(d.payload_len, 5);
	/* The peer resets: nothing stays in flight. */
	send_seg(PEER_PORT + 1, CRAFT_TCP_RST, 5006, 0, NULL, 0, NULL);
	ck_assert_int_eq(tpa_close(rig.s, c), 0);
}
END_TEST

START_TEST(forged_ack_dropped_then_stale_one_reset)
{
	fill_syn_queue();
	send_seg(PEER_PORT + 1, CRAFT_TCP_SYN, 5000, 0, syn_opts, sizeof(syn_opts), NULL);
	struct parsed_tcp sa = last();
	/* While cookies are out, ACKs that fail the check (wrong acknowledgment or sequence
	 * number, another port) are dropped, not reset: one may be a later segment of a cookie
	 * connection whose first ones were lost, and its retransmission will pass. */
	uint32_t n = rig.cap.count;
	send_seg(PEER_PORT + 1, CRAFT_TCP_ACK, 5001, sa.seq + 2, NULL, 0, NULL);
	send_seg(PEER_PORT + 1, CRAFT_TCP_ACK, 5002, sa.seq + 1, NULL, 0, NULL);
	send_seg(PEER_PORT + 2, CRAFT_TCP_ACK, 5001, sa.seq + 1, NULL, 0, NULL);
	ck_assert_uint_eq(rig.cap.count, n);
	ck_assert_uint_eq(st()->tcp_syncookies_failed, 3);
	ck_assert_uint_eq(st()->tcp_syncookies_ok, 0);
	ck_assert_uint_eq(tpa_stack_socket_count(rig.s), 2);
	/* Four minutes later the cookie (and the window for it) has expired: the genuine ACK is
	 * a stray one and gets a reset, as without cookies. */
	vclock_advance(&rig.clock, 240 * SEC);
	send_seg(PEER_PORT + 1, CRAFT_TCP_ACK, 5001, sa.seq + 1, NULL, 0, NULL);
	ck_assert_uint_eq(last().flags, CRAFT_TCP_RST);
	ck_assert_uint_eq(st()->tcp_syncookies_ok, 0);
	ck_assert_int_eq(tpa_accept(rig.s, lsock, NULL, NULL), -EAGAIN);
}
END_TEST

/* The accept queue is full when a cookie client's ACK and first data arrive: they are dropped,
 * and its next segment no longer names the cookie. It must not be reset (before: a RST, and
 * socat's fork-per-connection clients saw "connection reset by peer"): its retransmission of
 * the first byte rebuilds the connection once the application accepts. */
START_TEST(cookie_client_survives_full_accept_queue)
{
	fill_syn_queue(); /* A half-open, the SYN queue (1) full */
	send_seg(PEER_PORT + 1, CRAFT_TCP_SYN, 5000, 0, NULL, 0, NULL); /* B: a cookie */
	struct parsed_tcp sb = last();
	struct parsed_tcp sa = {0};
	for (uint32_t i = 0; i < rig.cap.count; i++) {
		struct parsed_tcp p;
		if (parse_tcp_frame(rig.cap.frames[i].data, rig.cap.frames[i].len, &p) &&
		    p.dport == PEER_PORT)
			sa = p;
	}
	send_seg(PEER_PORT, CRAFT_TCP_ACK, 1001, sa.seq + 1, NULL, 0,
	         NULL); /* A: accept queue full */
	uint32_t n = rig.cap.count;
	send_seg(PEER_PORT + 1, CRAFT_TCP_ACK | CRAFT_TCP_PSH, 5001, sb.seq + 1, NULL, 0, "x");
	send_seg(PEER_PORT + 1, CRAFT_TCP_ACK | CRAFT_TCP_PSH, 5002, sb.seq + 1, NULL, 0, "y");
	ck_assert_uint_eq(rig.cap.count, n); /* neither answered, no reset */
	ck_assert_uint_eq(st()->tcp_accept_queue_overflow, 1);
	int a = tpa_accept(rig.s, lsock, NULL, NULL);
	ck_assert_int_ge(a, 0);
	/* B retransmits from its first byte. */
	send_seg(PEER_PORT + 1, CRAFT_TCP_ACK | CRAFT_TCP_PSH, 5001, sb.seq + 1, NULL, 0, "xy");
	int b = tpa_accept(rig.s, lsock, NULL, NULL);
	ck_assert_int_ge(b, 0);
	char buf[8];
	ck_assert_int_eq(tpa_recv(rig.s, b, buf, sizeof(buf), 0), 2);
	ck_assert_int_eq(memcmp(buf, "xy", 2), 0);
	send_seg(PEER_PORT, CRAFT_TCP_RST, 1001, 0, NULL, 0, NULL);
	send_seg(PEER_PORT + 1, CRAFT_TCP_RST, 5003, 0, NULL, 0, NULL);
	ck_assert_int_eq(tpa_close(rig.s, a), 0);
	ck_assert_int_eq(tpa_close(rig.s, b), 0);
}
END_TEST

START_TEST(without_timestamps_no_wscale_no_sack)
{
	fill_syn_queue();
	static const uint8_t opts[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2};
	send_seg(PEER_PORT + 1, CRAFT_TCP_SYN, 9000, 0, opts, sizeof(opts), NULL);
	struct parsed_tcp sa = last();
	ck_assert_ptr_null(last_opt(3));
	ck_assert_ptr_null(last_opt(4));
	ck_assert_ptr_null(last_opt(8));
	send_seg(PEER_PORT + 1, CRAFT_TCP_ACK, 9001, sa.seq + 1, NULL, 0, NULL);
	int c = tpa_accept(rig.s, lsock, NULL, NULL);
	ck_assert_int_ge(c, 0);
	struct tpa_tcp_info ti = info(c);
	ck_assert_uint_eq(ti.snd_wscale, 0);
	ck_assert_uint_eq(ti.rcv_wscale, 0);
	ck_assert_uint_eq(ti.sack, 0);
	ck_assert_uint_eq(ti.snd_mss, 1460);
	send_seg(PEER_PORT + 1, CRAFT_TCP_RST, 9001, 0, NULL, 0, NULL);
	ck_assert_int_eq(tpa_close(rig.s, c), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_syncookie");
	TCase *tc = tcase_create("cookie");
	tcase_add_test(tc, cookie_round_trip_and_mss_classes);
	tcase_add_test(tc, cookie_bound_to_flow_isn_key_and_time);
	tcase_add_test(tc, timestamp_carries_options_and_never_runs_ahead);
	suite_add_tcase(s, tc);
	TCase *tl = tcase_create("listener");
	tcase_add_checked_fixture(tl, setup, teardown);
	tcase_add_test(tl, full_queue_answers_with_cookie_and_keeps_nothing);
	tcase_add_test(tl, cookie_ack_with_data_creates_accepted_connection);
	tcase_add_test(tl, forged_ack_dropped_then_stale_one_reset);
	tcase_add_test(tl, without_timestamps_no_wscale_no_sack);
	tcase_add_test(tl, cookie_client_survives_full_accept_queue);
	suite_add_tcase(s, tl);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
