/* SPDX-License-Identifier: BSD-3-Clause */
/* IPv4 input validation (every malformed field dropped and counted), metadata and padding
 * handling, output headers, routing (on-link, gateway, no route) and checksum offloads. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <rte_mbuf.h>
#include <string.h>

#include "checksum.h"
#include "ipv4.h"
#include "sim_capture.h"
#include "sim_craft.h"
#include "sim_tcp_stub.h"

static const uint8_t rig_mac[6] = RIG_MAC;
static const uint8_t peer_mac[6] = PEER_MAC;
static struct sim_rig rig;

static void setup(void)
{
	sim_rig_init(&rig, NULL);
}
static void teardown(void)
{
	ck_assert(sim_rig_destroy(&rig));
}

static const struct tpa_stack_stats *st(void)
{
	return tpa_stack_stats(rig.s);
}

/* A valid segment from 10.0.0.2:1234 to us:80 with `plen` bytes of payload. */
static size_t good_frame(uint8_t *buf, uint16_t plen)
{
	static uint8_t payload[1500];
	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	struct craft_tcp t = {.src_ip = ip4(10, 0, 0, 2),
	                      .dst_ip = rig_ip(),
	                      .sport = 1234,
	                      .dport = 80,
	                      .seq = 1000,
	                      .ack = 0,
	                      .flags = CRAFT_TCP_SYN,
	                      .window = 65535,
	                      .payload = payload,
	                      .payload_len = plen};
	memcpy(t.dst_mac, rig_mac, 6);
	memcpy(t.src_mac, peer_mac, 6);
	return craft_tcp_frame(buf, &t);
}

START_TEST(valid_segment_delivered_with_meta)
{
	uint8_t f[2048];
	size_t n = good_frame(f, 100);
	f[14 + 1] = 0x10; /* tos */
	f[14 + 8] = 33;   /* ttl */
	craft_fix_ip_cksum(f);
	sim_rig_input(&rig, f, n, 0);
	ck_assert_uint_eq(stub_tcp.inputs, 1);
	ck_assert_uint_eq(stub_tcp.last.len, 20 + 100);
	ck_assert_uint_eq(stub_tcp.last.meta.src_be, ip4(10, 0, 0, 2));
	ck_assert_uint_eq(stub_tcp.last.meta.dst_be, rig_ip());
	ck_assert_uint_eq(stub_tcp.last.meta.tos, 0x10);
	ck_assert_uint_eq(stub_tcp.last.meta.ttl, 33);
	ck_assert(!stub_tcp.last.meta.l4_cksum_ok);
	ck_assert_mem_eq(stub_tcp.last.data, f + 34, 120);
	ck_assert_uint_eq(st()->ip_rx, 1);
	ck_assert_uint_eq(st()->eth_rx, 1);
}
END_TEST

START_TEST(ethernet_padding_trimmed)
{
	uint8_t f[2048];
	size_t n = good_frame(f, 2); /* 56 bytes: padded to the 60-byte minimum */
	memset(f + n, 0xee, 64 - n);
	sim_rig_input(&rig, f, 64, 0);
	ck_assert_uint_eq(stub_tcp.inputs, 1);
	ck_assert_uint_eq(stub_tcp.last.len, 22);
	/* Padding split into its own segment is dropped too. */
	sim_rig_input_chained(&rig, f, 64, n);
	ck_assert_uint_eq(stub_tcp.inputs, 2);
	ck_assert_uint_eq(stub_tcp.last.len, 22);
	ck_assert_uint_eq(stub_tcp.last.nb_segs, 1);
}
END_TEST

START_TEST(options_skipped)
{
	uint8_t f[2048], g[2048];
	size_t n = good_frame(f, 10);
	/* Rebuild with IHL 6 and a 4-byte option (NOP NOP NOP EOL). */
	memcpy(g, f, 34);
	g[14] = 0x46;
	memcpy(g + 34, "\x01\x01\x01\x00", 4);
	memcpy(g + 38, f + 34, n - 34);
	uint16_t tot = (uint16_t)(n - 14 + 4);
	g[16] = (uint8_t)(tot >> 8);
	g[17] = (uint8_t)tot;
	craft_fix_ip_cksum(g);
	sim_rig_input(&rig, g, n + 4, 0);
	ck_assert_uint_eq(stub_tcp.inputs, 1);
	ck_assert_uint_eq(stub_tcp.last.len, 30);
	ck_assert_mem_eq(stub_tcp.last.data, f + 34, 30);
}
END_TEST

/* Each malformation: edit a good frame, fix the checksum unless told not to, expect the
 * counter at `off` (offset into tpa_stack_stats) to count one drop and TCP to see nothing. */
