/* SPDX-License-Identifier: BSD-3-Clause */
/* stack/wire.h: the byte-order helpers at every alignment, and every named offset and value
 * against the same layouts as DPDK's header structs and glibc's netinet headers describe them
 * (two independent statements of the RFCs). */
#include <check.h>
#include <netinet/if_ether.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include "wire.h"

START_TEST(load_store_any_alignment)
{
	uint8_t buf[16];
	for (size_t off = 0; off < 8; off++) {
		memset(buf, 0xee, sizeof(buf));
		wire_store_be16(buf + off, 0x1234);
		ck_assert_uint_eq(buf[off], 0x12);
		ck_assert_uint_eq(buf[off + 1], 0x34);
		ck_assert_uint_eq(buf[off + 2], 0xee); /* nothing past the field */
		ck_assert_uint_eq(wire_load_be16(buf + off), 0x1234);

		wire_store_be32(buf + off, 0x89abcdefu);
		ck_assert_uint_eq(buf[off], 0x89);
		ck_assert_uint_eq(buf[off + 1], 0xab);
		ck_assert_uint_eq(buf[off + 2], 0xcd);
		ck_assert_uint_eq(buf[off + 3], 0xef);
		ck_assert_uint_eq(buf[off + 4], 0xee);
		ck_assert_uint_eq(wire_load_be32(buf + off), 0x89abcdefu);
		/* The same bytes as the host's own conversion. */
		uint32_t be = htonl(0x89abcdefu);
		ck_assert_mem_eq(buf + off, &be, 4);
	}
	/* High bits survive (no sign extension through int promotion). */
	const uint8_t ff[4] = {0xff, 0xff, 0xff, 0xff};
	ck_assert_uint_eq(wire_load_be16(ff), 0xffff);
	ck_assert_uint_eq(wire_load_be32(ff), 0xffffffffu);
}
END_TEST

START_TEST(addresses_stay_in_network_order)
{
	const uint8_t wire[4] = {198, 18, 0, 2};
	uint32_t a = wire_load_addr(wire);
	ck_assert_uint_eq(a, inet_addr("198.18.0.2"));
	uint8_t out[5] = {0};
	wire_store_addr(out + 1, a); /* unaligned */
	ck_assert_mem_eq(out + 1, wire, 4);
}
END_TEST

START_TEST(ethernet_layout)
{
	ck_assert_uint_eq(ETH_HDR_LEN, sizeof(struct rte_ether_hdr));
	ck_assert_uint_eq(ETH_ADDR_LEN, RTE_ETHER_ADDR_LEN);
	ck_assert_uint_eq(ETH_OFF_DST, offsetof(struct rte_ether_hdr, dst_addr));
	ck_assert_uint_eq(ETH_OFF_SRC, offsetof(struct rte_ether_hdr, src_addr));
	ck_assert_uint_eq(ETH_OFF_TYPE, offsetof(struct rte_ether_hdr, ether_type));
	ck_assert_uint_eq(ETH_TYPE_IPV4, RTE_ETHER_TYPE_IPV4);
	ck_assert_uint_eq(ETH_TYPE_ARP, RTE_ETHER_TYPE_ARP);
	ck_assert_uint_eq(ETH_TYPE_VLAN, RTE_ETHER_TYPE_VLAN);
	ck_assert_uint_eq(ETH_TYPE_QINQ, RTE_ETHER_TYPE_QINQ);
}
END_TEST

