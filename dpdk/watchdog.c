/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cleanup watchdog: a small process that outlives the engine's process to detach the XDP
 * steering program if that process dies without tpa_engine_destroy() (crash, SIGKILL, _exit).
 * Without it the interface would keep steering the engine's ports into an AF_XDP socket that no
 * longer exists, i.e. those ports would be black holes for the kernel.
 *
 * It is double-forked (its parent exits at once and is reaped here), so it is never a child of
 * the program: the program's waitpid()/SIGCHLD handling never sees it. It watches the command
 * socket pair, whose program end every fork child inherits: the children share the engine and
 * may serve its connections after the program itself exited (a fork-per-connection server), so
 * the interface is given back only when the last process of the family is gone. Commands: "A
 * <ifindex> <prog_id>" (XDP) or "T <ifindex> <prog_id>" (tc filter, af_packet) arms it, "D" disarms
 * it and it exits. The socket closing without "D" means the program (and every fork sharing it)
 * died; it then also removes the interface lock file ("L <path>") if nobody holds it: the last
 * process may have dropped the privileges to do either (nginx workers). It is forked before EAL
 * starts so it maps no DPDK memory and inherits no threads, and closes every fd but its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine_impl.h"

static void close_other_fds(int keep1, int keep2)
{
	/* Keep 0..2 pointed at /dev/null so stray writes cannot land in a program's socket. */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	long max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = 3; fd < max; fd++)
		if (fd != keep1 && fd != keep2)
			close(fd);
}

static void watchdog_main(int cmd_fd) __attribute__((noreturn));
static void watchdog_main(int cmd_fd)
{
	close_other_fds(cmd_fd, -1);
	prctl(PR_SET_NAME, "tpa-watchdog", 0, 0, 0);
	/* Terminal signals aimed at the program's process group must not end us first. */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	setsid();

	/* An XDP program and a tc filter may both be ours (af_packet on a veth uses both). */
	int xdp_ifindex = 0, tc_ifindex = 0;
	unsigned prog_id = 0;
	char lock_path[256] = "";
	char buf[256];
	size_t have = 0;
	for (;;) {
		struct pollfd p[1] = {{.fd = cmd_fd, .events = POLLIN}};
		int n = poll(p, 1, -1);
		if (n < 0 && errno != EINTR)
			break;
		if (p[0].revents & (POLLIN | POLLHUP)) {
			ssize_t r = read(cmd_fd, buf + have, sizeof(buf) - 1 - have);
			if (r <= 0)
				break; /* every copy of the program's end closed without "D": all
				          died */
			have += (size_t)r;
			buf[have] = '\0';
			char *nl;
			while ((nl = strchr(buf, '\n'))) {
				*nl = '\0';
				if (buf[0] == 'D')
					_exit(0);
				unsigned id = 0;
				int ifx = 0;
				if (buf[0] == 'A' && sscanf(buf + 1, "%d %u", &ifx, &id) == 2) {
					xdp_ifindex = ifx;
					prog_id = id;
				} else if (buf[0] == 'T' &&
				           sscanf(buf + 1, "%d %u", &ifx, &id) == 2) {
					tc_ifindex = ifx;
				} else if (buf[0] == 'L' && buf[1] == ' ') {
					size_t l = strnlen(buf + 2, sizeof(lock_path) - 1);
					memcpy(lock_path, buf + 2, l);
					lock_path[l] = '\0';
				}
				size_t used = (size_t)(nl + 1 - buf);
				memmove(buf, nl + 1, have - used + 1);
				have -= used;
			}
			if (have >= sizeof(buf) - 1)
				have = 0;
		}
	}
	if (tc_ifindex)
		xdp_ctl_tc_detach(tc_ifindex);
	if (xdp_ifindex && prog_id)
		xdp_ctl_detach_prog(xdp_ifindex, prog_id);
	/* The last process of the family may have closed our socket a moment before its lock
	 * fd (both go at its exit). */
	for (int i = 0; lock_path[0] && i < 20; i++) {
		iface_lock_remove_if_free(lock_path);
		if (access(lock_path, F_OK) < 0)
			break;
		usleep(50000);
	}
	_exit(0);
}

int watchdog_start(char *err, size_t errlen)
{
	/* A socket pair, not a pipe: send(MSG_NOSIGNAL) to a dead watchdog must not SIGPIPE the
	 * program. */
	int p[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
		return engine_seterr(err, errlen, errno, "watchdog: socketpair: %s",
		                     strerror(errno));
	pid_t mid = fork();
	if (mid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return engine_seterr(err, errlen, e, "watchdog: fork: %s", strerror(e));
	}
	if (mid == 0) {
		/* Intermediate child: fork the watchdog and exit, so init adopts it. */
		pid_t wd = fork();
		if (wd == 0)
			watchdog_main(p[0]);
		_exit(wd < 0 ? 1 : 0);
	}
	close(p[0]);
	int status = 0;
	while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		close(p[1]);
		return engine_seterr(err, errlen, EAGAIN, "watchdog: second fork failed");
	}
	return p[1];
}

int watchdog_arm(int fd, int ifindex, uint32_t prog_id, int tc)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "%c %d %u\n", tc ? 'T' : 'A', ifindex, prog_id);
	return send(fd, msg, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -EIO;
}

int watchdog_lock_file(int fd, const char *path)
{
	char msg[220];
	int n = snprintf(msg, sizeof(msg), "L %s\n", path);
	if (!path[0] || n >= (int)sizeof(msg))
		return 0;
	return send(fd, msg, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -EIO;
}

void watchdog_stop(int fd)
{
	if (fd < 0)
		return;
	(void)!send(fd, "D\n", 2, MSG_NOSIGNAL);
	close(fd);
}
