/* SPDX-License-Identifier: BSD-3-Clause */
/* A thread blocked in read() on a connection, or in accept() on a listener, while another thread
 * closes its fd (issue 12, part 4). In the kernel the blocked call holds the file: the socket
 * stays open, the read returns what the peer sends next and the connection closes (FIN) only
 * once that read has returned; the accept returns the next connection. Before: the shim closed
 * the socket at once and freed it under the sleeping thread (the read said EBADF). */
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's connection read after the close, the one accepted after it. */
CONF_ACCELERATED(2);

struct blocked {
	int fd;
	long r;
	int err;
	char buf[16];
	volatile int started;
};

static void *reader(void *arg)
{
	struct blocked *b = arg;
	b->started = 1;
	b->r = read(b->fd, b->buf, sizeof(b->buf));
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

static void start_blocked(struct blocked *b, void *(*fn)(void *), pthread_t *t)
{
	pthread_create(t, NULL, fn, b);
	while (!b->started) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	struct timespec ts = {0, 100000000};
	nanosleep(&ts, NULL); /* well inside the call now */
}

static void subject(void)
{
	int l = tcp_listen(NULL, CONF_PORT(5), 0);
	ctl_sync("listening");
	int c = accept(l, NULL, NULL);
	resfd("accept", c);
	struct blocked b = {.fd = c};
	pthread_t t;
	start_blocked(&b, reader, &t);
	res("close while another thread reads", close(c));
	ctl_sync("closed");
	pthread_join(t, NULL);
	if (b.r < 0)
		say("blocked read = -1 %s", errname(b.err));
	else
		say("blocked read = %ld '%.*s'", b.r, (int)b.r, b.buf);

	struct blocked a = {.fd = l};
	start_blocked(&a, acceptor, &t);
	res("close the listener while another thread accepts", close(l));
	ctl_sync("listener closed");
	pthread_join(t, NULL);
	if (a.r < 0) {
		say("blocked accept = -1 %s", errname(a.err));
	} else {
		say("blocked accept = fd");
		char buf[4];
		say("read %zu '%.2s'", read_full((int)a.r, buf, 2), buf);
		close((int)a.r);
	}
	ctl_sync("done");
}

static void peer(void)
{
	char buf[16];
	ctl_sync("listening");
	int c = tcp_connect(conf_subject_ip, CONF_PORT(5));
	ctl_sync("closed");
	res("write after the close", write(c, "late", 4));
	res("read at end", read(c, buf, sizeof(buf)));
	ctl_sync("listener closed");
	int d = tcp_connect(conf_subject_ip, CONF_PORT(5));
	res("write to the accepted one", write(d, "ok", 2));
	res("read it at end", read(d, buf, sizeof(buf)));
	close(d);
	ctl_sync("done");
	close(c);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