START_TEST(arp_layout)
{
	const size_t data = offsetof(struct rte_arp_hdr, arp_data);
	ck_assert_uint_eq(ARP_PKT_LEN, sizeof(struct rte_arp_hdr));
	ck_assert_uint_eq(ARP_PKT_LEN, sizeof(struct ether_arp));
	ck_assert_uint_eq(ARP_OFF_HTYPE, offsetof(struct rte_arp_hdr, arp_hardware));
	ck_assert_uint_eq(ARP_OFF_PTYPE, offsetof(struct rte_arp_hdr, arp_protocol));
	ck_assert_uint_eq(ARP_OFF_HLEN, offsetof(struct rte_arp_hdr, arp_hlen));
	ck_assert_uint_eq(ARP_OFF_PLEN, offsetof(struct rte_arp_hdr, arp_plen));
	ck_assert_uint_eq(ARP_OFF_OP, offsetof(struct rte_arp_hdr, arp_opcode));
	ck_assert_uint_eq(ARP_OFF_SHA, data + offsetof(struct rte_arp_ipv4, arp_sha));
	ck_assert_uint_eq(ARP_OFF_SPA, data + offsetof(struct rte_arp_ipv4, arp_sip));
	ck_assert_uint_eq(ARP_OFF_THA, data + offsetof(struct rte_arp_ipv4, arp_tha));
	ck_assert_uint_eq(ARP_OFF_TPA, data + offsetof(struct rte_arp_ipv4, arp_tip));
	ck_assert_uint_eq(ARP_OFF_SPA, offsetof(struct ether_arp, arp_spa));
	ck_assert_uint_eq(ARP_OFF_TPA, offsetof(struct ether_arp, arp_tpa));
	ck_assert_uint_eq(ARP_HTYPE_ETHER, RTE_ARP_HRD_ETHER);
	ck_assert_uint_eq(ARP_OP_REQUEST, RTE_ARP_OP_REQUEST);
	ck_assert_uint_eq(ARP_OP_REPLY, RTE_ARP_OP_REPLY);
}
END_TEST

START_TEST(ipv4_layout)
{
	ck_assert_uint_eq(IPV4_HDR_LEN, sizeof(struct rte_ipv4_hdr));
	ck_assert_uint_eq(IPV4_HDR_LEN, sizeof(struct iphdr));
	ck_assert_uint_eq(IPV4_HDR_MAX, RTE_IPV4_HDR_IHL_MASK * RTE_IPV4_IHL_MULTIPLIER);
	ck_assert_uint_eq(IPV4_OFF_VER_IHL, offsetof(struct rte_ipv4_hdr, version_ihl));
	ck_assert_uint_eq(IPV4_OFF_TOS, offsetof(struct rte_ipv4_hdr, type_of_service));
	ck_assert_uint_eq(IPV4_OFF_TOT_LEN, offsetof(struct rte_ipv4_hdr, total_length));
	ck_assert_uint_eq(IPV4_OFF_ID, offsetof(struct rte_ipv4_hdr, packet_id));
	ck_assert_uint_eq(IPV4_OFF_FRAG, offsetof(struct rte_ipv4_hdr, fragment_offset));
	ck_assert_uint_eq(IPV4_OFF_TTL, offsetof(struct rte_ipv4_hdr, time_to_live));
	ck_assert_uint_eq(IPV4_OFF_PROTO, offsetof(struct rte_ipv4_hdr, next_proto_id));
	ck_assert_uint_eq(IPV4_OFF_CSUM, offsetof(struct rte_ipv4_hdr, hdr_checksum));
	ck_assert_uint_eq(IPV4_OFF_SRC, offsetof(struct rte_ipv4_hdr, src_addr));
	ck_assert_uint_eq(IPV4_OFF_DST, offsetof(struct rte_ipv4_hdr, dst_addr));
	ck_assert_uint_eq(IPV4_OFF_SRC, offsetof(struct iphdr, saddr));
	ck_assert_uint_eq(IPV4_VER_IHL_NO_OPTS, RTE_IPV4_VHL_DEF);
	ck_assert_uint_eq(IPV4_FLAG_DF, IP_DF);
	ck_assert_uint_eq(IPV4_FLAG_MF, IP_MF);
	ck_assert_uint_eq(IPV4_FRAG_OFFSET_MASK, IP_OFFMASK);

	/* The accessors on a header with options (IHL 6). */
	uint8_t h[24] = {0x46};
	ck_assert_uint_eq(ipv4_hdr_version(h), IPV4_VERSION);
	ck_assert_uint_eq(ipv4_hdr_len(h), 24);
	ck_assert_uint_eq(ipv4_hdr_len(h), rte_ipv4_hdr_len((const struct rte_ipv4_hdr *)h));
}
END_TEST

