/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Interposed socket calls: creation, naming, listen/accept/connect, options, ioctl (close, dup
 * and fcntl: fdops.c). Each one hands unaccelerated fds straight to libc first.
 *
 * Options on an accelerated socket are set on its kernel socket first: the kernel validates
 * them (same errno for a bad length or level) and keeps the value Linux reports (SO_SNDBUF
 * doubled, ...); the ones the stack uses are then mirrored to it. getsockopt reads the kernel's
 * copy except for what only the stack knows (SO_ERROR, TCP_MAXSEG, SO_ACCEPTCONN).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "family.h"
#include "shim.h"
#include "tpa/dpdk.h"
#include "tpa/stack.h"

static void shim_fatal_sock(const char *what, int port, int err)
{
	char line[256];
	snprintf(line, sizeof(line), "tpa: cannot accelerate %s on port %d: %s", what, port,
	         strerror(err));
	syscall(SYS_write, 2, line, strlen(line));
	syscall(SYS_write, 2, "\n", 1);
	_exit(1);
}

/* An fd nobody should use in a fork child (the parent owns the connection). */
static int inherited_err(void)
{
	errno = EBADF;
	return -1;
}

/* AF_INET or AF_INET6 for a TCP socket, else 0. */
static int inet_stream_domain(int fd)
{
	int domain = 0, v = 0;
	socklen_t l = sizeof(domain);
	if (REAL(getsockopt)(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) < 0 ||
	    (domain != AF_INET && domain != AF_INET6))
		return 0;
	l = sizeof(v);
	if (REAL(getsockopt)(fd, SOL_SOCKET, SO_TYPE, &v, &l) < 0 || v != SOCK_STREAM)
		return 0;
	l = sizeof(v);
	if (REAL(getsockopt)(fd, SOL_SOCKET, SO_PROTOCOL, &v, &l) < 0 || v != IPPROTO_TCP)
		return 0;
	return domain;
}

static bool is_inet_stream(int fd)
{
	return inet_stream_domain(fd) == AF_INET;
}

/* The stack's IPv4 address as the program's socket shows it: IPv4, or IPv4-mapped IPv6 for an
 * AF_INET6 socket; truncated to *len like the kernel does, *len set to the full size. */
static void show_addr(const struct sockaddr_in *in, bool v6, struct sockaddr *addr, socklen_t *len)
{
	if (!addr || !len)
		return;
	struct sockaddr_in6 m = {.sin6_family = AF_INET6, .sin6_port = in->sin_port};
	const void *src = in;
	socklen_t full = sizeof(*in);
	if (v6) {
		m.sin6_addr.s6_addr[10] = 0xff;
		m.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&m.sin6_addr.s6_addr[12], &in->sin_addr, 4);
		src = &m;
		full = sizeof(m);
	}
	memcpy(addr, src, *len < full ? *len : full);
	*len = full;
}

static bool fd_nonblock(int fd)
{
	int fl = REAL(fcntl)(fd, F_GETFL);
	return fl >= 0 && (fl & O_NONBLOCK);
}

static bool fd_cloexec(int fd)
{
	int fl = REAL(fcntl)(fd, F_GETFD);
	return fl >= 0 && (fl & FD_CLOEXEC);
}

/* Carry the options the program set on the kernel socket over to the stack socket. */
static void copy_options(int fd, int sock)
{
	static const struct {
		int level, name;
		enum tpa_sockopt opt;
	} map[] = {
	        {SOL_SOCKET, SO_KEEPALIVE, TPA_SO_KEEPALIVE},
	        {SOL_SOCKET, SO_REUSEADDR, TPA_SO_REUSEADDR},
	        {IPPROTO_TCP, TCP_NODELAY, TPA_SO_NODELAY},
	        {IPPROTO_TCP, TCP_KEEPIDLE, TPA_SO_KEEPIDLE},
	        {IPPROTO_TCP, TCP_KEEPINTVL, TPA_SO_KEEPINTVL},
	        {IPPROTO_TCP, TCP_KEEPCNT, TPA_SO_KEEPCNT},
	        {IPPROTO_TCP, TCP_CORK, TPA_SO_CORK},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		int v = 0;
		socklen_t l = sizeof(v);
		if (REAL(getsockopt)(fd, map[i].level, map[i].name, &v, &l) == 0)
			tpa_setsockopt(shim.stack, sock, map[i].opt, &v, sizeof(v));
	}
	struct linger lg;
	socklen_t l = sizeof(lg);
	if (REAL(getsockopt)(fd, SOL_SOCKET, SO_LINGER, &lg, &l) == 0 && lg.l_onoff)
		tpa_setsockopt(shim.stack, sock, TPA_SO_LINGER, &lg, sizeof(lg));
}

