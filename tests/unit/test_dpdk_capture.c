/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's capture ring (dpdk/capture.c, tpa capture): frames become records in order with
 * their lengths, direction and time; the port filter keeps only that port's TCP frames; a full
 * ring counts drops and never overwrites what the reader has not consumed; records never
 * cross the ring's end (a PAD record or a too-short tail is skipped); the checksums the device
 * was to fill are filled in the copy of a sent frame.
 */
#include <check.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>

#include "check_run.h"
#include "../../dpdk/capture.h"
#include "test_eal.h"

static struct rte_mempool *pool;
static uint8_t ring[16384] __attribute__((aligned(8)));
static struct tpa_capture_ctl ctl;

static struct capture_state setup(uint32_t size, uint16_t port, uint32_t snaplen)
{
	memset(ring, 0xee, sizeof(ring));
	memset(&ctl, 0, sizeof(ctl));
	ctl.on = 1;
	ctl.size = size;
	struct capture_state c = {&ctl, ring, size, snaplen ? snaplen : 65535, port};
	return c;
}

/* An Ethernet/IPv4/TCP frame of `len` bytes between ports sport and dport; payload bytes
 * carry `tag`. */
static struct rte_mbuf *tcp_frame(uint16_t sport, uint16_t dport, uint16_t len, uint8_t tag)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	ck_assert_ptr_nonnull(m);
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, len);
	ck_assert_ptr_nonnull(f);
	memset(f, tag, len);
	f[12] = 0x08;
	f[13] = 0x00;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + 14);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(len - 14));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = rte_cpu_to_be_32(0xc6120001);
	ip->dst_addr = rte_cpu_to_be_32(0xc6120002);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
	memset(th, 0, sizeof(*th));
	th->src_port = rte_cpu_to_be_16(sport);
	th->dst_port = rte_cpu_to_be_16(dport);
	th->data_off = 5 << 4;
	return m;
}

static void burst(struct capture_state *c, struct rte_mbuf **m, uint16_t n, uint8_t dir)
{
	capture_burst(c, m, n, dir);
	for (uint16_t i = 0; i < n; i++)
		rte_pktmbuf_free(m[i]);
}

/* The reader: the record at ctl.tail (skipping the ring's unused end), NULL at head. */
static const struct tpa_capture_rec *next_rec(uint32_t size)
{
	while (ctl.tail < ctl.head) {
		uint32_t pos = (uint32_t)(ctl.tail & (size - 1));
		if (size - pos < sizeof(struct tpa_capture_rec)) {
			ctl.tail += size - pos;
			continue;
		}
		const struct tpa_capture_rec *r = (const void *)(ring + pos);
		ck_assert_uint_eq(r->len % 8, 0);
		ck_assert_uint_le(pos + r->len, size); /* never across the end */
		ctl.tail += r->len;
		if (r->caplen != TPA_CAPTURE_PAD)
			return r;
	}
	return NULL;
}

START_TEST(records_in_order_with_lengths_and_direction)
{
	struct capture_state c = setup(16384, 0, 0);
	struct rte_mbuf *m[3] = {tcp_frame(1, 6379, 60, 1), tcp_frame(6379, 1, 1514, 2),
	                         tcp_frame(1, 6379, 100, 3)};
	burst(&c, m, 3, TPA_CAPTURE_RX);
	ck_assert_uint_eq(ctl.frames, 3);
	ck_assert_uint_eq(ctl.dropped, 0);
	uint16_t lens[3] = {60, 1514, 100};
	for (int i = 0; i < 3; i++) {
		const struct tpa_capture_rec *r = next_rec(c.size);
		ck_assert_ptr_nonnull(r);
		ck_assert_uint_eq(r->caplen, lens[i]);
		ck_assert_uint_eq(r->origlen, lens[i]);
		ck_assert_uint_eq(r->dir, TPA_CAPTURE_RX);
		ck_assert_uint_gt(r->t_ns, 0);
		ck_assert_uint_eq(((const uint8_t *)(r + 1))[lens[i] - 1], i + 1);
	}
	ck_assert_ptr_null(next_rec(c.size));
}
END_TEST

