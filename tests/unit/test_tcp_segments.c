/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Crafted-segment tests of the TCP layer: one stack on a capture device and a hand-driven peer
 * (tcp_script.h). Covers option negotiation, malformed-segment rejection (each counted), the
 * counters and the program's view of RSTs and RFC 5961 challenge ACKs, PAWS, backlog
 * overflow, delayed ACKs and ISNs. What each state answers to each kind of segment is the
 * table in test_tcp_arrivals.c.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_peer.h"
#include "tcp_script.h"
#include "test_eal.h"
#include "wire.h"

#define PEER_PORT 40000
#define SRV_PORT  80

static struct tcp_script sc;

static uint32_t peer_ip(void)
{
	return sim_peer_ip();
}

/* The peer's segment: flags and numbers here, the rest (options as bytes, payload, ports) in o. */
static void send_seg(uint8_t flags, uint32_t seq, uint32_t ack, const struct tseg *o)
{
	struct tseg g = o ? *o : (struct tseg){0};
	g.flags = flags;
	g.seq = seq;
	g.ack = ack;
	tscript_send(&sc, g);
}

static uint32_t frames(void)
{
	return sc.rig.cap.count;
}

static struct parsed_tcp frame_tcp(uint32_t i)
{
	return sim_frame_tcp(&sc.rig, i);
}

static struct parsed_tcp last_tcp(void)
{
	return sim_frame_tcp(&sc.rig, sc.rig.cap.count - 1);
}

static const uint8_t *find_opt(uint32_t i, uint8_t kind)
{
	return sim_frame_tcp_opt(&sc.rig, i, kind);
}

static int mtu_tweak;
static void tweak(struct tpa_stack_config *cfg)
{
	if (mtu_tweak)
		cfg->dev.mtu = (uint16_t)mtu_tweak;
	cfg->tcp.delack_ms = 40;
}

static int lsock;

static void setup(void)
{
	test_eal_init();
	tscript_init(&sc, tweak);
	lsock = tpa_socket(sc.rig.s);
	ck_assert_int_ge(lsock, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(SRV_PORT)};
	ck_assert_int_eq(tpa_bind(sc.rig.s, lsock, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(tpa_listen(sc.rig.s, lsock, 4), 0);
	sim_rig_clear(&sc.rig);
}

static void teardown(void)
{
	mtu_tweak = 0;
	ck_assert(sim_rig_destroy(&sc.rig));
}

static const uint8_t syn_opts_all[] = {
        2, 4,  0x05, 0xb4,                     /* MSS 1460 */
        4, 2,                                  /* SACK permitted */
        8, 10, 0,    0,    0, 100, 0, 0, 0, 0, /* TS val 100 ecr 0 */
        1, 3,  3,    7,                        /* NOP, wscale 7 */
};

#define PEER_ISN 1000u

/* Handshake from the peer; returns our ISN (from the SYN-ACK) and accepts the socket. */
static uint32_t handshake(int *sock, bool with_opts)
{
	struct tseg o = {0};
	if (with_opts) {
		o.raw_opts = syn_opts_all;
		o.raw_optlen = sizeof(syn_opts_all);
	}
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, &o);
	ck_assert_uint_ge(frames(), 1);
	struct parsed_tcp sa = last_tcp();
	ck_assert_uint_eq(sa.flags, CRAFT_TCP_SYN | CRAFT_TCP_ACK);
	ck_assert_uint_eq(sa.ack, PEER_ISN + 1);
	static const uint8_t ts_opt[] = {1, 1, 8, 10, 0, 0, 0, 101, 0, 0, 0, 0};
	struct tseg a = {0};
	if (with_opts) {
		/* echo whatever TSval the stack sent */
		static uint8_t ts_buf[12];
		memcpy(ts_buf, ts_opt, sizeof(ts_buf));
		const uint8_t *t = find_opt(frames() - 1, 8);
		ck_assert_ptr_nonnull(t);
		memcpy(ts_buf + 8, t + 2, 4);
		a.raw_opts = ts_buf;
		a.raw_optlen = sizeof(ts_buf);
	}
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, sa.seq + 1, &a);
	*sock = tpa_accept(sc.rig.s, lsock, NULL, NULL);
	ck_assert_int_ge(*sock, 0);
	return sa.seq;
}

/* ---- handshake options ---------------------------------------------------------------- */