struct bad_case {
	const char *what;
	size_t counter;
	void (*edit)(uint8_t *f, size_t *len);
	int keep_cksum;
};

static void set_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static void e_short(uint8_t *f, size_t *len)
{
	*len = 14 + 19;
}
static void e_version(uint8_t *f, size_t *len)
{
	f[14] = 0x65;
}
static void e_ihl_small(uint8_t *f, size_t *len)
{
	f[14] = 0x44;
}
static void e_ihl_past_frame(uint8_t *f, size_t *len)
{
	f[14] = 0x4f; /* 60-byte header in a 40-byte datagram */
	*len = 14 + 40;
	set_u16(f + 16, 40);
}
static void e_totlen_big(uint8_t *f, size_t *len)
{
	set_u16(f + 16, (uint16_t)(*len - 14 + 1));
}
static void e_totlen_small(uint8_t *f, size_t *len)
{
	set_u16(f + 16, 19);
}
static void e_cksum(uint8_t *f, size_t *len)
{
	f[14 + 10] ^= 0x01;
}
static void e_mf(uint8_t *f, size_t *len)
{
	set_u16(f + 20, 0x2000);
}
static void e_offset(uint8_t *f, size_t *len)
{
	set_u16(f + 20, 0x0010);
}
static void e_dst(uint8_t *f, size_t *len)
{
	memcpy(f + 30, "\x0a\x00\x00\x09", 4);
}
static void e_bcast(uint8_t *f, size_t *len)
{
	memcpy(f + 30, "\xff\xff\xff\xff", 4);
}
static void e_src_mcast(uint8_t *f, size_t *len)
{
	memcpy(f + 26, "\xe0\x00\x00\x01", 4);
}
static void e_src_self(uint8_t *f, size_t *len)
{
	memcpy(f + 26, "\x0a\x00\x00\x01", 4);
}
static void e_proto(uint8_t *f, size_t *len)
{
	f[14 + 9] = 17;
}

#define OFF(name) offsetof(struct tpa_stack_stats, name)

static const struct bad_case bad_cases[] = {
        {"short", OFF(ip_drop_short), e_short, 1},
        {"version 6", OFF(ip_drop_version), e_version, 0},
        {"IHL 4", OFF(ip_drop_ihl), e_ihl_small, 0},
        {"IHL past frame", OFF(ip_drop_ihl), e_ihl_past_frame, 0},
        {"total length > frame", OFF(ip_drop_len), e_totlen_big, 0},
        {"total length < header", OFF(ip_drop_len), e_totlen_small, 0},
        {"bad checksum", OFF(ip_drop_cksum), e_cksum, 1},
        {"more fragments", OFF(ip_drop_fragment), e_mf, 0},
        {"fragment offset", OFF(ip_drop_fragment), e_offset, 0},
        {"other destination", OFF(ip_drop_not_ours), e_dst, 0},
        {"broadcast destination", OFF(ip_drop_not_ours), e_bcast, 0},
        {"multicast source", OFF(ip_drop_not_ours), e_src_mcast, 0},
        {"our own source", OFF(ip_drop_not_ours), e_src_self, 0},
        {"UDP", OFF(ip_drop_proto), e_proto, 0},
};

static uint64_t counter_at(size_t off)
{
	uint64_t v;
	memcpy(&v, (const uint8_t *)st() + off, sizeof(v));
	return v;
}

static uint64_t ip_drops(void)
{
	const struct tpa_stack_stats *x = st();
	return x->ip_drop_short + x->ip_drop_version + x->ip_drop_ihl + x->ip_drop_len +
	       x->ip_drop_cksum + x->ip_drop_fragment + x->ip_drop_not_ours + x->ip_drop_proto;
}

START_TEST(malformed_dropped_and_counted)
{
	const struct bad_case *c = &bad_cases[_i];
	uint8_t f[2048];
	size_t n = good_frame(f, 20);
	c->edit(f, &n);
	if (!c->keep_cksum && n >= 34)
		craft_fix_ip_cksum(f);
	uint64_t before = counter_at(c->counter);
	sim_rig_input(&rig, f, n, 0);
	ck_assert_msg(counter_at(c->counter) == before + 1, "%s: counter not bumped", c->what);
	ck_assert_msg(ip_drops() == 1, "%s: %llu drops counted", c->what,
	              (unsigned long long)ip_drops());
	ck_assert_msg(stub_tcp.inputs == 0, "%s: reached TCP", c->what);
	ck_assert_uint_eq(rig.cap.count, 0); /* nothing is ever answered to garbage */
}
END_TEST

