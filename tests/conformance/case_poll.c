/* SPDX-License-Identifier: BSD-3-Clause */
/* poll, ppoll, select and pselect over accelerated sockets mixed with a pipe, an eventfd and a
 * timerfd: revents, timeouts 0, EINTR, POLLNVAL/EBADF, select's fd_set rewriting. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's one connection. */
CONF_ACCELERATED(1);

static void on_alarm(int sig)
{
	(void)sig;
}

static void show_poll(struct pollfd *p, int n, int timeout, const char *what)
{
	for (int i = 0; i < n; i++)
		p[i].revents = 0x7fff;
	int r = poll(p, (nfds_t)n, timeout);
	if (r < 0) {
		say("%s: poll = -1 %s", what, errname(errno));
		return;
	}
	char line[256];
	int off = snprintf(line, sizeof(line), "%s: poll = %d revents", what, r);
	for (int i = 0; i < n; i++)
		off += snprintf(line + off, sizeof(line) - (size_t)off, " %#x", p[i].revents);
	say("%s", line);
}

static void show_select(int nfds, int *fds, int n, bool w, long usec, const char *what)
{
	fd_set r, wr;
	FD_ZERO(&r);
	FD_ZERO(&wr);
	for (int i = 0; i < n; i++) {
		FD_SET(fds[i], &r);
		if (w)
			FD_SET(fds[i], &wr);
	}
	struct timeval tv = {0, usec};
	int k = select(nfds, &r, w ? &wr : NULL, NULL, usec < 0 ? NULL : &tv);
	if (k < 0) {
		say("%s: select = -1 %s", what, errname(errno));
		return;
	}
	char line[256];
	int off = snprintf(line, sizeof(line), "%s: select = %d", what, k);
	for (int i = 0; i < n; i++)
		off += snprintf(line + off, sizeof(line) - (size_t)off, " [%d:%s%s]", i,
		                FD_ISSET(fds[i], &r) ? "r" : "",
		                w && FD_ISSET(fds[i], &wr) ? "w" : "");
	say("%s", line);
}

static void subject(void)
{
	char buf[32];
	int l = tcp_listen(NULL, CONF_PORT(6), 0);
	ctl_sync("listening");
	struct pollfd lp = {.fd = l, .events = POLLIN};
	show_poll(&lp, 1, 10000, "listener");
	int x = accept(l, NULL, NULL);
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	int efd = eventfd(0, EFD_NONBLOCK);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);

	struct pollfd set[5] = {
	        {.fd = x, .events = POLLIN | POLLRDHUP},
	        {.fd = p[0], .events = POLLIN},
	        {.fd = efd, .events = POLLIN},
	        {.fd = tfd, .events = POLLIN},
	        {.fd = x, .events = POLLOUT},
	};
	show_poll(set, 4, 0, "all idle");
	show_poll(set, 5, 0, "x writable");
	show_poll(set, 4, 50, "idle with a 50 ms timeout");
	ctl_sync("data");
	show_poll(set, 4, 10000, "x readable");
	struct nread n4 = {x, 4};
	wait_until(nread_is, &n4);
	if (write(p[1], "p", 1) != 1 || eventfd_write(efd, 1) < 0)
		die("write");
	struct itimerspec its = {.it_value = {0, 1000}};
	timerfd_settime(tfd, 0, &its, NULL);
	uint64_t exp;
	while (read(tfd, &exp, sizeof(exp)) < 0)
		poll(&set[3], 1, 10000);
	timerfd_settime(tfd, 0, &its, NULL);
	poll(&set[3], 1, 10000); /* the timer fired again */
	show_poll(set, 4, 10000, "everything readable");
	res("read x", read(x, buf, sizeof(buf)));

	int fds[4] = {x, p[0], efd, tfd};
	int nfds = 0;
	for (int i = 0; i < 4; i++)
		nfds = fds[i] >= nfds ? fds[i] + 1 : nfds;
	show_select(nfds, fds, 4, false, 0, "select x drained");
	show_select(nfds, fds, 4, true, 0, "select with write set");
	if (read(p[0], buf, 1) != 1 || eventfd_read(efd, &exp) < 0 || read(tfd, &exp, 8) != 8)
		die("drain");
	show_select(nfds, fds, 4, false, 20000, "select all drained, 20 ms");

	/* EINTR in poll/select with a handler without SA_RESTART. */
	struct sigaction sa = {.sa_handler = on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {.it_value = {0, 100000}};
	setitimer(ITIMER_REAL, &it, NULL);
	show_poll(set, 4, -1, "poll with a signal");
	setitimer(ITIMER_REAL, &it, NULL);
	show_select(nfds, fds, 4, false, -1, "select with a signal");
	sigset_t block, none;
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &block, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	res("ppoll unblocking SIGALRM", ppoll(set, 4, NULL, &none));
	setitimer(ITIMER_REAL, &it, NULL);
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(x, &rs);
	res("pselect unblocking SIGALRM", pselect(x + 1, &rs, NULL, NULL, NULL, &none));
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	struct timespec zero = {0, 0};
	res("ppoll zero timeout", ppoll(set, 4, &zero, NULL));

	/* Peer half-close, then bad fds. */
	ctl_sync("fin");
	show_poll(set, 4, 10000, "peer FIN");
	struct pollfd bad[2] = {{.fd = x, .events = POLLIN}, {.fd = 1000, .events = POLLIN}};
	show_poll(bad, 2, 0, "with a closed fd number");
	struct pollfd neg[2] = {{.fd = -1, .events = POLLIN}, {.fd = x, .events = 0}};
	show_poll(neg, 2, 0, "negative fd and no events");
	int gone = dup(x);
	close(gone);
	int fds2[2] = {x, gone};
	show_select((x > gone ? x : gone) + 1, fds2, 2, false, 0, "select with a closed fd");
	ctl_sync("end-poll");
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
	int c = tcp_connect(conf_subject_ip, CONF_PORT(6));
	ctl_sync("data");
	res("send", write(c, "data", 4));
	ctl_sync("fin");
	res("shutdown", shutdown(c, SHUT_WR));
	ctl_sync("end-poll");
	close(c);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