START_TEST(synack_negotiates_all_options)
{
	struct tseg o = {.raw_opts = syn_opts_all, .raw_optlen = sizeof(syn_opts_all)};
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, &o);
	ck_assert_uint_eq(frames(), 1);
	struct parsed_tcp p = last_tcp();
	ck_assert_uint_eq(p.flags, CRAFT_TCP_SYN | CRAFT_TCP_ACK);
	ck_assert_uint_eq(p.ack, PEER_ISN + 1);
	ck_assert_uint_eq(p.sport, SRV_PORT);
	ck_assert_uint_eq(p.dport, PEER_PORT);
	const uint8_t *mss = find_opt(0, 2);
	ck_assert_ptr_nonnull(mss);
	ck_assert_uint_eq((uint32_t)(mss[2] << 8 | mss[3]), 1460);
	ck_assert_ptr_nonnull(find_opt(0, 4));
	const uint8_t *ws = find_opt(0, 3);
	ck_assert_ptr_nonnull(ws);
	ck_assert_uint_eq(ws[1], 3);
	ck_assert_uint_le(ws[2], 14);
	const uint8_t *ts = find_opt(0, 8);
	ck_assert_ptr_nonnull(ts);
	ck_assert_uint_eq(sim_be32(ts + 6), 100); /* echoes our TSval */
}
END_TEST

START_TEST(synack_without_peer_options)
{
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, NULL);
	ck_assert_uint_eq(frames(), 1);
	ck_assert_ptr_nonnull(find_opt(0, 2));
	ck_assert_ptr_null(find_opt(0, 3));
	ck_assert_ptr_null(find_opt(0, 4));
	ck_assert_ptr_null(find_opt(0, 8));
	struct parsed_tcp p = last_tcp();
	ck_assert_uint_le(p.window, 65535);
}
END_TEST

START_TEST(mss_clamped_to_mtu)
{
	/* Recreate the rig with a small MTU. */
	ck_assert(sim_rig_destroy(&sc.rig));
	mtu_tweak = 1000;
	setup();
	struct tseg o = {.raw_opts = syn_opts_all, .raw_optlen = sizeof(syn_opts_all)};
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, &o);
	const uint8_t *mss = find_opt(0, 2);
	ck_assert_ptr_nonnull(mss);
	ck_assert_uint_eq((uint32_t)(mss[2] << 8 | mss[3]), 960);
}
END_TEST

START_TEST(data_segments_respect_peer_mss)
{
	static const uint8_t small_mss[] = {2, 4, 0x02, 0x00}; /* 512 */
	struct tseg o = {.raw_opts = small_mss, .raw_optlen = sizeof(small_mss)};
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, &o);
	struct parsed_tcp sa = last_tcp();
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, sa.seq + 1, NULL);
	int sock = tpa_accept(sc.rig.s, lsock, NULL, NULL);
	ck_assert_int_ge(sock, 0);
	sim_rig_clear(&sc.rig);
	static uint8_t data[3000];
	ck_assert_int_eq(tpa_send(sc.rig.s, sock, data, sizeof(data), 0), (ssize_t)sizeof(data));
	tpa_stack_flush(sc.rig.s);
	/* Five full segments and the 440-byte tail: Nagle (Minshall's form) does not hold a short
	 * segment behind full-sized ones, whose ACK a delaying receiver would hold back. */
	ck_assert_uint_eq(frames(), 6);
	for (uint32_t i = 0; i < frames(); i++)
		ck_assert_uint_le(frame_tcp(i).payload_len, 512);
	ck_assert_uint_eq(frame_tcp(0).seq, sa.seq + 1);
	ck_assert_uint_eq(frame_tcp(5).payload_len, 440);
	/* A second short segment waits while the first one is unacknowledged... */
	ck_assert_int_eq(tpa_send(sc.rig.s, sock, data, 100, 0), 100);
	tpa_stack_flush(sc.rig.s);
	ck_assert_uint_eq(frames(), 6);
	/* ...and goes once it is. */
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, sa.seq + 1 + 3000, NULL);
	ck_assert_uint_eq(frames(), 7);
	ck_assert_uint_eq(last_tcp().payload_len, 100);
	ck_assert_uint_eq(last_tcp().seq, sa.seq + 1 + 3000);
}
END_TEST

START_TEST(isn_differs_per_tuple)
{
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, NULL);
	struct tseg o = {.sport = PEER_PORT + 1};
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, &o);
	ck_assert_uint_eq(frames(), 2);
	ck_assert_uint_ne(frame_tcp(0).seq, frame_tcp(1).seq);
}
END_TEST

/* ---- malformed segments --------------------------------------------------------------- */

static const struct tpa_stack_stats *st(void)
{
	return tpa_stack_stats(sc.rig.s);
}

/* The peer's segment as a frame to edit. */
static size_t build(uint8_t *buf, uint8_t flags, uint32_t seq, uint32_t ack, const struct tseg *o)
{
	struct tseg g = o ? *o : (struct tseg){0};
	g.flags = flags;
	g.seq = seq;
	g.ack = ack;
	return tscript_frame(&sc, buf, g);
}

/* The TCP header of a frame build() made. */
static uint8_t *tcp_of_frame(uint8_t *f)
{
	return f + ETH_HDR_LEN + IPV4_HDR_LEN;
}

