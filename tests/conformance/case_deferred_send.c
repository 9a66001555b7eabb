/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A write is on the wire even when the program does not come back to an event loop. The shim
 * sends a turn's output in one burst when the thread next polls or waits; here the subject
 * writes and then blocks somewhere else until the peer confirms it got the bytes: in a plain
 * read on a pipe, in sem_wait (a futex the shim never sees), in epoll_wait and in poll on sets
 * holding only kernel fds, and in nanosleep. Output left queued would make the peer report
 * "nothing" after its timeout (and the subject would still be blocked).
 */
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's one connection. */
CONF_ACCELERATED(1);

enum block_how { BY_PIPE_READ, BY_SEM_WAIT, BY_KERNEL_EPOLL, BY_KERNEL_POLL, BY_NANOSLEEP };
static const char *const how_name[] = {"pipe read", "sem_wait", "epoll_wait on kernel fds",
                                       "poll on kernel fds", "nanosleep"};

static int wake_pipe[2];
static sem_t wake_sem;

/* Waits (in a kernel read of the control connection) for the peer's receipt, then wakes the
 * main thread the way it is blocked. */
static void *waker(void *arg)
{
	enum block_how how = (enum block_how)(long)arg;
	long got = ctl_recv_long();
	if (how == BY_SEM_WAIT)
		sem_post(&wake_sem);
	else if (how != BY_NANOSLEEP && write(wake_pipe[1], &got, 1) != 1)
		die("pipe write");
	return NULL;
}

static void block(enum block_how how)
{
	char b;
	switch (how) {
	case BY_PIPE_READ:
		if (read(wake_pipe[0], &b, 1) != 1)
			die("pipe read");
		break;
	case BY_SEM_WAIT:
		while (sem_wait(&wake_sem) < 0)
			;
		break;
	case BY_KERNEL_EPOLL: {
		int ep = epoll_create1(0);
		struct epoll_event ev = {.events = EPOLLIN};
		epoll_ctl(ep, EPOLL_CTL_ADD, wake_pipe[0], &ev);
		if (epoll_wait(ep, &ev, 1, -1) != 1 || read(wake_pipe[0], &b, 1) != 1)
			die("epoll_wait");
		close(ep);
		break;
	}
	case BY_KERNEL_POLL: {
		struct pollfd p = {.fd = wake_pipe[0], .events = POLLIN};
		if (poll(&p, 1, -1) != 1 || read(wake_pipe[0], &b, 1) != 1)
			die("poll");
		break;
	}
	case BY_NANOSLEEP: {
		/* Longer than the peer waits: the bytes must leave while we sleep. */
		struct timespec ts = {3, 0};
		nanosleep(&ts, NULL);
		break;
	}
	}
}

static void subject(void)
{
	int l = tcp_listen(NULL, CONF_PORT(7), 0);
	ctl_sync("listening");
	int c = accept(l, NULL, NULL);
	if (c < 0)
		die("accept");
	if (pipe(wake_pipe) < 0 || sem_init(&wake_sem, 0, 0) < 0)
		die("pipe/sem");
	for (int how = BY_PIPE_READ; how <= BY_NANOSLEEP; how++) {
		char msg[64];
		snprintf(msg, sizeof(msg), "before %s\n", how_name[how]);
		ctl_sync(how_name[how]);
		pthread_t t;
		pthread_create(&t, NULL, waker, (void *)(long)how);
		/* The waker is in its read before we write, so that read cannot be what sends. */
		usleep(20000);
		if (write(c, msg, strlen(msg)) != (ssize_t)strlen(msg))
			die("write");
		block((enum block_how)how);
		pthread_join(t, NULL);
		say("woke after %s", how_name[how]);
	}
	close(c);
	close(l);
}

static void peer(void)
{
	ctl_sync("listening");
	int c = tcp_connect(conf_subject_ip, CONF_PORT(7));
	for (int how = BY_PIPE_READ; how <= BY_NANOSLEEP; how++) {
		char want[64], buf[64];
		snprintf(want, sizeof(want), "before %s\n", how_name[how]);
		ctl_sync(how_name[how]);
		size_t got = 0;
		/* 2 s: well under the subject's 3 s nanosleep, far above any flush delay. */
		while (got < strlen(want) && (wait_fd(c, POLLIN, 2000) & POLLIN)) {
			ssize_t k = read(c, buf + got, strlen(want) - got);
			if (k <= 0)
				break;
			got += (size_t)k;
		}
		say("%s: %s", how_name[how],
		    got == strlen(want) && !memcmp(buf, want, got) ? "got the bytes" : "nothing");
		ctl_send_long(1);
	}
	close(c);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
