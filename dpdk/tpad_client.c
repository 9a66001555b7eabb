/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's side of tpad (TPA_OWNER=tpad, see dpdk/tpad/tpad.h and tpad_proto.h): take a
 * lease on the interface's owner, starting it if none runs, turn the port into a memif client
 * of its slot, claim ports through it, and notice when it is gone.
 *
 * tpad is started detached (double fork, no LD_PRELOAD) with a pipe on which it says "ok" or
 * why it cannot serve; the lease (the control connection) is inherited by fork children, so it
 * closes when the last process of the family is gone. If tpad dies, its watchdog gives the
 * interface back to the kernel; the engine says so once and asks a new tpad (started again if
 * it may) for the same slot every second, then claims its ports again: connections that were
 * not reset in between carry on.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine_state.h"
#include "tpad_proto.h"

#define TPAD_START_TIMEOUT_MS 15000
#define TPAD_REPLY_TIMEOUT_MS 3000
#define TPAD_RETRY_NS         1000000000ull

extern char **environ;

static int find_tpad(const struct tpa_engine_config *cfg, char *out, size_t len)
{
	if (cfg->tpad_path[0]) {
		snprintf(out, len, "%s", cfg->tpad_path);
		return access(out, X_OK);
	}
	Dl_info di;
	if (dladdr((void *)find_tpad, &di) && di.dli_fname) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", di.dli_fname);
		char *slash = strrchr(dir, '/');
		if (slash) {
			*slash = '\0';
			const char *rel[] = {"/tpad", "/../sbin/tpad", "/../dpdk/tpad"};
			for (size_t i = 0; i < 3; i++) {
				snprintf(out, len, "%s%s", dir, rel[i]);
				if (!access(out, X_OK))
					return 0;
			}
		}
	}
	const char *candidates[] = {TPA_TPAD_INSTALL, TPA_TPAD_BUILD};
	for (size_t i = 0; i < 2; i++) {
		snprintf(out, len, "%s", candidates[i]);
		if (!access(out, X_OK))
			return 0;
	}
	return -1;
}

/* The grandchild: tpad, with the ready pipe on fd 3, nothing of the program's but stdio. */
static void exec_tpad(const char *path, const char *iface, int ready, char **envp)
        __attribute__((noreturn));
static void exec_tpad(const char *path, const char *iface, int ready, char **envp)
{
	if (ready != 3) {
		dup2(ready, 3);
		close(ready);
	}
	for (int fd = 4; fd < 1024; fd++)
		close(fd);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	char *argv[] = {(char *)path, "--iface", (char *)iface, "--on-demand",
	                "--ready-fd", "3",       NULL};
	execve(path, argv, envp);
	char line[PATH_MAX + 64];
	int n = snprintf(line, sizeof(line), "cannot run %s: %s\n", path, strerror(errno));
	(void)!write(3, line, (size_t)n);
	_exit(127);
}

/* Start tpad for the interface; 0 once it says it serves, else -errno with its line. */
static int spawn_tpad(struct tpa_engine *e, char *err, size_t errlen)
{
	char path[PATH_MAX];
	if (find_tpad(&e->cfg, path, sizeof(path)))
		return engine_seterr(err, errlen, ENOENT,
		                     "TPA_OWNER=tpad: no tpad program found (set TPA_TPAD to it)");
	/* Its environment: ours without the preload (tpad must not run a shim of its own). */
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **envp = calloc(n + 1, sizeof(*envp));
	if (!envp)
		return engine_seterr(err, errlen, ENOMEM, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11))
			envp[k++] = environ[i];
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		free(envp);
		return engine_seterr(err, errlen, errno, "pipe: %s", strerror(errno));
	}
	/* Raw forks: neither the program's nor the shim's fork handlers may run for a child that
	 * only execs. */
	pid_t mid = (pid_t)syscall(SYS_fork);
	if (mid == 0) {
		close(p[0]);
		setsid();
		if (syscall(SYS_fork) == 0)
			exec_tpad(path, e->cfg.iface, p[1], envp);
		_exit(0);
	}
	close(p[1]);
	free(envp);
	if (mid < 0) {
		close(p[0]);
		return engine_seterr(err, errlen, errno, "fork: %s", strerror(errno));
	}
	while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
		;
	char line[600] = "";
	size_t have = 0;
	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	while (have < sizeof(line) - 1 && poll(&pf, 1, TPAD_START_TIMEOUT_MS) > 0) {
		ssize_t r = read(p[0], line + have, sizeof(line) - 1 - have);
		if (r <= 0)
			break;
		have += (size_t)r;
	}
	close(p[0]);
	line[have] = '\0';
	if (!strcmp(line, "ok\n"))
		return 0;
	line[strcspn(line, "\n")] = '\0';
	return engine_seterr(err, errlen, EHOSTDOWN, "TPA_OWNER=tpad: tpad did not start: %s",
	                     line[0] ? line : "no answer");
}

