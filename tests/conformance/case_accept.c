/* SPDX-License-Identifier: BSD-3-Clause */
/* accept/accept4 flags, listener non-blocking, names, loopback clients of a wildcard listener. */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's c1, c2, c3 (wildcard listener) and c4 (address-bound); the kernel
 * accepts the subject's own loopback client of the wildcard listener. */
CONF_ACCELERATED_KERNEL(4, 1);

static void show_fd_flags(const char *what, int fd)
{
	int fl = fcntl(fd, F_GETFL), fdf = fcntl(fd, F_GETFD);
	say("%s: nonblock=%d cloexec=%d rdwr=%d", what, (fl & O_NONBLOCK) != 0,
	    (fdf & FD_CLOEXEC) != 0, (fl & O_ACCMODE) == O_RDWR);
}

static void greet(int fd, const char *who)
{
	char buf[32] = {0};
	size_t n = read_full(fd, buf, 7);
	say("%s: read %zu '%.7s'", who, n, buf);
	res("write reply", write(fd, "ok", 2));
}

static void subject(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int v = 0;
	socklen_t vl = sizeof(v);
	int l = tcp_listen(NULL, CONF_PORT(0), 0);
	int l2 = tcp_listen(conf_subject_ip, CONF_PORT(1), 0);
	res("SO_ACCEPTCONN", getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl));
	say("acceptconn=%d", v);
	len = sizeof(ss);
	res("getsockname listener", getsockname(l, (struct sockaddr *)&ss, &len));
	say("listener name %s", addr_str((struct sockaddr *)&ss, len, true));
	ctl_sync("listening");
	ctl_sync("connected2");

	len = sizeof(ss);
	int a = accept4(l, (struct sockaddr *)&ss, &len, 0);
	resfd("accept4 flags 0", a);
	say("peer %s len %u", addr_str((struct sockaddr *)&ss, len, false), (unsigned)len);
	show_fd_flags("a", a);
	len = sizeof(ss);
	res("getsockname a", getsockname(a, (struct sockaddr *)&ss, &len));
	say("a local %s", addr_str((struct sockaddr *)&ss, len, true));
	len = sizeof(ss);
	res("getpeername a", getpeername(a, (struct sockaddr *)&ss, &len));
	say("a remote %s", addr_str((struct sockaddr *)&ss, len, false));
	greet(a, "a");

	len = 4; /* too short for the address: truncated, len reports the full size */
	int b = accept4(l, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	resfd("accept4 NONBLOCK|CLOEXEC", b);
	say("truncated len %u", (unsigned)len);
	show_fd_flags("b", b);
	wait_fd(b, POLLIN, 10000);
	greet(b, "b");

	res("accept4 bad flags", accept4(l, NULL, NULL, 0x40000000));
	res("fcntl listener O_NONBLOCK", fcntl(l, F_SETFL, fcntl(l, F_GETFL) | O_NONBLOCK));
	show_fd_flags("listener", l);
	res("accept empty nonblocking", accept(l, NULL, NULL));

	ctl_sync("third");
	say("poll listener revents=%#x", wait_fd(l, POLLIN, 10000));
	int c = accept(l, NULL, NULL);
	resfd("accept third", c);
	show_fd_flags("c (not inherited from listener)", c);
	greet(c, "c");

	int d = accept(l2, NULL, NULL); /* l2 is blocking: peer connected before "third" */
	resfd("accept on address-bound listener", d);
	len = sizeof(ss);
	getsockname(d, (struct sockaddr *)&ss, &len);
	say("d local %s", addr_str((struct sockaddr *)&ss, len, true));
	greet(d, "d");

	/* A client on this host reaches the wildcard listener over loopback. */
	struct sockaddr_in lo = {.sin_family = AF_INET,
	                         .sin_port = htons(CONF_PORT(0)),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int lc = socket(AF_INET, SOCK_STREAM, 0);
	res("loopback connect", connect(lc, (struct sockaddr *)&lo, sizeof(lo)));
	say("poll listener (loopback) revents=%#x", wait_fd(l, POLLIN, 10000));
	len = sizeof(ss);
	int la = accept(l, (struct sockaddr *)&ss, &len);
	resfd("accept loopback", la);
	say("loopback peer %s", addr_str((struct sockaddr *)&ss, len, false));
	res("loopback write", write(lc, "loop-hi", 7));
	greet(la, "la");
	char r2[2];
	say("loopback reply %zu", read_full(lc, r2, 2));

	int s = socket(AF_INET, SOCK_STREAM, 0);
	res("accept on unlistened socket", accept(s, NULL, NULL));
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	res("accept on a pipe", accept(p[0], NULL, NULL));
	res("listen on a pipe", listen(p[0], 1));
	close(a);
	close(b);
	close(c);
	close(d);
	close(la);
	close(lc);
	close(l);
	close(l2);
}

static void peer(void)
{
	char buf[8];
	ctl_sync("listening");
	int c1 = tcp_connect(conf_subject_ip, CONF_PORT(0));
	res("write c1", write(c1, "first!!", 7));
	int c2 = tcp_connect(conf_subject_ip, CONF_PORT(0));
	res("write c2", write(c2, "second!", 7));
	int c4 = tcp_connect(conf_subject_ip, CONF_PORT(1));
	res("write c4", write(c4, "bound!!", 7));
	ctl_sync("connected2");
	say("c1 reply %zu", read_full(c1, buf, 2));
	say("c2 reply %zu", read_full(c2, buf, 2));
	ctl_sync("third");
	int c3 = tcp_connect(conf_subject_ip, CONF_PORT(0));
	res("write c3", write(c3, "third!!", 7));
	say("c3 reply %zu", read_full(c3, buf, 2));
	say("c4 reply %zu", read_full(c4, buf, 2));
	close(c1);
	close(c2);
	close(c3);
	close(c4);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