void shim_adopt_fd(int fd, struct shim_sock *s, bool app_cloexec)
{
	shim_fdt_set(fd, s, app_cloexec);
	REAL(fcntl)(fd, F_SETFD, FD_CLOEXEC);
	shim_epoll_adopted(fd, s);
}

/* ---- creation ---- */

int socket(int domain, int type, int protocol)
{
	int fd = REAL(socket)(domain, type, protocol);
	if (fd >= 0) {
		shim_fd_appeared(fd);
		shim_epoll_candidate(fd, domain, type);
	}
	return fd;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (s) {
		errno = EINVAL; /* already bound: listening or connected */
		return -1;
	}
	return REAL(bind)(fd, addr, len);
}

/* The IPv4 side of an AF_INET6 listener: the wildcard when it is dual-stack (IPV6_V6ONLY off),
 * or the IPv4 address it is bound to as ::ffff:a.b.c.d. Native IPv6 clients keep reaching
 * the kernel socket. */
static bool v4_side(int fd, struct sockaddr_in *sin)
{
	struct sockaddr_in6 s6;
	socklen_t l = sizeof(s6);
	if (REAL(getsockname)(fd, (struct sockaddr *)&s6, &l) < 0 || s6.sin6_family != AF_INET6)
		return false;
	*sin = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = s6.sin6_port};
	if (IN6_IS_ADDR_UNSPECIFIED(&s6.sin6_addr)) {
		int only = 1;
		l = sizeof(only);
		return REAL(getsockopt)(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, &l) == 0 && !only;
	}
	if (!IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr))
		return false;
	memcpy(&sin->sin_addr, &s6.sin6_addr.s6_addr[12], 4);
	return true;
}

static bool listen_selected(int fd, struct sockaddr_in *sin, bool *v6)
{
	socklen_t l = sizeof(*sin);
	int domain = shim.enabled ? inet_stream_domain(fd) : 0;
	*v6 = domain == AF_INET6;
	return domain &&
	       (*v6 ? v4_side(fd, sin)
	            : REAL(getsockname)(fd, (struct sockaddr *)sin, &l) == 0 &&
	                        sin->sin_family == AF_INET) &&
	       shim_config_port_selected(&shim.cfg, ntohs(sin->sin_port)) &&
	       (sin->sin_addr.s_addr == htonl(INADDR_ANY) || !shim.iface_ip ||
	        sin->sin_addr.s_addr == shim.iface_ip) &&
	       sin->sin_addr.s_addr != htonl(INADDR_LOOPBACK);
}

/*
 * Lock held. The stack takes the port before the kernel socket listens, so every connection
 * from the interface is the stack's from the first SYN on: the engine starts here, in the
 * process that listens, which is the one that still has the privileges AF_XDP needs (a
 * server's master, before it forks its workers and they drop them). The workers share the
 * engine and the stack (fork family) and accept from it with no privileges of their own.
 * NULL: the listener stays the kernel's (another tpa process has the interface, or the
 * address is not the interface's).
 */
