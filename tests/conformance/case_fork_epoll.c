/* SPDX-License-Identifier: BSD-3-Clause */
/* Readiness across a fork family: a connection's data taken in by the parent (which runs the
 * shared stack) makes the connection ready in the epoll set of a fork child that holds it too,
 * at the child's next look (nginx workers share a stack this way). The child makes no call on
 * the stack until then, so the parent is the one that takes the data in. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's a and b. */
CONF_ACCELERATED(2);

static void child_exit_status(pid_t pid)
{
	int st;
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st))
		say("child killed by signal %d", WTERMSIG(st));
	else
		say("child exited %d", WEXITSTATUS(st));
}

static void subject(void)
{
	char buf[16];
	int l = tcp_listen(NULL, CONF_PORT(8), 0);
	ctl_sync("listening");
	int a = accept(l, NULL, NULL);
	int b = accept(l, NULL, NULL);
	int ready[2], go[2];
	if (pipe(ready) < 0 || pipe(go) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		close(l);
		int ep = epoll_create1(0);
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 'b'};
		res("child add b", epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev));
		(void)!write(ready[1], "r", 1);
		(void)!read(go[0], buf, 1); /* the parent has taken the data in */
		struct epoll_event got[4];
		int n = epoll_wait(ep, got, 4, 0);
		say("child wait = %d", n);
		for (int i = 0; i < n && i < 4; i++)
			say("  data %c events %#x", (char)got[i].data.u64, got[i].events);
		ssize_t r = read(b, buf, sizeof(buf));
		say("child read %zd '%.*s'", r, r > 0 ? (int)r : 0, buf);
		_exit(0);
	}
	(void)!read(ready[0], buf, 1);
	ctl_sync("child waits");
	struct nread w = {b, 5};
	if (!wait_until(nread_is, &w))
		die("data did not arrive");
	(void)!write(go[1], "g", 1);
	child_exit_status(pid);
	ctl_sync("child done");
	close(a);
	close(b);
	close(l);
}

static void peer(void)
{
	ctl_sync("listening");
	int a = tcp_connect(conf_subject_ip, CONF_PORT(8));
	int b = tcp_connect(conf_subject_ip, CONF_PORT(8));
	ctl_sync("child waits");
	res("send b", write(b, "hello", 5));
	ctl_sync("child done");
	close(a);
	close(b);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
