/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Engine settings: defaults, every setting accepted with a good value (and landing in the right
 * field), every setting rejected with a bad value by a message that names the setting, repeats
 * the value and says what is accepted, the environment path, and the engine's refusal of
 * incomplete configs before it touches DPDK.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "tpa/dpdk.h"

struct sample {
	const char *name;
	const char *good;
	const char *bad;
};

/* One good and one bad value for every engine setting. */
static const struct sample samples[] = {
        {"TPA_PORT_TYPE", "memif", "xdp"},
        {"TPA_IFACE", "eth1", "an-interface-name-much-too-long"},
        {"TPA_MEMIF_SOCKET", "/tmp/m.sock", NULL},
        {"TPA_MEMIF_ROLE", "server", "master"},
        {"TPA_MEMIF_ID", "7", "-1"},
        {"TPA_PCI_ADDR", "0000:03:00.0", "0000:03:00.0-and-much-more-than-fits-here"},
        {"TPA_QUEUE", "3", "64"},
        {"TPA_QUEUES", "2-5", "5-2"},
        {"TPA_RX_CSUM_PARTIAL", "no", "sometimes"},
        {"TPA_MAC", "02:00:00:00:00:01", "01:00:5e:00:00:01"},
        {"TPA_IP", "10.1.2.3/16", "10.1.2.3/33"},
        {"TPA_GATEWAY", "10.1.0.1", "10.1.0"},
        {"TPA_MTU", "9000", "100"},
        {"TPA_XDP_PROG", "/opt/x.o", NULL},
        {"TPA_XDP_STEER", "no", "maybe"},
        {"TPA_EAL_ARGS", "--log-level=debug", NULL},
        {"TPA_OWNER", "tpad", "kernel"},
        {"TPA_TPAD", "/usr/sbin/tpad", NULL},
        {"TPA_HUGEPAGES", "no", "sometimes"},
        {"TPA_MBUFS", "65536", "10"},
        {"TPA_MAX_SOCKETS", "1000", "0"},
        {"TPA_WATCHDOG", "0", "2"},
        {"TPA_LOG_LEVEL", "debug", "a-log-level-name-far-too-long"},
        {"TPA_TCP_SNDBUF", "1048576", "1k"},
        {"TPA_TCP_RCVBUF", "1048576", ""},
        {"TPA_TCP_OOO_LIMIT", "65536", "x"},
        {"TPA_TCP_RTO_MIN_MS", "100", "0"},
        {"TPA_TCP_RTO_MAX_MS", "60000", "99"},
        {"TPA_TCP_RTO_INITIAL_MS", "500", "0"},
        {"TPA_TCP_SYN_RETRIES", "3", "0"},
        {"TPA_TCP_SYNACK_RETRIES", "3", "200"},
        {"TPA_TCP_DATA_RETRIES", "8", "-3"},
        {"TPA_TCP_DELACK_MS", "0", "501"},
        {"TPA_TCP_TIME_WAIT_MS", "1000", "1e3"},
        {"TPA_TCP_FIN_WAIT2_MS", "1000", " 5"},
        {"TPA_TCP_KEEPALIVE_IDLE_S", "60", "0"},
        {"TPA_TCP_KEEPALIVE_INTVL_S", "10", "40000"},
        {"TPA_TCP_KEEPALIVE_CNT", "5", "0"},
        {"TPA_TCP_INITIAL_CWND", "4", "0"},
        {"TPA_TCP_CC", "cubic", "bbr"},
        {"TPA_TCP_TIMESTAMPS", "off", "2"},
        {"TPA_TCP_WINDOW_SCALING", "false", "nope"},
        {"TPA_TCP_SACK", "0", "-"},
        {"TPA_TCP_SYNCOOKIES", "no", "sometimes"},
        {"TPA_FAULT_DROP", "2%", "150%"},
        {"TPA_FAULT_DUP", "0.01", "-0.1"},
        {"TPA_FAULT_REORDER", "1%", "1.5"},
        {"TPA_FAULT_CORRUPT", "0.001", "abc"},
        {"TPA_FAULT_RX_DROP", "0.5", "2%%"},
        {"TPA_FAULT_RX_DUP", "0", "x%"},
        {"TPA_FAULT_RX_REORDER", "100%", "101%"},
        {"TPA_FAULT_RX_CORRUPT", "1", "2"},
        {"TPA_FAULT_TX_DROP", "0.25", ""},
        {"TPA_FAULT_TX_DUP", "0.3", "0.3x"},
        {"TPA_FAULT_TX_REORDER", "3%", "%"},
        {"TPA_FAULT_TX_CORRUPT", "0", "nan"},
        {"TPA_FAULT_SEED", "12345678901234", "seed"},
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

static const struct sample *find_sample(const char *name)
{
	for (size_t i = 0; i < NSAMPLES; i++)
		if (!strcmp(samples[i].name, name))
			return &samples[i];
	return NULL;
}

static void count_setting(void *arg, const char *name, const char *help)
{
	int *n = arg;
	ck_assert_msg(find_sample(name) != NULL, "setting %s has no test sample", name);
	ck_assert_msg(help && strlen(help) > 5, "setting %s has no help text", name);
	(*n)++;
}

START_TEST(every_setting_has_a_sample)
{
	int n = 0;
	tpa_engine_config_foreach(count_setting, &n);
	ck_assert_int_eq(n, (int)NSAMPLES);
}
END_TEST

START_TEST(queue_ranges)
{
	struct tpa_engine_config c;
	tpa_engine_config_init(&c);
	ck_assert_uint_eq(c.queue, 0);
	ck_assert_uint_eq(c.queue_count, 0); /* every queue */
	ck_assert_int_eq(c.rx_csum_partial, -1);
	char err[256];
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_QUEUES", "4", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.queue, 4);
	ck_assert_uint_eq(c.queue_count, 1);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_QUEUES", "0-63", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.queue, 0);
	ck_assert_uint_eq(c.queue_count, 64);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_QUEUES", "ALL", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.queue_count, 0);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_QUEUE", "7", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.queue, 7);
	ck_assert_uint_eq(c.queue_count, 1);
	const char *bad[] = {"", "-", "1-", "-3", "3-1", "0-64", "64", "a-b", "1,2", "1--2", " 1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tpa_engine_config before = c;
		ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_QUEUES", bad[i], err, sizeof(err)),
		                 -EINVAL);
		ck_assert_msg(strstr(err, "TPA_QUEUES") && strstr(err, "all"), "%s", err);
		ck_assert_int_eq(memcmp(&before, &c, sizeof(c)), 0);
	}
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_RX_CSUM_PARTIAL", "yes", err, sizeof(err)),
	                 0);
	ck_assert_int_eq(c.rx_csum_partial, 1);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_RX_CSUM_PARTIAL", "auto", err, sizeof(err)),
	                 0);
	ck_assert_int_eq(c.rx_csum_partial, -1);
}
END_TEST

