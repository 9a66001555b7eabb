/* SPDX-License-Identifier: BSD-3-Clause */
/* The shim's settings parser: accepted forms, every rejection with a message naming the
 * setting, config files (comments, engine keys, line numbers), selection matching. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The parser is part of libtpa_shim.so (which exports only libc symbols): build it in. */
#include "config.h"

static struct shim_config c;
static char err[512];

static void setup(void)
{
	shim_config_init(&c);
	err[0] = '\0';
}

static enum shim_config_result set(const char *k, const char *v)
{
	return shim_config_set(&c, k, v, err, sizeof(err));
}

static uint32_t ip(const char *s)
{
	struct in_addr a;
	ck_assert_int_eq(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

START_TEST(defaults)
{
	ck_assert(!shim_config_enabled(&c));
	ck_assert_uint_eq(c.spin_us, 50);
	ck_assert(!c.busy_poll);
	ck_assert(c.accept_kernel);
}
END_TEST

START_TEST(ports_lists_and_ranges)
{
	ck_assert_int_eq(set("TPA_PORTS", "6379,7000-7010"), SHIM_CONFIG_OK);
	ck_assert_uint_eq(c.n_ports, 2);
	ck_assert(shim_config_port_selected(&c, 6379));
	ck_assert(shim_config_port_selected(&c, 7000));
	ck_assert(shim_config_port_selected(&c, 7005));
	ck_assert(shim_config_port_selected(&c, 7010));
	ck_assert(!shim_config_port_selected(&c, 7011));
	ck_assert(!shim_config_port_selected(&c, 6380));
	ck_assert_int_eq(set("TPA_PORTS", "1-65535"), SHIM_CONFIG_OK);
	ck_assert(shim_config_port_selected(&c, 65535));
	ck_assert_int_eq(set("TPA_PORTS", "80"), SHIM_CONFIG_OK);
	ck_assert_uint_eq(c.n_ports, 1);
	ck_assert(!shim_config_port_selected(&c, 6379));
}
END_TEST

static const char *const bad_ports[] = {
        "",   "abc", "0",   "65536", "70000", "80,", ",80",         "80,,81", "10-5",      "-5",
        "5-", "80 ", " 80", "0x50",  "1-2-3", "+80", "99999999999", "80;81",  "7000-70000"};

START_TEST(ports_rejected)
{
	const char *v = bad_ports[_i];
	ck_assert_int_eq(set("TPA_PORTS", "6379"), SHIM_CONFIG_OK);
	ck_assert_int_eq(set("TPA_PORTS", v), SHIM_CONFIG_ERROR);
	ck_assert_msg(strstr(err, "TPA_PORTS") && strstr(err, "expected"), "message: %s", err);
	ck_assert_ptr_null(strchr(err, '\n'));
	/* A rejected value leaves the previous selection intact. */
	ck_assert_uint_eq(c.n_ports, 1);
	ck_assert(shim_config_port_selected(&c, 6379));
}
END_TEST

START_TEST(ports_limit)
{
	char buf[1024] = "";
	for (int i = 0; i < SHIM_MAX_PORT_RANGES; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%d", i ? "," : "",
		         100 + i);
	ck_assert_int_eq(set("TPA_PORTS", buf), SHIM_CONFIG_OK);
	strcat(buf, ",9999");
	ck_assert_int_eq(set("TPA_PORTS", buf), SHIM_CONFIG_ERROR);
}
END_TEST

START_TEST(connect_forms)
{
	ck_assert_int_eq(set("TPA_CONNECT", "10.0.0.5:6379,10.1.0.0/16:7000-7010,192.168.1.1,"
	                                    "172.16.0.0/12:*"),
	                 SHIM_CONFIG_OK);
	ck_assert_uint_eq(c.n_dests, 4);
	ck_assert(shim_config_dest_selected(&c, ip("10.0.0.5"), 6379));
	ck_assert(!shim_config_dest_selected(&c, ip("10.0.0.5"), 6380));
	ck_assert(!shim_config_dest_selected(&c, ip("10.0.0.6"), 6379));
	ck_assert(shim_config_dest_selected(&c, ip("10.1.200.3"), 7010));
	ck_assert(!shim_config_dest_selected(&c, ip("10.2.0.1"), 7010));
	ck_assert(shim_config_dest_selected(&c, ip("192.168.1.1"), 1));
	ck_assert(shim_config_dest_selected(&c, ip("172.31.255.255"), 443));
	ck_assert(!shim_config_dest_selected(&c, ip("172.32.0.0"), 443));
	/* Host bits under the prefix are ignored, /0 matches everything. */
	ck_assert_int_eq(set("TPA_CONNECT", "10.1.2.3/8:80,0.0.0.0/0:443"), SHIM_CONFIG_OK);
	ck_assert(shim_config_dest_selected(&c, ip("10.200.0.1"), 80));
	ck_assert(shim_config_dest_selected(&c, ip("8.8.8.8"), 443));
	ck_assert(!shim_config_dest_selected(&c, ip("8.8.8.8"), 80));
}
END_TEST

static const char *const bad_connects[] = {"",
                                           "10.0.0.1/33",
                                           "10.0.0.1:0",
                                           "10.0.0.1:",
                                           "10.0.0.256",
                                           "host.example:80",
                                           "10.0.0.1/:80",
                                           "10.0.0.1/8/8",
                                           "10.0.0.1:80-70",
                                           ",10.0.0.1",
                                           "10.0.0.1,",
                                           "::1:80",
                                           "10.0.0.1:80:81",
                                           "10.0.0.1/x"};

START_TEST(connect_rejected)
{
	ck_assert_int_eq(set("TPA_CONNECT", bad_connects[_i]), SHIM_CONFIG_ERROR);
	ck_assert_msg(strstr(err, "TPA_CONNECT") && strstr(err, "ADDR[/PREFIX]"), "message: %s",
	              err);
}
END_TEST

START_TEST(other_settings)
{
	ck_assert_int_eq(set("TPA_IFACE", "eth0"), SHIM_CONFIG_OK);
	ck_assert_str_eq(c.iface, "eth0");
	ck_assert_int_eq(set("TPA_IFACE", ""), SHIM_CONFIG_ERROR);
	ck_assert_int_eq(set("TPA_IFACE", "a-name-that-is-too-long"), SHIM_CONFIG_ERROR);
	ck_assert_int_eq(set("TPA_IFACE", "a/b"), SHIM_CONFIG_ERROR);
	ck_assert(strstr(err, "TPA_IFACE"));
	ck_assert_str_eq(c.iface, "eth0");
	ck_assert_int_eq(set("TPA_SPIN_US", "0"), SHIM_CONFIG_OK);
	ck_assert_uint_eq(c.spin_us, 0);
	ck_assert_int_eq(set("TPA_SPIN_US", "1000000"), SHIM_CONFIG_OK);
	ck_assert_int_eq(set("TPA_SPIN_US", "1000001"), SHIM_CONFIG_ERROR);
	ck_assert_int_eq(set("TPA_SPIN_US", "-1"), SHIM_CONFIG_ERROR);
	ck_assert(strstr(err, "TPA_SPIN_US"));
	ck_assert_int_eq(set("TPA_BUSY_POLL", "yes"), SHIM_CONFIG_OK);
	ck_assert(c.busy_poll);
	ck_assert_int_eq(set("TPA_BUSY_POLL", "0"), SHIM_CONFIG_OK);
	ck_assert(!c.busy_poll);
	ck_assert_int_eq(set("TPA_BUSY_POLL", "2"), SHIM_CONFIG_ERROR);
	ck_assert_int_eq(set("TPA_ACCEPT_KERNEL", "off"), SHIM_CONFIG_OK);
	ck_assert(!c.accept_kernel);
	ck_assert_int_eq(set("TPA_ACCEPT_KERNEL", "maybe"), SHIM_CONFIG_ERROR);
	ck_assert(strstr(err, "TPA_ACCEPT_KERNEL"));
	ck_assert_int_eq(set("TPA_MBUFS", "100"), SHIM_CONFIG_NOT_MINE);
}
END_TEST

START_TEST(trace_settings)
{
	ck_assert(c.trace);
	ck_assert_uint_eq(c.trace_conns, 1024);
	ck_assert_int_eq(set("TPA_TRACE", "0"), SHIM_CONFIG_OK);
	ck_assert(!c.trace);
	ck_assert_int_eq(set("TPA_TRACE", "on"), SHIM_CONFIG_OK);
	ck_assert(c.trace);
	ck_assert_int_eq(set("TPA_TRACE", "2"), SHIM_CONFIG_ERROR);
	ck_assert(strstr(err, "TPA_TRACE='2'"));
	ck_assert_int_eq(set("TPA_TRACE_CONNS", "0"), SHIM_CONFIG_OK);
	ck_assert_uint_eq(c.trace_conns, 0);
	ck_assert_int_eq(set("TPA_TRACE_CONNS", "65536"), SHIM_CONFIG_OK);
	ck_assert_uint_eq(c.trace_conns, 65536);
	ck_assert_int_eq(set("TPA_TRACE_CONNS", "65537"), SHIM_CONFIG_ERROR);
	ck_assert(strstr(err, "TPA_TRACE_CONNS='65537'") && strstr(err, "0-65536"));
	ck_assert_int_eq(set("TPA_TRACE_CONNS", "-1"), SHIM_CONFIG_ERROR);
	ck_assert_int_eq(set("TPA_TRACE_CONNS", "many"), SHIM_CONFIG_ERROR);
	ck_assert_uint_eq(c.trace_conns, 65536);
}
END_TEST

START_TEST(user_setting)
{
	ck_assert_str_eq(c.user, "");
	ck_assert_int_eq(set("TPA_USER", "postgres"), SHIM_CONFIG_OK);
	ck_assert_str_eq(c.user, "postgres");
	ck_assert_int_eq(set("TPA_USER", "101"), SHIM_CONFIG_OK);
	ck_assert_str_eq(c.user, "101");
	ck_assert_int_eq(set("TPA_USER", "www-data"), SHIM_CONFIG_OK);
	ck_assert_int_eq(set("TPA_USER", ""), SHIM_CONFIG_ERROR);
	ck_assert_int_eq(set("TPA_USER", "a b"), SHIM_CONFIG_ERROR);
	ck_assert_int_eq(set("TPA_USER", "../root"), SHIM_CONFIG_ERROR);
	ck_assert(strstr(err, "TPA_USER"));
	ck_assert(strstr(err, "user name or uid"));
	char longname[80];
	memset(longname, 'u', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(set("TPA_USER", longname), SHIM_CONFIG_ERROR);
	ck_assert_str_eq(c.user, "www-data");
}
END_TEST

static const char *write_file(const char *text)
{
	static char path[64];
	strcpy(path, "/tmp/test_shim_config_XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

START_TEST(file_ok)
{
	const char *p = write_file("# tpa settings\n\n  TPA_IFACE = eth1 \nTPA_PORTS=6379\n"
	                           "TPA_MBUFS=32768\n\tTPA_SPIN_US=10\n");
	ck_assert_int_eq(shim_config_load_file(&c, p, err, sizeof(err)), 0);
	unlink(p);
	ck_assert_str_eq(c.iface, "eth1");
	ck_assert(shim_config_port_selected(&c, 6379));
	ck_assert_uint_eq(c.spin_us, 10);
	ck_assert_uint_eq(c.n_engine, 1);
	ck_assert_str_eq(c.engine[0].key, "TPA_MBUFS");
	ck_assert_str_eq(c.engine[0].value, "32768");
	ck_assert(shim_config_enabled(&c));
}
END_TEST

START_TEST(file_errors)
{
	const char *p = write_file("TPA_IFACE=eth1\nTPA_PORTS=http\n");
	ck_assert_int_eq(shim_config_load_file(&c, p, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "TPA_PORTS") && strstr(err, ":2)"), "message: %s", err);
	unlink(p);
	p = write_file("just words\n");
	ck_assert_int_eq(shim_config_load_file(&c, p, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, ":1:") && strstr(err, "KEY=VALUE"), "message: %s", err);
	unlink(p);
	p = write_file("PORTS=80\n");
	ck_assert_int_eq(shim_config_load_file(&c, p, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "unknown setting 'PORTS'"), "message: %s", err);
	unlink(p);
	ck_assert_int_eq(shim_config_load_file(&c, "/nonexistent/tpa.conf", err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "TPA_CONFIG") && strstr(err, "cannot open"), "message: %s", err);
}
END_TEST

START_TEST(env_overrides_file_and_needs_iface)
{
	const char *p = write_file("TPA_IFACE=eth1\nTPA_PORTS=6379\n");
	setenv("TPA_CONFIG", p, 1);
	setenv("TPA_PORTS", "7000", 1);
	ck_assert_int_eq(shim_config_load(&c, err, sizeof(err)), 0);
	ck_assert(shim_config_port_selected(&c, 7000));
	ck_assert(!shim_config_port_selected(&c, 6379));
	unlink(p);
	unsetenv("TPA_CONFIG");
	shim_config_init(&c);
	ck_assert_int_eq(shim_config_load(&c, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "TPA_IFACE is not set"), "message: %s", err);
	unsetenv("TPA_PORTS");
	shim_config_init(&c);
	ck_assert_int_eq(shim_config_load(&c, err, sizeof(err)), 0);
	ck_assert(!shim_config_enabled(&c));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("shim_config");
	TCase *t = tcase_create("parse");
	tcase_add_checked_fixture(t, setup, NULL);
	tcase_add_test(t, defaults);
	tcase_add_test(t, ports_lists_and_ranges);
	tcase_add_loop_test(t, ports_rejected, 0, sizeof(bad_ports) / sizeof(bad_ports[0]));
	tcase_add_test(t, ports_limit);
	tcase_add_test(t, connect_forms);
	tcase_add_loop_test(t, connect_rejected, 0, sizeof(bad_connects) / sizeof(bad_connects[0]));
	tcase_add_test(t, other_settings);
	tcase_add_test(t, user_setting);
	tcase_add_test(t, trace_settings);
	tcase_add_test(t, file_ok);
	tcase_add_test(t, file_errors);
	tcase_add_test(t, env_overrides_file_and_needs_iface);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
