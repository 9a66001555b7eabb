/* SPDX-License-Identifier: BSD-3-Clause */
/* dup, dup2, dup3, F_DUPFD(_CLOEXEC) and close on accelerated sockets: the connection lives
 * until its last fd is closed; dup2 onto an accelerated fd replaces it. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's one connection. */
CONF_ACCELERATED(1);

static void subject(void)
{
	char buf[16];
	int l = tcp_listen(NULL, CONF_PORT(7), 0);
	ctl_sync("listening");
	int a = accept(l, NULL, NULL);
	/* The program's fd numbers are the kernel's: nothing of the engine sits among them (a
	 * dup2 onto "its" fd 50 below must not close an fd of ours). */
	int z = open("/dev/null", O_RDONLY);
	say("next free fd number %d", z);
	close(z);
	int d = dup(a);
	resfd("dup", d);
	res("close original", close(a));
	res("write via dup", write(d, "via-dup", 7));
	say("read via dup %zu", read_full(d, buf, 4));
	res("dup2 to 50", dup2(d, 50));
	res("dup3 to 51 CLOEXEC", dup3(d, 51, O_CLOEXEC));
	say("F_GETFD 50=%d 51=%d", fcntl(50, F_GETFD), fcntl(51, F_GETFD));
	int f = fcntl(d, F_DUPFD_CLOEXEC, 60);
	say("F_DUPFD_CLOEXEC >= 60: %d, cloexec %d", f >= 60, fcntl(f, F_GETFD));
	res("dup2 same fd", dup2(50, 50));
	res("dup3 same fd", dup3(50, 50, 0));
	res("dup2 bad source", dup2(999, 52));
	res("close d", close(d));
	res("write via 50", write(50, "fd-50!!", 7));
	ctl_sync("still open");

	/* dup2 a pipe over fd 51: 51 is the pipe now, the socket lives on in 50 and f. */
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	res("dup2 pipe onto 51", dup2(p[1], 51));
	struct stat st;
	fstat(51, &st);
	say("51 is a fifo: %d", S_ISFIFO(st.st_mode));
	res("write 51", write(51, "pipe", 4));
	memset(buf, 0, sizeof(buf));
	res("read pipe", read(p[0], buf, 4));
	say("pipe got '%s'", buf);
	res("write via F_DUPFD copy", write(f, "dupfd!!", 7));
	res("close 50", close(50));
	ctl_sync("one left");
	ctl_sync("checked");
	res("close last", close(f));
	ctl_sync("all closed");
	res("write on closed", write(f, "x", 1));
	close(51);
	close(p[0]);
	close(p[1]);
	close(l);
}

static void peer(void)
{
	char buf[16];
	ctl_sync("listening");
	int c = tcp_connect(conf_subject_ip, CONF_PORT(7));
	memset(buf, 0, sizeof(buf));
	say("read %zu '%s'", read_full(c, buf, 7), buf);
	res("write", write(c, "pong", 4));
	ctl_sync("still open");
	memset(buf, 0, sizeof(buf));
	say("read %zu '%s'", read_full(c, buf, 7), buf);
	memset(buf, 0, sizeof(buf));
	say("read %zu '%s'", read_full(c, buf, 7), buf);
	ctl_sync("one left");
	res("recv DONTWAIT while one fd is open", recv(c, buf, 1, MSG_DONTWAIT));
	ctl_sync("checked");
	ctl_sync("all closed");
	say("EOF after last close: %d",
	    (wait_fd(c, POLLIN, 10000) & POLLIN) && read(c, buf, 1) == 0);
	close(c);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