START_TEST(defaults)
{
	struct tpa_engine_config c;
	ck_assert_int_eq(tpa_engine_config_init(&c), 0);
	ck_assert_int_eq(c.port_kind, TPA_PORT_AF_XDP);
	ck_assert_int_eq(c.xdp_steer, 1);
	ck_assert_int_eq(c.hugepages, -1);
	ck_assert_uint_eq(c.mbufs, 16384);
	ck_assert_int_eq(c.watchdog, 1);
	ck_assert_str_eq(c.iface, "");
	ck_assert_uint_eq(c.ipv4_addr, 0);
	ck_assert_int_eq(c.mac_set, 0);
	struct tpa_stack_config sc;
	tpa_stack_config_init(&sc);
	ck_assert_int_eq(memcmp(&c.tcp, &sc.tcp, sizeof(c.tcp)), 0);
	ck_assert_uint_eq(c.fault.rx.drop_ppm, 0);
	ck_assert_uint_eq(c.fault.tx.reorder_ppm, 0);
}
END_TEST

/* Every good value is accepted and changes the config; every bad one is refused with a
 * message naming the setting and listing what is accepted, leaving the config untouched. */
START_TEST(good_and_bad_values)
{
	for (size_t i = 0; i < NSAMPLES; i++) {
		const struct sample *sm = &samples[i];
		struct tpa_engine_config c, before;
		tpa_engine_config_init(&c);
		before = c;
		char err[512] = "";
		int rc = tpa_engine_config_set(&c, sm->name, sm->good, err, sizeof(err));
		ck_assert_msg(rc == 0, "%s=%s refused: %s", sm->name, sm->good, err);
		if (strcmp(sm->good, "0") && strcmp(sm->name, "TPA_FAULT_RX_DUP") &&
		    strcmp(sm->name, "TPA_FAULT_TX_CORRUPT"))
			ck_assert_msg(memcmp(&c, &before, sizeof(c)) != 0, "%s=%s changed nothing",
			              sm->name, sm->good);
		if (!sm->bad) /* free-form paths/arguments: only length can be wrong */
			continue;
		struct tpa_engine_config d;
		tpa_engine_config_init(&d);
		struct tpa_engine_config d0 = d;
		err[0] = '\0';
		rc = tpa_engine_config_set(&d, sm->name, sm->bad, err, sizeof(err));
		ck_assert_msg(rc == -EINVAL, "%s=%s accepted (rc %d)", sm->name, sm->bad, rc);
		ck_assert_msg(strstr(err, sm->name) != NULL, "error for %s does not name it: %s",
		              sm->name, err);
		ck_assert_msg(strstr(err, "accepted") || strstr(err, "at most"),
		              "error for %s lists no accepted values: %s", sm->name, err);
		if (sm->bad[0] && strlen(sm->bad) < 20)
			ck_assert_msg(strstr(err, sm->bad) != NULL,
			              "error for %s does not repeat the value '%s': %s", sm->name,
			              sm->bad, err);
		ck_assert_msg(memcmp(&d.port_kind, &d0.port_kind, sizeof(d.port_kind)) == 0 &&
		                      d.fault.rx.drop_ppm == d0.fault.rx.drop_ppm,
		              "%s: bad value changed the config", sm->name);
	}
}
END_TEST

