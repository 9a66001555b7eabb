/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The idle connection's reply sent directly (stack/tcp_output.c send_idle_reply) against the
 * general path (send_new, tcp_send_segment, xmit): two rigs with the same key and clock hold the
 * same connection (timestamps, SACK, window scaling, as with Linux); every step is done on
 * both, the second with the direct path switched off (tcp_tx_direct_off, set around everything
 * done on it: timers and input call tcp_output too). After each step the
 * two connections must be identical field by field (pointers aside; RACK's records, the receive
 * queues and the send ring compared by content), the counters identical (tcp_tx_direct aside)
 * and the frames sent identical byte for byte. The positive cases check the direct path was
 * taken; the writes it must leave alone (data in flight, MSG_MORE, cork, more than a segment,
 * a window or congestion window too small, SACK blocks to report, recovery, after shutdown)
 * check it was not; no mbuf left shows both fail alike and recover alike.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <rte_mbuf.h>

#include "sim_peer.h"
#include "tcp_impl.h"
#include "test_eal.h"

#define PEER_PORT 40000
#define SRV_PORT  80
#define PEER_ISN  1000u
#define WS        7

static struct sim_rig rig[2]; /* [0] direct path on, [1] off */
static int sock[2], lsock[2];
static uint32_t peer_nxt; /* the peer's next sequence number */
static uint32_t peer_ack; /* what the peer acknowledges */
static uint32_t peer_tsval = 777;
static uint16_t peer_win = 512; /* scaled by WS */

static struct tcp_sock *conn(int i)
{
	return tcp_sock_get(rig[i].s, sock[i]);
}

static uint64_t direct_count(void)
{
	ck_assert_uint_eq(tpa_stack_stats(rig[1].s)->tcp_tx_direct, 0);
	return tpa_stack_stats(rig[0].s)->tcp_tx_direct;
}

static void rxq_equal(const struct tcp_rxq *a, const struct tcp_rxq *b)
{
	ck_assert_uint_eq(a->count, b->count);
	for (uint32_t i = 0; i < a->count; i++) {
		const struct tcp_rxseg *x = &a->v[(a->head + i) & (a->cap - 1)];
		const struct tcp_rxseg *y = &b->v[(b->head + i) & (b->cap - 1)];
		ck_assert_uint_eq(x->seq, y->seq);
		ck_assert_uint_eq(x->len, y->len);
		ck_assert(memcmp(rte_pktmbuf_mtod_offset(x->m, void *, x->off),
		                 rte_pktmbuf_mtod_offset(y->m, void *, y->off), x->len) == 0);
	}
}

static void sndbuf_equal(const struct tcp_sndbuf *a, const struct tcp_sndbuf *b)
{
	ck_assert_uint_eq(a->len, b->len);
	for (uint32_t i = 0; i < a->len; i++)
		ck_assert_uint_eq(a->buf[(a->head + i) & (a->cap - 1)],
		                  b->buf[(b->head + i) & (b->cap - 1)]);
}

/* Both connections, the counters and every frame sent: the same. */
static void compare(void)
{
	struct tcp_sock a = *conn(0), b = *conn(1);
	ck_assert_uint_eq(a.rack.count, b.rack.count);
	for (uint32_t i = 0; i < a.rack.count; i++) {
		const struct tcp_rack_seg *x = &a.rack.v[(a.rack.head + i) & (a.rack.cap - 1)];
		const struct tcp_rack_seg *y = &b.rack.v[(b.rack.head + i) & (b.rack.cap - 1)];
		ck_assert(x->xmit_ns == y->xmit_ns && x->start == y->start && x->end == y->end &&
		          x->flags == y->flags);
	}
	rxq_equal(&a.rq, &b.rq);
	rxq_equal(&a.ooo, &b.ooo);
	sndbuf_equal(&a.sb, &b.sb);
	for (struct tcp_sock *x = &a; x; x = x == &a ? &b : NULL) {
		x->user = NULL;
		x->sb.buf = NULL;
		x->rq.v = x->ooo.v = NULL;
		x->rack.v = NULL;
		x->trace = NULL;
		x->wheel.next = NULL;
		x->wheel.pprev = NULL;
	}
	ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0, "connections differ");
	struct tpa_stack_stats sa = *tpa_stack_stats(rig[0].s), sb = *tpa_stack_stats(rig[1].s);
	sa.tcp_tx_direct = sb.tcp_tx_direct = 0;
	ck_assert_msg(memcmp(&sa, &sb, sizeof(sa)) == 0, "counters differ");
	ck_assert_uint_eq(rig[0].cap.count, rig[1].cap.count);
	for (uint32_t i = 0; i < rig[0].cap.count; i++) {
		const struct captured_frame *x = &rig[0].cap.frames[i], *y = &rig[1].cap.frames[i];
		ck_assert_uint_eq(x->len, y->len);
		ck_assert(memcmp(x->data, y->data, x->len) == 0);
	}
}

