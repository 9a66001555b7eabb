/* SPDX-License-Identifier: BSD-3-Clause */
/* Socket options and non-blocking modes on accelerated sockets (listening, accepted and
 * connected): O_NONBLOCK via fcntl/FIONBIO/SOCK_NONBLOCK, per-call MSG_DONTWAIT, and the
 * options programs really set. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's connection to the subject and the subject's to the peer. */
CONF_ACCELERATED(2);

static void get_int(int fd, int level, int name, const char *what)
{
	int v = -12345;
	socklen_t l = sizeof(v);
	int r = getsockopt(fd, level, name, &v, &l);
	if (r < 0)
		say("get %s = -1 %s", what, errname(errno));
	else
		say("get %s = %d (len %u)", what, v, (unsigned)l);
}

static void set_int(int fd, int level, int name, int v, const char *what)
{
	char w[64];
	snprintf(w, sizeof(w), "set %s %d", what, v);
	res(w, setsockopt(fd, level, name, &v, sizeof(v)));
}

static void options(int fd, const char *who)
{
	say("-- options on %s", who);
	get_int(fd, SOL_SOCKET, SO_TYPE, "SO_TYPE");
	get_int(fd, SOL_SOCKET, SO_ERROR, "SO_ERROR");
	get_int(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE");
	set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
	get_int(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE");
	set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
	get_int(fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY");
	set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 30, "TCP_KEEPIDLE");
	get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE");
	set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 5, "TCP_KEEPINTVL");
	get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL");
	set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 3, "TCP_KEEPCNT");
	get_int(fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT");
	set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 0, "TCP_KEEPIDLE");
	set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, -1, "TCP_KEEPCNT");
	set_int(fd, SOL_SOCKET, SO_SNDBUF, 65536, "SO_SNDBUF");
	get_int(fd, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF");
	set_int(fd, SOL_SOCKET, SO_RCVBUF, 131072, "SO_RCVBUF");
	get_int(fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF");
	set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
	get_int(fd, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR");
	struct linger lg = {1, 5}, lg2 = {7, 7};
	socklen_t ll = sizeof(lg2);
	res("set SO_LINGER {1,5}", setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	res("get SO_LINGER", getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg2, &ll));
	say("linger {%d,%d} len %u", lg2.l_onoff, lg2.l_linger, (unsigned)ll);
	lg.l_onoff = 0;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	int v = 1;
	res("set short optlen", setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, 2));
	res("set bad level", setsockopt(fd, 12345, 1, &v, sizeof(v)));
	res("set unknown TCP option", setsockopt(fd, IPPROTO_TCP, 9999, &v, sizeof(v)));
	res("set NULL value", setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, NULL, sizeof(v)));
	socklen_t zl = 0;
	res("get zero optlen", getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, &zl));
	say("zero optlen now %u", (unsigned)zl);
	char big[8] = {0};
	socklen_t bl = sizeof(big);
	res("get into 8 bytes", getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, big, &bl));
	say("len %u", (unsigned)bl);
}

static void nonblock_modes(int fd, const char *who)
{
	char buf[8];
	int on = 1, off = 0;
	say("-- nonblocking modes on %s", who);
	say("F_GETFL nonblock %d", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	res("recv DONTWAIT", recv(fd, buf, sizeof(buf), MSG_DONTWAIT));
	res("FIONBIO on", ioctl(fd, FIONBIO, &on));
	say("F_GETFL nonblock %d", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	res("read", read(fd, buf, sizeof(buf)));
	res("FIONBIO off", ioctl(fd, FIONBIO, &off));
	say("F_GETFL nonblock %d", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	res("F_SETFL O_NONBLOCK", fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
	say("F_GETFL nonblock %d", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	res("read", read(fd, buf, sizeof(buf)));
	res("F_SETFL 0", fcntl(fd, F_SETFL, 0));
	say("F_GETFL nonblock %d", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	say("F_GETFD %d", fcntl(fd, F_GETFD));
	res("F_SETFD CLOEXEC", fcntl(fd, F_SETFD, FD_CLOEXEC));
	say("F_GETFD %d", fcntl(fd, F_GETFD));
	fcntl(fd, F_SETFD, 0);
}

static void subject(void)
{
	int l = tcp_listen(NULL, CONF_PORT(4), SOCK_NONBLOCK);
	say("listener F_GETFL nonblock %d", (fcntl(l, F_GETFL) & O_NONBLOCK) != 0);
	ctl_sync("listening");
	say("listener poll %#x", wait_fd(l, POLLIN, 10000));
	int a = accept(l, NULL, NULL);
	resfd("accept", a);
	options(a, "accepted");
	nonblock_modes(a, "accepted");
	options(l, "listener");
	int v = 0;
	res("FIONREAD on listener", ioctl(l, FIONREAD, &v));

	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(CONF_PEER_PORT(4))};
	inet_pton(AF_INET, conf_peer_ip, &sin.sin_addr);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	/* Options set before connect must survive it. */
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	res("connect nonblocking", connect(c, (struct sockaddr *)&sin, sizeof(sin)));
	say("connect poll %#x", wait_fd(c, POLLOUT, 10000));
	get_int(c, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY (set before connect)");
	get_int(c, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE (set before connect)");
	res("read nonblocking", read(c, &v, 1));
	fcntl(c, F_SETFL, 0);
	options(c, "connected");
	nonblock_modes(c, "connected");
	ctl_sync("done");
	close(a);
	close(c);
	close(l);
}

static void peer(void)
{
	int l = tcp_listen(conf_peer_ip, CONF_PEER_PORT(4), 0);
	ctl_sync("listening");
	int c = tcp_connect(conf_subject_ip, CONF_PORT(4));
	int a = accept(l, NULL, NULL);
	ctl_sync("done");
	close(a);
	close(c);
	close(l);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