static struct shim_sock *accelerate_listener(int fd, int backlog, const struct sockaddr_in *sin,
                                             bool v6)
{
	char err[512];
	int port = ntohs(sin->sin_port);
	if (!shim.stack) {
		int rc = shim_engine_try_start(err, sizeof(err));
		if (rc == -EBUSY) {
			fprintf(stderr, "tpa: port %d stays on the kernel in pid %d: %s\n", port,
			        (int)getpid(), err);
			return NULL;
		}
		if (rc < 0)
			shim_engine_fatal(err);
	}
	/* The interface address is known only once the engine runs. */
	if (sin->sin_addr.s_addr != htonl(INADDR_ANY) && sin->sin_addr.s_addr != shim.iface_ip)
		return NULL;
	int sock = tpa_socket(shim.stack);
	if (sock < 0)
		shim_fatal_sock("a listener", port, -sock);
	copy_options(fd, sock);
	int one = 1;
	tpa_setsockopt(shim.stack, sock, TPA_SO_REUSEADDR, &one, sizeof(one));
	int r = tpa_bind(shim.stack, sock, (const struct sockaddr *)sin, sizeof(*sin));
	if (r == 0)
		r = tpa_listen(shim.stack, sock, backlog);
	if (r < 0)
		shim_fatal_sock("a listener", port, -r);
	struct shim_sock *s = shim_sock_new(sock, SHIM_LISTENER, fd);
	if (!s)
		shim_fatal_sock("a listener", port, ENOMEM);
	s->nonblock = fd_nonblock(fd);
	s->wildcard = sin->sin_addr.s_addr == htonl(INADDR_ANY);
	s->v6 = v6;
	tpa_stack_flush(shim.stack);
	return s;
}

int listen(int fd, int backlog)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (s) {
		if (s->inherited)
			return inherited_err();
		if (s->kind != SHIM_LISTENER) {
			errno = EINVAL;
			return -1;
		}
		shim_lock();
		int r = tpa_listen(shim.stack, s->sock, backlog);
		if (r == 0)
			r = REAL(listen)(fd, backlog) < 0 ? -errno : 0;
		if (r == 0)
			s->shut_rd = false;
		shim_unlock();
		return (int)shim_ret(r);
	}
	struct sockaddr_in sin;
	bool v6;
	if (!listen_selected(fd, &sin, &v6))
		return REAL(listen)(fd, backlog);
	shim_lock();
	s = accelerate_listener(fd, backlog, &sin, v6);
	int r = REAL(listen)(fd, backlog);
	if (s && r < 0) {
		/* The kernel refused (EADDRINUSE ...): so do we. */
		int e = errno;
		shim_sock_unref(s);
		shim_unlock();
		errno = e;
		return -1;
	}
	if (s) {
		/* The kernel socket keeps the port held and takes loopback clients; its accepts
		 * never block (the shim waits). */
		int fl = REAL(fcntl)(fd, F_GETFL);
		REAL(fcntl)(fd, F_SETFL, fl | O_NONBLOCK);
		shim_adopt_fd(fd, s, fd_cloexec(fd));
		if (shim.stats)
			fprintf(stderr, "tpa: port %d accelerated on %s (pid %d)\n",
			        ntohs(sin.sin_port), shim.cfg.iface, (int)getpid());
	}
	shim_unlock();
	return r;
}

static bool addr_is_local(const struct sockaddr_storage *a)
{
	struct in_addr v4;
	if (a->ss_family == AF_INET) {
		v4 = ((const struct sockaddr_in *)a)->sin_addr;
	} else if (a->ss_family == AF_INET6) {
		const struct in6_addr *v6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(v6))
			return true;
		if (!IN6_IS_ADDR_V4MAPPED(v6))
			return false; /* IPv6 is never steered: not ours to judge */
		memcpy(&v4, &v6->s6_addr[12], 4);
	} else {
		return true;
	}
	if ((ntohl(v4.s_addr) >> 24) == 127)
		return true;
	struct ifaddrs *list;
	if (getifaddrs(&list))
		return true;
	bool local = false;
	for (struct ifaddrs *i = list; i && !local; i = i->ifa_next)
		local = i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		        ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == v4.s_addr;
	freeifaddrs(list);
	return local;
}

/* Lock held. The kernel socket of accelerated listener s accepted connection k. From this
 * host that is expected (its packets never cross the interface); from another host it means
 * steering missed a flow (the stack took the port before the kernel socket listened). Say so
 * once, count every one. */
