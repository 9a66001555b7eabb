/* SPDX-License-Identifier: BSD-3-Clause */
/* A fork child killed with SIGKILL while it holds the shim's lock (issue 12, part 5), made
 * deterministic: the child's first send stops it (SIGSTOP) and its parent kills it while it is
 * stopped. Under the shim the stop happens inside that send, with the family's lock held (the
 * test hook TPA_TEST_STOP_LOCKED=2, shim/family.h), so the parent, the other child (blocked on
 * the lock meanwhile, with data waiting for it) and the listener must all recover from a lock
 * whose owner died. On the kernel the child stops right after the send. Either way:
 *   - the other child goes on echoing on its connection;
 *   - the parent accepts and serves a new connection;
 *   - the two connections only the killed child held are closed as the kernel closes a dead
 *     process's sockets: the peer reads the child's last bytes then EOF on one, and a reset on
 *     the other, which had data the child never read. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "conf.h"

/* Accelerated: the peer's e (echo child), d1 and d2 (killed child) and f (parent after). */
CONF_ACCELERATED(4);

#define STOP_ENV "TPA_TEST_STOP_LOCKED"

static void subject(void)
{
	char buf[64];
	int l = tcp_listen(NULL, CONF_PORT(7), 0);
	ctl_sync("listening");
	int e = accept(l, NULL, NULL);
	int d1 = accept(l, NULL, NULL);
	int d2 = accept(l, NULL, NULL);
	resfd("accept e", e);
	resfd("accept d1", d1);
	resfd("accept d2", d2);

	pid_t echo = fork();
	if (echo == 0) {
		close(l);
		close(d1);
		close(d2);
		size_t total = 0;
		for (;;) {
			ssize_t n = read(e, buf, sizeof(buf));
			if (n <= 0)
				break;
			if (write_full(e, buf, (size_t)n) != (size_t)n)
				break;
			total += (size_t)n;
		}
		say("echo child: %zu bytes echoed", total);
		close(e);
		_exit(0);
	}
	close(e);

	int go[2];
	if (pipe(go) < 0)
		die("pipe");
	pid_t victim = fork();
	if (victim == 0) {
		close(l);
		close(go[1]);
		if (read(go[0], buf, 1) != 1)
			_exit(2);
		/* Under the shim this send stops the child inside, holding the lock. */
		(void)!write(d1, "bye", 3);
		raise(SIGSTOP);
		_exit(3); /* never: it is killed while stopped */
	}
	close(go[0]);
	res("parent close d1", close(d1));
	res("parent close d2", close(d2));
	ctl_sync("d2 has unread data");
	if (write(go[1], "x", 1) != 1)
		die("write go");
	int st;
	if (waitpid(victim, &st, WUNTRACED) != victim)
		die("waitpid");
	say("victim stopped: %d (signal %d)", WIFSTOPPED(st), WIFSTOPPED(st) ? WSTOPSIG(st) : 0);
	/* The echo child has data to read now and must wait for the lock the victim holds. */
	ctl_sync("victim stopped");
	ctl_sync("peer wrote during the stop");
	kill(victim, SIGKILL);
	waitpid(victim, &st, 0);
	say("victim killed by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	ctl_sync("victim killed");

	int f = accept(l, NULL, NULL);
	resfd("accept f after the kill", f);
	size_t n = read_full(f, buf, 5);
	say("parent read f %zu '%.5s'", n, buf);
	res("parent write f", write(f, buf, 5));
	ctl_sync("f answered"); /* then the peer ends e, and the echo child */
	waitpid(echo, &st, 0);
	say("echo child exited %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	res("parent close f", close(f));
	ctl_sync("done");
	close(go[1]);
	close(l);
}

static bool all_acked(void *arg)
{
	int q = -1;
	return ioctl(*(int *)arg, SIOCOUTQ, &q) == 0 && q == 0;
}

static void peer(void)
{
	char buf[64];
	ctl_sync("listening");
	int e = tcp_connect(conf_subject_ip, CONF_PORT(7));
	int d1 = tcp_connect(conf_subject_ip, CONF_PORT(7));
	int d2 = tcp_connect(conf_subject_ip, CONF_PORT(7));
	res("write e", write(e, "hello", 5));
	say("read e %zu '%.5s'", read_full(e, buf, 5), buf);
	/* Data the victim never reads: its death must reset d2. */
	res("write d2", write(d2, "unread", 6));
	if (!wait_until(all_acked, &d2))
		die("d2's data was never acknowledged");
	ctl_sync("d2 has unread data");
	ctl_sync("victim stopped");
	res("write e during the stop", write(e, "stop!", 5));
	ctl_sync("peer wrote during the stop");
	ctl_sync("victim killed");
	size_t n = read_full(d1, buf, 3);
	say("read d1 %zu '%.3s'", n, buf);
	res("read d1 at end", read(d1, buf, sizeof(buf)));
	res("read d2", read(d2, buf, sizeof(buf)));
	say("read e %zu '%.5s'", read_full(e, buf, 5), buf);
	res("write e after the kill", write(e, "after", 5));
	say("read e %zu '%.5s'", read_full(e, buf, 5), buf);
	int f = tcp_connect(conf_subject_ip, CONF_PORT(7));
	res("write f", write(f, "third", 5));
	say("read f %zu '%.5s'", read_full(f, buf, 5), buf);
	ctl_sync("f answered");
	close(e); /* the echo child ends */
	res("read f at end", read(f, buf, sizeof(buf)));
	ctl_sync("done");
	close(d1);
	close(d2);
	close(f);
}

int main(int argc, char **argv)
{
	/* The subject runs with the test hook on (ignored by the kernel run): it must be in the
	 * environment when the shim starts, so the subject starts itself again with it. */
	if (argc == 2 && !strcmp(argv[1], "subject") && !getenv(STOP_ENV)) {
		setenv(STOP_ENV, "2", 1); /* the second fork child: the victim */
		execv("/proc/self/exe", argv);
		die("execv /proc/self/exe");
	}
	return conf_main(argc, argv, subject, peer);
}
