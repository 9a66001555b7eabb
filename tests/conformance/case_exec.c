/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * exec with the socket as stdin/stdout (inetd, socat EXEC:...,nofork): a fork child of the
 * accepting process puts the connection on fds 0 and 1 and execs a program that knows nothing
 * of it; the parent closes its copy. The new image echoes 1 MiB back byte-exact, sees a TCP
 * socket, gets EOF when the peer half-closes, and its exit closes the connection for the peer.
 * Under the shim the new image gets a kernel socket relayed to the stack (docs/shim.md); before,
 * fds 0 and 1 were closed in the new image (EBADF) and the peer got nothing back.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's one connection, served by the exec'd image. */
CONF_ACCELERATED(1);

#define BYTES (1u << 20)

static const char *self;

/* The exec'd image: a cat that checks what it copies; its verdict is its exit status. */
static int echo_image(void)
{
	static uint8_t buf[65536];
	int type = 0;
	socklen_t l = sizeof(type);
	if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &l) < 0 || type != SOCK_STREAM)
		return 10;
	size_t n = 0, bad = 0;
	for (;;) {
		ssize_t k = read(0, buf, sizeof(buf));
		if (k < 0)
			return 11;
		if (k == 0)
			break;
		bad += check_pattern(buf, n, (size_t)k);
		if (write_full(1, buf, (size_t)k) != (size_t)k)
			return 12;
		n += (size_t)k;
	}
	return n == BYTES && !bad ? 0 : 13;
}

static void subject(void)
{
	int l = tcp_listen(NULL, CONF_PORT(6), SOCK_CLOEXEC);
	ctl_sync("listening");
	int a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	resfd("accept", a);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(a, 0);
		dup2(a, 1);
		close(a);
		execl(self, self, "echo", (char *)NULL);
		_exit(99);
	}
	close(a);
	int st;
	waitpid(pid, &st, 0);
	say("exec'd echo exited %d status %d", WIFEXITED(st), WEXITSTATUS(st));
	ctl_sync("done");
	close(l);
}

static void peer(void)
{
	static uint8_t out[BYTES], in[65536];
	ctl_sync("listening");
	int c = tcp_connect(conf_subject_ip, CONF_PORT(6));
	fill_pattern(out, 0, BYTES);
	size_t sent = 0, got = 0, bad = 0;
	bool eof = false;
	/* Both ways at once: the echo holds little. */
	while (!eof) {
		struct pollfd p = {.fd = c, .events = POLLIN | (sent < BYTES ? POLLOUT : 0)};
		if (poll(&p, 1, 20000) <= 0)
			die("peer: stalled after %zu sent, %zu echoed", sent, got);
		if ((p.revents & POLLOUT) && sent < BYTES) {
			size_t chunk = BYTES - sent < 16384 ? BYTES - sent : 16384;
			ssize_t w = send(c, out + sent, chunk, MSG_DONTWAIT);
			if (w > 0)
				sent += (size_t)w;
			if (sent == BYTES)
				shutdown(c, SHUT_WR);
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t k = recv(c, in, sizeof(in), MSG_DONTWAIT);
			if (k == 0)
				eof = true;
			else if (k > 0) {
				bad += check_pattern(in, got, (size_t)k);
				got += (size_t)k;
			} else if (errno != EAGAIN) {
				die("peer: recv: %s", errname(errno));
			}
		}
	}
	say("echoed %zu of %zu bytes, %zu bad, then EOF", got, (size_t)BYTES, bad);
	ctl_sync("done");
	close(c);
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc == 2 && !strcmp(argv[1], "echo"))
		return echo_image();
	return conf_main(argc, argv, subject, peer);
}