START_TEST(short_header_dropped)
{
	uint8_t f[TSCRIPT_FRAME_ROOM];
	build(f, CRAFT_TCP_SYN, PEER_ISN, 0, NULL);
	/* Cut the IP datagram to 14 bytes of TCP. */
	size_t cut = ETH_HDR_LEN + IPV4_HDR_LEN + 14;
	wire_store_be16(f + ETH_HDR_LEN + IPV4_OFF_TOT_LEN, IPV4_HDR_LEN + 14);
	craft_fix_ip_cksum(f);
	uint64_t before = st()->tcp_drop_short;
	sim_rig_input(&sc.rig, f, cut, 0);
	ck_assert_uint_eq(st()->tcp_drop_short, before + 1);
	ck_assert_uint_eq(frames(), 0);
}
END_TEST

static void expect_bad_offset(uint8_t words, uint64_t count)
{
	uint8_t f[TSCRIPT_FRAME_ROOM];
	size_t n = build(f, CRAFT_TCP_SYN, PEER_ISN, 0, NULL);
	tcp_of_frame(f)[TCP_OFF_DATAOFF] = (uint8_t)(words << 4);
	craft_fix_tcp_cksum(f, n);
	sim_rig_input(&sc.rig, f, n, 0);
	ck_assert_uint_eq(st()->tcp_drop_bad_offset, count);
	ck_assert_uint_eq(frames(), 0);
	ck_assert_uint_eq(tpa_stack_socket_count(sc.rig.s), 1);
}

START_TEST(data_offset_below_5_dropped)
{
	expect_bad_offset(4, 1);
}
END_TEST

START_TEST(data_offset_past_segment_dropped)
{
	expect_bad_offset(15, 1);
}
END_TEST

START_TEST(bad_header_checksum_dropped)
{
	uint8_t f[TSCRIPT_FRAME_ROOM];
	size_t n = build(f, CRAFT_TCP_SYN, PEER_ISN, 0, NULL);
	tcp_of_frame(f)[TCP_OFF_CSUM] ^= 0x5a;
	sim_rig_input(&sc.rig, f, n, 0);
	ck_assert_uint_eq(st()->tcp_drop_cksum, 1);
	ck_assert_uint_eq(frames(), 0);
}
END_TEST

START_TEST(payload_bit_flip_dropped)
{
	uint8_t f[TSCRIPT_FRAME_ROOM];
	static const char pl[] = "hello";
	struct tseg o = {.data = pl, .len = 5};
	size_t n = build(f, CRAFT_TCP_ACK, PEER_ISN, 1, &o);
	f[n - 1] ^= 1;
	sim_rig_input(&sc.rig, f, n, 0);
	ck_assert_uint_eq(st()->tcp_drop_cksum, 1);
	ck_assert_uint_eq(frames(), 0);
}
END_TEST

static void expect_bad_option(const uint8_t *opts, uint8_t len, uint64_t count)
{
	struct tseg o = {.raw_opts = opts, .raw_optlen = len};
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, &o);
	ck_assert_uint_eq(st()->tcp_drop_bad_option, count);
	ck_assert_uint_eq(frames(), 0);
}

START_TEST(malformed_options_dropped)
{
	static const uint8_t past_header[] = {2, 10, 5, 0xb4}; /* MSS claims 10 bytes */
	static const uint8_t zero_len[] = {8, 0, 1, 1};        /* length 0 */
	static const uint8_t one_len[] = {3, 1, 1, 1};         /* length 1 */
	static const uint8_t truncated[] = {1, 1, 1, 2};       /* kind without length byte */
	static const uint8_t bad_mss_len[] = {2, 3, 5, 1};     /* MSS must be 4 */
	static const uint8_t bad_ts_len[] = {8, 6, 0, 0, 0, 1, 1, 1};
	static const uint8_t bad_sack_len[] = {5, 6, 0, 0, 0, 1, 1, 1};
	expect_bad_option(past_header, sizeof(past_header), 1);
	expect_bad_option(zero_len, sizeof(zero_len), 2);
	expect_bad_option(one_len, sizeof(one_len), 3);
	expect_bad_option(truncated, sizeof(truncated), 4);
	expect_bad_option(bad_mss_len, sizeof(bad_mss_len), 5);
	expect_bad_option(bad_ts_len, sizeof(bad_ts_len), 6);
	expect_bad_option(bad_sack_len, sizeof(bad_sack_len), 7);
	/* Unknown options and EOL padding are fine. */
	static const uint8_t unknown[] = {30, 4, 0, 0, 0, 0, 0, 0};
	struct tseg o = {.raw_opts = unknown, .raw_optlen = sizeof(unknown)};
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, &o);
	ck_assert_uint_eq(st()->tcp_drop_bad_option, 7);
	ck_assert_uint_eq(frames(), 1);
}
END_TEST