/* The stack's TSval in its last frame (what the peer echoes). */
static uint32_t stack_tsval(void)
{
	if (!rig[0].cap.count)
		return 0;
	const uint8_t *o = sim_frame_tcp_opt(&rig[0], rig[0].cap.count - 1, 8);
	return o ? sim_be32(o + 2) : 0;
}

struct seg_spec {
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t len, window;
	uint8_t nsack;
	uint32_t sack[2];
};

static void both_send(struct seg_spec g)
{
	uint8_t o[40];
	uint8_t n = 0;
	uint32_t v[2] = {htonl(peer_tsval), htonl(stack_tsval())};
	o[n++] = 1;
	o[n++] = 1;
	o[n++] = 8;
	o[n++] = 10;
	memcpy(o + n, v, 8);
	n += 8;
	if (g.nsack) {
		uint32_t b[2] = {htonl(g.sack[0]), htonl(g.sack[1])};
		o[n++] = 1;
		o[n++] = 1;
		o[n++] = 5;
		o[n++] = 10;
		memcpy(o + n, b, 8);
		n += 8;
	}
	struct sim_peer_seg s = {.sport = PEER_PORT,
	                         .dport = SRV_PORT,
	                         .flags = g.flags,
	                         .seq = g.seq,
	                         .ack = g.ack,
	                         .window = g.window ? g.window : peer_win,
	                         .opts = o,
	                         .optlen = n,
	                         .len = g.len};
	for (int i = 0; i < 2; i++) {
		tcp_tx_direct_off = i == 1;
		sim_peer_send(&rig[i], &s);
		tpa_stack_flush(rig[i].s);
	}
	tcp_tx_direct_off = false;
	compare();
}

static void both_advance(uint64_t ns)
{
	for (int i = 0; i < 2; i++) {
		tcp_tx_direct_off = i == 1;
		vclock_advance(&rig[i].clock, ns);
		tpa_stack_poll(rig[i].s);
	}
	tcp_tx_direct_off = false;
	compare();
}

/* n bytes written (in iovcnt pieces) on both; returns how many took the direct path. */
static uint64_t both_writev(uint32_t n, int iovcnt, int flags)
{
	static uint8_t buf[65536];
	static uint32_t salt;
	salt++;
	for (uint32_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(i * 7 + salt);
	struct iovec v[2] = {
	        {.iov_base = buf, .iov_len = n / (size_t)iovcnt},
	        {.iov_base = buf + n / (size_t)iovcnt, .iov_len = n - n / (size_t)iovcnt}};
	if (iovcnt == 1)
		v[0].iov_len = n;
	uint64_t before = direct_count();
	for (int i = 0; i < 2; i++) {
		tcp_tx_direct_off = i == 1;
		ck_assert_int_eq(tpa_sendv(rig[i].s, sock[i], v, iovcnt, flags), (int)n);
		tpa_stack_flush(rig[i].s);
	}
	tcp_tx_direct_off = false;
	compare();
	return direct_count() - before;
}

static uint64_t both_write(uint32_t n)
{
	return both_writev(n, 1, 0);
}

static void both_read(void)
{
	static uint8_t buf[2][65536];
	int n0 = (int)tpa_recv(rig[0].s, sock[0], buf[0], sizeof(buf[0]), 0);
	tcp_tx_direct_off = true;
	int n1 = (int)tpa_recv(rig[1].s, sock[1], buf[1], sizeof(buf[1]), 0);
	tcp_tx_direct_off = false;
	ck_assert_int_eq(n0, n1);
	if (n0 > 0)
		ck_assert(memcmp(buf[0], buf[1], (size_t)n0) == 0);
	for (int i = 0; i < 2; i++)
		tpa_stack_flush(rig[i].s);
	compare();
}

static void clear_frames(void)
{
	for (int i = 0; i < 2; i++)
		sim_rig_clear(&rig[i]);
}

/* Data from the peer, in order, acknowledging what it has seen. */
static void data_in(uint16_t len)
{
	peer_tsval++;
	both_send((struct seg_spec){.flags = CRAFT_TCP_ACK | CRAFT_TCP_PSH,
	                            .seq = peer_nxt,
	                            .ack = peer_ack,
	                            .len = len});
	peer_nxt += len;
}

static void ack_in(uint32_t ack)
{
	peer_tsval++;
	peer_ack = ack;
	both_send((struct seg_spec){.flags = CRAFT_TCP_ACK, .seq = peer_nxt, .ack = ack});
}

/* Everything the stack sent acknowledged, until nothing is left to send. */
static void ack_all(void)
{
	for (int k = 0; k < 20; k++) {
		ack_in(conn(0)->snd_max);
		if (!conn(0)->sb.len)
			return;
	}
	ck_abort_msg("data left unsent");
}

/* A request in, read, its reply out (acknowledging the request), acknowledged by the next. */
static uint64_t request_reply(uint32_t reply)
{
	data_in(31);
	both_read();
	uint64_t d = both_write(reply);
	both_advance(VCLOCK_MS(1));
	ack_all();
	return d;
}

static void setup(void)
{
	test_eal_init();
	static const uint8_t syn_opts[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
	                                   0, 1, 0,    0,    0, 0, 1, 3,  3, WS};
	peer_win = 512;
	for (int i = 0; i < 2; i++) {
		sim_rig_init(&rig[i], NULL);
		static const uint8_t peer_mac[6] = PEER_MAC;
		tpa_stack_neigh_update(rig[i].s, sim_peer_ip(), peer_mac);
		int l = tpa_socket(rig[i].s);
		lsock[i] = sock[i] = l;
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(SRV_PORT)};
		ck_assert_int_eq(tpa_bind(rig[i].s, l, (struct sockaddr *)&a, sizeof(a)), 0);
		ck_assert_int_eq(tpa_listen(rig[i].s, l, 4), 0);
		struct sim_peer_seg syn = {.sport = PEER_PORT,
		                           .dport = SRV_PORT,
		                           .flags = CRAFT_TCP_SYN,
		                           .seq = PEER_ISN,
		                           .opts = syn_opts,
		                           .optlen = sizeof(syn_opts)};
		sim_peer_send(&rig[i], &syn);
		tpa_stack_flush(rig[i].s);
	}
	peer_ack = sim_frame_tcp(&rig[0], rig[0].cap.count - 1).seq + 1;
	peer_nxt = PEER_ISN + 1;
	peer_tsval = 777;
	ack_in(peer_ack);
	for (int i = 0; i < 2; i++) {
		sock[i] = tpa_accept(rig[i].s, lsock[i], NULL, NULL);
		ck_assert_int_ge(sock[i], 0);
	}
	ck_assert(conn(0)->flags & TSF_TS_OK);
	ck_assert(conn(0)->flags & TSF_SACK_OK);
	clear_frames();
	compare();
}