static int ctl_connect(const char *iface)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char name[sizeof(sa.sun_path) - 1];
	tpad_ctl_name(name, sizeof(name), iface);
	size_t nl = strlen(name);
	memcpy(sa.sun_path + 1, name, nl);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + nl);
	if (connect(fd, (struct sockaddr *)&sa, sl) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int tpad_client_serves(const char *iface)
{
	int fd = ctl_connect(iface);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* The fds of an OK to HELLO or JOIN (tpad_proto.h), -1 where none came. */
static int take_fds(struct msghdr *mh, int *fds)
{
	for (int i = 0; i < TPAD_FDS; i++)
		fds[i] = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int got[TPAD_FDS + 4];
		if (n > TPAD_FDS + 4)
			n = TPAD_FDS + 4;
		memcpy(got, CMSG_DATA(c), n * sizeof(int));
		for (size_t i = 0; i < n; i++) {
			if (i < TPAD_FDS && fds[i] < 0)
				fds[i] = got[i];
			else
				close(got[i]);
		}
	}
	return fds[TPAD_FDS - 1] >= 0 ? 0 : -EPROTO;
}

/* One request, its reply (and its fds, when fds is given). 0, or -errno (EPIPE: tpad is
 * gone). */
static int request_fds(int fd, struct tpad_msg *m, int *fds)
{
	m->version = TPAD_PROTO_VERSION;
	if (send(fd, m, sizeof(*m), MSG_NOSIGNAL) != (ssize_t)sizeof(*m))
		return -EPIPE;
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	int rc;
	while ((rc = poll(&pf, 1, TPAD_REPLY_TIMEOUT_MS)) < 0 && errno == EINTR)
		;
	if (rc <= 0)
		return -ETIMEDOUT;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * (TPAD_FDS + 4))];
	} c;
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = c.buf,
	                    .msg_controllen = sizeof(c.buf)};
	ssize_t r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	int got[TPAD_FDS];
	int fdrc = take_fds(&mh, got);
	if (!fds || r != (ssize_t)sizeof(*m) || m->type != TPAD_OK || fdrc) {
		for (int i = 0; i < TPAD_FDS; i++)
			if (got[i] >= 0)
				close(got[i]);
	} else {
		memcpy(fds, got, sizeof(got));
	}
	if (r != (ssize_t)sizeof(*m))
		return -EPIPE;
	m->text[sizeof(m->text) - 1] = '\0';
	if (m->type == TPAD_OK && fds && fdrc)
		return -EPROTO;
	return m->type == TPAD_OK ? 0 : -(m->err ? m->err : EPROTO);
}

static int request(int fd, struct tpad_msg *m)
{
	return request_fds(fd, m, NULL);
}

/* The engine's wait set is the family's: an fd of a lease that ended must leave it before it
 * closes, or its end (readable for ever while another process keeps a copy) would wake every
 * sleeper of the family at once, for ever. */
static int wait_set = -1;

static void fd_close(int *fd)
{
	if (*fd < 0)
		return;
	if (wait_set >= 0)
		epoll_ctl(wait_set, EPOLL_CTL_DEL, *fd, NULL);
	close(*fd);
	*fd = -1;
}