START_TEST(bad_flag_combinations_dropped)
{
	send_seg(CRAFT_TCP_SYN | CRAFT_TCP_FIN, PEER_ISN, 0, NULL);
	ck_assert_uint_eq(st()->tcp_drop_bad_flags, 1);
	send_seg(CRAFT_TCP_SYN | CRAFT_TCP_RST, PEER_ISN, 0, NULL);
	ck_assert_uint_eq(st()->tcp_drop_bad_flags, 2);
	send_seg(0, PEER_ISN, 0, NULL);
	ck_assert_uint_eq(st()->tcp_drop_bad_flags, 3);
	send_seg(CRAFT_TCP_PSH, PEER_ISN, 0, NULL);
	ck_assert_uint_eq(st()->tcp_drop_bad_flags, 4);
	ck_assert_uint_eq(frames(), 0);
	ck_assert_uint_eq(tpa_stack_socket_count(sc.rig.s), 1);
}
END_TEST

/* Each of the 64 combinations of the six flags, judged by the rule: SYN with FIN, SYN with RST
 * and none of SYN, FIN, RST and ACK are dropped and counted; every other one goes on. */
START_TEST(every_flag_set_judged)
{
	for (uint32_t f = 0; f < 64; f++) {
		bool refused = (f & 0x03) == 0x03 || (f & 0x06) == 0x06 || !(f & 0x17);
		uint64_t before = st()->tcp_drop_bad_flags;
		struct tseg o = {.sport = (uint16_t)(41000 + f)};
		send_seg((uint8_t)f, PEER_ISN + f * 100000u, 0, &o);
		ck_assert_msg(st()->tcp_drop_bad_flags - before == refused, "flags %#x", f);
	}
}
END_TEST

/* ---- closed ports ----------------------------------------------------------------------- */

/* The replies themselves are in unit/test_tcp_arrivals (closed_*, listen_*). */
START_TEST(closed_port_rsts_counted)
{
	struct tseg o = {.dport = 81};
	send_seg(CRAFT_TCP_SYN, 5000, 0, &o);
	send_seg(CRAFT_TCP_RST, 9000, 0, &o);
	ck_assert_uint_eq(frames(), 1);
	ck_assert_uint_eq(st()->tcp_drop_no_socket, 2);
	ck_assert_uint_eq(st()->tcp_rst_tx, 1);
}
END_TEST

/* ---- RFC 5961 ---------------------------------------------------------------------------- */

/* The segments are in unit/test_tcp_arrivals (established_rst_*); here the counters and what
 * the program sees. */
START_TEST(rst_in_window_counted_not_taken)
{
	int sock;
	handshake(&sock, false);
	send_seg(CRAFT_TCP_RST, PEER_ISN + 1 + 100, 0, NULL);
	ck_assert_uint_eq(st()->tcp_challenge_ack, 1);
	ck_assert_uint_eq(st()->tcp_rst_rx, 0);
	ck_assert_uint_eq(tpa_sock_events(sc.rig.s, sock), TPA_EV_OUT);
}
END_TEST

START_TEST(rst_exact_reports_reset_then_eof_and_epipe)
{
	int sock;
	handshake(&sock, false);
	send_seg(CRAFT_TCP_RST, PEER_ISN + 1, 0, NULL);
	ck_assert_uint_eq(st()->tcp_rst_rx, 1);
	char b[8];
	ck_assert_int_eq(tpa_recv(sc.rig.s, sock, b, sizeof(b), 0), -ECONNRESET);
	ck_assert_int_eq(tpa_recv(sc.rig.s, sock, b, sizeof(b), 0), 0);
	ck_assert_int_eq(tpa_send(sc.rig.s, sock, b, 1, 0), -EPIPE);
	ck_assert_uint_ne(tpa_sock_events(sc.rig.s, sock) & TPA_EV_HUP, 0);
	ck_assert_int_eq(tpa_close(sc.rig.s, sock), 0);
}
END_TEST

START_TEST(challenge_acks_rate_limited)
{
	int sock;
	handshake(&sock, false);
	for (int i = 0; i < 1005; i++)
		send_seg(CRAFT_TCP_RST, PEER_ISN + 1 + 100 + (uint32_t)i, 0, NULL);
	ck_assert_uint_eq(st()->tcp_challenge_ack, 1000);
	vclock_advance(&sc.rig.clock, VCLOCK_S(1));
	send_seg(CRAFT_TCP_RST, PEER_ISN + 1 + 100, 0, NULL);
	ck_assert_uint_eq(st()->tcp_challenge_ack, 1001);
	ck_assert_uint_eq(st()->tcp_rst_rx, 0);
}
END_TEST