START_TEST(tcp_layout)
{
	ck_assert_uint_eq(TCP_HDR_LEN, sizeof(struct rte_tcp_hdr));
	ck_assert_uint_eq(TCP_HDR_LEN, sizeof(struct tcphdr));
	ck_assert_uint_eq(TCP_HDR_MAX, 15 * 4);
	ck_assert_uint_eq(TCP_OFF_SPORT, offsetof(struct rte_tcp_hdr, src_port));
	ck_assert_uint_eq(TCP_OFF_DPORT, offsetof(struct rte_tcp_hdr, dst_port));
	ck_assert_uint_eq(TCP_OFF_SEQ, offsetof(struct rte_tcp_hdr, sent_seq));
	ck_assert_uint_eq(TCP_OFF_ACK, offsetof(struct rte_tcp_hdr, recv_ack));
	ck_assert_uint_eq(TCP_OFF_DATAOFF, offsetof(struct rte_tcp_hdr, data_off));
	ck_assert_uint_eq(TCP_OFF_FLAGS, offsetof(struct rte_tcp_hdr, tcp_flags));
	ck_assert_uint_eq(TCP_OFF_WIN, offsetof(struct rte_tcp_hdr, rx_win));
	ck_assert_uint_eq(TCP_OFF_CSUM, offsetof(struct rte_tcp_hdr, cksum));
	ck_assert_uint_eq(TCP_OFF_URP, offsetof(struct rte_tcp_hdr, tcp_urp));

	uint8_t th[TCP_HDR_MAX] = {0};
	th[TCP_OFF_DATAOFF] = 0xf0; /* 15 words */
	ck_assert_uint_eq(tcp_hdr_len(th), TCP_HDR_MAX);
	ck_assert_uint_eq(TCP_OFF_DATAOFF, 12);
	ck_assert_uint_eq(TCP_OFF_CSUM, offsetof(struct tcphdr, th_sum));

	ck_assert_uint_eq(TCP_OPT_EOL, TCPOPT_EOL);
	ck_assert_uint_eq(TCP_OPT_NOP, TCPOPT_NOP);
	ck_assert_uint_eq(TCP_OPT_MSS, TCPOPT_MAXSEG);
	ck_assert_uint_eq(TCP_OPT_MSS_LEN, TCPOLEN_MAXSEG);
	ck_assert_uint_eq(TCP_OPT_WSCALE, TCPOPT_WINDOW);
	ck_assert_uint_eq(TCP_OPT_WSCALE_LEN, TCPOLEN_WINDOW);
	ck_assert_uint_eq(TCP_OPT_SACK_PERM, TCPOPT_SACK_PERMITTED);
	ck_assert_uint_eq(TCP_OPT_SACK_PERM_LEN, TCPOLEN_SACK_PERMITTED);
	ck_assert_uint_eq(TCP_OPT_SACK, TCPOPT_SACK);
	ck_assert_uint_eq(TCP_OPT_TS, TCPOPT_TIMESTAMP);
	ck_assert_uint_eq(TCP_OPT_TS_LEN, TCPOLEN_TIMESTAMP);
	ck_assert_uint_eq(TCP_OPT_TS_OFF_TSECR, TCP_OPT_TS_OFF_TSVAL + 4);
	ck_assert_uint_eq(TCP_OPT_TS_LEN, TCP_OPT_TS_OFF_TSECR + 4);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, load_store_any_alignment);
	tcase_add_test(tc, addresses_stay_in_network_order);
	tcase_add_test(tc, ethernet_layout);
	tcase_add_test(tc, arp_layout);
	tcase_add_test(tc, ipv4_layout);
	tcase_add_test(tc, tcp_layout);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