static void count_kernel_accept(int k)
{
	shim.kernel_accepted++;
	struct sockaddr_storage peer, local;
	socklen_t pl = sizeof(peer), ll = sizeof(local);
	if (REAL(getpeername)(k, (struct sockaddr *)&peer, &pl) ||
	    REAL(getsockname)(k, (struct sockaddr *)&local, &ll) || addr_is_local(&peer))
		return;
	int port = ntohs(((struct sockaddr_in *)&local)->sin_port);
	if (shim.kernel_accepted_remote++ == 0) {
		char a[INET6_ADDRSTRLEN] = "?";
		const void *src =
		        peer.ss_family == AF_INET
		                ? (const void *)&((struct sockaddr_in *)&peer)->sin_addr
		                : (const void *)&((struct sockaddr_in6 *)&peer)->sin6_addr;
		inet_ntop(peer.ss_family, src, a, sizeof(a));
		fprintf(stderr,
		        "tpa: port %d: a connection from %s was accepted by the kernel, not tpa "
		        "(steering missed it; counted in kernel_accepted_remote)\n",
		        port, a);
	}
}

static bool listener_ready(void *arg)
{
	struct shim_sock *s = arg;
	return s->shut_rd || (tpa_sock_events(shim.stack, s->sock) & (TPA_EV_IN | TPA_EV_ERR));
}

/* After an accept took a connection or found none (lock held): the IN edge tracking of an
 * edge-triggered listener restarts from the queue as it is, so the next arrival is an edge
 * (the stack's hook is not called for what the program takes itself). */
static void accept_edge_resync(struct shim_sock *s)
{
	if (s->n_et)
		shim_et_restart(s);
}

/* accept4 on accelerated listener s (lock held): the new fd, or -errno. */
static int accept_locked(int fd, struct shim_sock *s, struct sockaddr *addr, socklen_t *len,
                         int flags)
{
	for (;;) {
		if (s->shut_rd)
			return -EINVAL; /* shut down (by another thread, maybe while we waited) */
		/* The last fd closed by another thread while we wait: the listener lives on until
		 * we return, as in the kernel, but the fd number is no longer its kernel socket. */
		bool kernel = shim.cfg.accept_kernel && s->refs > 0;
		shim_engine_poll();
		if (tpa_sock_events(shim.stack, s->sock) & TPA_EV_IN) {
			/* The fd number first: if the program is out of fds the connection stays
			 * queued, as in the kernel. */
			int kfd = REAL(socket)(s->v6 ? AF_INET6 : AF_INET,
			                       SOCK_STREAM | SOCK_CLOEXEC | (flags & SOCK_NONBLOCK),
			                       0);
			if (kfd < 0)
				return -errno;
			struct sockaddr_in peer;
			socklen_t plen = sizeof(peer);
			int c = tpa_accept(shim.stack, s->sock, (struct sockaddr *)&peer, &plen);
			accept_edge_resync(s);
			if (c >= 0) {
				show_addr(&peer, s->v6, addr, len);
				struct shim_sock *cs = shim_sock_new(c, SHIM_CONN, kfd);
				if (!cs) {
					tpa_close(shim.stack, c);
					REAL(close)(kfd);
					return -ENOMEM;
				}
				struct shim_sock *stale = shim_fdt_take(kfd);
				if (stale)
					shim_sock_unref(stale);
				cs->nonblock = (flags & SOCK_NONBLOCK) != 0;
				cs->v6 = s->v6;
				shim_adopt_fd(kfd, cs, (flags & SOCK_CLOEXEC) != 0);
				return kfd;
			}
			REAL(close)(kfd);
			if (c != -EAGAIN)
				return c;
		}
		if (kernel) {
			int k = REAL(accept4)(fd, addr, len, flags);
			if (k >= 0) {
				count_kernel_accept(k);
				struct shim_sock *stale = shim_fdt_take(k);
				if (stale)
					shim_sock_unref(stale);
				return k;
			}
			if (errno != EAGAIN)
				return -errno;
		}
		if (s->nonblock) {
			accept_edge_resync(s); /* a child may have left the queue unseen */
			return -EAGAIN;
		}
		if (shim_block(listener_ready, s, kernel ? fd : -1, UINT64_MAX) == -EINTR)
			return -EINTR;
	}
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (!s) {
		int r = REAL(accept4)(fd, addr, len, flags);
		if (r >= 0)
			shim_fd_appeared(r);
		return r;
	}
	if (s->inherited)
		return inherited_err();
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
		errno = EINVAL;
		return -1;
	}
	if (s->kind != SHIM_LISTENER) {
		errno = EINVAL;
		return -1;
	}
	shim_lock();
	s->busy++; /* another thread may close the listener while we sleep */
	int r = accept_locked(fd, s, addr, len, flags);
	shim_sock_idle(s);
	shim_unlock();
	return (int)shim_ret(r);
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	return accept4(fd, addr, len, 0);
}

