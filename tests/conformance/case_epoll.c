/* SPDX-License-Identifier: BSD-3-Clause */
/* epoll over accelerated sockets mixed with a pipe, an eventfd and a timerfd: level and edge
 * triggered, EPOLLONESHOT, EPOLLRDHUP, data.u64, timeout 0, EINTR, removal on close, errors. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's c and y. */
CONF_ACCELERATED(2);

static int show_wait(int ep, int timeout, const char *what)
{
	struct epoll_event ev[8];
	int n = epoll_wait(ep, ev, 8, timeout);
	if (n < 0) {
		say("%s: epoll_wait = -1 %s", what, errname(errno));
		return n;
	}
	say("%s: epoll_wait = %d", what, n);
	for (int i = 0; i < n; i++)
		say("  data %#llx events %#x", (unsigned long long)ev[i].data.u64, ev[i].events);
	return n;
}

static void ctl(int ep, int op, int fd, uint32_t events, uint64_t data, const char *what)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};
	res(what, epoll_ctl(ep, op, fd, &ev));
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void subject(void)
{
	char buf[64];
	int l = tcp_listen(NULL, CONF_PORT(5), 0);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	ctl(ep, EPOLL_CTL_ADD, l, EPOLLIN, 0x1111222233334444ull, "add listener");
	res("wait 0 on idle listener", epoll_wait(ep, (struct epoll_event[1]){{0}}, 1, 0));
	ctl_sync("listening");
	show_wait(ep, 10000, "listener");
	int x = accept(l, NULL, NULL);
	ctl(ep, EPOLL_CTL_DEL, l, 0, 0, "del listener");

	/* Level-triggered. */
	ctl(ep, EPOLL_CTL_ADD, x, EPOLLIN, 1, "add x LT");
	show_wait(ep, 0, "LT idle");
	ctl_sync("lt");
	show_wait(ep, 10000, "LT data");
	struct nread n5 = {x, 5};
	wait_until(nread_is, &n5);
	show_wait(ep, 0, "LT again");
	res("read", read(x, buf, 5));
	show_wait(ep, 0, "LT drained");
	/* A read that asks for more than there is leaves nothing: not ready until new data. */
	ctl_sync("lt2");
	struct nread n3a = {x, 3};
	wait_until(nread_is, &n3a);
	show_wait(ep, 0, "LT data 2");
	res("short read", read(x, buf, sizeof(buf)));
	show_wait(ep, 0, "LT after short read");
	ctl_sync("lt3");
	show_wait(ep, 10000, "LT new data after short read");
	res("read", read(x, buf, sizeof(buf)));

	/* Edge-triggered. */
	ctl(ep, EPOLL_CTL_MOD, x, EPOLLIN | EPOLLET, 0xe7, "mod x ET");
	ctl_sync("et");
	struct nread n3 = {x, 3};
	wait_until(nread_is, &n3);
	show_wait(ep, 10000, "ET data");
	show_wait(ep, 0, "ET no new edge");
	res("read 1", read(x, buf, 1));
	show_wait(ep, 0, "ET after partial read");
	ctl_sync("et2");
	show_wait(ep, 10000, "ET more data");
	struct nread n4 = {x, 4};
	wait_until(nread_is, &n4);
	res("read rest", read(x, buf, sizeof(buf)));
	/* Level-triggered for a while (the data that comes is read then), edge-triggered again:
	 * new data is an edge, however much came and went in between. */
	ctl_sync("et3");
	struct nread n6 = {x, 6};
	wait_until(nread_is, &n6);
	ctl(ep, EPOLL_CTL_MOD, x, EPOLLIN, 0x17, "mod x LT");
	res("read 6", read(x, buf, sizeof(buf)));
	ctl(ep, EPOLL_CTL_MOD, x, EPOLLIN | EPOLLET, 0xe8, "mod x ET again");
	show_wait(ep, 0, "ET again, nothing new");
	ctl_sync("et4");
	show_wait(ep, 10000, "ET again, new data");
	struct nread n2c = {x, 2};
	wait_until(nread_is, &n2c);
	res("read", read(x, buf, sizeof(buf)));

	/* One-shot. */
	ctl(ep, EPOLL_CTL_MOD, x, EPOLLIN | EPOLLONESHOT, 2, "mod x ONESHOT");
	ctl_sync("oneshot");
	show_wait(ep, 10000, "ONESHOT first");
	ctl_sync("oneshot2");
	struct nread n2 = {x, 2};
	wait_until(nread_is, &n2);
	show_wait(ep, 0, "ONESHOT disarmed");
	ctl(ep, EPOLL_CTL_MOD, x, EPOLLIN | EPOLLONESHOT, 2, "rearm");
	show_wait(ep, 0, "ONESHOT rearmed");
	res("read", read(x, buf, sizeof(buf)));

	/* Writable, then peer half-close with RDHUP. */
	ctl(ep, EPOLL_CTL_MOD, x, EPOLLOUT, 6, "mod x OUT");
	show_wait(ep, 0, "OUT");
	ctl(ep, EPOLL_CTL_MOD, x, EPOLLIN | EPOLLRDHUP, 3, "mod x RDHUP");
	ctl_sync("rdhup");
	struct nread n2b = {x, 2};
	wait_until(nread_is, &n2b);
	show_wait(ep, 10000, "RDHUP");
	/* Data then FIN: the short read takes the data, the end of stream keeps it readable. */
	res("short read before EOF", read(x, buf, sizeof(buf)));
	show_wait(ep, 0, "RDHUP after short read");

	/* Mixed set: a pipe, an eventfd, a timerfd and x. */
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	int efd = eventfd(0, EFD_NONBLOCK);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 10, "add pipe");
	ctl(ep, EPOLL_CTL_ADD, efd, EPOLLIN, 11, "add eventfd");
	ctl(ep, EPOLL_CTL_ADD, tfd, EPOLLIN, 12, "add timerfd");
	show_wait(ep, 0, "mixed, only x ready");
	if (write(p[1], "p", 1) != 1 || eventfd_write(efd, 1) < 0)
		die("write");
	struct itimerspec its = {.it_value = {0, 1000}};
	timerfd_settime(tfd, 0, &its, NULL);
	unsigned seen = 0;
	for (int i = 0; i < 100 && seen != 0xf; i++) {
		struct epoll_event ev[8];
		int k = epoll_wait(ep, ev, 8, 10000);
		for (int j = 0; j < k; j++)
			seen |= ev[j].data.u64 == 3 ? 1u : 1u << (ev[j].data.u64 - 9);
	}
	say("mixed: saw x=%d pipe=%d eventfd=%d timerfd=%d", !!(seen & 1), !!(seen & 2),
	    !!(seen & 4), !!(seen & 8));
	ctl(ep, EPOLL_CTL_DEL, tfd, 0, 0, "del timerfd");
	ctl(ep, EPOLL_CTL_DEL, efd, 0, 0, "del eventfd");
	ctl(ep, EPOLL_CTL_DEL, p[0], 0, 0, "del pipe");
	show_wait(ep, 0, "x only (LT, EOF pending)");

	/* Errors. */
	ctl(ep, EPOLL_CTL_ADD, x, EPOLLIN, 0, "add twice");
	ctl(ep, EPOLL_CTL_DEL, x, 0, 0, "del x");
	ctl(ep, EPOLL_CTL_DEL, x, 0, 0, "del x again");
	ctl(ep, EPOLL_CTL_MOD, x, EPOLLIN, 0, "mod non-member");
	ctl(ep, EPOLL_CTL_ADD, ep, EPOLLIN, 0, "add epfd to itself");
	ctl(p[0], EPOLL_CTL_ADD, x, EPOLLIN, 0, "ctl on a pipe");
	res("wait maxevents 0", epoll_wait(ep, (struct epoll_event[1]){{0}}, 0, 0));
	ctl(ep, EPOLL_CTL_ADD, x, EPOLLIN, 0, "add x back");
	ctl(ep, EPOLL_CTL_ADD, x, EPOLLIN | EPOLLEXCLUSIVE, 0, "add exclusive twice");
	res("ctl ADD NULL event", epoll_ctl(ep, EPOLL_CTL_ADD, l, NULL));

	/* EINTR: a handler without SA_RESTART interrupts an idle wait. */
	ctl_sync("y");
	int y = accept(l, NULL, NULL);
	int ep2 = epoll_create(1);
	ctl(ep2, EPOLL_CTL_ADD, y, EPOLLIN, 7, "add y");
	struct sigaction sa = {.sa_handler = on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {.it_value = {0, 100000}};
	setitimer(ITIMER_REAL, &it, NULL);
	show_wait(ep2, -1, "idle with a signal");
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	struct epoll_event ev[2];
	sigset_t none;
	sigemptyset(&none);
	res("epoll_pwait unblocking SIGALRM", epoll_pwait(ep2, ev, 2, -1, &none));
	sigprocmask(SIG_UNBLOCK, &block, NULL);

	/* Removal on close: y becomes readable after it was closed: no event. */
	ctl_sync("y data");
	struct nread n1 = {y, 1};
	say("y readable: %d", wait_until(nread_is, &n1));
	int ydup = dup(y);
	close(y);
	show_wait(ep2, 0, "after close of y (a dup is still open)");
	close(ydup);
	show_wait(ep2, 0, "after close of the last fd");
	ctl(ep2, EPOLL_CTL_DEL, y, 0, 0, "del closed fd");
	ctl_sync("end-epoll");
	close(ep2);
	close(ep);
	close(x);
	close(l);
	close(p[0]);
	close(p[1]);
	close(efd);
	close(tfd);
}

static void peer(void)
{
	ctl_sync("listening");
	int c = tcp_connect(conf_subject_ip, CONF_PORT(5));
	ctl_sync("lt");
	res("send 5", write(c, "hello", 5));
	ctl_sync("lt2");
	res("send 3", write(c, "xyz", 3));
	ctl_sync("lt3");
	res("send 1", write(c, "w", 1));
	ctl_sync("et");
	res("send 3", write(c, "abc", 3));
	ctl_sync("et2");
	res("send 2", write(c, "de", 2));
	ctl_sync("et3");
	res("send 6", write(c, "ghijkl", 6));
	ctl_sync("et4");
	res("send 2", write(c, "mn", 2));
	ctl_sync("oneshot");
	res("send 1", write(c, "1", 1));
	ctl_sync("oneshot2");
	res("send 1", write(c, "2", 1));
	ctl_sync("rdhup");
	res("send 2", write(c, "zz", 2));
	res("shutdown WR", shutdown(c, SHUT_WR));
	ctl_sync("y");
	int y = tcp_connect(conf_subject_ip, CONF_PORT(5));
	ctl_sync("y data");
	res("send y", write(y, "y", 1));
	ctl_sync("end-epoll");
	close(y);
	close(c);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
