/* SPDX-License-Identifier: BSD-3-Clause */
/* A family larger than a small table: 300 fork children alive at once, each using the
 * connection its parent accepted (Apache prefork and PostgreSQL run hundreds of processes).
 * Before: children past the 256th could not share the stack and their sockets failed. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's connection. */
CONF_ACCELERATED(1);

#define CHILDREN 300

static void subject(void)
{
	int l = tcp_listen(NULL, CONF_PORT(7), 0);
	ctl_sync("listening");
	int c = accept(l, NULL, NULL);
	int go[2];
	if (pipe(go) < 0)
		die("pipe");
	static pid_t pids[CHILDREN];
	for (int i = 0; i < CHILDREN; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork %d", i);
		if (pids[i] == 0) {
			close(go[1]);
			char b;
			/* All alive together: each waits for the parent's word (EOF). */
			if (read(go[0], &b, 1) != 0)
				_exit(10);
			b = 'x';
			_exit(write(c, &b, 1) == 1 ? 0 : 11);
		}
	}
	close(go[0]);
	close(go[1]);
	int ok = 0;
	for (int i = 0; i < CHILDREN; i++) {
		int st;
		waitpid(pids[i], &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
	}
	say("children that wrote on the inherited connection: %d of %d", ok, CHILDREN);
	ctl_sync("children done");
	res("close", close(c));
	close(l);
}

static void peer(void)
{
	static char buf[CHILDREN + 1];
	ctl_sync("listening");
	int c = tcp_connect(conf_subject_ip, CONF_PORT(7));
	ctl_sync("children done");
	say("read %zu", read_full(c, buf, CHILDREN));
	say("read at end %zd", read(c, buf, sizeof(buf)));
	close(c);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
