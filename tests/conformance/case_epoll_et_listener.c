/* SPDX-License-Identifier: BSD-3-Clause */
/* An edge-triggered listener: every connection that arrives is an edge of its own, even while
 * earlier ones wait to be accepted (the kernel wakes the listener's waiters for each one); a
 * wait with no new arrival reports nothing, however many are pending. */
#include <errno.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's three connections. */
CONF_ACCELERATED(3);

static void wait_edge(int ep, int timeout_ms, const char *what)
{
	struct epoll_event ev[4];
	int n = epoll_wait(ep, ev, 4, timeout_ms);
	say("%s: %d%s", what, n, n == 1 && ev[0].events == EPOLLIN ? " (EPOLLIN)" : "");
}

/* Accepts until the queue is empty: how many there were. */
static void accept_all(int l, int *fds)
{
	int n = 0;
	for (;;) {
		int c = accept(l, NULL, NULL);
		if (c < 0) {
			say("accepted %d, then %s", n, errname(errno));
			return;
		}
		fds[n++] = c;
	}
}

static void subject(void)
{
	int l = tcp_listen(NULL, CONF_PORT(7), SOCK_NONBLOCK);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = 1};
	res("add listener ET", epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev));
	wait_edge(ep, 0, "idle");
	ctl_sync("listening");
	ctl_sync("first");
	wait_edge(ep, 10000, "first arrives");
	wait_edge(ep, 0, "nothing new");
	ctl_sync("checked");
	ctl_sync("second");
	wait_edge(ep, 10000, "second arrives, first not accepted");
	wait_edge(ep, 0, "nothing new");
	int fds[4];
	accept_all(l, fds);
	wait_edge(ep, 0, "after accepting");
	ctl_sync("checked");
	ctl_sync("third");
	wait_edge(ep, 10000, "third arrives");
	accept_all(l, fds + 2);
	ctl_sync("end");
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	close(ep);
	close(l);
}

static void peer(void)
{
	int c[3];
	ctl_sync("listening");
	c[0] = tcp_connect(conf_subject_ip, CONF_PORT(7));
	ctl_sync("first");
	ctl_sync("checked");
	c[1] = tcp_connect(conf_subject_ip, CONF_PORT(7));
	ctl_sync("second");
	ctl_sync("checked");
	c[2] = tcp_connect(conf_subject_ip, CONF_PORT(7));
	ctl_sync("third");
	ctl_sync("end");
	for (int i = 0; i < 3; i++)
		close(c[i]);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
