/* SPDX-License-Identifier: BSD-3-Clause */
/* Active opens: blocking and non-blocking connect, refused, EISCONN, SO_ERROR, names. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: a (blocking), b (non-blocking) and f (bound first) to the peer; c and d are
 * refused. */
CONF_ACCELERATED(3);

static struct sockaddr_in peer_addr(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, conf_peer_ip, &sin.sin_addr);
	return sin;
}

static void show_so_error(const char *what, int fd)
{
	int err = -1;
	socklen_t l = sizeof(err);
	int r = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
	say("%s: getsockopt SO_ERROR = %d, error %s (%d)", what, r, err ? errname(err) : "0", err);
}

static void subject(void)
{
	struct sockaddr_in sin = peer_addr(CONF_PEER_PORT(0));
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[16];
	ctl_sync("peer listening");

	/* Blocking connect. */
	int a = socket(AF_INET, SOCK_STREAM, 0);
	res("blocking connect", connect(a, (struct sockaddr *)&sin, sizeof(sin)));
	len = sizeof(ss);
	res("getpeername", getpeername(a, (struct sockaddr *)&ss, &len));
	say("a remote %s", addr_str((struct sockaddr *)&ss, len, true));
	len = sizeof(ss);
	res("getsockname", getsockname(a, (struct sockaddr *)&ss, &len));
	say("a local %s", addr_str((struct sockaddr *)&ss, len, false));
	res("connect again", connect(a, (struct sockaddr *)&sin, sizeof(sin)));
	res("write a", write(a, "conn-a!", 7));
	say("a read %zu", read_full(a, buf, 3));
	show_so_error("a", a);

	/* Non-blocking connect: EINPROGRESS, then writable, SO_ERROR 0, then EISCONN. */
	int b = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	res("nonblocking connect", connect(b, (struct sockaddr *)&sin, sizeof(sin)));
	short re = wait_fd(b, POLLOUT, 10000);
	say("b poll revents=%#x", re);
	show_so_error("b", b);
	res("b connect after completion", connect(b, (struct sockaddr *)&sin, sizeof(sin)));
	res("write b", write(b, "conn-b!", 7));
	wait_fd(b, POLLIN, 10000);
	say("b read %zd", read(b, buf, 3));

	/* Refused, blocking. */
	struct sockaddr_in nobody = peer_addr(CONF_REFUSED_PORT);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	res("blocking connect refused", connect(c, (struct sockaddr *)&nobody, sizeof(nobody)));
	show_so_error("c after refused", c);
	res("write c after refused", send(c, "x", 1, MSG_NOSIGNAL));

	/* Refused, non-blocking: SO_ERROR returns ECONNREFUSED once, then 0. */
	int d = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	res("nonblocking connect refused", connect(d, (struct sockaddr *)&nobody, sizeof(nobody)));
	re = wait_fd(d, POLLOUT, 10000);
	say("d poll revents=%#x", re);
	show_so_error("d first", d);
	show_so_error("d second", d);

	/* Connect with a bad address family / length. */
	int e = socket(AF_INET, SOCK_STREAM, 0);
	res("connect short addrlen", connect(e, (struct sockaddr *)&sin, 4));
	res("connect NULL", connect(e, NULL, sizeof(sin)));
	res("connect on a pipe-like non-socket",
	    connect(0 > 1 ? e : -5, (struct sockaddr *)&sin, sizeof(sin)));

	/* Bound before connecting: the local address is kept. */
	int f = socket(AF_INET, SOCK_STREAM, 0);
	/* A port of our own choosing that differs between runs (TIME_WAIT of the last run). */
	int myport = 20000 + (int)(getpid() % 20000);
	int one = 1;
	setsockopt(f, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons((uint16_t)myport)};
	inet_pton(AF_INET, conf_subject_ip, &me.sin_addr);
	res("bind before connect", bind(f, (struct sockaddr *)&me, sizeof(me)));
	res("connect bound", connect(f, (struct sockaddr *)&sin, sizeof(sin)));
	len = sizeof(ss);
	getsockname(f, (struct sockaddr *)&ss, &len);
	say("f local %s, the bound port: %d", addr_str((struct sockaddr *)&ss, len, false),
	    ntohs(((struct sockaddr_in *)&ss)->sin_port) == myport);
	ctl_send_long(myport);
	res("write f", write(f, "conn-f!", 7));
	say("f read %zu", read_full(f, buf, 3));
	ctl_sync("done");
	close(a);
	close(b);
	close(c);
	close(d);
	close(e);
	close(f);
}

static void peer(void)
{
	int l = tcp_listen(conf_peer_ip, CONF_PEER_PORT(0), 0);
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[8];
	ctl_sync("peer listening");
	for (int i = 0; i < 3; i++) {
		len = sizeof(ss);
		int c = accept(l, (struct sockaddr *)&ss, &len);
		resfd("accept", c);
		say("from %s", addr_str((struct sockaddr *)&ss, len, false));
		if (i == 2)
			say("from the port the subject bound: %d",
			    ntohs(((struct sockaddr_in *)&ss)->sin_port) == ctl_recv_long());
		say("read %zu '%.7s'", read_full(c, buf, 7), buf);
		res("reply", write(c, "yes", 3));
		if (i < 2)
			close(c);
		else
			ctl_sync("done"), close(c);
	}
	close(l);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
