/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tpad's control socket (tpad_proto.h): programs take a slot (their lease), claim and give back
 * ports; a closed lease gives the slot's ports back to the kernel and resets its peers.
 * Claims are checked: a port claimed by another program is refused with one line naming it,
 * and ports below 1024 need a program that connected as root (SO_PEERCRED), as the kernel's
 * bind() would.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tpad.h"

int tpad_ctl_open(struct tpad *t, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char name[sizeof(sa.sun_path) - 1];
	tpad_ctl_name(name, sizeof(name), t->iface);
	size_t nl = strlen(name);
	memcpy(sa.sun_path + 1, name, nl);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return engine_seterr(err, errlen, errno, "control socket: %s", strerror(errno));
	socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + nl);
	if (bind(fd, (struct sockaddr *)&sa, sl) < 0) {
		int e = errno;
		close(fd);
		if (e == EADDRINUSE)
			return -EADDRINUSE;
		return engine_seterr(err, errlen, e, "control socket @%s: %s", name, strerror(e));
	}
	t->ctl_fd = fd;
	t->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TPAD_EV_LISTEN};
	if (t->ep_fd < 0 || epoll_ctl(t->ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return engine_seterr(err, errlen, errno, "epoll: %s", strerror(errno));
	return 0;
}

int tpad_ctl_listen(struct tpad *t, char *err, size_t errlen)
{
	if (listen(t->ctl_fd, 64) < 0)
		return engine_seterr(err, errlen, errno, "listen: %s", strerror(errno));
	return 0;
}

int tpad_programs(const struct tpad *t)
{
	int n = 0;
	for (unsigned s = 0; s < t->nslots; s++)
		n += t->slots[s].conns > 0;
	return n;
}

static void reply(int fd, uint32_t type, int e, uint16_t slot, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static void reply(int fd, uint32_t type, int e, uint16_t slot, const char *fmt, ...)
{
	struct tpad_msg m = {.version = TPAD_PROTO_VERSION, .type = type, .err = e, .slot = slot};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m.text, sizeof(m.text), fmt, ap);
	va_end(ap);
	(void)!send(fd, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* An OK to HELLO or JOIN, with the slot's doorbells and the doorbell page. */
static void reply_lease(struct tpad *t, int fd, unsigned s, struct tpad_msg *r)
{
	int fds[TPAD_FDS];
	fds[TPAD_FD_BELL_TPAD] = t->slots[s].bell_tpad;
	fds[TPAD_FD_BELL_PROG] = t->slots[s].bell_prog;
	fds[TPAD_FD_PAGE] = t->bell_fd;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(fds))];
	} c;
	memset(&c, 0, sizeof(c));
	struct iovec iov = {.iov_base = r, .iov_len = sizeof(*r)};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = c.buf,
	                    .msg_controllen = sizeof(c.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	(void)!sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static uint64_t new_token(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = tpad_now_ns() * 0x9e3779b97f4a7c15ull;
	return v | 1;
}

static void attach(struct tpad *t, unsigned s, int fd)
{
	t->conn_slot[fd] = (uint8_t)(s + 1);
	t->slots[s].conns++;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TPAD_EV_CONN | (uint32_t)fd};
	epoll_ctl(t->ep_fd, EPOLL_CTL_ADD, fd, &ev);
}

/* HELLO: a new lease on a free slot (the one asked for, if free: a program coming back after
 * a tpad restart keeps its link). */
static void hello(struct tpad *t, int fd, struct tpad_msg *m)
{
	unsigned s = TPAD_SLOTS_MAX;
	if (m->slot < t->nslots && !t->slots[m->slot].conns)
		s = m->slot;
	for (unsigned i = 0; s == TPAD_SLOTS_MAX && i < t->nslots; i++)
		if (!t->slots[i].conns)
			s = i;
	if (s == TPAD_SLOTS_MAX) {
		reply(fd, TPAD_ERR, EBUSY, 0,
		      "tpad on %s serves %u programs already (tpad --slots, at most %u)", t->iface,
		      t->nslots, TPAD_SLOTS_MAX);
		close(fd);
		return;
	}
	struct tpad_slot *sl = &t->slots[s];
	sl->pid = m->pid;
	m->text[sizeof(m->text) - 1] = '\0';
	snprintf(sl->name, sizeof(sl->name), "%.31s", m->text);
	sl->ports = 0;
	sl->token = new_token();
	attach(t, s, fd);
	struct tpad_msg r = {.version = TPAD_PROTO_VERSION,
	                     .type = TPAD_OK,
	                     .slot = (uint16_t)s,
	                     .token = sl->token};
	tpad_memif_name(r.text, sizeof(r.text), t->iface);
	reply_lease(t, fd, s, &r);
}

/* A connection's first message: HELLO (a new lease) or JOIN (one more for a lease). */
static void first_message(struct tpad *t, int fd)
{
	struct tpad_msg m;
	ssize_t n = recv(fd, &m, sizeof(m), MSG_DONTWAIT);
	if (n != (ssize_t)sizeof(m) || m.version != TPAD_PROTO_VERSION ||
	    (m.type != TPAD_HELLO && m.type != TPAD_JOIN)) {
		reply(fd, TPAD_ERR, EPROTO, 0, "tpad speaks protocol %u: HELLO or JOIN first",
		      TPAD_PROTO_VERSION);
		close(fd);
		return;
	}
	if (m.type == TPAD_HELLO) {
		hello(t, fd, &m);
		return;
	}
	if (m.slot >= t->nslots || !t->slots[m.slot].conns || m.token != t->slots[m.slot].token) {
		reply(fd, TPAD_ERR, ESTALE, 0, "no such lease");
		close(fd);
		return;
	}
	attach(t, m.slot, fd);
	struct tpad_msg r = {
	        .version = TPAD_PROTO_VERSION, .type = TPAD_OK, .slot = m.slot, .token = m.token};
	reply_lease(t, fd, m.slot, &r);
}

/* A new connection waits in the epoll set, tagged with its fd, for its first message. */
static void accept_all(struct tpad *t)
{
	for (;;) {
		int fd = accept4(t->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TPAD_EV_NEW | (uint32_t)fd};
		if (fd > 0xffff || epoll_ctl(t->ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
			close(fd);
	}
}

static int peer_is_root(int fd)
{
	struct ucred uc;
	socklen_t l = sizeof(uc);
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) == 0 && uc.uid == 0;
}

static void steer(struct tpad *t, unsigned s, int fd, const struct tpad_msg *m)
{
	struct tpad_slot *sl = &t->slots[s];
	uint16_t port = m->port;
	unsigned holder = t->owner[port];
	if (!port) {
		reply(fd, TPAD_ERR, EINVAL, 0, "port 0");
		return;
	}
	if (!m->on) {
		if (holder == s + 1) {
			xdp_ctl_steer(&t->xdp, port, 0);
			t->owner[port] = 0;
			sl->ports--;
		}
		reply(fd, TPAD_OK, 0, 0, "%s", "");
		return;
	}
	if (holder && holder != s + 1) {
		const struct tpad_slot *o = &t->slots[holder - 1];
		reply(fd, TPAD_ERR, EADDRINUSE, 0,
		      "port %u on %s is accelerated for %s (pid %d) already", port, t->iface,
		      o->name, (int)o->pid);
		return;
	}
	if (port < 1024 && !peer_is_root(fd)) {
		reply(fd, TPAD_ERR, EACCES, 0,
		      "port %u is privileged: the program must start as root to take it", port);
		return;
	}
	int rc = holder ? 0 : xdp_ctl_steer(&t->xdp, port, 1);
	if (rc) {
		reply(fd, TPAD_ERR, -rc, 0, "XDP port map: %s", strerror(-rc));
		return;
	}
	if (!holder) {
		t->owner[port] = (uint8_t)(s + 1);
		sl->ports++;
	}
	reply(fd, TPAD_OK, 0, 0, "%s", "");
}

/* The lease's last connection closed: every process of the program is gone. */
static void release(struct tpad *t, unsigned s)
{
	struct tpad_slot *sl = &t->slots[s];
	for (uint32_t p = 1; p < 65536 && sl->ports; p++)
		if (t->owner[p] == s + 1) {
			xdp_ctl_steer(&t->xdp, (uint16_t)p, 0);
			t->owner[p] = 0;
			sl->ports--;
		}
	tpad_switch_reset_slot(t, s);
	uint64_t v;
	(void)!read(sl->bell_prog, &v, sizeof(v)); /* the next program starts quiet */
	sl->pid = 0;
	sl->ports = 0;
	sl->token = 0;
}

static void drop_conn(struct tpad *t, int fd)
{
	unsigned s = t->conn_slot[fd] - 1u;
	epoll_ctl(t->ep_fd, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	t->conn_slot[fd] = 0;
	if (--t->slots[s].conns == 0)
		release(t, s);
}

void tpad_ctl_event(struct tpad *t, uint32_t ev)
{
	if (ev == TPAD_EV_LISTEN) {
		accept_all(t);
		return;
	}
	int fd = (int)(ev & 0xffffu);
	if (ev & TPAD_EV_NEW) {
		epoll_ctl(t->ep_fd, EPOLL_CTL_DEL, fd, NULL);
		first_message(t, fd);
		return;
	}
	if (!(ev & TPAD_EV_CONN) || !t->conn_slot[fd])
		return;
	unsigned s = t->conn_slot[fd] - 1u;
	for (;;) {
		struct tpad_msg m;
		ssize_t n = recv(fd, &m, sizeof(m), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			drop_conn(t, fd);
			return;
		}
		if (n != (ssize_t)sizeof(m) || m.version != TPAD_PROTO_VERSION)
			reply(fd, TPAD_ERR, EPROTO, 0, "bad message");
		else if (m.type == TPAD_STEER)
			steer(t, s, fd, &m);
		else
			reply(fd, TPAD_ERR, EPROTO, 0, "unknown request %u", m.type);
	}
}