static bool connect_done(void *arg)
{
	struct shim_sock *s = arg;
	return (tpa_sock_events(shim.stack, s->sock) & (TPA_EV_OUT | TPA_EV_ERR | TPA_EV_HUP)) != 0;
}

/* Lock held. Completes a blocking connect: 0 or -errno. */
static int connect_wait(struct shim_sock *s)
{
	int r = shim_block(connect_done, s, -1, UINT64_MAX);
	if (r == -EINTR)
		return -EINTR; /* the connection goes on, as in the kernel */
	int err = 0;
	socklen_t l = sizeof(err);
	s->connecting = false;
	tpa_getsockopt(shim.stack, s->sock, TPA_SO_ERROR, &err, &l);
	return err ? -err : 0;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct shim_sock *s = shim_fdt_get(fd);
	int r;
	if (s) {
		if (s->inherited)
			return inherited_err();
		shim_lock();
		s->busy++; /* another thread may close the fd while we wait */
		shim_engine_poll();
		r = tpa_connect(shim.stack, s->sock, addr, len);
		tpa_stack_flush(shim.stack);
		if (r == -EALREADY && !s->nonblock)
			r = connect_wait(s);
		/* Linux: the first connect() after a non-blocking one completed reports success
		 * (the socket leaves SS_CONNECTING); later ones say EISCONN. */
		if (s->connecting && (r == -EISCONN || r == 0)) {
			s->connecting = false;
			r = 0;
		} else if (r == 0) {
			r = -EISCONN;
		}
		shim_sock_idle(s);
		shim_unlock();
		return (int)shim_ret(r);
	}
	const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
	if (!shim.enabled || !addr || len < sizeof(*sin) || addr->sa_family != AF_INET ||
	    !shim_config_dest_selected(&shim.cfg, sin->sin_addr.s_addr, ntohs(sin->sin_port)) ||
	    !is_inet_stream(fd))
		return REAL(connect)(fd, addr, len);
	shim_lock();
	shim_engine_ensure();
	int sock = tpa_socket(shim.stack);
	if (sock < 0)
		shim_fatal_sock("a connection", ntohs(sin->sin_port), -sock);
	copy_options(fd, sock);
	struct sockaddr_in local;
	socklen_t ll = sizeof(local);
	if (REAL(getsockname)(fd, (struct sockaddr *)&local, &ll) == 0 &&
	    local.sin_family == AF_INET && local.sin_port != 0) {
		r = tpa_bind(shim.stack, sock, (struct sockaddr *)&local, sizeof(local));
		if (r < 0) {
			tpa_close(shim.stack, sock);
			shim_unlock();
			return (int)shim_ret(r);
		}
	}
	s = shim_sock_new(sock, SHIM_CONN, fd);
	if (!s) {
		tpa_close(shim.stack, sock);
		shim_unlock();
		errno = ENOMEM;
		return -1;
	}
	s->nonblock = fd_nonblock(fd);
	shim_adopt_fd(fd, s, fd_cloexec(fd));
	r = tpa_connect(shim.stack, sock, addr, len);
	tpa_stack_flush(shim.stack);
	if (r == -EINPROGRESS) {
		s->connecting = true;
		if (!s->nonblock) {
			s->busy++; /* another thread may close the fd while we wait */
			r = connect_wait(s);
			shim_sock_idle(s);
		}
	}
	shim_unlock();
	return (int)shim_ret(r);
}

