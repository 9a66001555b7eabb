/* SPDX-License-Identifier: BSD-3-Clause */
/* fork while another thread of the process is inside socket calls (nginx's master forks its
 * workers while the shim's own progress thread polls the stack): every child is a full member
 * of the family and uses its inherited sockets. Before: a child forked while another thread
 * held the stack lock took itself for a helper of the shim's, its accelerated sockets failed
 * (nginx: "epoll_ctl(1, 6) failed (22: Invalid argument)", the worker exited). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's connection. */
CONF_ACCELERATED(1);

#define CHILDREN 40

static int conn;
static volatile int stop_spinning;

/* Keeps the stack busy from a second thread: each call takes and drops the stack's lock. */
static void *spinner(void *arg)
{
	(void)arg;
	char c;
	while (!stop_spinning)
		(void)recv(conn, &c, 1, MSG_DONTWAIT | MSG_PEEK);
	return NULL;
}

static void subject(void)
{
	int l = tcp_listen(NULL, CONF_PORT(8), 0);
	ctl_sync("listening");
	conn = accept(l, NULL, NULL);
	pthread_t t;
	if (pthread_create(&t, NULL, spinner, NULL) != 0)
		die("pthread_create");
	int ok = 0;
	for (int i = 0; i < CHILDREN; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			/* What a worker does first: its own epoll with the inherited sockets in it.
			 */
			int ep = epoll_create1(0);
			struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
			if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) < 0)
				_exit(10);
			ev.data.fd = conn;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, conn, &ev) < 0)
				_exit(11);
			char b = (char)('a' + i % 26);
			if (write(conn, &b, 1) != 1)
				_exit(12);
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
		else if (WIFEXITED(st))
			say("child %d exited %d", i, WEXITSTATUS(st));
		else
			say("child %d killed by signal %d", i, WTERMSIG(st));
	}
	stop_spinning = 1;
	pthread_join(t, NULL);
	say("children that used their inherited sockets: %d of %d", ok, CHILDREN);
	ctl_sync("children done");
	res("close", close(conn));
	close(l);
}

static void peer(void)
{
	char buf[CHILDREN + 1];
	ctl_sync("listening");
	int c = tcp_connect(conf_subject_ip, CONF_PORT(8));
	ctl_sync("children done");
	size_t n = read_full(c, buf, CHILDREN);
	buf[n] = 0;
	say("read %zu '%s'", n, buf);
	say("read at end %zd", read(c, buf, sizeof(buf)));
	close(c);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