static void rx_offload(struct tpa_stack_config *cfg)
{
	cfg->dev.rx_offloads = TPA_DEV_OFFLOAD_RX_CKSUM;
	cfg->dev.tx_offloads = TPA_DEV_OFFLOAD_IPV4_CKSUM | TPA_DEV_OFFLOAD_TCP_CKSUM;
}

START_TEST(rx_checksum_offload_verdicts)
{
	sim_rig_destroy(&rig);
	sim_rig_init(&rig, rx_offload);
	uint8_t f[2048];
	size_t n = good_frame(f, 10);
	f[14 + 10] ^= 0x55; /* wrong, but the device says good: not checked again */
	sim_rig_input(&rig, f, n, RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD);
	ck_assert_uint_eq(stub_tcp.inputs, 1);
	ck_assert(stub_tcp.last.meta.l4_cksum_ok);
	craft_fix_ip_cksum(f);
	sim_rig_input(&rig, f, n, RTE_MBUF_F_RX_IP_CKSUM_BAD);
	ck_assert_uint_eq(stub_tcp.inputs, 1);
	ck_assert_uint_eq(st()->ip_drop_cksum, 1);
	/* Unknown verdict: checked in software; L4 not claimed good. */
	sim_rig_input(&rig, f, n, RTE_MBUF_F_RX_L4_CKSUM_BAD);
	ck_assert_uint_eq(stub_tcp.inputs, 2);
	ck_assert(!stub_tcp.last.meta.l4_cksum_ok);
}
END_TEST

START_TEST(rx_flags_ignored_without_offload)
{
	uint8_t f[2048];
	size_t n = good_frame(f, 10);
	f[14 + 10] ^= 0x55;
	sim_rig_input(&rig, f, n, RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD);
	ck_assert_uint_eq(stub_tcp.inputs, 0);
	ck_assert_uint_eq(st()->ip_drop_cksum, 1);
}
END_TEST

/* One frame through the plain-datagram test and through the general header checks
 * (ipv4_rx_plain_off): the same counters move by the same amounts, TCP sees the same. */
static void plain_against_general(const uint8_t *f, size_t n, uint64_t ol_flags)
{
	struct tpa_stack_stats d[2];
	struct stub_tcp_record seen[2];
	for (int i = 0; i < 2; i++) {
		ipv4_rx_plain_off = i == 1;
		struct tpa_stack_stats before = *st();
		memset(&stub_tcp, 0, sizeof(stub_tcp));
		sim_rig_input(&rig, f, n, ol_flags);
		seen[i] = stub_tcp;
		const uint64_t *a = (const uint64_t *)&before, *b = (const uint64_t *)st();
		uint64_t *x = (uint64_t *)&d[i];
		for (size_t k = 0; k < sizeof(d[i]) / sizeof(uint64_t); k++)
			x[k] = b[k] - a[k];
	}
	ipv4_rx_plain_off = false;
	ck_assert(memcmp(&d[0], &d[1], sizeof(d[0])) == 0);
	ck_assert_uint_eq(seen[0].inputs, seen[1].inputs);
	if (seen[0].inputs) {
		ck_assert_uint_eq(seen[0].last.len, seen[1].last.len);
		ck_assert_uint_eq(seen[0].last.nb_segs, seen[1].last.nb_segs);
		ck_assert(memcmp(&seen[0].last.meta, &seen[1].last.meta,
		                 sizeof(seen[0].last.meta)) == 0);
		ck_assert(memcmp(seen[0].last.data, seen[1].last.data, seen[0].last.len) == 0);
	}
}

/* Every malformation, good frames of several sizes, padded, with a bad IP checksum, with the
 * device's verdicts: the plain-datagram test decides as the general checks do. */
START_TEST(plain_datagram_as_general)
{
	uint8_t f[2048];
	for (size_t c = 0; c < sizeof(bad_cases) / sizeof(bad_cases[0]); c++) {
		size_t n = good_frame(f, 20);
		bad_cases[c].edit(f, &n);
		if (!bad_cases[c].keep_cksum && n >= 34)
			craft_fix_ip_cksum(f);
		plain_against_general(f, n, 0);
	}
	static const uint16_t sizes[] = {0, 1, 2, 20, 31, 100, 1000, 1460};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = good_frame(f, sizes[k]);
		plain_against_general(f, n, 0);
		f[14 + 1] = 0x10; /* tos, ttl */
		f[14 + 8] = 7;
		craft_fix_ip_cksum(f);
		plain_against_general(f, n, 0);
		memset(f + n, 0xee, 8); /* padded */
		plain_against_general(f, n + 8, 0);
		f[14 + 11] ^= 0x40; /* bad checksum */
		plain_against_general(f, n, 0);
		/* flags the device sets are ignored without the offload */
		plain_against_general(f, n, RTE_MBUF_F_RX_IP_CKSUM_GOOD);
	}
}
END_TEST

