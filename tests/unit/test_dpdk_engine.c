/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's lifecycle inside a program that runs EAL itself (the test's EAL): a memif port
 * is hot-plugged, the stack runs over it, one engine at a time, and destroy removes the device
 * so a new engine can start again. No peer is needed: a memif server waits for its client.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "test_eal.h"
#include "tpa/dpdk.h"

static char sock_path[128];

static void make_config(struct tpa_engine_config *c)
{
	char err[256];
	tpa_engine_config_init(c);
	snprintf(sock_path, sizeof(sock_path), "/tmp/tpa-unit-memif-%d.sock", (int)getpid());
	ck_assert_int_eq(tpa_engine_config_set(c, "TPA_PORT_TYPE", "memif", err, sizeof(err)), 0);
	ck_assert_int_eq(tpa_engine_config_set(c, "TPA_MEMIF_ROLE", "server", err, sizeof(err)), 0);
	ck_assert_int_eq(tpa_engine_config_set(c, "TPA_MEMIF_SOCKET", sock_path, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(tpa_engine_config_set(c, "TPA_IP", "10.66.0.2/24", err, sizeof(err)), 0);
	ck_assert_int_eq(tpa_engine_config_set(c, "TPA_MAC", "02:00:00:66:00:02", err, sizeof(err)),
	                 0);
	ck_assert_int_eq(tpa_engine_config_set(c, "TPA_MBUFS", "4096", err, sizeof(err)), 0);
}

struct stat_find {
	const char *name;
	uint64_t value;
	int found;
};

static void find_stat(void *arg, const char *name, uint64_t value)
{
	struct stat_find *f = arg;
	if (!strcmp(name, f->name)) {
		f->value = value;
		f->found = 1;
	}
}

static uint64_t engine_stat(struct tpa_engine *e, const char *name)
{
	struct stat_find f = {name, 0, 0};
	tpa_engine_stats_foreach(e, find_stat, &f);
	ck_assert_msg(f.found, "no engine counter %s", name);
	return f.value;
}

static int events_seen;
static void on_event(void *ctx, int sock, const struct tpa_sock_state *st)
{
	(void)sock;
	ck_assert_ptr_nonnull(st);
	ck_assert_ptr_eq(ctx, &events_seen);
	events_seen++;
}

START_TEST(lifecycle_in_a_programs_eal)
{
	test_eal_init();
	struct tpa_engine_config c;
	make_config(&c);
	c.sock_event = on_event;
	c.sock_event_ctx = &events_seen;
	char err[512] = "";
	struct tpa_engine *e = tpa_engine_create(&c, err, sizeof(err));
	ck_assert_msg(e != NULL, "create: %s", err);

	struct tpa_engine_info info;
	tpa_engine_get_info(e, &info);
	ck_assert_str_eq(info.port_name, "net_memif0");
	ck_assert_uint_eq(info.ipv4_addr, inet_addr("10.66.0.2"));
	ck_assert_uint_eq(info.ipv4_prefix_len, 24);
	ck_assert_uint_eq(info.mtu, 1500);
	ck_assert_uint_eq(info.mac[0], 0x02);
	ck_assert_uint_eq(info.mac[5], 0x02);
	ck_assert_int_eq(info.xdp_attached, 0);
	ck_assert_int_eq(info.ifindex, 0);
	ck_assert_ptr_nonnull(tpa_engine_stack(e));

	/* One engine per process. */
	struct tpa_engine_config c2;
	make_config(&c2);
	errno = 0;
	ck_assert_ptr_null(tpa_engine_create(&c2, err, sizeof(err)));
	ck_assert_int_eq(errno, EALREADY);
	ck_assert_ptr_nonnull(strstr(err, "one per process"));

	/* Idle: polling does nothing, waiting returns without work. */
	ck_assert_int_eq(tpa_engine_poll(e), 0);
	ck_assert_int_ge(tpa_engine_wait(e, 1000000), 0);
	ck_assert_int_eq(tpa_engine_wait(e, 0), 0);
	ck_assert_uint_ge(tpa_engine_now_ns(), 1);

	/* A listener is steered (memif: bookkeeping only) through the engine's hooks. */
	struct tpa_stack *st = tpa_engine_stack(e);
	int ls = tpa_socket(st);
	ck_assert_int_ge(ls, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(7777)};
	ck_assert_int_eq(tpa_bind(st, ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(tpa_listen(st, ls, 16), 0);
	ck_assert_uint_eq(engine_stat(e, "steer_on"), 1);
	ck_assert_int_eq(tpa_close(st, ls), 0);
	tpa_engine_poll(e);
	ck_assert_uint_eq(engine_stat(e, "steer_off"), 1);
	ck_assert_int_eq(tpa_engine_steer_port(e, 0, 1), -EINVAL);

	/* An active open takes an ephemeral port from the engine; the SYN has nowhere to go
	 * (no peer), which is fine: closing releases it. */
	int cs = tpa_socket(st);
	struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(80)};
	peer.sin_addr.s_addr = inet_addr("10.66.0.1");
	int rc = tpa_connect(st, cs, (struct sockaddr *)&peer, sizeof(peer));
	ck_assert_msg(rc == -EINPROGRESS || rc == 0, "connect: %d", rc);
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	ck_assert_int_eq(tpa_getsockname(st, cs, (struct sockaddr *)&me, &len), 0);
	ck_assert_uint_ge(ntohs(me.sin_port), 49152);
	tpa_engine_poll(e);
	ck_assert_int_eq(tpa_close(st, cs), 0);

	/* Faults can change at run time and are counted. */
	struct tpa_fault_config fc = {.tx = {.drop_ppm = 1000000}, .seed = 1};
	tpa_engine_set_fault(e, &fc);
	tpa_engine_poll(e);
	ck_assert_uint_eq(engine_stat(e, "fault_rx_dropped"), 0);

	tpa_engine_destroy(e);

	/* The device was removed from the program's EAL: a new engine can start. (A new socket
	 * name: DPDK 22.11's memif closes an idle listening socket only when EAL's interrupt
	 * thread next sees an event on it, so the old name can stay taken.) */
	make_config(&c);
	snprintf(c.memif_socket, sizeof(c.memif_socket), "%s.2", sock_path);
	e = tpa_engine_create(&c, err, sizeof(err));
	ck_assert_msg(e != NULL, "second create: %s", err);
	tpa_engine_destroy(e);
	unlink(sock_path);
}
END_TEST

static Suite *engine_suite(void)
{
	Suite *s = suite_create("dpdk_engine");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, lifecycle_in_a_programs_eal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(engine_suite(), CK_NOFORK);
}