START_TEST(unacceptable_ack_dropped)
{
	int sock;
	uint32_t iss = handshake(&sock, false);
	sim_rig_clear(&sc.rig);
	/* Data with an ACK for bytes never sent: dropped, answered by an ACK. */
	static const char pl[] = "abcd";
	struct tseg o = {.data = pl, .len = 4};
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, iss + 1 + 5000, &o);
	ck_assert_uint_eq(st()->tcp_drop_out_of_window, 1);
	ck_assert_uint_eq(frames(), 1);
	ck_assert_uint_eq(last_tcp().ack, PEER_ISN + 1);
	char b[8];
	ck_assert_int_eq(tpa_recv(sc.rig.s, sock, b, sizeof(b), 0), -EAGAIN);
	/* The same data with a valid ACK is taken. */
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, iss + 1, &o);
	ck_assert_int_eq(tpa_recv(sc.rig.s, sock, b, sizeof(b), 0), 4);
	ck_assert_mem_eq(b, "abcd", 4);
}
END_TEST

START_TEST(out_of_window_data_acked_and_dropped)
{
	int sock;
	uint32_t iss = handshake(&sock, false);
	sim_rig_clear(&sc.rig);
	static const char pl[] = "zz";
	struct tseg o = {.data = pl, .len = 2};
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1 + 50000000, iss + 1, &o);
	ck_assert_uint_eq(frames(), 1);
	ck_assert_uint_eq(last_tcp().ack, PEER_ISN + 1);
	ck_assert_uint_eq(st()->tcp_drop_out_of_window, 1);
	/* An old duplicate is counted as such. */
	send_seg(CRAFT_TCP_ACK, PEER_ISN - 10, iss + 1, &o);
	ck_assert_uint_eq(st()->tcp_dup_segment_rx, 1);
}
END_TEST

/* ---- timestamps / PAWS --------------------------------------------------------------------- */

START_TEST(paws_drops_old_timestamp)
{
	int sock;
	uint32_t iss = handshake(&sock, true);
	sim_rig_clear(&sc.rig);
	static const char pl[] = "new";
	uint8_t ts_new[12] = {1, 1, 8, 10, 0, 0, 0, 200, 0, 0, 0, 0};
	struct tseg o = {.data = pl, .len = 3, .raw_opts = ts_new, .raw_optlen = 12};
	send_seg(CRAFT_TCP_ACK | CRAFT_TCP_PSH, PEER_ISN + 1, iss + 1, &o);
	char b[8];
	ck_assert_int_eq(tpa_recv(sc.rig.s, sock, b, sizeof(b), 0), 3);
	/* Next segment carries an older TSval: PAWS rejects it. */
	uint8_t ts_old[12] = {1, 1, 8, 10, 0, 0, 0, 150, 0, 0, 0, 0};
	o.raw_opts = ts_old;
	send_seg(CRAFT_TCP_ACK | CRAFT_TCP_PSH, PEER_ISN + 4, iss + 1, &o);
	ck_assert_uint_eq(st()->tcp_drop_paws, 1);
	ck_assert_int_eq(tpa_recv(sc.rig.s, sock, b, sizeof(b), 0), -EAGAIN);
	/* Our segments echo the newest TSval. */
	const uint8_t *t = find_opt(frames() - 1, 8);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(sim_be32(t + 6), 200);
}
END_TEST

/* ---- listen backlog ---------------------------------------------------------------------------
 */

START_TEST(syn_queue_overflow_counted)
{
	for (int i = 0; i < 6; i++) {
		struct tseg o = {.sport = (uint16_t)(PEER_PORT + i)};
		send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, &o);
	}
	/* backlog 4: four SYN-ACKs from half-open sockets, two with SYN cookies and no state. */
	ck_assert_uint_eq(frames(), 6);
	ck_assert_uint_eq(st()->tcp_syn_queue_overflow, 2);
	ck_assert_uint_eq(st()->tcp_syncookies_sent, 2);
	ck_assert_uint_eq(tpa_stack_socket_count(sc.rig.s), 5);
}
END_TEST

START_TEST(accept_queue_overflow_counted)
{
	ck_assert_int_eq(tpa_listen(sc.rig.s, lsock, 1), 0);
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, NULL);
	uint32_t iss = last_tcp().seq;
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, iss + 1, NULL);
	/* The accept queue (1) is full: the next SYN is dropped and counted. */
	uint32_t n = frames();
	struct tseg o = {.sport = PEER_PORT + 1};
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, &o);
	ck_assert_uint_eq(frames(), n);
	ck_assert_uint_eq(st()->tcp_accept_queue_overflow, 1);
	ck_assert_int_ge(tpa_accept(sc.rig.s, lsock, NULL, NULL), 0);
	ck_assert_int_eq(tpa_accept(sc.rig.s, lsock, NULL, NULL), -EAGAIN);
	/* Room again: the retried SYN is answered. */
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, &o);
	ck_assert_uint_eq(frames(), n + 1);
}
END_TEST