/* This process's doorbells (tpad_proto.h): rung after sending while tpad sleeps, and the one
 * tpad rings, in the engine's wait set. */
static int bell_tpad = -1, bell_prog = -1;
static const struct tpad_bell_page *bell_page;

static void bells_take(struct tpa_engine *e, const int *fds)
{
	wait_set = e->wait_fd;
	fd_close(&bell_tpad);
	fd_close(&bell_prog);
	if (bell_page)
		munmap((void *)bell_page, 4096);
	bell_tpad = fds[TPAD_FD_BELL_TPAD];
	bell_prog = fds[TPAD_FD_BELL_PROG];
	void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fds[TPAD_FD_PAGE], 0);
	bell_page = p == MAP_FAILED ? NULL : p;
	close(fds[TPAD_FD_PAGE]);
	if (e->wait_fd >= 0)
		engine_wait_add(e, bell_prog);
}

void tpad_client_kick(void)
{
	/* Without the page, ring every time: correct, a syscall dearer. */
	if (!bell_page || __atomic_load_n(&bell_page->sleeping, __ATOMIC_SEQ_CST)) {
		uint64_t one = 1;
		(void)!write(bell_tpad, &one, sizeof(one));
	}
}

void tpad_client_drain(void)
{
	uint64_t v;
	if (bell_prog >= 0)
		(void)!read(bell_prog, &v, sizeof(v));
}

int tpad_client_wait_fd(void)
{
	return bell_prog;
}

/* This process's connection to the lease: inherited from the process that took it (fork), or
 * its own (JOIN) when the lease was taken again elsewhere in the family. */
static int my_fd = -1;
static uint32_t my_gen;

static void my_close(void)
{
	fd_close(&my_fd);
}

/* A new lease from a running tpad; with may_spawn, start one if none runs. */
static int take_lease(struct tpa_engine *e, int may_spawn, char *err, size_t errlen)
{
	int fd = ctl_connect(e->cfg.iface);
	if (fd < 0 && may_spawn && (fd == -ECONNREFUSED || fd == -ENOENT)) {
		int rc = spawn_tpad(e, err, errlen);
		if (rc)
			return rc;
		/* Ours serves, or another program's, still starting, had the interface: wait. */
		for (int i = 0; (fd = ctl_connect(e->cfg.iface)) == -ECONNREFUSED && i < 300; i++)
			usleep(50000);
	}
	if (fd < 0)
		return engine_seterr(err, errlen, -fd,
		                     "TPA_OWNER=tpad: no tpad serves %s (%s): start it as root "
		                     "(tpad --iface %s) or start this program as root",
		                     e->cfg.iface, strerror(-fd), e->cfg.iface);
	struct tpad_msg m = {.type = TPAD_HELLO, .pid = getpid(), .slot = e->tpad_slot};
	char comm[32] = "";
	FILE *f = fopen("/proc/self/comm", "re");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	snprintf(m.text, sizeof(m.text), "%s", comm);
	int fds[TPAD_FDS];
	int rc = request_fds(fd, &m, fds);
	if (rc) {
		close(fd);
		return engine_seterr(err, errlen, -rc, "tpad on %s: %s", e->cfg.iface,
		                     m.type == TPAD_ERR ? m.text : strerror(-rc));
	}
	my_close();
	my_fd = fd;
	bells_take(e, fds);
	e->tpad_slot = m.slot;
	e->tpad_token = m.token;
	my_gen = __atomic_add_fetch(&e->tpad_gen, 1, __ATOMIC_SEQ_CST);
	snprintf(e->cfg.memif_socket, sizeof(e->cfg.memif_socket), "@%s", m.text);
	return 0;
}

/* This process's fd for the current lease (JOIN when it has none), -1 if there is none. */
static int lease_fd(struct tpa_engine *e)
{
	uint32_t gen = __atomic_load_n(&e->tpad_gen, __ATOMIC_ACQUIRE);
	if (my_gen == gen && my_fd >= 0)
		return my_fd;
	my_close();
	if (e->tpad_lost)
		return -1;
	int fd = ctl_connect(e->cfg.iface);
	if (fd < 0)
		return -1;
	struct tpad_msg m = {
	        .type = TPAD_JOIN, .pid = getpid(), .slot = e->tpad_slot, .token = e->tpad_token};
	int fds[TPAD_FDS];
	if (request_fds(fd, &m, fds)) {
		close(fd);
		return -1;
	}
	my_fd = fd;
	bells_take(e, fds);
	my_gen = gen;
	engine_wait_add(e, fd);
	return fd;
}