/* ---- options and names ---- */

static int sockopt_to_tpa(int level, int name, enum tpa_sockopt *opt)
{
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_KEEPALIVE:
			*opt = TPA_SO_KEEPALIVE;
			return 0;
		case SO_REUSEADDR:
			*opt = TPA_SO_REUSEADDR;
			return 0;
		case SO_SNDBUF:
			*opt = TPA_SO_SNDBUF;
			return 0;
		case SO_RCVBUF:
			*opt = TPA_SO_RCVBUF;
			return 0;
		case SO_LINGER:
			*opt = TPA_SO_LINGER;
			return 0;
		}
	} else if (level == IPPROTO_TCP) {
		switch (name) {
		case TCP_NODELAY:
			*opt = TPA_SO_NODELAY;
			return 0;
		case TCP_CORK:
			*opt = TPA_SO_CORK;
			return 0;
		case TCP_KEEPIDLE:
			*opt = TPA_SO_KEEPIDLE;
			return 0;
		case TCP_KEEPINTVL:
			*opt = TPA_SO_KEEPINTVL;
			return 0;
		case TCP_KEEPCNT:
			*opt = TPA_SO_KEEPCNT;
			return 0;
		case TCP_MAXSEG:
			*opt = TPA_SO_MAXSEG;
			return 0;
		case TCP_USER_TIMEOUT:
			*opt = TPA_SO_USER_TIMEOUT;
			return 0;
		}
	}
	return -1;
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (!s)
		return REAL(setsockopt)(fd, level, name, val, len);
	if (s->inherited)
		return inherited_err();
	int r = REAL(setsockopt)(fd, level, name, val, len);
	enum tpa_sockopt opt;
	if (r < 0 || sockopt_to_tpa(level, name, &opt) < 0)
		return r;
	shim_lock();
	int t = tpa_setsockopt(shim.stack, s->sock, opt, val, len);
	shim_unlock();
	/* The kernel accepted the value; the stack may clamp it but must not refuse it. */
	(void)t;
	return 0;
}

/* Read one int option from the stack after taking in fresh packets (a pending error or the
 * readable byte count may have just changed). 0 or -errno. */
static int stack_int_option(struct shim_sock *s, enum tpa_sockopt opt, int *v)
{
	socklen_t l = sizeof(*v);
	shim_lock();
	shim_engine_poll();
	int r = tpa_getsockopt(shim.stack, s->sock, opt, v, &l);
	shim_unlock();
	return r;
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (!s)
		return REAL(getsockopt)(fd, level, name, val, len);
	if (s->inherited)
		return inherited_err();
	enum tpa_sockopt opt;
	bool from_stack = false;
	if (level == SOL_SOCKET && name == SO_ERROR) {
		opt = TPA_SO_ERROR;
		from_stack = true;
	} else if (level == SOL_SOCKET && name == SO_ACCEPTCONN) {
		opt = TPA_SO_ACCEPTCONN;
		from_stack = true;
	} else if (level == IPPROTO_TCP && name == TCP_MAXSEG && s->kind == SHIM_CONN) {
		opt = TPA_SO_MAXSEG;
		from_stack = true;
	}
	if (!from_stack)
		return REAL(getsockopt)(fd, level, name, val, len);
	if (!len || (!val && *len)) {
		errno = EFAULT;
		return -1;
	}
	if ((int)*len < 0) {
		errno = EINVAL;
		return -1;
	}
	int v = 0;
	int r = stack_int_option(s, opt, &v);
	if (r < 0)
		return (int)shim_ret(r);
	/* Like Linux: copy at most what fits and report the copied length. */
	if (*len > sizeof(v))
		*len = sizeof(v);
	memcpy(val, &v, *len);
	return 0;
}

int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (!s || s->kind == SHIM_LISTENER)
		return REAL(getsockname)(fd, addr, len);
	if (s->inherited)
		return inherited_err();
	struct sockaddr_in in;
	socklen_t l = sizeof(in);
	shim_lock();
	int r = tpa_getsockname(shim.stack, s->sock, (struct sockaddr *)&in, &l);
	shim_unlock();
	if (r == 0)
		show_addr(&in, s->v6, addr, len);
	return (int)shim_ret(r);
}

