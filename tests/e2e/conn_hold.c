/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Many concurrent TCP connections, for e2e/test_many_connections.sh.
 *
 *   conn_hold server PORT
 *       epoll echo server: accepts every connection, echoes what it reads, closes on EOF.
 *       Prints "ready" once it listens. A plain POSIX program: run under the shim to be
 *       accelerated.
 *   conn_hold client IP PORT N HOLD_S SRC_IP...
 *       opens N connections to IP:PORT, their source addresses taken in turn from SRC_IP...
 *       (one address gives at most the ephemeral range's ports), at most 1,000 handshakes in
 *       flight. Prints "established N", checks that 100 connections spread over all of them
 *       echo a message, holds them all HOLD_S seconds, checks 100 others, closes all. Prints
 *       "answered A of B"; exits 0 only if every connection was established and every
 *       checked one answered.
 *
 * Both raise RLIMIT_NOFILE to its hard limit (the caller raises the hard one).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_FLIGHT 1000
#define CHECKS    100

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int server(uint16_t port)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4096) < 0)
		die("listen");
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) < 0)
		die("epoll");
	printf("ready\n");
	fflush(stdout);
	struct epoll_event evs[256];
	char buf[4096];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == l) {
				int c;
				while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
					if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce) < 0)
						die("epoll_ctl");
				}
				if (errno != EAGAIN && errno != EMFILE && errno != ENFILE &&
				    errno != ECONNABORTED)
					die("accept");
				continue;
			}
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r > 0) {
				if (write(fd, buf, (size_t)r) != r)
					close(fd); /* an idle test peer never fills the buffer */
			} else if (r == 0 || errno != EAGAIN) {
				close(fd);
			}
		}
	}
	return 0; /* (never: the test kills the server) */
}

/* One round trip on a connection: 0 when its echo came back intact. */
static int echo_check(int fd, int k)
{
	char msg[32], back[32];
	int len = snprintf(msg, sizeof(msg), "conn %d\n", k);
	errno = 0;
	struct timeval tv = {.tv_sec = 10};
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, msg, (size_t)len) != len)
		return -1;
	int got = 0;
	while (got < len) {
		ssize_t r = read(fd, back + got, (size_t)(len - got));
		if (r <= 0)
			return -1;
		got += (int)r;
	}
	return memcmp(msg, back, (size_t)len) ? -1 : 0;
}

/* Checks CHECKS connections spread over all n, starting at offset; returns how many answered. */
static int check_some(const int *fds, int n, int offset)
{
	int ok = 0;
	for (int i = 0; i < CHECKS; i++) {
		int k = (int)(((long)i * n) / CHECKS + offset) % n;
		if (echo_check(fds[k], k) == 0) {
			ok++;
			continue;
		}
		struct sockaddr_in a;
		socklen_t len = sizeof(a);
		getsockname(fds[k], (struct sockaddr *)&a, &len);
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &a.sin_addr, ip, sizeof(ip));
		fprintf(stderr, "connection %d (%s:%u) did not echo: %s\n", k, ip,
		        ntohs(a.sin_port), errno ? strerror(errno) : "wrong bytes or EOF");
	}
	return ok;
}

static int client(const char *ip, uint16_t port, int n, int hold_s, char **src, int nsrc)
{
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (inet_pton(AF_INET, ip, &dst.sin_addr) != 1)
		die("server address");
	int *fds = calloc((size_t)n, sizeof(*fds));
	int ep = epoll_create1(0);
	if (!fds || ep < 0)
		die("setup");
	double t0 = now_s();
	int opened = 0, done = 0, failed = 0;
	struct epoll_event evs[256];
	while (done < n) {
		while (opened < n && opened - done < IN_FLIGHT) {
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
			struct sockaddr_in sa = {.sin_family = AF_INET};
			int one = 1;
			if (fd < 0 || inet_pton(AF_INET, src[opened % nsrc], &sa.sin_addr) != 1)
				die("socket");
			/* The port is chosen at connect(), per destination: a source address then
			 * serves the whole ephemeral range. */
			setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
			if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
				die("bind");
			if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 &&
			    errno != EINPROGRESS) {
				fprintf(stderr, "connect #%d: %s\n", opened, strerror(errno));
				return 1;
			}
			struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)opened};
			if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
				die("epoll_ctl");
			fds[opened++] = fd;
		}
		int m = epoll_wait(ep, evs, 256, 30000);
		if (m <= 0) {
			fprintf(stderr, "no handshake completed for 30 s (%d of %d done)\n", done,
			        n);
			return 1;
		}
		for (int i = 0; i < m; i++) {
			int k = (int)evs[i].data.u32, err = 0;
			socklen_t len = sizeof(err);
			getsockopt(fds[k], SOL_SOCKET, SO_ERROR, &err, &len);
			epoll_ctl(ep, EPOLL_CTL_DEL, fds[k], NULL);
			if (err) {
				if (failed++ < 5)
					fprintf(stderr, "connection %d: %s\n", k, strerror(err));
			}
			done++;
		}
	}
	printf("established %d in %.1f s (%d failed)\n", n - failed, now_s() - t0, failed);
	fflush(stdout);
	int ok = failed ? 0 : check_some(fds, n, 0);
	sleep((unsigned)hold_s);
	ok += failed ? 0 : check_some(fds, n, n / (2 * CHECKS));
	for (int i = 0; i < n; i++)
		close(fds[i]);
	printf("answered %d of %d\n", ok, 2 * CHECKS);
	free(fds);
	return !failed && ok == 2 * CHECKS ? 0 : 1;
}

int main(int argc, char **argv)
{
	raise_nofile();
	if (argc == 3 && !strcmp(argv[1], "server"))
		return server((uint16_t)atoi(argv[2]));
	if (argc >= 7 && !strcmp(argv[1], "client"))
		return client(argv[2], (uint16_t)atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
		              argv + 6, argc - 6);
	fprintf(stderr, "usage: conn_hold server PORT\n"
	                "       conn_hold client IP PORT N HOLD_S SRC_IP...\n");
	return 2;
}
