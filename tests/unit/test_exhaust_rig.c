/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Resource exhaustion on the capture rig, with a hand-driven peer (10.0.0.2):
 * - a peer sending tiny out-of-order segments must not pin one mbuf per byte (the pool is
 *   shared by every connection: a single peer could otherwise take it all);
 * - a full socket table and a failing allocator give the kernel's errors (ENFILE, ENOBUFS);
 * - the memory an instance holds comes back entirely (allocator hook counting bytes).
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mempool.h>

#include "sim_capture.h"
#include "sim_craft.h"
#include "test_eal.h"

#define PEER_PORT 40000
#define SRV_PORT  80
#define PEER_ISN  1000u

static const uint8_t rig_mac[6] = RIG_MAC;
static const uint8_t peer_mac[6] = PEER_MAC;

static uint32_t peer_ip(void)
{
	return ip4(10, 0, 0, 2);
}

/* An allocator counting live bytes, which fails every allocation while `fail` is set. */
static long long live_bytes;
static bool fail;

static void *count_alloc(void *ctx, size_t size)
{
	if (fail)
		return NULL;
	max_align_t *p = malloc(sizeof(max_align_t) + size);
	if (!p)
		return NULL;
	memcpy(p, &size, sizeof(size));
	live_bytes += (long long)size;
	return p + 1;
}

static void count_free(void *ctx, void *ptr)
{
	if (!ptr)
		return;
	max_align_t *p = (max_align_t *)ptr - 1;
	size_t size;
	memcpy(&size, p, sizeof(size));
	live_bytes -= (long long)size;
	free(p);
}

static void tweak(struct tpa_stack_config *cfg)
{
	cfg->mem = (struct tpa_allocator){count_alloc, count_free, NULL};
	cfg->max_sockets = 16;
	cfg->tcp.delack_ms = 0;
}

static struct sim_rig rig;

static void setup(void)
{
	test_eal_init();
	live_bytes = 0;
	fail = false;
	sim_rig_init(&rig, tweak);
	tpa_stack_neigh_update(rig.s, peer_ip(), peer_mac);
}

static void teardown(void)
{
	fail = false;
	ck_assert(sim_rig_destroy(&rig));
	ck_assert_int_eq(live_bytes, 0);
}

static void send_seg(uint8_t flags, uint32_t seq, uint32_t ack, const void *data, uint16_t len)
{
	struct craft_tcp t;
	memset(&t, 0, sizeof(t));
	memcpy(t.dst_mac, rig_mac, 6);
	memcpy(t.src_mac, peer_mac, 6);
	t.src_ip = peer_ip();
	t.dst_ip = rig_ip();
	t.sport = PEER_PORT;
	t.dport = SRV_PORT;
	t.seq = seq;
	t.ack = ack;
	t.flags = flags;
	t.window = 65535;
	t.payload = data;
	t.payload_len = len;
	uint8_t buf[2048];
	size_t n = craft_tcp_frame(buf, &t);
	sim_rig_input(&rig, buf, n, 0);
}

/* Listener on SRV_PORT, handshake from the peer (no options), accepted. Returns our ISN. */
static uint32_t establish(int *lsock, int *sock)
{
	*lsock = tpa_socket(rig.s);
	ck_assert_int_ge(*lsock, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(SRV_PORT)};
	ck_assert_int_eq(tpa_bind(rig.s, *lsock, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(tpa_listen(rig.s, *lsock, 4), 0);
	sim_rig_clear(&rig);
	send_seg(CRAFT_TCP_SYN, PEER_ISN, 0, NULL, 0);
	struct parsed_tcp sa;
	ck_assert(parse_tcp_frame(rig.cap.frames[rig.cap.count - 1].data,
	                          rig.cap.frames[rig.cap.count - 1].len, &sa));
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, sa.seq + 1, NULL, 0);
	*sock = tpa_accept(rig.s, *lsock, NULL, NULL);
	ck_assert_int_ge(*sock, 0);
	return sa.seq;
}

/* 1-byte segments at every other sequence number, never filling the first hole: before, each
 * pinned an mbuf until ooo_limit (256 KiB) bytes were held, i.e. the whole pool; the rig's pool
 * (1023) then ran dry and the stack could neither receive nor send for anyone. */
START_TEST(tiny_ooo_segments_do_not_pin_the_pool)
{
	int l, c;
	uint32_t iss = establish(&l, &c);
	unsigned avail0 = rte_mempool_avail_count(rig.pool);
	uint8_t byte = 'x';
	uint32_t most_held = 0;
	for (uint32_t i = 0; i < 5000; i++) {
		if (rte_mempool_avail_count(rig.pool) < 8)
			break; /* the rig could not even craft the next frame */
		send_seg(CRAFT_TCP_ACK, PEER_ISN + 1 + 2 + 2 * i, iss + 1, &byte, 1);
		uint32_t held = tpa_stack_mbufs_held(rig.s);
		most_held = held > most_held ? held : most_held;
	}
	printf("tiny ooo: at most %u mbufs held for 5000 one-byte segments, pool %u of %u\n",
	       most_held, rte_mempool_avail_count(rig.pool), avail0);
	/* A bounded share: a few hundred, far from the pool. */
	ck_assert_uint_le(most_held, 600);
	ck_assert_uint_gt(tpa_stack_stats(rig.s)->tcp_drop_ooo_limit, 0);
	/* The connection still works: the hole filled, in-order data is taken and readable. */
	send_seg(CRAFT_TCP_ACK, PEER_ISN + 1, iss + 1, "ab", 2);
	char buf[16];
	ck_assert_int_ge(tpa_recv(rig.s, c, buf, sizeof(buf), 0), 2);
	ck_assert_int_eq(buf[0], 'a');
	struct linger lg = {1, 0};
	tpa_setsockopt(rig.s, c, TPA_SO_LINGER, &lg, sizeof(lg));
	ck_assert_int_eq(tpa_close(rig.s, c), 0);
	ck_assert_int_eq(tpa_close(rig.s, l), 0);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 0);
	ck_assert_uint_eq(tpa_stack_socket_count(rig.s), 0);
}
END_TEST