int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (!s || s->kind == SHIM_LISTENER)
		return REAL(getpeername)(fd, addr, len);
	if (s->inherited)
		return inherited_err();
	struct sockaddr_in in;
	socklen_t l = sizeof(in);
	shim_lock();
	int r = tpa_getpeername(shim.stack, s->sock, (struct sockaddr *)&in, &l);
	shim_unlock();
	if (r == 0)
		show_addr(&in, s->v6, addr, len);
	return (int)shim_ret(r);
}

/*
 * shutdown() of a listener, as Linux does it: SHUT_WR changes nothing; SHUT_RD or SHUT_RDWR
 * stops listening (connections not accepted yet are reset, new ones refused) and wakes every
 * thread blocked in accept(), which then fails with EINVAL, as later accepts do until listen()
 * is called again. The kernel socket is shut down the same way (its error and its wake-up of
 * sleepers come with it); the stack's listener is closed and replaced by a socket bound to the
 * same address, ready for another listen(). A listener another process of the family still
 * holds keeps listening in the stack: only this process stops accepting from it.
 */
static int listener_shutdown(int fd, struct shim_sock *s, int how)
{
	int r = REAL(shutdown)(fd, how);
	if (r < 0 || how == SHUT_WR)
		return r;
	shim_lock();
	struct sockaddr_in sin;
	socklen_t l = sizeof(sin);
	int ns = -1;
	if (!s->shut_rd && !shim_family_held_elsewhere(s->sock) &&
	    tpa_getsockname(shim.stack, s->sock, (struct sockaddr *)&sin, &l) == 0 &&
	    (ns = tpa_socket(shim.stack)) >= 0) {
		copy_options(fd, ns);
		int one = 1;
		tpa_setsockopt(shim.stack, ns, TPA_SO_REUSEADDR, &one, sizeof(one));
		tpa_close(shim.stack, s->sock);
		(void)tpa_bind(shim.stack, ns, (struct sockaddr *)&sin, l);
		shim_sock_renumber(s, ns);
		tpa_stack_flush(shim.stack);
	}
	s->shut_rd = true;
	shim_sleepers_kick();
	shim_unlock();
	return 0;
}

int shutdown(int fd, int how)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (!s)
		return REAL(shutdown)(fd, how);
	if (s->inherited)
		return inherited_err();
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) {
		errno = EINVAL;
		return -1;
	}
	if (s->kind == SHIM_LISTENER)
		return listener_shutdown(fd, s, how);
	shim_lock();
	int r = tpa_shutdown(shim.stack, s->sock, how);
	if (r == 0 && how != SHUT_RD)
		s->shut_wr = true;
	tpa_stack_flush(shim.stack);
	shim_unlock();
	return (int)shim_ret(r);
}

/* ---- ioctl ---- */

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	struct shim_sock *s = shim_fdt_get(fd);
	if (!s)
		return REAL(ioctl)(fd, req, arg);
	if (s->inherited)
		return inherited_err();
	enum tpa_sockopt opt;
	switch (req) {
	case FIONBIO: {
		int r = s->kind == SHIM_LISTENER ? 0 : REAL(ioctl)(fd, req, arg);
		if (r == 0) {
			if (!arg) {
				errno = EFAULT;
				return -1;
			}
			s->nonblock = *(int *)arg != 0;
		}
		return r;
	}
	case FIONREAD:
		opt = TPA_SO_NREAD;
		break;
	case SIOCOUTQ:
		opt = TPA_SO_NWRITE;
		break;
	default:
		return REAL(ioctl)(fd, req, arg);
	}
	if (s->kind == SHIM_LISTENER) {
		errno = EINVAL;
		return -1;
	}
	if (!arg) {
		errno = EFAULT;
		return -1;
	}
	int v = 0;
	int r = stack_int_option(s, opt, &v);
	if (r < 0)
		return (int)shim_ret(r);
	*(int *)arg = v;
	return 0;
}
