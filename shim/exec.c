/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * exec with accelerated sockets the new image keeps (inetd-style servers, socat EXEC:...,nofork,
 * socket passing). The new image cannot attach to the stack: the stack's state holds pointers
 * into this image's code (device and allocator hooks) and DPDK's per-process state (EAL,
 * ethdev tables) cannot be rebuilt around memory it did not map. So what it gets is a plain
 * kernel socket that works:
 *
 * - a kept connection on a standard stream (0-2), or one no other process of the family
 *   holds (others are closed in the new image as before: it would steal their data): the fd
 *   becomes one end of a TCP connection over loopback, and a helper
 *   process of the fork family (double-forked, so the new image never sees it as a child)
 *   copies bytes both ways between the other end and the stack connection, passing on
 *   half-closes and resets, then exits like a family member (the connection closes as the
 *   kernel's would, FIN after the data);
 * - a kept listener: its kernel socket already listens; it goes to the new image as it is, in
 *   the program's blocking mode when no other process of the family still accepts from it.
 *   The stack keeps the port while another process of the family uses the listener; once the
 *   last one is gone, the port goes back to the kernel socket.
 *
 * The exec'ing process's family slot is marked first: after a successful exec the kernel frees
 * its robust mutex while the pid lives on, and the mark makes that count as the process dying.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "family.h"
#include "shim.h"

#define RELAY_MAX 16
#define RELAY_BUF (64 * 1024)
/* The program closed its end and the peer sends nothing: give up like the kernel's
 * FIN_WAIT2 timeout. */
#define RELAY_LINGER_MS 60000

struct relay {
	struct shim_sock *s;
	int afd;      /* an fd of the accelerated connection (the helper keeps it) */
	int app_end;  /* the loopback end the new image gets */
	int help_end; /* the loopback end the helper relays to */
};

struct pipe_dir {
	int from, to;
	char *buf;
	size_t off, len;
	bool eof, done;
};

/* A connected TCP pair over loopback: a kernel socket behaves like one for every call the new
 * image may make (options, shutdown, getpeername ...), unlike a socketpair. */
static int loopback_pair(int *a, int *b)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(sin);
	int ls = REAL(socket)(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int c = REAL(socket)(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r = -1;
	if (ls >= 0 && c >= 0 && REAL(bind)(ls, (struct sockaddr *)&sin, l) == 0 &&
	    REAL(listen)(ls, 1) == 0 && REAL(getsockname)(ls, (struct sockaddr *)&sin, &l) == 0 &&
	    REAL(connect)(c, (struct sockaddr *)&sin, l) == 0) {
		*b = REAL(accept4)(ls, NULL, NULL, SOCK_CLOEXEC);
		if (*b >= 0) {
			*a = c;
			r = 0;
		}
	}
	if (ls >= 0)
		REAL(close)(ls);
	if (r < 0 && c >= 0)
		REAL(close)(c);
	return r;
}

static void abort_fd(int fd)
{
	struct linger lg = {1, 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* Moves what is readable; false once this direction has failed. */
static bool pump(struct pipe_dir *d)
{
	for (;;) {
		if (d->len) {
			ssize_t w =
			        send(d->to, d->buf + d->off, d->len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w < 0)
				return errno == EAGAIN || errno == EINTR;
			d->off += (size_t)w;
			d->len -= (size_t)w;
			continue;
		}
		if (d->eof) {
			if (!d->done)
				shutdown(d->to, SHUT_WR);
			d->done = true;
			return true;
		}
		ssize_t r = recv(d->from, d->buf, RELAY_BUF, MSG_DONTWAIT);
		if (r == 0) {
			d->eof = true;
			continue;
		}
		if (r < 0)
			return errno == EAGAIN || errno == EINTR;
		d->off = 0;
		d->len = (size_t)r;
	}
}

static bool is_relay_fd(const struct relay *r, int n, int fd)
{
	for (int i = 0; i < n; i++)
		if (fd == r[i].afd || fd == r[i].help_end)
			return true;
	return false;
}

static void relay_main(struct relay *r, int n) __attribute__((noreturn));
static void relay_main(struct relay *r, int n)
{
	signal(SIGPIPE, SIG_IGN);
	/* Only the engine's fds and the relayed ones: a pipe end of the program's held here
	 * would keep its reader from ever seeing EOF. */
	for (int fd = 0; fd < shim_fdt_size(); fd++) {
		if (is_relay_fd(r, n, fd) || shim_engine_owns_fd(fd))
			continue;
		if (shim_fdt_get(fd))
			close(fd); /* ours: drops this process's hold */
		else
			REAL(close)(fd);
	}
	/* Messages of ours go to fd 2: never into a socket that took a freed low number. */
	int null = (int)syscall(SYS_open, "/dev/null", O_RDWR | O_CLOEXEC);
	while (null >= 0 && null <= 2)
		null = (int)syscall(SYS_open, "/dev/null", O_RDWR | O_CLOEXEC);
	if (null > 2)
		REAL(close)(null);
	struct pipe_dir d[2 * RELAY_MAX];
	for (int i = 0; i < n; i++) {
		d[2 * i] = (struct pipe_dir){.from = r[i].afd, .to = r[i].help_end};
		d[2 * i + 1] = (struct pipe_dir){.from = r[i].help_end, .to = r[i].afd};
		d[2 * i].buf = malloc(RELAY_BUF);
		d[2 * i + 1].buf = malloc(RELAY_BUF);
		if (!d[2 * i].buf || !d[2 * i + 1].buf)
			_exit(1);
	}
	int live = n;
	bool dead[RELAY_MAX] = {false};
	while (live > 0) {
		struct pollfd p[2 * RELAY_MAX];
		int np = 0, timeout = -1;
		for (int i = 0; i < n; i++) {
			if (dead[i])
				continue;
			struct pipe_dir *a = &d[2 * i], *b = &d[2 * i + 1];
			bool ok = pump(a) && pump(b);
			if (!ok || (a->done && b->done)) {
				/* A reset on one side is a reset on the other, as a kernel socket
				 * closed with unread data or after an error would give. */
				if (!ok) {
					abort_fd(r[i].afd);
					abort_fd(r[i].help_end);
				}
				close(r[i].afd);
				REAL(close)(r[i].help_end);
				dead[i] = true;
				live--;
				continue;
			}
			if (b->done)
				timeout = RELAY_LINGER_MS;
			short ea =
			        (short)((!a->len && !a->eof ? POLLIN : 0) | (b->len ? POLLOUT : 0));
			short eb =
			        (short)((!b->len && !b->eof ? POLLIN : 0) | (a->len ? POLLOUT : 0));
			p[np++] = (struct pollfd){.fd = r[i].afd, .events = ea};
			p[np++] = (struct pollfd){.fd = r[i].help_end, .events = eb};
		}
		if (!live)
			break;
		int k = poll(p, (nfds_t)np, timeout);
		if (k == 0) {
			for (int i = 0; i < n; i++) {
				if (!dead[i] && d[2 * i + 1].done) {
					close(r[i].afd);
					REAL(close)(r[i].help_end);
					dead[i] = true;
					live--;
				}
			}
		}
	}
	shim_engine_exit();
	_exit(0);
}

static int find_relay(struct relay *r, int n, const struct shim_sock *s)
{
	for (int i = 0; i < n; i++)
		if (r[i].s == s)
			return i;
	return -1;
}

void shim_exec_prepare(void)
{
	if (!shim.enabled || !shim.stack)
		return;
	struct relay r[RELAY_MAX];
	int n = 0;
	for (int fd = 0; fd < shim_fdt_size(); fd++) {
		struct shim_sock *s = shim_fdt_get(fd);
		if (!s || s->inherited || shim_fdt_cloexec(fd))
			continue;
		if (s->kind == SHIM_LISTENER) {
			shim_lock();
			bool shared = shim_family_held_elsewhere(s->sock);
			shim_unlock();
			if (!shared && !s->nonblock) {
				int fl = REAL(fcntl)(fd, F_GETFL);
				REAL(fcntl)(fd, F_SETFL, fl & ~O_NONBLOCK);
			}
			REAL(fcntl)(fd, F_SETFD, 0);
			continue;
		}
		if (find_relay(r, n, s) >= 0 || n == RELAY_MAX)
			continue;
		/* A relay reads eagerly for the new image. An fd left open by mistake (socat's
		 * EXEC without nofork hands cat the connection it serves itself) must not steal
		 * what the process of the family that serves it reads: relay only the standard
		 * streams (inetd, nofork) and connections no other process holds. */
		shim_lock();
		bool shared = shim_family_held_elsewhere(s->sock);
		shim_unlock();
		if (fd > 2 && shared)
			continue;
		r[n] = (struct relay){.s = s, .afd = fd};
		if (loopback_pair(&r[n].app_end, &r[n].help_end) < 0)
			continue; /* out of fds: this one goes as it was (closed at exec) */
		n++;
	}
	if (n > 0) {
		pid_t mid = fork(); /* a family member: the helper shares the stack */
		if (mid == 0) {
			pid_t helper = fork();
			if (helper == 0)
				relay_main(r, n);
			_exit(helper < 0);
		}
		if (mid > 0) {
			int st;
			while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
				;
		}
		/* No helper (out of processes): the fds go as they were, closed at exec. */
		for (int fd = 0; mid > 0 && fd < shim_fdt_size(); fd++) {
			struct shim_sock *s = shim_fdt_get(fd);
			int i = s && !shim_fdt_cloexec(fd) ? find_relay(r, n, s) : -1;
			if (i < 0)
				continue;
			shim_lock();
			shim_sock_unref(shim_fdt_take(fd)); /* the helper holds the connection */
			shim_unlock();
			REAL(dup2)(r[i].app_end, fd); /* inherited by the new image */
		}
		for (int i = 0; i < n; i++) {
			REAL(close)(r[i].app_end);
			REAL(close)(r[i].help_end);
		}
	}
	shim_lock();
	shim_family_exec(true);
	shim_unlock();
}

void shim_exec_failed(void)
{
	if (!shim.enabled || !shim.stack)
		return;
	int e = errno;
	shim_lock();
	shim_family_exec(false);
	shim_unlock();
	errno = e;
}

/* ---- the interposed exec family (glibc's execv/execvp/... call execve internally, so each
 * one is wrapped) ---- */

typedef int (*exec_env_fn)(const char *, char *const[], char *const[]);
typedef int (*exec_fn)(const char *, char *const[]);
typedef int (*fexec_fn)(int, char *const[], char *const[]);

#define REAL_EXEC(name, type)                                                                      \
	static type real_##name;                                                                   \
	if (!real_##name)                                                                          \
		real_##name = (type)dlsym(RTLD_NEXT, #name);

int execve(const char *path, char *const argv[], char *const envp[])
{
	REAL_EXEC(execve, exec_env_fn);
	shim_exec_prepare();
	int r = real_execve(path, argv, envp);
	shim_exec_failed();
	return r;
}

int execv(const char *path, char *const argv[])
{
	REAL_EXEC(execv, exec_fn);
	shim_exec_prepare();
	int r = real_execv(path, argv);
	shim_exec_failed();
	return r;
}

int execvp(const char *file, char *const argv[])
{
	REAL_EXEC(execvp, exec_fn);
	shim_exec_prepare();
	int r = real_execvp(file, argv);
	shim_exec_failed();
	return r;
}

int execvpe(const char *file, char *const argv[], char *const envp[])
{
	REAL_EXEC(execvpe, exec_env_fn);
	shim_exec_prepare();
	int r = real_execvpe(file, argv, envp);
	shim_exec_failed();
	return r;
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
	REAL_EXEC(fexecve, fexec_fn);
	shim_exec_prepare();
	int r = real_fexecve(fd, argv, envp);
	shim_exec_failed();
	return r;
}

/* execl, execlp, execle: the arguments as an array (and execle's envp after the NULL). */
static char **collect_args(const char *arg, va_list ap, char ***envp)
{
	size_t n = 1, cap = 16;
	char **argv = malloc(cap * sizeof(*argv));
	if (!argv)
		return NULL;
	argv[0] = (char *)arg;
	while (argv[n - 1]) {
		if (n == cap) {
			char **m = realloc(argv, (cap *= 2) * sizeof(*argv));
			if (!m) {
				free(argv);
				return NULL;
			}
			argv = m;
		}
		argv[n++] = va_arg(ap, char *);
	}
	if (envp)
		*envp = va_arg(ap, char **);
	return argv;
}

enum exec_list_kind { EXEC_L, EXEC_LP, EXEC_LE };

/* The end of execl, execlp, execle: the collected list goes to execv, execvp or execve (ours,
 * which keep the accelerated fds the new image inherits). */
static int exec_collected(enum exec_list_kind kind, const char *path, char **argv, char **envp)
{
	if (!argv) {
		errno = ENOMEM;
		return -1;
	}
	int r = kind == EXEC_L    ? execv(path, argv)
	        : kind == EXEC_LP ? execvp(path, argv)
	                          : execve(path, argv, envp);
	int e = errno;
	free(argv);
	errno = e;
	return r;
}

int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	char **argv = collect_args(arg, ap, NULL);
	va_end(ap);
	return exec_collected(EXEC_L, path, argv, NULL);
}

int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	char **argv = collect_args(arg, ap, NULL);
	va_end(ap);
	return exec_collected(EXEC_LP, file, argv, NULL);
}

int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	char **envp = NULL;
	va_start(ap, arg);
	char **argv = collect_args(arg, ap, &envp);
	va_end(ap);
	return exec_collected(EXEC_LE, path, argv, envp);
}