int tpad_client_open(struct tpa_engine *e, char *err, size_t errlen)
{
	e->tpad_fd = -1;
	e->tpad_slot = TPAD_SLOT_ANY;
	int rc = take_lease(e, 1, err, errlen);
	if (rc)
		return rc;
	e->tpad_fd = my_fd;
	/* From here on the port is this slot's memif link. */
	e->cfg.port_kind = TPA_PORT_MEMIF;
	e->cfg.memif_role = TPA_MEMIF_CLIENT;
	e->cfg.memif_id = e->tpad_slot;
	return 0;
}

int tpad_client_steer(struct tpa_engine *e, uint16_t port, int on)
{
	int fd = lease_fd(e);
	if (fd < 0)
		return e->tpad_lost ? 0 : -ENOTCONN; /* claimed again when tpad is back */
	struct tpad_msg m = {.type = TPAD_STEER, .port = port, .on = (uint8_t) !!on};
	int rc = request(fd, &m);
	if (rc && m.type == TPAD_ERR)
		fprintf(stderr, "tpa: %s\n", m.text);
	return rc;
}

static void lost(struct tpa_engine *e)
{
	my_close();
	/* The first process of the family to notice says it, once per lease. */
	if (__atomic_exchange_n(&e->tpad_lost, 1, __ATOMIC_SEQ_CST))
		return;
	e->tpad_retry_ns = 0;
	fprintf(stderr,
	        "tpa: tpad, the owner of %s, is gone: the kernel serves its ports until a tpad "
	        "is back (retrying every second)\n",
	        e->cfg.iface);
}

/* Take a lease again (any process of the family; under the shim's lock, so one at a time),
 * starting tpad if this process may, then claim the family's ports again. */
static void come_back(struct tpa_engine *e, uint64_t now_ns)
{
	if (now_ns < e->tpad_retry_ns)
		return;
	e->tpad_retry_ns = now_ns + TPAD_RETRY_NS;
	char err[512];
	if (take_lease(e, geteuid() == 0, err, sizeof(err)))
		return;
	if (e->tpad_slot != e->cfg.memif_id) {
		fprintf(stderr, "tpa: a new tpad on %s gave another link (%u, was %u): giving up\n",
		        e->cfg.iface, e->tpad_slot, e->cfg.memif_id);
		my_close();
		e->tpad_retry_ns = UINT64_MAX;
		return;
	}
	e->tpad_lost = 0;
	engine_wait_add(e, my_fd);
	unsigned n = 0;
	for (uint32_t p = 1; p < 65536; p++)
		if ((e->steered[p / 8] & (1u << (p % 8))) && !tpad_client_steer(e, (uint16_t)p, 1))
			n++;
	fprintf(stderr, "tpa: tpad on %s is back: %u ports accelerated again\n", e->cfg.iface, n);
}

void tpad_client_upkeep(struct tpa_engine *e, uint64_t now_ns)
{
	wait_set = e->wait_fd;
	if (my_fd >= 0 && my_gen != __atomic_load_n(&e->tpad_gen, __ATOMIC_ACQUIRE))
		my_close(); /* an older lease's: its end must not keep waking the family */
	if (my_fd >= 0) {
		struct pollfd pf = {.fd = my_fd, .events = POLLIN};
		if (poll(&pf, 1, 0) > 0 && (pf.revents & (POLLIN | POLLHUP | POLLERR)))
			lost(e); /* tpad never speaks first: anything here is its end */
		return;
	}
	if (e->tpad_lost)
		come_back(e, now_ns);
}

void tpad_client_close(struct tpa_engine *e)
{
	my_close();
	e->tpad_fd = -1;
}
