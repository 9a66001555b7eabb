/* SPDX-License-Identifier: BSD-3-Clause */
/* An event-loop client in the style of mio/tokio: every socket registered once, edge-triggered,
 * for input, output and read hangup. A non-blocking connect is an output edge when it
 * completes; each reply from the peer an input edge, whether or not the last one was read to
 * the end; the peer's close an input edge with EPOLLRDHUP. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the connection to the peer. */
CONF_ACCELERATED(1);

static void show(int ep, int timeout_ms, const char *what)
{
	struct epoll_event ev[2];
	int n = epoll_wait(ep, ev, 2, timeout_ms);
	char bits[64] = "";
	if (n == 1)
		snprintf(bits, sizeof(bits), "%s%s%s%s%s", (ev[0].events & EPOLLIN) ? " IN" : "",
		         (ev[0].events & EPOLLOUT) ? " OUT" : "",
		         (ev[0].events & EPOLLRDHUP) ? " RDHUP" : "",
		         (ev[0].events & EPOLLHUP) ? " HUP" : "",
		         (ev[0].events & EPOLLERR) ? " ERR" : "");
	say("%s: %d%s", what, n, bits);
}

static void subject(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(CONF_PEER_PORT(2))};
	inet_pton(AF_INET, conf_peer_ip, &sin.sin_addr);
	ctl_sync("peer listening");
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
	                         .data.u64 = 1};
	res("add", epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev));
	int r = connect(c, (struct sockaddr *)&sin, sizeof(sin));
	say("connect: %d %s", r, r < 0 ? errname(errno) : "");
	show(ep, 10000, "connected");
	show(ep, 0, "nothing new");
	res("request", write(c, "ping", 4));
	ctl_sync("sent 1");
	show(ep, 10000, "reply 1");
	char buf[8];
	res("read part of it", read(c, buf, 2));
	ctl_sync("more");
	show(ep, 10000, "reply 2, reply 1 not read to the end");
	res("read the rest", read(c, buf, sizeof(buf)));
	errno = 0;
	r = (int)read(c, buf, sizeof(buf));
	say("read again: %d %s", r, r < 0 ? errname(errno) : "");
	show(ep, 0, "nothing new");
	ctl_sync("close");
	show(ep, 10000, "peer closed");
	res("read at the end", read(c, buf, sizeof(buf)));
	close(c);
	close(ep);
}

static void peer(void)
{
	int l = tcp_listen(conf_peer_ip, CONF_PEER_PORT(2), 0);
	ctl_sync("peer listening");
	int c = accept(l, NULL, NULL);
	ctl_sync("sent 1");
	char buf[8];
	read_full(c, buf, 4);
	res("reply 1", write(c, "pong", 4));
	ctl_sync("more");
	res("reply 2", write(c, "more", 4));
	ctl_sync("close");
	close(c);
	close(l);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