START_TEST(plain_datagram_as_general_offload)
{
	sim_rig_destroy(&rig);
	sim_rig_init(&rig, rx_offload);
	uint8_t f[2048];
	size_t n = good_frame(f, 31);
	static const uint64_t verdicts[] = {
	        0, RTE_MBUF_F_RX_IP_CKSUM_GOOD, RTE_MBUF_F_RX_IP_CKSUM_BAD,
	        RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD,
	        RTE_MBUF_F_RX_L4_CKSUM_BAD};
	for (int bad = 0; bad < 2; bad++) {
		for (size_t v = 0; v < sizeof(verdicts) / sizeof(verdicts[0]); v++)
			plain_against_general(f, n, verdicts[v]);
		f[14 + 10] ^= 0x55;
	}
}
END_TEST

/* Send a 20-byte fake L4 segment to dst through ipv4_output. */
static int send_l4(uint32_t dst, uint8_t fill)
{
	uint8_t seg[20];
	memset(seg, fill, sizeof(seg));
	struct rte_mbuf *m = sim_rig_mbuf(&rig, seg, sizeof(seg));
	int rc = ipv4_output(rig.s, m, dst, IPPROTO_TCP);
	tpa_stack_flush(rig.s);
	return rc;
}

static void resolve(uint32_t ip, const uint8_t mac[6])
{
	tpa_stack_neigh_update(rig.s, ip, mac);
	tpa_stack_flush(rig.s);
}

START_TEST(output_header)
{
	uint32_t dst = ip4(10, 0, 0, 7);
	resolve(dst, peer_mac);
	ck_assert_int_eq(send_l4(dst, 0xab), 0);
	ck_assert_int_eq(send_l4(dst, 0xcd), 0);
	ck_assert_uint_eq(rig.cap.count, 2);
	const uint8_t *f = rig.cap.frames[0].data;
	ck_assert_uint_eq(rig.cap.frames[0].len, 54);
	ck_assert_mem_eq(f, peer_mac, 6);
	ck_assert_mem_eq(f + 6, rig_mac, 6);
	ck_assert_uint_eq(f[12], 0x08);
	ck_assert_uint_eq(f[13], 0x00);
	const uint8_t *ip = f + 14;
	ck_assert_uint_eq(ip[0], 0x45);
	ck_assert_uint_eq(ip[2] << 8 | ip[3], 40);
	ck_assert_uint_eq(ip[6] & 0x40, 0x40); /* DF */
	ck_assert_uint_eq(ip[8], 64);
	ck_assert_uint_eq(ip[9], IPPROTO_TCP);
	uint32_t a;
	memcpy(&a, ip + 12, 4);
	ck_assert_uint_eq(a, rig_ip());
	memcpy(&a, ip + 16, 4);
	ck_assert_uint_eq(a, dst);
	ck_assert_uint_eq(tpa_csum_fold(tpa_csum_partial(ip, 20, 0)), 0);
	ck_assert_uint_eq(f[34], 0xab);
	const uint8_t *ip2 = rig.cap.frames[1].data + 14;
	uint16_t id1 = (uint16_t)(ip[4] << 8 | ip[5]), id2 = (uint16_t)(ip2[4] << 8 | ip2[5]);
	ck_assert_uint_eq((uint16_t)(id1 + 1), id2);
	ck_assert_uint_eq(rig.cap.frames[0].l2_len, 14);
	ck_assert_uint_eq(rig.cap.frames[0].l3_len, 20);
	ck_assert_uint_eq(rig.cap.frames[0].ol_flags & RTE_MBUF_F_TX_IP_CKSUM, 0);
	ck_assert_uint_eq(st()->ip_tx, 2);
	ck_assert_uint_eq(st()->eth_tx, 2);
}
END_TEST

START_TEST(tx_checksum_offload_flags)
{
	sim_rig_destroy(&rig);
	sim_rig_init(&rig, rx_offload);
	ck_assert(ipv4_tx_l4_cksum_offload(rig.s));
	uint32_t dst = ip4(10, 0, 0, 7);
	resolve(dst, peer_mac);
	ck_assert_int_eq(send_l4(dst, 1), 0);
	ck_assert_uint_eq(rig.cap.count, 1);
	const struct captured_frame *c = &rig.cap.frames[0];
	ck_assert(c->ol_flags & RTE_MBUF_F_TX_IPV4);
	ck_assert(c->ol_flags & RTE_MBUF_F_TX_IP_CKSUM);
	ck_assert_uint_eq(c->l2_len, 14);
	ck_assert_uint_eq(c->l3_len, 20);
	ck_assert_uint_eq(c->data[14 + 10] | c->data[14 + 11], 0); /* left to the device */
}
END_TEST