START_TEST(long_strings_rejected)
{
	char longv[1200];
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	const char *names[] = {"TPA_MEMIF_SOCKET", "TPA_XDP_PROG", "TPA_EAL_ARGS", "TPA_IFACE"};
	for (size_t i = 0; i < 4; i++) {
		struct tpa_engine_config c;
		tpa_engine_config_init(&c);
		char err[256] = "";
		ck_assert_int_eq(tpa_engine_config_set(&c, names[i], longv, err, sizeof(err)),
		                 -EINVAL);
		ck_assert_ptr_nonnull(strstr(err, names[i]));
		ck_assert_ptr_nonnull(strstr(err, "too long"));
	}
}
END_TEST

START_TEST(specific_fields)
{
	struct tpa_engine_config c;
	tpa_engine_config_init(&c);
	char err[256];
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_IP", "198.18.0.2/24", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.ipv4_addr, inet_addr("198.18.0.2"));
	ck_assert_uint_eq(c.ipv4_prefix_len, 24);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_IP", "10.0.0.1", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.ipv4_prefix_len, 24);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_IP", "10.0.0.1/8", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.ipv4_prefix_len, 8);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_IP", "0.0.0.0", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_GATEWAY", "0.0.0.0", err, sizeof(err)), 0);
	ck_assert_int_eq(c.ipv4_gateway_set, 1);
	ck_assert_uint_eq(c.ipv4_gateway, 0);
	ck_assert_int_eq(
	        tpa_engine_config_set(&c, "TPA_MAC", "02:aa:bb:cc:dd:ee", err, sizeof(err)), 0);
	ck_assert_int_eq(c.mac_set, 1);
	ck_assert_uint_eq(c.mac[1], 0xaa);
	ck_assert_uint_eq(c.mac[5], 0xee);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_MAC", "02:aa:bb:cc:dd", err, sizeof(err)),
	                 -EINVAL);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_PORT_TYPE", "AF_PACKET", err, sizeof(err)),
	                 0);
	ck_assert_int_eq(c.port_kind, TPA_PORT_AF_PACKET);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_PORT_TYPE", "pci", err, sizeof(err)), 0);
	ck_assert_int_eq(c.port_kind, TPA_PORT_PCI);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_TCP_CC", "newreno", err, sizeof(err)), 0);
	ck_assert_int_eq(c.tcp.cc, TPA_CC_NEWRENO);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_HUGEPAGES", "auto", err, sizeof(err)), 0);
	ck_assert_int_eq(c.hugepages, -1);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_HUGEPAGES", "yes", err, sizeof(err)), 0);
	ck_assert_int_eq(c.hugepages, 1);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_MTU", "1400", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.mtu, 1400);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_FAULT_SEED", "0x10", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.fault.seed, 16);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_TCP_RCVBUF", "4096", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.tcp.rcvbuf, 4096);
}
END_TEST