START_TEST(accept_returns_peer_address)
{
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, NULL);
	uint32_t iss = last_tcp().seq;
	ck_assert_uint_ne(tpa_sock_events(sc.rig.s, lsock) & TPA_EV_IN, TPA_EV_IN);
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, iss + 1, NULL);
	ck_assert_uint_eq(tpa_sock_events(sc.rig.s, lsock) & TPA_EV_IN, TPA_EV_IN);
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int sock = tpa_accept(sc.rig.s, lsock, (struct sockaddr *)&a, &al);
	ck_assert_int_ge(sock, 0);
	ck_assert_uint_eq(al, sizeof(a));
	ck_assert_uint_eq(a.sin_addr.s_addr, peer_ip());
	ck_assert_uint_eq(ntohs(a.sin_port), PEER_PORT);
	memset(&a, 0, sizeof(a));
	al = sizeof(a);
	ck_assert_int_eq(tpa_getsockname(sc.rig.s, sock, (struct sockaddr *)&a, &al), 0);
	ck_assert_uint_eq(a.sin_addr.s_addr, rig_ip());
	ck_assert_uint_eq(ntohs(a.sin_port), SRV_PORT);
	ck_assert_uint_eq(tpa_sock_events(sc.rig.s, sock), TPA_EV_OUT);
}
END_TEST

/* ---- ACK generation ------------------------------------------------------------------------ */

START_TEST(delayed_ack_then_every_second_segment)
{
	int sock;
	uint32_t iss = handshake(&sock, false);
	sim_rig_clear(&sc.rig);
	static char pl[100];
	struct tseg o = {.data = pl, .len = sizeof(pl)};
	char b[4000];
	uint32_t seq = PEER_ISN + 1;
	send_seg(CRAFT_TCP_ACK, seq, iss + 1, &o);
	seq += 100;
	ck_assert_uint_eq(frames(), 0); /* delayed */
	uint64_t due = tpa_stack_next_timer_ns(sc.rig.s);
	ck_assert_uint_le(due, sc.rig.clock.now_ns + VCLOCK_MS(40));
	vclock_set(&sc.rig.clock, due);
	tpa_stack_run_timers(sc.rig.s);
	tpa_stack_flush(sc.rig.s);
	ck_assert_uint_eq(frames(), 1);
	ck_assert_uint_eq(last_tcp().ack, seq);
	/* Two segments: acknowledged at once. */
	send_seg(CRAFT_TCP_ACK, seq, iss + 1, &o);
	ck_assert_uint_eq(frames(), 1);
	send_seg(CRAFT_TCP_ACK, seq + 100, iss + 1, &o);
	seq += 200;
	ck_assert_uint_eq(frames(), 2);
	ck_assert_uint_eq(last_tcp().ack, seq);
	ck_assert_int_eq(tpa_recv(sc.rig.s, sock, b, sizeof(b), 0), 300);
	/* After a silence longer than the RTO the peer restarts from a small window: quick-ACK
	 * mode acknowledges the next segments one by one. */
	/* (20 s: past this rig's 15 s RTO, within the ARP entry's lifetime) */
	vclock_set(&sc.rig.clock, sc.rig.clock.now_ns + VCLOCK_S(20));
	tpa_stack_run_timers(sc.rig.s);
	tpa_stack_flush(sc.rig.s);
	uint32_t before = frames();
	for (uint32_t i = 1; i <= 2; i++) {
		send_seg(CRAFT_TCP_ACK, seq, iss + 1, &o);
		seq += 100;
		ck_assert_uint_eq(frames(), before + i);
		ck_assert_uint_eq(last_tcp().ack, seq);
	}
	ck_assert_int_eq(tpa_recv(sc.rig.s, sock, b, sizeof(b), 0), 200);
}
END_TEST

START_TEST(out_of_order_gets_sack)
{
	int sock;
	uint32_t iss = handshake(&sock, true);
	sim_rig_clear(&sc.rig);
	static char pl[100];
	uint8_t ts[12] = {1, 1, 8, 10, 0, 0, 0, 120, 0, 0, 0, 0};
	struct tseg o = {.data = pl, .len = sizeof(pl), .raw_opts = ts, .raw_optlen = 12};
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 201, iss + 1, &o);
	ck_assert_uint_eq(frames(), 1); /* immediate duplicate ACK */
	ck_assert_uint_eq(last_tcp().ack, PEER_ISN + 1);
	const uint8_t *sack = find_opt(0, 5);
	ck_assert_ptr_nonnull(sack);
	ck_assert_uint_eq(sack[1], 10);
	ck_assert_uint_eq(sim_be32(sack + 2), PEER_ISN + 201);
	ck_assert_uint_eq(sim_be32(sack + 6), PEER_ISN + 301);
	/* Filling the hole delivers everything in order and acknowledges at once. */
	for (uint32_t i = 0; i < sizeof(pl); i++)
		pl[i] = (char)i;
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, iss + 1, &o);
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 101, iss + 1, &o);
	ck_assert_uint_eq(last_tcp().ack, PEER_ISN + 301);
	int nread = 0;
	socklen_t l = sizeof(nread);
	ck_assert_int_eq(tpa_getsockopt(sc.rig.s, sock, TPA_SO_NREAD, &nread, &l), 0);
	ck_assert_int_eq(nread, 300);
	char b[400];
	ck_assert_int_eq(tpa_recv(sc.rig.s, sock, b, sizeof(b), MSG_PEEK), 300);
	ck_assert_int_eq(tpa_recv(sc.rig.s, sock, b, sizeof(b), 0), 300);
	/* The held segment (zeros) follows the two that filled the hole (0..99 each). */
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(b[i], (char)i);
		ck_assert_int_eq(b[100 + i], (char)i);
		ck_assert_int_eq(b[200 + i], 0);
	}
}
END_TEST

