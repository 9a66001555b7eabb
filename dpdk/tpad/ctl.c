/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tpad's control socket (tpad_proto.h): programs take a slot (their lease), claim and give back
 * ports; a closed lease gives the slot's ports back to the kernel and resets its peers.
 * Claims are checked: a port claimed by another program is refused with one line naming it,
 * and ports below 1024 need a program that connected as root (SO_PEERCRED), as the kernel's
 * bind() would.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
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
	if (listen(fd, 64) < 0) {
		int e = errno;
		close(fd);
		return engine_seterr(err, errlen, e, "listen: %s", strerror(e));
	}
	t->ctl_fd = fd;
	t->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TPAD_EV_LISTEN};
	if (t->ep_fd < 0 || epoll_ctl(t->ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return engine_seterr(err, errlen, errno, "epoll: %s", strerror(errno));
	return 0;
}

int tpad_programs(const struct tpad *t)
{
	int n = 0;
	for (unsigned s = 0; s < t->nslots; s++)
		n += t->slots[s].fd >= 0;
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

/* A new connection: it becomes a lease once HELLO gives it a slot. Until then it sits in a
 * free slot's place only by its fd; a connection that never says HELLO is closed. */
static void take_hello(struct tpad *t, int fd)
{
	struct tpad_msg m;
	ssize_t n = recv(fd, &m, sizeof(m), MSG_DONTWAIT);
	if (n != (ssize_t)sizeof(m) || m.version != TPAD_PROTO_VERSION || m.type != TPAD_HELLO) {
		reply(fd, TPAD_ERR, EPROTO, 0, "tpad speaks protocol %u: HELLO expected",
		      TPAD_PROTO_VERSION);
		close(fd);
		return;
	}
	unsigned s = TPAD_SLOTS_MAX;
	if (m.slot < t->nslots && t->slots[m.slot].fd < 0)
		s = m.slot; /* a program coming back after a tpad restart keeps its link */
	for (unsigned i = 0; s == TPAD_SLOTS_MAX && i < t->nslots; i++)
		if (t->slots[i].fd < 0)
			s = i;
	if (s == TPAD_SLOTS_MAX) {
		reply(fd, TPAD_ERR, EBUSY, 0,
		      "tpad on %s serves %u programs already (tpad --slots, at most %u)", t->iface,
		      t->nslots, TPAD_SLOTS_MAX);
		close(fd);
		return;
	}
	struct tpad_slot *sl = &t->slots[s];
	sl->fd = fd;
	sl->pid = m.pid;
	m.text[sizeof(m.text) - 1] = '\0';
	snprintf(sl->name, sizeof(sl->name), "%.31s", m.text);
	sl->ports = 0;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TPAD_EV_SLOT | s};
	epoll_ctl(t->ep_fd, EPOLL_CTL_ADD, fd, &ev);
	char sock[128];
	tpad_memif_name(sock, sizeof(sock), t->iface);
	reply(fd, TPAD_OK, 0, (uint16_t)s, "%s", sock);
}

/* A new connection waits in the epoll set, tagged with its fd, for its HELLO. */
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

static void steer(struct tpad *t, unsigned s, const struct tpad_msg *m)
{
	struct tpad_slot *sl = &t->slots[s];
	uint16_t port = m->port;
	unsigned holder = t->owner[port];
	if (!port) {
		reply(sl->fd, TPAD_ERR, EINVAL, 0, "port 0");
		return;
	}
	if (!m->on) {
		if (holder == s + 1) {
			xdp_ctl_steer(&t->xdp, port, 0);
			t->owner[port] = 0;
			sl->ports--;
		}
		reply(sl->fd, TPAD_OK, 0, 0, "%s", "");
		return;
	}
	if (holder && holder != s + 1) {
		const struct tpad_slot *o = &t->slots[holder - 1];
		reply(sl->fd, TPAD_ERR, EADDRINUSE, 0,
		      "port %u on %s is accelerated for %s (pid %d) already", port, t->iface,
		      o->name, (int)o->pid);
		return;
	}
	if (port < 1024 && !peer_is_root(sl->fd)) {
		reply(sl->fd, TPAD_ERR, EACCES, 0,
		      "port %u is privileged: the program must start as root to take it", port);
		return;
	}
	int rc = holder ? 0 : xdp_ctl_steer(&t->xdp, port, 1);
	if (rc) {
		reply(sl->fd, TPAD_ERR, -rc, 0, "XDP port map: %s", strerror(-rc));
		return;
	}
	if (!holder) {
		t->owner[port] = (uint8_t)(s + 1);
		sl->ports++;
	}
	reply(sl->fd, TPAD_OK, 0, 0, "%s", "");
}

/* The lease closed: every process of the program is gone. */
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
	epoll_ctl(t->ep_fd, EPOLL_CTL_DEL, sl->fd, NULL);
	close(sl->fd);
	sl->fd = -1;
	sl->pid = 0;
	sl->ports = 0;
}

void tpad_ctl_event(struct tpad *t, uint32_t ev)
{
	if (ev == TPAD_EV_LISTEN) {
		accept_all(t);
		return;
	}
	if (ev & TPAD_EV_NEW) {
		int fd = (int)(ev & 0xffffu);
		epoll_ctl(t->ep_fd, EPOLL_CTL_DEL, fd, NULL);
		take_hello(t, fd);
		return;
	}
	if (!(ev & TPAD_EV_SLOT))
		return;
	unsigned s = ev & 0xffffu;
	if (s >= t->nslots || t->slots[s].fd < 0)
		return;
	for (;;) {
		struct tpad_msg m;
		ssize_t n = recv(t->slots[s].fd, &m, sizeof(m), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			release(t, s);
			return;
		}
		if (n != (ssize_t)sizeof(m) || m.version != TPAD_PROTO_VERSION)
			reply(t->slots[s].fd, TPAD_ERR, EPROTO, 0, "bad message");
		else if (m.type == TPAD_STEER)
			steer(t, s, &m);
		else
			reply(t->slots[s].fd, TPAD_ERR, EPROTO, 0, "unknown request %u", m.type);
	}
}
