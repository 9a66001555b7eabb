/* SPDX-License-Identifier: BSD-3-Clause */
/* Connection teardown: shutdown half-close, EPIPE + SIGPIPE, MSG_NOSIGNAL, peer RST ->
 * ECONNRESET, SO_LINGER {1,0}, close with unread data, SHUT_RD. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's a, b, c, d, e, f. */
CONF_ACCELERATED(6);

static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

static bool has_error_or_hup(void *arg)
{
	struct pollfd p = {.fd = *(int *)arg, .events = 0};
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

static bool has_data(void *arg)
{
	int v = 0;
	return ioctl(*(int *)arg, FIONREAD, &v) == 0 && v > 0;
}

static void subject(void)
{
	char buf[32];
	struct sigaction sa = {.sa_handler = on_sigpipe};
	sigaction(SIGPIPE, &sa, NULL);
	int l = tcp_listen(NULL, CONF_PORT(3), 0);
	ctl_sync("listening");

	/* 1: our half-close; the peer keeps talking. */
	int a = accept(l, NULL, NULL);
	res("a shutdown WR", shutdown(a, SHUT_WR));
	ctl_sync("a fin");
	memset(buf, 0, sizeof(buf));
	say("a read after our FIN: %zu '%s'", read_full(a, buf, 9), buf);
	res("a write after shutdown", write(a, "x", 1));
	say("sigpipes %d", (int)sigpipes);
	res("a send NOSIGNAL after shutdown", send(a, "x", 1, MSG_NOSIGNAL));
	say("sigpipes %d", (int)sigpipes);
	res("a read at peer's FIN", read(a, buf, sizeof(buf)));
	say("a poll revents %#x", wait_fd(a, POLLIN | POLLOUT | POLLRDHUP, 10000));
	close(a);

	/* 2: the peer closes; our write draws a RST; the next write is EPIPE. */
	int b = accept(l, NULL, NULL);
	say("b poll revents at peer close %#x", wait_fd(b, POLLIN | POLLRDHUP, 10000));
	res("b read EOF", read(b, buf, sizeof(buf)));
	res("b read EOF again", read(b, buf, sizeof(buf)));
	res("b write into closed peer", write(b, "x", 1));
	say("b gets RST: %d", wait_until(has_error_or_hup, &b));
	say("b poll revents after RST %#x", wait_fd(b, POLLIN | POLLOUT | POLLRDHUP, 0));
	res("b write after RST", write(b, "x", 1));
	say("sigpipes %d", (int)sigpipes);
	res("b write after RST again", send(b, "x", 1, MSG_NOSIGNAL));
	say("sigpipes %d", (int)sigpipes);
	res("b read after RST", read(b, buf, sizeof(buf)));
	close(b);

	/* 3: the peer aborts (SO_LINGER {1,0}). */
	int c = accept(l, NULL, NULL);
	ctl_sync("c abort");
	say("c sees RST: %d", wait_until(has_error_or_hup, &c));
	say("c poll revents %#x", wait_fd(c, POLLIN | POLLOUT | POLLRDHUP, 0));
	res("c read", read(c, buf, sizeof(buf)));
	res("c read again", read(c, buf, sizeof(buf)));
	int err = -1;
	socklen_t el = sizeof(err);
	getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
	say("c SO_ERROR %s", err ? errname(err) : "0");
	res("c send NOSIGNAL", send(c, "x", 1, MSG_NOSIGNAL));
	say("sigpipes %d", (int)sigpipes);
	close(c);

	/* 4: we abort. */
	int d = accept(l, NULL, NULL);
	/* Not before the peer's connect() returned: a reset that arrives first makes connect()
	 * itself fail with ECONNRESET (on the kernel too, when the subject is fast enough). */
	ctl_sync("d connected");
	struct linger lg = {1, 0};
	res("d SO_LINGER {1,0}", setsockopt(d, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	res("d close", close(d));
	ctl_sync("d closed");

	/* 5: we close with unread data: RST instead of FIN. */
	int e = accept(l, NULL, NULL);
	say("e has unread data: %d", wait_until(has_data, &e));
	res("e close", close(e));
	ctl_sync("e closed");

	/* 6: SHUT_RD, bad shutdown arguments. */
	int f = accept(l, NULL, NULL);
	res("f shutdown RD", shutdown(f, SHUT_RD));
	res("f recv DONTWAIT after SHUT_RD", recv(f, buf, sizeof(buf), MSG_DONTWAIT));
	res("f shutdown bad how", shutdown(f, 7));
	res("f write after SHUT_RD", write(f, "ok", 2));
	int u = socket(AF_INET, SOCK_STREAM, 0);
	res("shutdown unconnected", shutdown(u, SHUT_WR));
	ctl_sync("f done");
	close(u);
	close(f);
	res("close twice", close(f));
	close(l);
}

static void peer(void)
{
	char buf[32];
	ctl_sync("listening");
	int a = tcp_connect(conf_subject_ip, CONF_PORT(3));
	res("a read subject FIN", read(a, buf, sizeof(buf)));
	ctl_sync("a fin");
	res("a write after subject FIN", write(a, "after-fin", 9));
	close(a);

	int b = tcp_connect(conf_subject_ip, CONF_PORT(3));
	close(b);

	int c = tcp_connect(conf_subject_ip, CONF_PORT(3));
	struct linger lg = {1, 0};
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c);
	ctl_sync("c abort");

	int d = tcp_connect(conf_subject_ip, CONF_PORT(3));
	ctl_sync("d connected");
	ctl_sync("d closed");
	say("d sees RST: %d", wait_until(has_error_or_hup, &d));
	res("d read", read(d, buf, sizeof(buf)));
	close(d);

	int e = tcp_connect(conf_subject_ip, CONF_PORT(3));
	res("e write", write(e, "unread", 6));
	ctl_sync("e closed");
	say("e sees RST: %d", wait_until(has_error_or_hup, &e));
	res("e read", read(e, buf, sizeof(buf)));
	close(e);

	int f = tcp_connect(conf_subject_ip, CONF_PORT(3));
	say("f read %zu", read_full(f, buf, 2));
	ctl_sync("f done");
	close(f);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