START_TEST(fault_rates_directions)
{
	struct tpa_engine_config c;
	tpa_engine_config_init(&c);
	char err[256];
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_FAULT_DROP", "2%", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.fault.rx.drop_ppm, 20000);
	ck_assert_uint_eq(c.fault.tx.drop_ppm, 20000);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_FAULT_RX_DROP", "0.5", err, sizeof(err)),
	                 0);
	ck_assert_uint_eq(c.fault.rx.drop_ppm, 500000);
	ck_assert_uint_eq(c.fault.tx.drop_ppm, 20000);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_FAULT_TX_REORDER", "1%", err, sizeof(err)),
	                 0);
	ck_assert_uint_eq(c.fault.tx.reorder_ppm, 10000);
	ck_assert_uint_eq(c.fault.rx.reorder_ppm, 0);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_FAULT_CORRUPT", "1", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.fault.rx.corrupt_ppm, 1000000);
	ck_assert_uint_eq(c.fault.tx.corrupt_ppm, 1000000);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_FAULT_DUP", "0.000001", err, sizeof(err)),
	                 0);
	ck_assert_uint_eq(c.fault.rx.dup_ppm, 1);
}
END_TEST

START_TEST(parse_rate)
{
	uint32_t ppm = 7;
	ck_assert_int_eq(tpa_engine_parse_rate("0", &ppm), 0);
	ck_assert_uint_eq(ppm, 0);
	ck_assert_int_eq(tpa_engine_parse_rate("0.02", &ppm), 0);
	ck_assert_uint_eq(ppm, 20000);
	ck_assert_int_eq(tpa_engine_parse_rate("2%", &ppm), 0);
	ck_assert_uint_eq(ppm, 20000);
	ck_assert_int_eq(tpa_engine_parse_rate("100%", &ppm), 0);
	ck_assert_uint_eq(ppm, 1000000);
	const char *bad[] = {"", "%", "1.01", "-0", "-1", "2%%", "1e-1x", "inf", "nan", " 1", "0x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ppm = 7;
		int rc = tpa_engine_parse_rate(bad[i], &ppm);
		ck_assert_msg(rc == -EINVAL, "rate '%s' accepted", bad[i]);
		ck_assert_uint_eq(ppm, 7);
	}
}
END_TEST

