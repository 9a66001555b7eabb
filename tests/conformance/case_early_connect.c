/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A client connects before the server first uses its listener (a master that listens and
 * forks, a server slow to start its loop). Under the shim the listener is the stack's from
 * listen() on, so the stack completes that handshake and holds the connection until the first
 * accept (before, the kernel did: such a connection had to keep working after the port moved
 * to the stack). Later connections are served as usual.
 */
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: both of the peer's connections: the listener is the stack's from listen(), so the
 * one made before the subject first looks at it is tpa's too (none for the kernel). */
CONF_ACCELERATED(2);

#define BYTES (64u << 10) /* fits the buffers: the peer writes all before reading */

static void echo_all(int c, const char *name)
{
	static uint8_t buf[65536];
	size_t n = 0, bad = 0;
	for (;;) {
		ssize_t k = read(c, buf, sizeof(buf));
		if (k <= 0)
			break;
		bad += check_pattern(buf, n, (size_t)k);
		if (write_full(c, buf, (size_t)k) != (size_t)k)
			break;
		n += (size_t)k;
	}
	say("%s echoed %zu bytes, %zu bad", name, n, bad);
	close(c);
}

static void subject(void)
{
	/* Not tcp_listen(): that one uses the listener at once. */
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(CONF_PORT(5))};
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(l, 16) < 0)
		die("listen");
	ctl_sync("listening");
	ctl_sync("early connected"); /* the peer's handshake is done, we never looked */
	int a = accept(l, NULL, NULL);
	say("early accept: %s", a >= 0 ? "ok" : errname(errno));
	ctl_sync("accepted");
	int b = accept(l, NULL, NULL);
	say("late accept: %s", b >= 0 ? "ok" : errname(errno));
	echo_all(a, "early");
	echo_all(b, "late");
	close(l);
}

static void run_conn(int c, const char *name)
{
	static uint8_t data[BYTES], back[BYTES];
	fill_pattern(data, 0, BYTES);
	size_t w = write_full(c, data, BYTES);
	shutdown(c, SHUT_WR);
	size_t r = read_full(c, back, BYTES);
	say("%s: wrote %zu, read back %zu, same %d", name, w, r,
	    r == BYTES && !memcmp(data, back, BYTES));
	close(c);
}

static void peer(void)
{
	ctl_sync("listening");
	int a = tcp_connect(conf_subject_ip, CONF_PORT(5));
	ctl_sync("early connected");
	ctl_sync("accepted");
	int b = tcp_connect(conf_subject_ip, CONF_PORT(5));
	run_conn(a, "early");
	run_conn(b, "late");
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