/* A full table is the stack-wide limit (the kernel's ENFILE: the per-process EMFILE stays the
 * kernel's, on the descriptor the shim holds); memory for a socket missing is ENOBUFS, as
 * Linux's inet_create. A freed slot is usable again at once. */
START_TEST(socket_table_full_and_no_memory)
{
	int socks[16];
	for (int i = 0; i < 16; i++) {
		socks[i] = tpa_socket(rig.s);
		ck_assert_int_ge(socks[i], 0);
	}
	ck_assert_int_eq(tpa_socket(rig.s), -ENFILE);
	ck_assert_int_eq(tpa_close(rig.s, socks[3]), 0);
	fail = true;
	ck_assert_int_eq(tpa_socket(rig.s), -ENOBUFS);
	fail = false;
	socks[3] = tpa_socket(rig.s);
	ck_assert_int_ge(socks[3], 0);
	ck_assert_int_eq(tpa_socket(rig.s), -ENFILE);
	for (int i = 0; i < 16; i++)
		ck_assert_int_eq(tpa_close(rig.s, socks[i]), 0);
	ck_assert_uint_eq(tpa_stack_socket_count(rig.s), 0);
}
END_TEST

/* A SYN while the table is full is dropped (no RST: the client retries, as against a kernel
 * out of memory), and served once a slot is free. */
START_TEST(syn_with_table_full_is_dropped_then_served)
{
	int l, c;
	establish(&l, &c);
	int socks[16], n = 0;
	for (int r; (r = tpa_socket(rig.s)) >= 0;)
		socks[n++] = r;
	ck_assert_int_eq(n, 14);
	sim_rig_clear(&rig);
	struct craft_tcp t;
	memset(&t, 0, sizeof(t));
	memcpy(t.dst_mac, rig_mac, 6);
	memcpy(t.src_mac, peer_mac, 6);
	t.src_ip = peer_ip();
	t.dst_ip = rig_ip();
	t.sport = PEER_PORT + 1;
	t.dport = SRV_PORT;
	t.seq = 77;
	t.flags = CRAFT_TCP_SYN;
	t.window = 65535;
	uint8_t buf[128];
	size_t len = craft_tcp_frame(buf, &t);
	sim_rig_input(&rig, buf, len, 0);
	ck_assert_uint_eq(rig.cap.count, 0);
	ck_assert_int_eq(tpa_close(rig.s, socks[0]), 0);
	sim_rig_input(&rig, buf, len, 0);
	ck_assert_uint_eq(rig.cap.count, 1);
	struct parsed_tcp p;
	ck_assert(parse_tcp_frame(rig.cap.frames[0].data, rig.cap.frames[0].len, &p));
	ck_assert_uint_eq(p.flags, CRAFT_TCP_SYN | CRAFT_TCP_ACK);
	for (int i = 1; i < n; i++)
		tpa_close(rig.s, socks[i]);
	struct linger lg = {1, 0};
	tpa_setsockopt(rig.s, c, TPA_SO_LINGER, &lg, sizeof(lg));
	tpa_close(rig.s, c);
	tpa_close(rig.s, l);
	tpa_stack_flush(rig.s);
	ck_assert_uint_eq(tpa_stack_socket_count(rig.s), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("exhaust_rig");
	TCase *tc = tcase_create("exhaust_rig");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, tiny_ooo_segments_do_not_pin_the_pool);
	tcase_add_test(tc, socket_table_full_and_no_memory);
	tcase_add_test(tc, syn_with_table_full_is_dropped_then_served);
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