START_TEST(unknown_names_are_not_mine)
{
	struct tpa_engine_config c, before;
	tpa_engine_config_init(&c);
	before = c;
	char err[64] = "";
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_PORTS", "6379", err, sizeof(err)), 1);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_CONNECT", "10.0.0.0/8", err, sizeof(err)),
	                 1);
	ck_assert_int_eq(tpa_engine_config_set(&c, "tpa_iface", "x", err, sizeof(err)), 1);
	ck_assert_int_eq(memcmp(&c, &before, sizeof(c)), 0);
	/* A known name without a value is an error, not "not mine". */
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_IFACE", NULL, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "TPA_IFACE"));
	/* A NULL err buffer is allowed. */
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_MTU", "1", NULL, 0), -EINVAL);
}
END_TEST

START_TEST(from_env)
{
	setenv("TPA_IFACE", "veth9", 1);
	setenv("TPA_FAULT_DROP", "1%", 1);
	setenv("TPA_FAULT_TX_DROP", "3%", 1);
	setenv("TPA_TCP_DELACK_MS", "0", 1);
	setenv("TPA_PORTS", "80", 1); /* the shim's: ignored here */
	struct tpa_engine_config c;
	tpa_engine_config_init(&c);
	char err[256] = "";
	ck_assert_int_eq(tpa_engine_config_from_env(&c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.iface, "veth9");
	ck_assert_uint_eq(c.fault.rx.drop_ppm, 10000);
	ck_assert_uint_eq(c.fault.tx.drop_ppm, 30000); /* the specific one wins */
	ck_assert_uint_eq(c.tcp.delack_ms, 0);
	setenv("TPA_MBUFS", "lots", 1);
	ck_assert_int_eq(tpa_engine_config_from_env(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "TPA_MBUFS"));
	ck_assert_ptr_nonnull(strstr(err, "lots"));
	unsetenv("TPA_IFACE");
	unsetenv("TPA_FAULT_DROP");
	unsetenv("TPA_FAULT_TX_DROP");
	unsetenv("TPA_TCP_DELACK_MS");
	unsetenv("TPA_PORTS");
	unsetenv("TPA_MBUFS");
}
END_TEST

/* The engine refuses incomplete configs with a message naming the missing setting, before it
 * starts DPDK (so the process can fix the config and try again). */
START_TEST(create_refuses_incomplete_config)
{
	struct tpa_engine_config c;
	char err[512];
	tpa_engine_config_init(&c);
	errno = 0;
	ck_assert_ptr_null(tpa_engine_create(&c, err, sizeof(err)));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "TPA_IFACE"));

	tpa_engine_config_init(&c);
	c.port_kind = TPA_PORT_MEMIF;
	ck_assert_ptr_null(tpa_engine_create(&c, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "TPA_IP"));

	tpa_engine_config_init(&c);
	c.port_kind = TPA_PORT_PCI;
	ck_assert_ptr_null(tpa_engine_create(&c, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "TPA_PCI_ADDR"));

	tpa_engine_config_init(&c);
	ck_assert_int_eq(tpa_engine_config_set(&c, "TPA_IFACE", "tpa-nonexist0", err, sizeof(err)),
	                 0);
	errno = 0;
	ck_assert_ptr_null(tpa_engine_create(&c, err, sizeof(err)));
	ck_assert_int_eq(errno, ENODEV);
	ck_assert_ptr_nonnull(strstr(err, "tpa-nonexist0"));

	ck_assert_ptr_null(tpa_engine_create(NULL, err, sizeof(err)));
	ck_assert_int_eq(errno, EINVAL);
	tpa_engine_destroy(NULL); /* a no-op */
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("dpdk_config");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, every_setting_has_a_sample);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, queue_ranges);
	tcase_add_test(tc, good_and_bad_values);
	tcase_add_test(tc, long_strings_rejected);
	tcase_add_test(tc, specific_fields);
	tcase_add_test(tc, fault_rates_directions);
	tcase_add_test(tc, parse_rate);
	tcase_add_test(tc, unknown_names_are_not_mine);
	tcase_add_test(tc, from_env);
	tcase_add_test(tc, create_refuses_incomplete_config);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(config_suite(), CK_NOFORK);
}
