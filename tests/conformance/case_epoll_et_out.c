/* SPDX-License-Identifier: BSD-3-Clause */
/* Edge-triggered EPOLLOUT: a sender that writes until EAGAIN gets an edge once the peer has
 * read and space is free again (a server streaming a large response to a slow client waits for
 * exactly this), whatever state its socket was seen in before the writes. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's one connection. */
CONF_ACCELERATED(1);

static void wait_out(int ep, int timeout_ms, const char *what)
{
	struct epoll_event ev[2];
	int n = epoll_wait(ep, ev, 2, timeout_ms);
	say("%s: %d%s", what, n, n == 1 ? ((ev[0].events & EPOLLOUT) ? " (OUT)" : " (other)") : "");
}

/* Writes until the socket refuses more. */
static void fill(int fd)
{
	static char buf[16384];
	memset(buf, 'f', sizeof(buf));
	for (;;) {
		ssize_t r = write(fd, buf, sizeof(buf));
		if (r < 0) {
			say("write until %s", errname(errno));
			return;
		}
	}
}

static void subject(void)
{
	int l = tcp_listen(NULL, CONF_PORT(7), 0);
	ctl_sync("listening");
	int c = accept(l, NULL, NULL);
	fcntl(c, F_SETFL, O_NONBLOCK);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLET, .data.u64 = 1};
	res("add ET OUT", epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev));
	wait_out(ep, 10000, "writable at add");
	wait_out(ep, 0, "nothing new");
	for (int round = 0; round < 3; round++) {
		fill(c);
		wait_out(ep, 0, "full");
		ctl_sync("read it");
		ctl_sync("read");
		wait_out(ep, 10000, "after the peer read");
	}
	ctl_sync("end");
	close(c);
	close(ep);
	close(l);
}

static void peer(void)
{
	ctl_sync("listening");
	int c = tcp_connect(conf_subject_ip, CONF_PORT(7));
	for (int round = 0; round < 3; round++) {
		ctl_sync("read it");
		/* Everything written so far, the subject's send buffer and our receive buffer:
		 * read until nothing more comes for a while. */
		char buf[65536];
		size_t total = 0;
		while (wait_fd(c, POLLIN, 300) & POLLIN) {
			ssize_t r = read(c, buf, sizeof(buf));
			if (r <= 0)
				break;
			total += (size_t)r;
		}
		(void)total;
		ctl_sync("read");
	}
	ctl_sync("end");
	close(c);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
