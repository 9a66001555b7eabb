/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Wake-ups between threads: one thread sends 64 MiB with blocking writes to a slow reader (so it
 * sleeps on a full send buffer again and again) while the main thread polls the listener with a
 * 1 ms timeout, waking up a thousand times a second. Each of the sender's wake-ups comes from
 * the ACKs that another thread processed; none may be lost to the polling thread. (A lost one
 * left python3's threaded http.server asleep forever in the middle of a download.)
 */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's one connection. */
CONF_ACCELERATED(1);

#define BYTES (64u << 20)

static int listener;
static volatile int sender_done, accepted;

static void *sender(void *arg)
{
	size_t *sent = arg;
	int c = accept(listener, NULL, NULL);
	__atomic_store_n(&accepted, 1, __ATOMIC_RELEASE);
	uint8_t *data = malloc(BYTES);
	fill_pattern(data, 0, BYTES);
	*sent = write_full(c, data, BYTES);
	close(c);
	free(data);
	__atomic_store_n(&sender_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void subject(void)
{
	pthread_t t;
	size_t sent = 0;
	listener = tcp_listen(NULL, CONF_PORT(6), 0);
	pthread_create(&t, NULL, sender, &sent);
	ctl_sync("listening");
	while (!__atomic_load_n(&accepted, __ATOMIC_ACQUIRE))
		usleep(1000);
	long polls = 0, ready = 0; /* nobody else connects: the listener never becomes ready */
	while (!__atomic_load_n(&sender_done, __ATOMIC_ACQUIRE)) {
		struct pollfd p = {.fd = listener, .events = POLLIN};
		int r = poll(&p, 1, 1);
		polls++;
		if (r > 0)
			ready++;
	}
	pthread_join(t, NULL);
	say("sender wrote %zu bytes; polling thread: %s, listener ready %ld times", sent,
	    polls > 0 ? "ran" : "never ran", ready);
	close(listener);
}

static void peer(void)
{
	static uint8_t buf[4096];
	ctl_sync("listening");
	int c = tcp_connect(conf_subject_ip, CONF_PORT(6));
	size_t got = 0, bad = 0;
	for (;;) {
		ssize_t k = read(c, buf, sizeof(buf));
		if (k <= 0)
			break;
		bad += check_pattern(buf, got, (size_t)k);
		got += (size_t)k;
		/* A slow reader: the sender's buffer fills and it sleeps until we catch up. */
		if ((got & ((1u << 20) - 1)) < (size_t)k)
			usleep(2000);
	}
	say("peer received %zu bytes, %zu bad", got, bad);
	close(c);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
