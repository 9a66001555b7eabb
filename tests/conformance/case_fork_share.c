/* SPDX-License-Identifier: BSD-3-Clause */
/* fork with accelerated sockets shared by parent and children (fork-per-connection servers):
 * a child serves a connection its parent accepted; parent and child both write to it; the
 * parent closes its copy and the child carries on to the end; a child killed with SIGKILL
 * while it spins on a shared socket leaves the parent serving it; a connection only a killed
 * child held is closed as the kernel closes a dead process's sockets (the peer reads EOF). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's a, b, d and c. */
CONF_ACCELERATED(4);

static void child_exit_status(pid_t pid, const char *what)
{
	int st;
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st))
		say("%s killed by signal %d", what, WTERMSIG(st));
	else
		say("%s exited %d", what, WEXITSTATUS(st));
}

static void subject(void)
{
	char buf[16];
	int l = tcp_listen(NULL, CONF_PORT(9), 0);
	ctl_sync("listening");

	/* 1. A child serves what its parent accepted; both write; the parent lets go. */
	int a = accept(l, NULL, NULL);
	int order[2];
	if (pipe(order) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		close(l);
		size_t n = read_full(a, buf, 5);
		say("child read %zu '%.5s'", n, buf);
		res("child write", write(a, "child", 5));
		(void)!write(order[1], "x", 1);
		/* The parent closes its copy now; the connection stays ours. */
		n = read_full(a, buf, 5);
		say("child read %zu '%.5s'", n, buf);
		res("child echo", write(a, buf, 5));
		res("child close", close(a));
		_exit(0);
	}
	(void)!read(order[0], buf, 1);
	res("parent write", write(a, "paren", 5));
	res("parent close", close(a));
	ctl_sync("parent closed");
	child_exit_status(pid, "server child");

	/* 2. A child spinning on a shared connection is killed; the parent serves on. */
	int b = accept(l, NULL, NULL);
	pid = fork();
	if (pid == 0) {
		close(l);
		for (;;)
			(void)recv(b, buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK);
	}
	struct timespec ts = {0, 100000000};
	nanosleep(&ts, NULL);
	kill(pid, SIGKILL);
	child_exit_status(pid, "spinning child");
	res("parent write after kill", write(b, "after", 5));
	say("parent read %zu", read_full(b, buf, 5));

	/* 3. A connection only a killed child held ends for the peer. */
	int d = accept(l, NULL, NULL);
	pid = fork();
	if (pid == 0) {
		close(l);
		close(b);
		(void)!read(d, buf, 1); /* blocks: the peer sends nothing */
		_exit(3);
	}
	res("parent close d", close(d));
	nanosleep(&ts, NULL);
	kill(pid, SIGKILL);
	child_exit_status(pid, "reader child");
	ctl_sync("reader killed");
	int c = accept(l, NULL, NULL);
	resfd("accept after the kills", c);
	say("read c %zu", read_full(c, buf, 5));
	ctl_sync("done");
	close(b);
	close(c);
	close(l);
}

static void peer(void)
{
	char buf[16];
	ctl_sync("listening");
	int a = tcp_connect(conf_subject_ip, CONF_PORT(9));
	res("write", write(a, "hello", 5));
	size_t n = read_full(a, buf, 10);
	say("read %zu '%.10s'", n, buf);
	ctl_sync("parent closed");
	res("write more", write(a, "more!", 5));
	n = read_full(a, buf, 5);
	say("read %zu '%.5s'", n, buf);
	say("read at end %zd", read(a, buf, sizeof(buf)));
	close(a);

	int b = tcp_connect(conf_subject_ip, CONF_PORT(9));
	say("read b %zu '%.5s'", read_full(b, buf, 5), buf);
	res("write b", write(b, "final", 5));

	int d = tcp_connect(conf_subject_ip, CONF_PORT(9));
	ctl_sync("reader killed");
	say("read d at end %zd", read(d, buf, sizeof(buf)));
	close(d);
	int c = tcp_connect(conf_subject_ip, CONF_PORT(9));
	res("write c", write(c, "third", 5));
	ctl_sync("done");
	close(b);
	close(c);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
