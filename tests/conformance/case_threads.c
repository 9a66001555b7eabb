/* SPDX-License-Identifier: BSD-3-Clause */
/* Several threads on accelerated sockets at once: blocking accepts on one listener, blocking
 * echo of 2 MiB per connection, one thread blocked in read while others send. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's NT = 4 connections, one per accepting thread. */
CONF_ACCELERATED(4);

#define NT    4
#define BYTES (2u << 20)

static int listener;

struct result {
	size_t bytes, bad;
};

static void *echo_thread(void *arg)
{
	struct result *r = arg;
	int c = accept(listener, NULL, NULL);
	static __thread uint8_t buf[65536];
	size_t n = 0;
	for (;;) {
		ssize_t k = read(c, buf, sizeof(buf));
		if (k <= 0)
			break;
		r->bad += check_pattern(buf, n, (size_t)k);
		if (write_full(c, buf, (size_t)k) != (size_t)k)
			break;
		n += (size_t)k;
	}
	r->bytes = n;
	close(c);
	return NULL;
}

static void subject(void)
{
	pthread_t t[NT];
	struct result r[NT];
	memset(r, 0, sizeof(r));
	listener = tcp_listen(NULL, CONF_PORT(9), 0);
	for (int i = 0; i < NT; i++)
		pthread_create(&t[i], NULL, echo_thread, &r[i]);
	ctl_sync("listening");
	size_t total = 0, bad = 0;
	for (int i = 0; i < NT; i++) {
		pthread_join(t[i], NULL);
		total += r[i].bytes;
		bad += r[i].bad;
	}
	say("threads echoed %zu bytes, %zu bad", total, bad);
	close(listener);
}

struct conn {
	int fd;
	size_t got, bad;
};

static void *reader(void *arg)
{
	struct conn *c = arg;
	static __thread uint8_t buf[65536];
	for (;;) {
		ssize_t k = read(c->fd, buf, sizeof(buf));
		if (k <= 0)
			break;
		c->bad += check_pattern(buf, c->got, (size_t)k);
		c->got += (size_t)k;
	}
	return NULL;
}

static void peer(void)
{
	struct conn c[NT];
	pthread_t t[NT];
	uint8_t *data = malloc(BYTES);
	fill_pattern(data, 0, BYTES);
	ctl_sync("listening");
	for (int i = 0; i < NT; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].fd = tcp_connect(conf_subject_ip, CONF_PORT(9));
		pthread_create(&t[i], NULL, reader, &c[i]);
	}
	for (int i = 0; i < NT; i++) {
		write_full(c[i].fd, data, BYTES);
		shutdown(c[i].fd, SHUT_WR);
	}
	for (int i = 0; i < NT; i++) {
		pthread_join(t[i], NULL);
		say("conn %d: echoed %zu bad %zu", i, c[i].got, c[i].bad);
		close(c[i].fd);
	}
	free(data);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
