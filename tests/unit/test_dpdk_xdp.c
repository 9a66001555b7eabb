/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The XDP steering program, run by the kernel on crafted frames (BPF_PROG_TEST_RUN): exactly the
 * frames the engine serves (IPv4, unfragmented TCP, to our address, to a steered port; IP
 * options allowed) are matched for redirection (XDP) or dropped before the kernel's TCP (tc,
 * for af_packet); everything else, including truncated and malformed frames, goes to the
 * kernel. Needs CAP_BPF (root); the build's object is used.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <check.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "../../dpdk/xdp/tpa_steer_maps.h"

static struct bpf_object *obj;
static int prog_fd = -1, tc_fd = -1, ports_fd = -1, config_fd = -1, stats_fd = -1;

#define OUR_IP htonl(0xc6120002u) /* 198.18.0.2 */

static void find_object(char *path, size_t len)
{
	const char *env = getenv("TPA_XDP_PROG");
	if (env) {
		snprintf(path, len, "%s", env);
		return;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	snprintf(path, len, "%s/../dpdk/tpa_steer.bpf.o", dirname(exe));
}

static void setup(void)
{
	char path[PATH_MAX];
	find_object(path, sizeof(path));
	obj = bpf_object__open_file(path, NULL);
	ck_assert_msg(obj != NULL, "cannot open %s", path);
	int rc = bpf_object__load(obj);
	ck_assert_msg(rc == 0, "loading %s: %s (needs root)", path, strerror(-rc));
	struct bpf_program *p = bpf_object__find_program_by_name(obj, TPA_STEER_PROG_NAME);
	ck_assert_ptr_nonnull(p);
	prog_fd = bpf_program__fd(p);
	struct bpf_program *tc = bpf_object__find_program_by_name(obj, "tpa_steer_tc");
	ck_assert_ptr_nonnull(tc);
	tc_fd = bpf_program__fd(tc);
	ports_fd = bpf_object__find_map_fd_by_name(obj, TPA_STEER_MAP_PORTS);
	config_fd = bpf_object__find_map_fd_by_name(obj, TPA_STEER_MAP_CONFIG);
	stats_fd = bpf_object__find_map_fd_by_name(obj, TPA_STEER_MAP_STATS);
	ck_assert_int_ge(ports_fd, 0);
	ck_assert_int_ge(config_fd, 0);
	ck_assert_int_ge(stats_fd, 0);
	ck_assert_int_ge(bpf_object__find_map_fd_by_name(obj, TPA_STEER_MAP_XSKS), 0);
	struct tpa_steer_config c = {.ipv4_addr = OUR_IP};
	uint32_t key = 0;
	ck_assert_int_eq(bpf_map_update_elem(config_fd, &key, &c, BPF_ANY), 0);
	uint16_t port = 5001;
	uint8_t one = 1;
	ck_assert_int_eq(bpf_map_update_elem(ports_fd, &port, &one, BPF_ANY), 0);
}

static void teardown(void)
{
	bpf_object__close(obj);
	obj = NULL;
}

static uint64_t stat(uint32_t key)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t vals[1024];
	ck_assert_int_gt(ncpu, 0);
	ck_assert_int_le(ncpu, 1024);
	ck_assert_int_eq(bpf_map_lookup_elem(stats_fd, &key, vals), 0);
	uint64_t sum = 0;
	for (int i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

/* Run the program on a frame; returns 1 if it chose to redirect (counted as matched with no
 * socket: there is no AF_XDP socket here), 0 if it passed the frame to the kernel. */
static int matched(const uint8_t *frame, size_t len)
{
	uint64_t m0 = stat(TPA_STEER_STAT_NO_SOCKET), p0 = stat(TPA_STEER_STAT_PASS);
	uint8_t out[256];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (uint32_t)len,
	            .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	int rc = bpf_prog_test_run_opts(prog_fd, &o);
	ck_assert_msg(rc == 0, "test run: %s", strerror(-rc));
	ck_assert_int_eq(o.retval, XDP_PASS); /* no socket: the fallback is always PASS */
	uint64_t m1 = stat(TPA_STEER_STAT_NO_SOCKET), p1 = stat(TPA_STEER_STAT_PASS);
	ck_assert_uint_eq((m1 - m0) + (p1 - p0), 1); /* counted exactly once */
	int xdp_match = m1 != m0;
	/* The tc variant (af_packet ports) must decide the same: drop what tpa serves. */
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = frame, .data_size_in = (uint32_t)len,
	            .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	/* The kernel's skb test run refuses IPv4 frames shorter than an IP header. */
	if (len >= 14 + 20) {
		rc = bpf_prog_test_run_opts(tc_fd, &t);
		ck_assert_msg(rc == 0, "tc test run: %s", strerror(-rc));
		ck_assert_int_eq(t.retval, xdp_match ? TC_ACT_SHOT : TC_ACT_OK);
	}
	return xdp_match;
}

/* Ethernet + IPv4 (ihl words, options NOP-filled) + TCP header to dst:dport. Returns length. */
static size_t build(uint8_t *f, uint16_t ethertype, uint8_t version, uint8_t ihl, uint8_t proto,
                    uint16_t frag, uint32_t dst, uint16_t dport)
{
	memset(f, 0, 128);
	memset(f, 0xff, 6);
	f[6] = 0x02;
	f[12] = (uint8_t)(ethertype >> 8);
	f[13] = (uint8_t)ethertype;
	uint8_t *ip = f + 14;
	ip[0] = (uint8_t)(version << 4 | ihl);
	size_t ihl_bytes = (size_t)ihl * 4;
	size_t tot = ihl_bytes + 20;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[6] = (uint8_t)(frag >> 8);
	ip[7] = (uint8_t)frag;
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, "\xc6\x12\x00\x01", 4);
	memcpy(ip + 16, &dst, 4);
	for (size_t i = 20; i < ihl_bytes && i < 60; i++)
		ip[i] = 1; /* NOP */
	uint8_t *tcp = ip + (ihl_bytes >= 20 ? ihl_bytes : 20);
	tcp[0] = 0x9c;
	tcp[1] = 0x40;
	tcp[2] = (uint8_t)(dport >> 8);
	tcp[3] = (uint8_t)dport;
	tcp[12] = 0x50;
	tcp[13] = 0x02; /* SYN */
	return 14 + (ihl_bytes >= 20 ? ihl_bytes : 20) + 20;
}

START_TEST(steered_tcp_matches)
{
	uint8_t f[128];
	size_t n = build(f, 0x0800, 4, 5, 6, 0x4000 /* DF */, OUR_IP, 5001);
	ck_assert_int_eq(matched(f, n), 1);
}
END_TEST

START_TEST(ip_options_match)
{
	uint8_t f[128];
	for (uint8_t ihl = 6; ihl <= 15; ihl++) {
		size_t n = build(f, 0x0800, 4, ihl, 6, 0, OUR_IP, 5001);
		ck_assert_msg(matched(f, n) == 1, "IHL %u not matched", ihl);
	}
}
END_TEST

START_TEST(other_traffic_passes)
{
	uint8_t f[128];
	size_t n;
	n = build(f, 0x0800, 4, 5, 6, 0, OUR_IP, 5002); /* port not steered */
	ck_assert_int_eq(matched(f, n), 0);
	n = build(f, 0x0800, 4, 5, 6, 0, htonl(0xc6120003u), 5001); /* other address */
	ck_assert_int_eq(matched(f, n), 0);
	n = build(f, 0x0800, 4, 5, 17, 0, OUR_IP, 5001); /* UDP */
	ck_assert_int_eq(matched(f, n), 0);
	n = build(f, 0x0800, 4, 5, 1, 0, OUR_IP, 5001); /* ICMP */
	ck_assert_int_eq(matched(f, n), 0);
	n = build(f, 0x0806, 4, 5, 6, 0, OUR_IP, 5001); /* ARP ethertype */
	ck_assert_int_eq(matched(f, n), 0);
	n = build(f, 0x86dd, 6, 0, 6, 0, OUR_IP, 5001); /* IPv6 */
	ck_assert_int_eq(matched(f, n), 0);
	n = build(f, 0x8100, 4, 5, 6, 0, OUR_IP, 5001); /* VLAN tag: kernel's */
	ck_assert_int_eq(matched(f, n), 0);
}
END_TEST

START_TEST(fragments_pass)
{
	uint8_t f[128];
	size_t n = build(f, 0x0800, 4, 5, 6, 0x2000 /* MF */, OUR_IP, 5001);
	ck_assert_int_eq(matched(f, n), 0);
	n = build(f, 0x0800, 4, 5, 6, 0x0010 /* offset 16 */, OUR_IP, 5001);
	ck_assert_int_eq(matched(f, n), 0);
	n = build(f, 0x0800, 4, 5, 6, 0x4000 | 0x0001, OUR_IP, 5001);
	ck_assert_int_eq(matched(f, n), 0);
}
END_TEST

START_TEST(malformed_passes)
{
	uint8_t f[128];
	size_t n;
	n = build(f, 0x0800, 6, 5, 6, 0, OUR_IP, 5001); /* version 6 in an IPv4 frame */
	ck_assert_int_eq(matched(f, n), 0);
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		n = build(f, 0x0800, 4, ihl, 6, 0, OUR_IP, 5001);
		ck_assert_msg(matched(f, n) == 0, "IHL %u matched", ihl);
	}
	/* Truncated anywhere before the end of the TCP ports: never matched, never a fault. */
	n = build(f, 0x0800, 4, 5, 6, 0, OUR_IP, 5001);
	ck_assert_uint_eq(n, 14 + 20 + 20);
	for (size_t cut = 14; cut < n; cut++)
		ck_assert_msg(matched(f, cut) == 0 || cut >= 14 + 20 + 20,
		              "truncated at %zu matched", cut);
	/* IHL 15 claims 60 bytes of header but the frame ends inside it. */
	n = build(f, 0x0800, 4, 15, 6, 0, OUR_IP, 5001);
	ck_assert_int_eq(matched(f, 14 + 40), 0);
	ck_assert_int_eq(matched(f, n), 1);
}
END_TEST

