/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Kernel sockets that hold the local TCP ports the stack uses, so the kernel never gives them
 * to another program (or to its own ephemeral connections) while the engine receives their
 * packets through XDP. A bound, non-listening TCP socket is enough: steered packets never reach
 * it. All fds are CLOEXEC so exec'd children do not keep ports busy.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine_impl.h"

#define BIT_SET(a, i) ((a)[(i) >> 3] |= (uint8_t)(1u << ((i)&7)))
#define BIT_CLR(a, i) ((a)[(i) >> 3] &= (uint8_t) ~(1u << ((i)&7)))

void port_hold_init(struct port_hold *h, uint32_t addr_be)
{
	memset(h, 0, sizeof(*h));
	h->addr_be = addr_be;
	for (size_t i = 0; i < 65536; i++)
		h->fds[i] = -1;
}

static int bind_port(uint32_t addr_be, uint16_t port, uint16_t *got)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* No SO_REUSEADDR: with it, another program's SO_REUSEADDR socket could bind and listen
	 * on the port we hold (neither of us listening is no conflict for Linux). */
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = addr_be;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	socklen_t len = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	*got = ntohs(sa.sin_port);
	return fd;
}

int port_hold_reserve(struct port_hold *h, uint16_t *port)
{
	uint16_t got;
	int fd = bind_port(h->addr_be, 0, &got);
	if (fd < 0) {
		h->hold_fail++;
		return fd == -EADDRINUSE ? -EADDRNOTAVAIL : fd;
	}
	if (h->fds[got] >= 0) /* cannot happen: the kernel just gave it to us */
		close(h->fds[got]);
	h->fds[got] = fd;
	h->pids[got] = getpid();
	BIT_SET(h->reserved, got);
	h->held++;
	*port = got;
	return 0;
}

int port_hold_take(struct port_hold *h, uint16_t port)
{
	if (h->fds[port] >= 0)
		return 0;
	uint16_t got;
	int fd = bind_port(h->addr_be, port, &got);
	if (fd == -EADDRINUSE) {
		/* Another socket holds it, typically the shim's own kernel socket for this
		 * listener: the port is held either way. */
		h->hold_busy++;
		return 0;
	}
	if (fd < 0) {
		h->hold_fail++;
		return fd;
	}
	h->fds[port] = fd;
	h->pids[port] = getpid();
	h->held++;
	return 0;
}

void port_hold_drop(struct port_hold *h, uint16_t port)
{
	if (h->fds[port] >= 0) {
		/* The table is shared by a fork family; the fd exists only in the process that
		 * bound it (there the number is ours, elsewhere it may be anything). */
		if (h->pids[port] == getpid())
			close(h->fds[port]);
		h->fds[port] = -1;
		h->held--;
	}
	BIT_CLR(h->reserved, port);
}

void port_hold_release_all(struct port_hold *h)
{
	for (size_t i = 0; i < 65536; i++)
		port_hold_drop(h, (uint16_t)i);
}
