/* SPDX-License-Identifier: BSD-3-Clause */
/* fork: a child closes inherited accelerated fds (listener and connection) and exits while the
 * parent keeps serving (redis BGSAVE); exec: SOCK_CLOEXEC/accept4 fds are gone in the new image. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's c (served by the fork child) and d (accepted by the parent after it). */
CONF_ACCELERATED(2);

static const char *self;

static void subject(void)
{
	char buf[16];
	int l = tcp_listen(NULL, CONF_PORT(8), SOCK_CLOEXEC);
	ctl_sync("listening");
	int a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	say("read %zu", read_full(a, buf, 5));

	pid_t pid = fork();
	if (pid == 0) {
		/* What a BGSAVE child does: close the sockets, work, exit. */
		close(l);
		close(a);
		_exit(7);
	}
	int st;
	waitpid(pid, &st, 0);
	say("child exited %d status %d", WIFEXITED(st), WEXITSTATUS(st));
	res("parent write after child closed", write(a, "alive", 5));
	say("parent read %zu", read_full(a, buf, 5));
	ctl_sync("second");
	int b = accept(l, NULL, NULL);
	resfd("parent accepts after fork", b);
	say("read b %zu", read_full(b, buf, 5));

	/* exec: the CLOEXEC fds must be closed in the new image. */
	pid = fork();
	if (pid == 0) {
		char fa[16], fl[16];
		snprintf(fa, sizeof(fa), "%d", a);
		snprintf(fl, sizeof(fl), "%d", l);
		execl(self, self, "execcheck", fa, fl, (char *)NULL);
		_exit(99);
	}
	waitpid(pid, &st, 0);
	say("exec child exited %d status %d", WIFEXITED(st), WEXITSTATUS(st));
	res("parent write after exec child", write(a, "still", 5));
	ctl_sync("done");
	close(a);
	close(b);
	close(l);
}

static void peer(void)
{
	char buf[16];
	ctl_sync("listening");
	int c = tcp_connect(conf_subject_ip, CONF_PORT(8));
	res("write", write(c, "hello", 5));
	say("read %zu '%.5s'", read_full(c, buf, 5), buf);
	res("write", write(c, "again", 5));
	ctl_sync("second");
	int d = tcp_connect(conf_subject_ip, CONF_PORT(8));
	res("write d", write(d, "howdy", 5));
	say("read %zu '%.5s'", read_full(c, buf, 5), buf);
	ctl_sync("done");
	close(c);
	close(d);
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc == 4 && !strcmp(argv[1], "execcheck")) {
		/* The exec'd image: both inherited numbers must be closed. */
		int a = atoi(argv[2]), l = atoi(argv[3]);
		int ra = fcntl(a, F_GETFD), rl = fcntl(l, F_GETFD);
		return (ra == -1 && rl == -1) ? 5 : 6;
	}
	return conf_main(argc, argv, subject, peer);
}