static void teardown(void)
{
	both_read();
	for (int i = 0; i < 2; i++) {
		struct sim_peer_seg rst = {.sport = PEER_PORT,
		                           .dport = SRV_PORT,
		                           .flags = CRAFT_TCP_RST,
		                           .seq = peer_nxt};
		sim_peer_send(&rig[i], &rst);
		ck_assert(sim_rig_destroy(&rig[i]));
	}
}

/* The redis pattern, replies of every size class up to a full segment, one or two buffers;
 * also after an idle period longer than the RTO (congestion window restart first). */
START_TEST(request_reply_taken_direct)
{
	uint32_t mss = tcp_eff_mss(rig[0].s, conn(0));
	const uint32_t sizes[] = {1, 2, 5, 9, 64, 511, 1000, mss - 1, mss};
	for (int r = 0; r < 60; r++) {
		ck_assert_uint_eq(request_reply(sizes[r % 9]), 1);
		if (r % 10 == 9)
			clear_frames();
	}
	data_in(31);
	both_read();
	ck_assert_uint_eq(both_writev(700, 2, 0), 1);
	ack_all();
	both_advance(VCLOCK_MS(200)); /* the delayed-ACK and probe timers, nothing due */
	both_advance(VCLOCK_S(3));
	ck_assert_uint_eq(request_reply(9), 1);
	ck_assert_uint_eq(request_reply(9), 1);
}
END_TEST

