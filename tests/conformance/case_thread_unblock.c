/* SPDX-License-Identifier: BSD-3-Clause */
/* Threads blocked on accelerated sockets, released by another thread (issue 12, part 4): a
 * reader blocked in read() on a connection whose peer sends nothing returns 0 when another
 * thread shuts the connection down for reading; a thread blocked in accept() returns EINVAL
 * when another thread shuts the listener down (before: shutdown said ENOTCONN and the thread
 * stayed blocked for ever), and the listener listens again afterwards; meanwhile the main
 * thread keeps exchanging data on another connection (a blocked thread never holds up the
 * others). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's idle and echo connections, and the one after listen() again. */
CONF_ACCELERATED(3);

struct blocked {
	int fd;
	long r;
	int err;
	volatile int started;
};

static void *reader(void *arg)
{
	struct blocked *b = arg;
	char buf[16];
	b->started = 1;
	b->r = read(b->fd, buf, sizeof(buf));
	b->err = b->r < 0 ? errno : 0;
	return NULL;
}

static void *acceptor(void *arg)
{
	struct blocked *b = arg;
	b->started = 1;
	b->r = accept(b->fd, NULL, NULL);
	b->err = b->r < 0 ? errno : 0;
	return NULL;
}

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void report(const char *what, const struct blocked *b)
{
	if (b->r < 0)
		say("%s = -1 %s", what, errname(b->err));
	else
		say("%s = %s", what, b->r == 0 ? "0" : "fd");
}

static void subject(void)
{
	int l = tcp_listen(NULL, CONF_PORT(6), 0);
	ctl_sync("listening");
	int idle = accept(l, NULL, NULL);
	int echo = accept(l, NULL, NULL);
	resfd("accept idle", idle);
	resfd("accept echo", echo);

	/* A reader blocked on the idle connection; the echo goes on beside it. */
	struct blocked rb = {.fd = idle};
	pthread_t rt;
	pthread_create(&rt, NULL, reader, &rb);
	while (!rb.started)
		pause_ms(1);
	pause_ms(100); /* well inside read() now */
	ctl_sync("reader blocked");
	char buf[4096];
	size_t total = 0, bad = 0;
	for (;;) {
		ssize_t n = read(echo, buf, sizeof(buf));
		if (n <= 0)
			break;
		bad += check_pattern((uint8_t *)buf, total, (size_t)n);
		if (write_full(echo, buf, (size_t)n) != (size_t)n)
			break;
		total += (size_t)n;
	}
	say("echoed %zu bytes beside the blocked reader, %zu wrong", total, bad);
	close(echo);
	res("shutdown idle SHUT_RD", shutdown(idle, SHUT_RD));
	pthread_join(rt, NULL);
	report("blocked read after shutdown", &rb);

	/* A thread blocked in accept(); the listener shut down under it. */
	struct blocked ab = {.fd = l};
	pthread_t at;
	pthread_create(&at, NULL, acceptor, &ab);
	while (!ab.started)
		pause_ms(1);
	pause_ms(100);
	res("shutdown listener", shutdown(l, SHUT_RDWR));
	pthread_join(at, NULL);
	report("blocked accept after shutdown", &ab);
	resfd("accept after shutdown", accept(l, NULL, NULL));
	res("listen again", listen(l, 8));
	ctl_sync("listening again");
	int again = accept(l, NULL, NULL);
	resfd("accept after listen again", again);
	char c2[2];
	say("read %zu '%.2s'", read_full(again, c2, 2), c2);
	close(again);
	ctl_sync("done");
	close(idle);
	close(l);
}

static void peer(void)
{
	ctl_sync("listening");
	int idle = tcp_connect(conf_subject_ip, CONF_PORT(6));
	int echo = tcp_connect(conf_subject_ip, CONF_PORT(6));
	ctl_sync("reader blocked");
	static uint8_t out[1 << 20], in[1 << 20];
	fill_pattern(out, 0, sizeof(out));
	size_t sent = 0, got = 0;
	while (sent < sizeof(out)) {
		size_t k = sizeof(out) - sent < 65536 ? sizeof(out) - sent : 65536;
		sent += write_full(echo, out + sent, k);
		got += read_full(echo, in + got, k);
	}
	say("echo: %zu sent, %zu back, %s", sent, got,
	    memcmp(in, out, sizeof(out)) ? "different" : "identical");
	shutdown(echo, SHUT_WR);
	char c;
	res("echo at end", read(echo, &c, 1));
	ctl_sync("listening again");
	int again = tcp_connect(conf_subject_ip, CONF_PORT(6));
	res("write again", write(again, "ok", 2));
	res("read again at end", read(again, &c, 1));
	close(again);
	ctl_sync("done");
	close(echo);
	close(idle);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
