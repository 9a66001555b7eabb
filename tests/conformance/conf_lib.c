/* SPDX-License-Identifier: BSD-3-Clause */
/* The conformance harness (see conf.h). Plain POSIX + Linux only. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"

const char *conf_role = "?";
const char *conf_subject_ip = "198.18.0.2";
const char *conf_peer_ip = "198.18.0.1";
static int ctl_fd = -1;

/* Every errno by its exact name (glibc's own table), so a shim returning a neighbouring error
 * can never pass as the kernel's; an unnamed value prints as its number. */
const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	if (n)
		return n;
	static __thread char num[24];
	snprintf(num, sizeof(num), "E#%d", e);
	return num;
}

void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line so subject threads and processes never interleave mid-line. */
	char out[600];
	int n = snprintf(out, sizeof(out), "%s: %s\n", conf_role, line);
	if (write(1, out, (size_t)n) < 0)
		_exit(3);
}

long res(const char *what, long r)
{
	int e = errno;
	if (r < 0)
		say("%s = -1 %s", what, errname(e));
	else
		say("%s = %ld", what, r);
	errno = e;
	return r;
}

int resfd(const char *what, int r)
{
	int e = errno;
	if (r < 0)
		say("%s = -1 %s", what, errname(e));
	else
		say("%s = fd", what);
	errno = e;
	return r;
}

void die(const char *fmt, ...)
{
	char line[512];
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	say("HARNESS FAILURE: %s (errno %s)", line, errname(e));
	_exit(2);
}

static int make_addr(const char *ip, int port, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (!ip)
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1)
		return -1;
	return 0;
}

int tcp_listen(const char *ip, int port, int flags)
{
	struct sockaddr_in sin;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | flags, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (make_addr(ip, port, &sin) < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind %s:%d", ip ? ip : "*", port);
	if (listen(fd, 16) < 0)
		die("listen %d", port);
	/* Like an event-loop server registering its listener before it announces itself (see
	 * case_early_connect for a server that does not). */
	struct pollfd p = {.fd = fd, .events = POLLIN};
	(void)poll(&p, 1, 0);
	return fd;
}

int tcp_connect(const char *ip, int port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	if (make_addr(ip, port, &sin) < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("connect %s:%d", ip, port);
	return fd;
}

short wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r > 0 ? p.revents : 0;
}

size_t read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

size_t write_full(int fd, const void *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = write(fd, (const char *)buf + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	return done;
}

uint8_t pattern(size_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

void fill_pattern(uint8_t *buf, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = pattern(off + i);
}

size_t check_pattern(const uint8_t *buf, size_t off, size_t n)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += buf[i] != pattern(off + i);
	return bad;
}

size_t drain(int fd, uint32_t *bad)
{
	static uint8_t buf[65536];
	size_t total = 0;
	*bad = 0;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		*bad += (uint32_t)check_pattern(buf, total, (size_t)r);
		total += (size_t)r;
	}
	return total;
}

bool nread_is(void *arg)
{
	struct nread *w = arg;
	int v = -1;
	return ioctl(w->fd, FIONREAD, &v) == 0 && v == w->n;
}

bool wait_until(bool (*cond)(void *), void *arg)
{
	for (int i = 0; i < 1000; i++) {
		if (cond(arg))
			return true;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return cond(arg);
}

const char *addr_str(const struct sockaddr *sa, socklen_t len, bool show_port)
{
	static char buf[64];
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	char ip[INET_ADDRSTRLEN];
	if (len < sizeof(*sin) || sin->sin_family != AF_INET) {
		snprintf(buf, sizeof(buf), "family %d len %u", sa->sa_family, (unsigned)len);
		return buf;
	}
	inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
	if (show_port)
		snprintf(buf, sizeof(buf), "%s:%u", ip, ntohs(sin->sin_port));
	else
		snprintf(buf, sizeof(buf), "%s:*", ip);
	return buf;
}

void ctl_open(void)
{
	if (conf_role[0] == 'S') {
		int l = tcp_listen(conf_subject_ip, CONF_CTL_PORT, 0);
		ctl_fd = accept(l, NULL, NULL);
		if (ctl_fd < 0)
			die("ctl accept");
		close(l);
	} else {
		struct sockaddr_in sin;
		make_addr(conf_subject_ip, CONF_CTL_PORT, &sin);
		for (int i = 0; i < 2000; i++) {
			ctl_fd = socket(AF_INET, SOCK_STREAM, 0);
			if (connect(ctl_fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
				break;
			close(ctl_fd);
			ctl_fd = -1;
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		if (ctl_fd < 0)
			die("ctl connect");
	}
	int one = 1;
	setsockopt(ctl_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void ctl_line_send(const char *s)
{
	size_t n = strlen(s);
	if (write_full(ctl_fd, s, n) != n || write_full(ctl_fd, "\n", 1) != 1)
		die("ctl send");
}

static void ctl_line_recv(char *buf, size_t len)
{
	size_t i = 0;
	for (;;) {
		char c;
		ssize_t r = read(ctl_fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("ctl closed by the other side");
		if (c == '\n')
			break;
		if (i + 1 < len)
			buf[i++] = c;
	}
	buf[i] = '\0';
}

void ctl_sync(const char *tag)
{
	char got[128];
	ctl_line_send(tag);
	ctl_line_recv(got, sizeof(got));
	if (strcmp(got, tag) != 0)
		die("ctl out of step: at '%s', other side at '%s'", tag, got);
}

void ctl_send_long(long v)
{
	char b[32];
	snprintf(b, sizeof(b), "%ld", v);
	ctl_line_send(b);
}

long ctl_recv_long(void)
{
	char b[32];
	ctl_line_recv(b, sizeof(b));
	return strtol(b, NULL, 10);
}

int conf_main(int argc, char **argv, void (*subject)(void), void (*peer)(void))
{
	if (argc == 2 && !strcmp(argv[1], "expect")) {
		printf("accelerated %d\nkernel_accepted %d\n", conf_expect.accelerated,
		       conf_expect.kernel_accepted);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "subject") && strcmp(argv[1], "peer"))) {
		fprintf(stderr, "usage: %s subject|peer|expect\n", argv[0]);
		return 2;
	}
	const char *e;
	if ((e = getenv("CONF_SUBJECT_IP")))
		conf_subject_ip = e;
	if ((e = getenv("CONF_PEER_IP")))
		conf_peer_ip = e;
	signal(SIGPIPE, SIG_IGN); /* cases that study SIGPIPE install their own handler */
	conf_role = argv[1][0] == 's' ? "S" : "P";
	ctl_open();
	if (conf_role[0] == 'S')
		subject();
	else
		peer();
	ctl_sync("end");
	say("done");
	return 0;
}