/* Writes the direct path leaves to the general one, each followed by one it takes. */
START_TEST(busy_or_special_not_taken)
{
	uint32_t mss = tcp_eff_mss(rig[0].s, conn(0));
	ck_assert_uint_eq(request_reply(9), 1);
	/* More than a segment. */
	ck_assert_uint_eq(both_write(mss + 1), 0);
	ack_all();
	/* Data in flight: the second write waits or goes behind it. */
	ck_assert_uint_eq(both_write(100), 1);
	ck_assert_uint_eq(both_write(100), 0);
	ack_all();
	/* MSG_MORE holds it; the next write sends both in one segment, directly (the ring was
	 * not empty, nothing is in flight). */
	ck_assert_uint_eq(both_writev(10, 1, MSG_MORE), 0);
	ck_assert_uint_eq(conn(0)->sb.len, 10);
	ck_assert_uint_eq(both_write(10), 1);
	ack_all();
	/* Cork. */
	int one = 1, zero = 0;
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(tpa_setsockopt(rig[i].s, sock[i], TPA_SO_CORK, &one, sizeof(one)),
		                 0);
	ck_assert_uint_eq(both_write(10), 0);
	for (int i = 0; i < 2; i++) {
		tcp_tx_direct_off = i == 1;
		ck_assert_int_eq(
		        tpa_setsockopt(rig[i].s, sock[i], TPA_SO_CORK, &zero, sizeof(zero)), 0);
		tpa_stack_flush(rig[i].s);
	}
	tcp_tx_direct_off = false;
	compare();
	ack_all();
	ck_assert_uint_eq(request_reply(9), 1);
	/* The peer's window smaller than the reply. */
	peer_win = 2; /* 256 bytes */
	ack_all();
	ck_assert_uint_eq(both_write(300), 0);
	peer_win = 512;
	ack_all();
	ack_all();
	ck_assert_uint_eq(request_reply(300), 1);
	/* Out-of-order data held: the reply reports SACK blocks. */
	peer_tsval++;
	both_send((struct seg_spec){
	        .flags = CRAFT_TCP_ACK, .seq = peer_nxt + 50, .ack = peer_ack, .len = 50});
	ck_assert_uint_eq(both_write(20), 0);
	data_in(50);
	peer_nxt += 50;
	ack_all();
	both_read();
	ck_assert_uint_eq(request_reply(20), 1);
}
END_TEST

/* A congestion window smaller than the reply after losses, recovery, then the direct path. */
START_TEST(recovery_and_small_cwnd_not_taken)
{
	both_advance(VCLOCK_MS(5));
	uint32_t mss = tcp_eff_mss(rig[0].s, conn(0));
	both_write(8 * mss);
	uint32_t una = peer_ack;
	both_advance(VCLOCK_MS(5));
	for (uint32_t k = 2; k <= 8; k++) {
		peer_tsval++;
		both_send((struct seg_spec){.flags = CRAFT_TCP_ACK,
		                            .seq = peer_nxt,
		                            .ack = una,
		                            .nsack = 1,
		                            .sack = {una + mss, una + k * mss}});
	}
	both_advance(VCLOCK_MS(20));
	ck_assert(conn(0)->flags & TSF_IN_RECOVERY);
	ack_in(una + 8 * mss);
	ck_assert(!(conn(0)->flags & TSF_IN_RECOVERY));
	ck_assert_uint_eq(request_reply(9), 1);
	/* Retransmission timeouts leave a window of one segment: a full one still goes. */
	both_write(3 * mss);
	for (int k = 0; k < 3; k++)
		both_advance(VCLOCK_S(2));
	ack_all();
	ck_assert_uint_eq(request_reply(mss), 1);
	/* After shutdown nothing more is written; the FIN goes by the general path. */
	for (int i = 0; i < 2; i++) {
		tcp_tx_direct_off = i == 1;
		ck_assert_int_eq(tpa_shutdown(rig[i].s, sock[i], SHUT_WR), 0);
		tpa_stack_flush(rig[i].s);
	}
	tcp_tx_direct_off = false;
	compare();
	ack_all();
}
END_TEST

/* No mbuf: both paths fail alike (persist timer armed, nothing sent), and the timer sends it. */
START_TEST(no_mbuf_fails_alike)
{
	ck_assert_uint_eq(request_reply(9), 1);
	data_in(31);
	both_read();
	static struct rte_mbuf *held[2][2048];
	uint32_t n[2] = {0, 0};
	for (int i = 0; i < 2; i++)
		while (n[i] < 2048 && (held[i][n[i]] = rte_pktmbuf_alloc(rig[i].pool)) != NULL)
			n[i]++;
	ck_assert_uint_eq(n[0], n[1]);
	uint64_t before = direct_count();
	for (int i = 0; i < 2; i++) {
		tcp_tx_direct_off = i == 1;
		ck_assert_int_eq(tpa_send(rig[i].s, sock[i], "hello", 5, 0), 5);
		tpa_stack_flush(rig[i].s);
	}
	tcp_tx_direct_off = false;
	compare();
	ck_assert_uint_eq(direct_count(), before);
	ck_assert(conn(0)->persist);
	for (int i = 0; i < 2; i++)
		for (uint32_t k = 0; k < n[i]; k++)
			rte_pktmbuf_free(held[i][k]);
	both_advance(VCLOCK_S(2));
	ack_all();
	ck_assert_uint_eq(conn(0)->sb.len, 0);
	ck_assert_uint_eq(request_reply(9), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_tx_direct");
	TCase *tc = tcase_create("direct");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, request_reply_taken_direct);
	tcase_add_test(tc, busy_or_special_not_taken);
	tcase_add_test(tc, recovery_and_small_cwnd_not_taken);
	tcase_add_test(tc, no_mbuf_fails_alike);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