START_TEST(port_filter_and_snaplen)
{
	struct capture_state c = setup(16384, 6379, 64);
	struct rte_mbuf *m[4] = {tcp_frame(1, 80, 100, 1), tcp_frame(6379, 1, 200, 2),
	                         tcp_frame(1, 6379, 60, 3), rte_pktmbuf_alloc(pool)};
	uint8_t *arp = (uint8_t *)rte_pktmbuf_append(m[3], 42);
	memset(arp, 0, 42);
	arp[12] = 0x08;
	arp[13] = 0x06;
	burst(&c, m, 4, TPA_CAPTURE_TX);
	ck_assert_uint_eq(ctl.frames, 2);
	const struct tpa_capture_rec *r = next_rec(c.size);
	ck_assert_uint_eq(r->caplen, 64); /* snaplen */
	ck_assert_uint_eq(r->origlen, 200);
	ck_assert_uint_eq(r->dir, TPA_CAPTURE_TX);
	r = next_rec(c.size);
	ck_assert_uint_eq(r->caplen, 60);
	ck_assert_ptr_null(next_rec(c.size));
}
END_TEST

START_TEST(full_ring_drops_never_overwrites)
{
	struct capture_state c = setup(4096, 0, 0);
	struct rte_mbuf *m[5];
	for (int i = 0; i < 5; i++)
		m[i] = tcp_frame(1, 2, 1000, (uint8_t)(10 + i)); /* 1024 bytes a record */
	burst(&c, m, 5, TPA_CAPTURE_RX);
	ck_assert_uint_eq(ctl.frames, 4);
	ck_assert_uint_eq(ctl.dropped, 1);
	ck_assert_uint_eq(ctl.head, 4096);
	/* The reader takes two; two more fit, at the start of the ring again. */
	ck_assert_uint_eq(((const uint8_t *)(next_rec(4096) + 1))[999], 10);
	ck_assert_uint_eq(((const uint8_t *)(next_rec(4096) + 1))[999], 11);
	for (int i = 0; i < 3; i++)
		m[i] = tcp_frame(1, 2, 1000, (uint8_t)(20 + i));
	burst(&c, m, 3, TPA_CAPTURE_RX);
	ck_assert_uint_eq(ctl.frames, 6);
	ck_assert_uint_eq(ctl.dropped, 2);
	uint8_t want[4] = {12, 13, 20, 21};
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(((const uint8_t *)(next_rec(4096) + 1))[999], want[i]);
	ck_assert_ptr_null(next_rec(4096));
}
END_TEST

START_TEST(records_never_cross_the_end)
{
	/* Sizes that leave 8..1000 bytes at the end in turn; the reader consumes as it goes. */
	struct capture_state c = setup(4096, 0, 0);
	for (int i = 0; i < 200; i++) {
		uint16_t len = (uint16_t)(60 + (i * 97) % 1400);
		struct rte_mbuf *m = tcp_frame(1, 2, len, (uint8_t)i);
		burst(&c, &m, 1, TPA_CAPTURE_RX);
		const struct tpa_capture_rec *r = next_rec(4096);
		ck_assert_ptr_nonnull(r);
		ck_assert_uint_eq(r->caplen, len);
		ck_assert_uint_eq(((const uint8_t *)(r + 1))[len - 1], (uint8_t)i);
	}
	ck_assert_uint_eq(ctl.frames, 200);
	ck_assert_uint_eq(ctl.dropped, 0);
	ck_assert_uint_gt(ctl.head, 10 * 4096); /* it went round many times */
}
END_TEST

START_TEST(sent_frame_checksums_filled_in_the_copy)
{
	struct capture_state c = setup(16384, 0, 0);
	struct rte_mbuf *m = tcp_frame(6379, 1, 120, 7);
	m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
	m->l2_len = 14;
	m->l3_len = 20;
	burst(&c, &m, 1, TPA_CAPTURE_TX);
	const struct tpa_capture_rec *r = next_rec(c.size);
	ck_assert_ptr_nonnull(r);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)((uint8_t *)(r + 1) + 14);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
	ck_assert_uint_ne(ip->hdr_checksum, 0);
	/* A header with its checksum sums to all ones. */
	ck_assert_uint_eq(rte_raw_cksum(ip, 20), 0xffff);
	uint16_t got = th->cksum;
	th->cksum = 0;
	ck_assert_uint_eq(got, rte_ipv4_udptcp_cksum(ip, th));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dpdk_capture");
	TCase *t = tcase_create("capture");
	tcase_add_test(t, records_in_order_with_lengths_and_direction);
	tcase_add_test(t, port_filter_and_snaplen);
	tcase_add_test(t, full_ring_drops_never_overwrites);
	tcase_add_test(t, records_never_cross_the_end);
	tcase_add_test(t, sent_frame_checksums_filled_in_the_copy);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	test_eal_init();
	pool = test_pool_create("cap_pool", 256);
	return check_run(suite(), CK_NOFORK);
}