START_TEST(any_address_when_unset)
{
	struct tpa_steer_config c = {.ipv4_addr = 0};
	uint32_t key = 0;
	ck_assert_int_eq(bpf_map_update_elem(config_fd, &key, &c, BPF_ANY), 0);
	uint8_t f[128];
	size_t n = build(f, 0x0800, 4, 5, 6, 0, htonl(0xc6120003u), 5001);
	ck_assert_int_eq(matched(f, n), 1);
}
END_TEST

START_TEST(port_removal_stops_matching)
{
	uint8_t f[128];
	size_t n = build(f, 0x0800, 4, 5, 6, 0, OUR_IP, 5001);
	ck_assert_int_eq(matched(f, n), 1);
	uint16_t port = 5001;
	ck_assert_int_eq(bpf_map_delete_elem(ports_fd, &port), 0);
	ck_assert_int_eq(matched(f, n), 0);
	uint8_t zero = 0;
	ck_assert_int_eq(bpf_map_update_elem(ports_fd, &port, &zero, BPF_ANY), 0);
	ck_assert_int_eq(matched(f, n), 0); /* present but off */
}
END_TEST

static Suite *xdp_suite(void)
{
	Suite *s = suite_create("dpdk_xdp");
	TCase *tc = tcase_create("steer");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, steered_tcp_matches);
	tcase_add_test(tc, ip_options_match);
	tcase_add_test(tc, other_traffic_passes);
	tcase_add_test(tc, fragments_pass);
	tcase_add_test(tc, malformed_passes);
	tcase_add_test(tc, any_address_when_unset);
	tcase_add_test(tc, port_removal_stops_matching);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("SKIP: loading BPF programs needs root\n");
		return 77;
	}
	libbpf_set_print(NULL);
	return check_run(xdp_suite(), CK_NOFORK);
}