static void with_gateway(struct tpa_stack_config *cfg)
{
	cfg->ipv4_gateway = ip4(10, 0, 0, 254);
}

START_TEST(gateway_routing)
{
	sim_rig_destroy(&rig);
	sim_rig_init(&rig, with_gateway);
	uint32_t far = ip4(192, 0, 2, 9);
	ck_assert_int_eq(send_l4(far, 1), 0);
	/* An ARP request for the gateway, not for the far address. */
	ck_assert_uint_eq(rig.cap.count, 1);
	const uint8_t *f = rig.cap.frames[0].data;
	ck_assert_uint_eq(f[12] << 8 | f[13], 0x0806);
	uint32_t tpa;
	memcpy(&tpa, f + 14 + 24, 4);
	ck_assert_uint_eq(tpa, ip4(10, 0, 0, 254));
	const uint8_t gw_mac[6] = {0x02, 0, 0, 0, 0, 0xfe};
	resolve(ip4(10, 0, 0, 254), gw_mac);
	ck_assert_uint_eq(rig.cap.count, 2);
	f = rig.cap.frames[1].data;
	ck_assert_mem_eq(f, gw_mac, 6);
	uint32_t dst;
	memcpy(&dst, f + 14 + 16, 4);
	ck_assert_uint_eq(dst, far); /* the IP destination stays the far host */
	/* On-link destinations still go direct. */
	ck_assert_int_eq(send_l4(ip4(10, 0, 0, 3), 1), 0);
	memcpy(&tpa, rig.cap.frames[2].data + 14 + 24, 4);
	ck_assert_uint_eq(tpa, ip4(10, 0, 0, 3));
	ck_assert_uint_eq(st()->ip_drop_no_route, 0);
	/* The owner reports the on-link host unreachable: its queued packet is freed. */
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 1);
	tpa_stack_neigh_update(rig.s, ip4(10, 0, 0, 3), NULL);
	ck_assert_uint_eq(tpa_stack_mbufs_held(rig.s), 0);
	ck_assert_uint_eq(st()->arp_queue_drop, 1);
}
END_TEST

START_TEST(no_route)
{
	ck_assert_int_eq(send_l4(ip4(192, 0, 2, 9), 1), -ENETUNREACH);
	ck_assert_uint_eq(st()->ip_drop_no_route, 1);
	ck_assert_uint_eq(rig.cap.count, 0);
}
END_TEST

START_TEST(undeliverable_destinations)
{
	const uint32_t bad[] = {ip4(224, 0, 0, 1), ip4(255, 255, 255, 255), ip4(10, 0, 0, 255),
	                        ip4(0, 0, 0, 0), rig_ip()};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(send_l4(bad[i], 1), -ENETUNREACH);
	ck_assert_uint_eq(st()->ip_drop_no_route, 5);
	ck_assert_uint_eq(rig.cap.count, 0); /* not even an ARP request */
}
END_TEST

START_TEST(oversized_rejected)
{
	uint8_t big[1500];
	memset(big, 0, sizeof(big));
	ck_assert_uint_eq(ipv4_max_l4_len(rig.s), 1480);
	struct rte_mbuf *m = sim_rig_mbuf(&rig, big, 1481);
	ck_assert_int_eq(ipv4_output(rig.s, m, ip4(10, 0, 0, 7), IPPROTO_TCP), -EMSGSIZE);
	ck_assert_uint_eq(st()->ip_drop_len, 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ipv4");
	TCase *tc = tcase_create("ipv4");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, valid_segment_delivered_with_meta);
	tcase_add_test(tc, ethernet_padding_trimmed);
	tcase_add_test(tc, options_skipped);
	tcase_add_loop_test(tc, malformed_dropped_and_counted, 0,
	                    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, rx_checksum_offload_verdicts);
	tcase_add_test(tc, rx_flags_ignored_without_offload);
	tcase_add_test(tc, plain_datagram_as_general);
	tcase_add_test(tc, plain_datagram_as_general_offload);
	tcase_add_test(tc, output_header);
	tcase_add_test(tc, tx_checksum_offload_flags);
	tcase_add_test(tc, gateway_routing);
	tcase_add_test(tc, no_route);
	tcase_add_test(tc, undeliverable_destinations);
	tcase_add_test(tc, oversized_rejected);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