START_TEST(fin_makes_readable_then_eof)
{
	int sock;
	uint32_t iss = handshake(&sock, false);
	static const char pl[] = "bye";
	struct tseg o = {.data = pl, .len = 3};
	send_seg(CRAFT_TCP_ACK | CRAFT_TCP_FIN, PEER_ISN + 1, iss + 1, &o);
	uint32_t ev = tpa_sock_events(sc.rig.s, sock);
	ck_assert_uint_eq(ev & (TPA_EV_IN | TPA_EV_RDHUP), TPA_EV_IN | TPA_EV_RDHUP);
	char b[8];
	ck_assert_int_eq(tpa_recv(sc.rig.s, sock, b, sizeof(b), 0), 3);
	ck_assert_int_eq(tpa_recv(sc.rig.s, sock, b, sizeof(b), 0), 0);
}
END_TEST

/* close() in CLOSE-WAIT sends our FIN; the peer's ACK of it frees the connection. */
START_TEST(close_in_close_wait_freed_by_last_ack)
{
	int sock;
	uint32_t iss = handshake(&sock, false);
	send_seg(CRAFT_TCP_ACK | CRAFT_TCP_FIN, PEER_ISN + 1, iss + 1, NULL);
	ck_assert_int_eq(tpa_close(sc.rig.s, sock), 0);
	tpa_stack_flush(sc.rig.s);
	ck_assert_uint_eq(last_tcp().flags, CRAFT_TCP_FIN | CRAFT_TCP_ACK);
	ck_assert_uint_eq(tpa_stack_socket_count(sc.rig.s), 2);
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 2, iss + 2, NULL);
	ck_assert_uint_eq(tpa_stack_socket_count(sc.rig.s), 1);
}
END_TEST

START_TEST(close_with_unread_data_sends_rst)
{
	int sock;
	uint32_t iss = handshake(&sock, false);
	static const char pl[] = "unread";
	struct tseg o = {.data = pl, .len = 6};
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, iss + 1, &o);
	sim_rig_clear(&sc.rig);
	ck_assert_int_eq(tpa_close(sc.rig.s, sock), 0);
	tpa_stack_flush(sc.rig.s);
	ck_assert_uint_eq(frames(), 1);
	ck_assert_uint_eq(last_tcp().flags & CRAFT_TCP_RST, CRAFT_TCP_RST);
	ck_assert_uint_eq(tpa_stack_socket_count(sc.rig.s), 1);
}
END_TEST

START_TEST(simultaneous_open)
{
	int c = tpa_socket(sc.rig.s);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(5000)};
	a.sin_addr.s_addr = peer_ip();
	ck_assert_int_eq(tpa_connect(sc.rig.s, c, (struct sockaddr *)&a, sizeof(a)), -EINPROGRESS);
	tpa_stack_flush(sc.rig.s);
	struct parsed_tcp syn = last_tcp();
	ck_assert_uint_eq(syn.flags, CRAFT_TCP_SYN);
	/* The peer's SYN crosses ours. */
	struct tseg o = {.sport = 5000, .dport = syn.sport};
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, &o);
	struct parsed_tcp sa = last_tcp();
	ck_assert_uint_eq(sa.flags, CRAFT_TCP_SYN | CRAFT_TCP_ACK);
	ck_assert_uint_eq(sa.seq, syn.seq);
	ck_assert_uint_eq(sa.ack, PEER_ISN + 1);
	ck_assert_uint_eq(tpa_sock_events(sc.rig.s, c) & TPA_EV_OUT, 0);
	/* Its SYN-ACK completes the handshake. */
	send_seg(CRAFT_TCP_SYN | CRAFT_TCP_ACK, PEER_ISN, syn.seq + 1, &o);
	ck_assert_uint_eq(tpa_sock_events(sc.rig.s, c), TPA_EV_OUT);
	ck_assert_uint_eq(last_tcp().flags, CRAFT_TCP_ACK);
	ck_assert_uint_eq(last_tcp().ack, PEER_ISN + 1);
	ck_assert_int_eq(tpa_send(sc.rig.s, c, "hi", 2, 0), 2);
	tpa_stack_flush(sc.rig.s);
	ck_assert_uint_eq(last_tcp().payload_len, 2);
	ck_assert_uint_eq(last_tcp().seq, syn.seq + 1);
	struct linger lg = {1, 0};
	tpa_setsockopt(sc.rig.s, c, TPA_SO_LINGER, &lg, sizeof(lg));
	ck_assert_int_eq(tpa_close(sc.rig.s, c), 0);
	tpa_stack_flush(sc.rig.s);
	ck_assert_uint_eq(last_tcp().flags & CRAFT_TCP_RST, CRAFT_TCP_RST);
	ck_assert_uint_eq(tpa_stack_socket_count(sc.rig.s), 1);
}
END_TEST

