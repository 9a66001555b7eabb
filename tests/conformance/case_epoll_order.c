/* SPDX-License-Identifier: BSD-3-Clause */
/* The order of epoll_wait's events over several ready accelerated sockets: members are reported
 * in the order they became ready; a reported level-triggered member goes behind the others (so
 * a small maxevents serves every member in turn), edge-triggered and one-shot ones leave the
 * list; a read that takes everything leaves a level-triggered member out until new data, and one
 * that gets new data before the next wait keeps its place. */
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's a, b, c and d. */
CONF_ACCELERATED(4);

#define NSOCK 4

/* One wait for at most max events; prints the members reported, by name ("+": events other
 * than EPOLLIN). */
static void show(int ep, int max, const char *what)
{
	struct epoll_event ev[8];
	int n = epoll_wait(ep, ev, max, 0);
	char line[64] = "";
	size_t len = 0;
	for (int i = 0; i < n && i < max && len < sizeof(line); i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %c%s",
		                        (char)ev[i].data.u64, ev[i].events == EPOLLIN ? "" : "+");
	say("%s (max %d): %d:%s", what, max, n, line);
}

static void arrived(int fd, int n)
{
	struct nread w = {fd, n};
	if (!wait_until(nread_is, &w))
		die("data did not arrive");
}

static void subject(void)
{
	const char *name = "abcd";
	const uint32_t how[NSOCK] = {EPOLLIN, EPOLLIN | EPOLLET, EPOLLIN, EPOLLIN | EPOLLONESHOT};
	int l = tcp_listen(NULL, CONF_PORT(6), 0);
	int ep = epoll_create1(0);
	int s[NSOCK];
	ctl_sync("listening");
	for (int i = 0; i < NSOCK; i++) {
		s[i] = accept(l, NULL, NULL);
		struct epoll_event ev = {.events = how[i], .data.u64 = (uint64_t)name[i]};
		res("add", epoll_ctl(ep, EPOLL_CTL_ADD, s[i], &ev));
	}
	show(ep, 8, "idle");
	ctl_sync("added");
	/* Ready one after the other: a, b, c, d. */
	for (int i = 0; i < NSOCK; i++) {
		ctl_sync("go");
		ctl_sync("sent");
		arrived(s[i], 1);
	}
	show(ep, 2, "first two"); /* a b; b (ET) leaves, a goes behind c and d */
	show(ep, 2, "next two");  /* c d; d (ONESHOT) is disarmed */
	show(ep, 1, "one");       /* a */
	show(ep, 1, "one");       /* c */
	show(ep, 1, "one");       /* a */
	show(ep, 8, "all ready"); /* c a */
	ctl_sync("go");
	ctl_sync("sent");
	arrived(s[1], 2);
	arrived(s[3], 2);
	show(ep, 8, "after b and d got more"); /* b's new edge at the tail; d stays disarmed */
	struct epoll_event ev = {.events = how[3], .data.u64 = 'd'};
	res("rearm d", epoll_ctl(ep, EPOLL_CTL_MOD, s[3], &ev));
	show(ep, 8, "d rearmed");
	char buf[64];
	res("read all of c", read(s[2], buf, sizeof(buf)));
	show(ep, 8, "c drained");
	show(ep, 1, "one");
	show(ep, 1, "one");
	ctl_sync("go");
	ctl_sync("sent");
	arrived(s[2], 1);
	show(ep, 8, "c again");
	for (int i = 0; i < NSOCK; i++)
		res("read all", read(s[i], buf, sizeof(buf)));
	show(ep, 8, "everything read");
	/* a then c: both reported, both stay. a read dry, then new data for a before the next
	 * wait: the kernel never took a off its ready list, so a is still ahead of c. */
	for (int i = 0; i < NSOCK; i += 2) {
		ctl_sync("go");
		ctl_sync("sent");
		arrived(s[i], 1);
	}
	show(ep, 8, "a and c");
	res("read all of a", read(s[0], buf, sizeof(buf)));
	ctl_sync("go");
	ctl_sync("sent");
	arrived(s[0], 1);
	show(ep, 8, "a read dry, then more"); /* a c */
	ctl_sync("end");
	for (int i = 0; i < NSOCK; i++)
		close(s[i]);
	close(ep);
	close(l);
}

static void peer(void)
{
	int c[NSOCK];
	ctl_sync("listening");
	for (int i = 0; i < NSOCK; i++)
		c[i] = tcp_connect(conf_subject_ip, CONF_PORT(6));
	ctl_sync("added");
	/* Each send waits for the subject to be ready for it ("go"); it then waits for the data. */
	for (int i = 0; i < NSOCK; i++) {
		ctl_sync("go");
		res("send", write(c[i], "x", 1));
		ctl_sync("sent");
	}
	ctl_sync("go");
	res("send b", write(c[1], "y", 1));
	res("send d", write(c[3], "y", 1));
	ctl_sync("sent");
	ctl_sync("go");
	res("send c", write(c[2], "z", 1));
	ctl_sync("sent");
	for (int i = 0; i < NSOCK; i += 2) {
		ctl_sync("go");
		res("send", write(c[i], "v", 1));
		ctl_sync("sent");
	}
	ctl_sync("go");
	res("send a", write(c[0], "w", 1));
	ctl_sync("sent");
	ctl_sync("end");
	for (int i = 0; i < NSOCK; i++)
		close(c[i]);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