/* An active open to 10.0.0.2:5001; *syn is our SYN. */
static int connect_peer(struct sockaddr_in *a, struct parsed_tcp *syn)
{
	int c = tpa_socket(sc.rig.s);
	*a = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(5001)};
	a->sin_addr.s_addr = peer_ip();
	ck_assert_int_eq(tpa_connect(sc.rig.s, c, (struct sockaddr *)a, sizeof(*a)), -EINPROGRESS);
	tpa_stack_flush(sc.rig.s);
	*syn = last_tcp();
	return c;
}

START_TEST(syn_retransmitted_on_its_timer)
{
	struct sockaddr_in a;
	struct parsed_tcp syn;
	int c = connect_peer(&a, &syn);
	uint32_t n = frames();
	vclock_set(&sc.rig.clock, tpa_stack_next_timer_ns(sc.rig.s));
	tpa_stack_run_timers(sc.rig.s);
	tpa_stack_flush(sc.rig.s);
	ck_assert_uint_eq(frames(), n + 1);
	ck_assert_uint_eq(last_tcp().flags, CRAFT_TCP_SYN);
	ck_assert_uint_eq(last_tcp().seq, syn.seq);
	ck_assert_int_eq(tpa_close(sc.rig.s, c), 0);
}
END_TEST

/* The segments are in unit/test_tcp_arrivals (syn_sent_rst_*); here what the program sees. */
START_TEST(connect_refused_by_rst)
{
	struct sockaddr_in a;
	struct parsed_tcp syn;
	int c = connect_peer(&a, &syn);
	struct tseg o = {.sport = 5001, .dport = syn.sport};
	send_seg(CRAFT_TCP_RST | CRAFT_TCP_ACK, 0, syn.seq + 7, &o); /* not ours: ignored */
	ck_assert_uint_eq(tpa_sock_events(sc.rig.s, c) & TPA_EV_ERR, 0);
	send_seg(CRAFT_TCP_RST | CRAFT_TCP_ACK, 0, syn.seq + 1, &o);
	ck_assert_uint_ne(tpa_sock_events(sc.rig.s, c) & TPA_EV_ERR, 0);
	ck_assert_int_eq(tpa_connect(sc.rig.s, c, (struct sockaddr *)&a, sizeof(a)), -ECONNREFUSED);
	ck_assert_int_eq(tpa_close(sc.rig.s, c), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_segments");
	TCase *tc = tcase_create("segments");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, synack_negotiates_all_options);
	tcase_add_test(tc, synack_without_peer_options);
	tcase_add_test(tc, mss_clamped_to_mtu);
	tcase_add_test(tc, data_segments_respect_peer_mss);
	tcase_add_test(tc, isn_differs_per_tuple);
	tcase_add_test(tc, short_header_dropped);
	tcase_add_test(tc, data_offset_below_5_dropped);
	tcase_add_test(tc, data_offset_past_segment_dropped);
	tcase_add_test(tc, bad_header_checksum_dropped);
	tcase_add_test(tc, payload_bit_flip_dropped);
	tcase_add_test(tc, malformed_options_dropped);
	tcase_add_test(tc, bad_flag_combinations_dropped);
	tcase_add_test(tc, every_flag_set_judged);
	tcase_add_test(tc, closed_port_rsts_counted);
	tcase_add_test(tc, rst_in_window_counted_not_taken);
	tcase_add_test(tc, rst_exact_reports_reset_then_eof_and_epipe);
	tcase_add_test(tc, challenge_acks_rate_limited);
	tcase_add_test(tc, unacceptable_ack_dropped);
	tcase_add_test(tc, out_of_window_data_acked_and_dropped);
	tcase_add_test(tc, paws_drops_old_timestamp);
	tcase_add_test(tc, syn_queue_overflow_counted);
	tcase_add_test(tc, accept_queue_overflow_counted);
	tcase_add_test(tc, accept_returns_peer_address);
	tcase_add_test(tc, delayed_ack_then_every_second_segment);
	tcase_add_test(tc, out_of_order_gets_sack);
	tcase_add_test(tc, fin_makes_readable_then_eof);
	tcase_add_test(tc, close_in_close_wait_freed_by_last_ack);
	tcase_add_test(tc, close_with_unread_data_sends_rst);
	tcase_add_test(tc, simultaneous_open);
	tcase_add_test(tc, syn_retransmitted_on_its_timer);
	tcase_add_test(tc, connect_refused_by_rst);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
