/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rtnetlink: what the kernel knows about our interface (MAC, MTU, first IPv4 address, default
 * gateway) and its neighbour (ARP) table, read once at start and then followed through
 * RTM_NEWNEIGH/RTM_DELNEIGH notifications on a non-blocking socket.
 */
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine_impl.h"

#define NL_BUF 32768

static int nl_socket(unsigned groups, int nonblock)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0),
	                NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = groups};
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* Send a dump/get request with a family-specific header of hdrlen bytes. */
static int nl_request(int fd, uint16_t type, uint16_t flags, uint32_t seq, const void *hdr,
                      size_t hdrlen)
{
	struct {
		struct nlmsghdr nh;
		char body[64];
	} req;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(hdrlen);
	req.nh.nlmsg_type = type;
	req.nh.nlmsg_flags = NLM_F_REQUEST | flags;
	req.nh.nlmsg_seq = seq;
	memcpy(NLMSG_DATA(&req.nh), hdr, hdrlen);
	struct sockaddr_nl to = {.nl_family = AF_NETLINK};
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

typedef int (*nl_msg_fn)(void *arg, struct nlmsghdr *nh);

/* Read replies to request `seq` until NLMSG_DONE (dump) or the single answer/ACK. */
static int nl_collect(int fd, uint32_t seq, nl_msg_fn fn, void *arg)
{
	static __thread char buf[NL_BUF] __attribute__((aligned(8)));
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 2000) <= 0)
			return -ETIMEDOUT;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		int done = 0;
		for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != seq)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE)
				return 0;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);
				return e->error;
			}
			int rc = fn(arg, nh);
			if (rc < 0)
				return rc;
			if (!(nh->nlmsg_flags & NLM_F_MULTI))
				done = 1;
		}
		if (done)
			return 0;
	}
}

static int link_cb(void *arg, struct nlmsghdr *nh)
{
	struct nl_link_info *li = arg;
	if (nh->nlmsg_type != RTM_NEWLINK)
		return 0;
	struct ifinfomsg *ifi = NLMSG_DATA(nh);
	if (ifi->ifi_index != li->ifindex)
		return 0;
	int len = (int)IFLA_PAYLOAD(nh);
	for (struct rtattr *rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFLA_ADDRESS && RTA_PAYLOAD(rta) == 6)
			memcpy(li->mac, RTA_DATA(rta), 6);
		else if (rta->rta_type == IFLA_MTU && RTA_PAYLOAD(rta) >= 4)
			memcpy(&li->mtu, RTA_DATA(rta), 4);
	}
	return 0;
}

static int addr_cb(void *arg, struct nlmsghdr *nh)
{
	struct nl_link_info *li = arg;
	if (nh->nlmsg_type != RTM_NEWADDR)
		return 0;
	struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	if ((int)ifa->ifa_index != li->ifindex || ifa->ifa_family != AF_INET || li->ipv4_addr)
		return 0;
	int len = (int)IFA_PAYLOAD(nh);
	uint32_t local = 0, address = 0;
	for (struct rtattr *rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFA_LOCAL && RTA_PAYLOAD(rta) == 4)
			memcpy(&local, RTA_DATA(rta), 4);
		else if (rta->rta_type == IFA_ADDRESS && RTA_PAYLOAD(rta) == 4)
			memcpy(&address, RTA_DATA(rta), 4);
	}
	li->ipv4_addr = local ? local : address;
	li->prefix_len = ifa->ifa_prefixlen;
	return 0;
}

static int route_cb(void *arg, struct nlmsghdr *nh)
{
	struct nl_link_info *li = arg;
	if (nh->nlmsg_type != RTM_NEWROUTE)
		return 0;
	struct rtmsg *rt = NLMSG_DATA(nh);
	if (rt->rtm_family != AF_INET || rt->rtm_dst_len != 0 || rt->rtm_table != RT_TABLE_MAIN ||
	    li->gateway)
		return 0;
	int len = (int)RTM_PAYLOAD(nh);
	uint32_t gw = 0;
	int oif = 0;
	for (struct rtattr *rta = RTM_RTA(rt); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == RTA_GATEWAY && RTA_PAYLOAD(rta) == 4)
			memcpy(&gw, RTA_DATA(rta), 4);
		else if (rta->rta_type == RTA_OIF && RTA_PAYLOAD(rta) == 4)
			memcpy(&oif, RTA_DATA(rta), 4);
	}
	if (oif == li->ifindex)
		li->gateway = gw;
	return 0;
}

int nl_learn_link(const char *iface, struct nl_link_info *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->ifindex = (int)if_nametoindex(iface);
	if (!out->ifindex)
		return engine_seterr(err, errlen, ENODEV,
		                     "TPA_IFACE: no interface '%s' in this network namespace",
		                     iface);
	int fd = nl_socket(0, 0);
	if (fd < 0)
		return engine_seterr(err, errlen, -fd, "netlink socket: %s", strerror(-fd));
	int rc;
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = out->ifindex};
	struct ifaddrmsg ifa = {.ifa_family = AF_INET};
	struct rtmsg rtm = {.rtm_family = AF_INET};
	if ((rc = nl_request(fd, RTM_GETLINK, 0, 1, &ifi, sizeof(ifi))) ||
	    (rc = nl_collect(fd, 1, link_cb, out)) ||
	    (rc = nl_request(fd, RTM_GETADDR, NLM_F_DUMP, 2, &ifa, sizeof(ifa))) ||
	    (rc = nl_collect(fd, 2, addr_cb, out)) ||
	    (rc = nl_request(fd, RTM_GETROUTE, NLM_F_DUMP, 3, &rtm, sizeof(rtm))) ||
	    (rc = nl_collect(fd, 3, route_cb, out))) {
		close(fd);
		return engine_seterr(err, errlen, -rc, "netlink: reading interface %s: %s", iface,
		                     strerror(-rc));
	}
	close(fd);
	return 0;
}

/* ---- neighbours ----------------------------------------------------------------------- */

struct neigh_ctx {
	struct nl_neigh_watch *w;
	nl_neigh_fn fn;
	void *arg;
	int count;
};

static int neigh_cb(void *arg, struct nlmsghdr *nh)
{
	struct neigh_ctx *c = arg;
	if (nh->nlmsg_type != RTM_NEWNEIGH && nh->nlmsg_type != RTM_DELNEIGH)
		return 0;
	struct ndmsg *nd = NLMSG_DATA(nh);
	if (nd->ndm_family != AF_INET || nd->ndm_ifindex != c->w->ifindex)
		return 0;
	int len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*nd)));
	uint32_t dst = 0;
	const uint8_t *mac = NULL;
	for (struct rtattr *rta = (struct rtattr *)((char *)nd + NLMSG_ALIGN(sizeof(*nd)));
	     RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == NDA_DST && RTA_PAYLOAD(rta) == 4)
			memcpy(&dst, RTA_DATA(rta), 4);
		else if (rta->rta_type == NDA_LLADDR && RTA_PAYLOAD(rta) == 6)
			mac = RTA_DATA(rta);
	}
	if (!dst)
		return 0;
	const uint16_t usable =
	        NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;
	if (nh->nlmsg_type == RTM_NEWNEIGH && (nd->ndm_state & usable) && mac) {
		c->fn(c->arg, dst, mac);
		c->count++;
	} else if (nh->nlmsg_type == RTM_NEWNEIGH && (nd->ndm_state & NUD_FAILED)) {
		c->fn(c->arg, dst, NULL);
		c->count++;
	}
	/* NUD_INCOMPLETE: resolution under way; the answer comes as another notification.
	 * RTM_DELNEIGH is ignored: the kernel garbage-collects entries it does not use itself,
	 * which says nothing about the peer; the stack's own entry ages out and re-resolves. */
	return 0;
}

int nl_neigh_open(struct nl_neigh_watch *w, int ifindex)
{
	w->ifindex = ifindex;
	w->seq = 100;
	w->fd = nl_socket(RTMGRP_NEIGH, 1);
	if (w->fd < 0)
		return w->fd;
	int sz = 1 << 20;
	setsockopt(w->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	return 0;
}

int nl_neigh_dump(struct nl_neigh_watch *w, nl_neigh_fn fn, void *arg)
{
	struct ndmsg nd = {.ndm_family = AF_INET, .ndm_ifindex = w->ifindex};
	struct neigh_ctx c = {w, fn, arg, 0};
	uint32_t seq = ++w->seq;
	int rc = nl_request(w->fd, RTM_GETNEIGH, NLM_F_DUMP, seq, &nd, sizeof(nd));
	if (rc)
		return rc;
	rc = nl_collect(w->fd, seq, neigh_cb, &c);
	return rc < 0 ? rc : c.count;
}

int nl_neigh_poll(struct nl_neigh_watch *w, nl_neigh_fn fn, void *arg)
{
	static __thread char buf[NL_BUF] __attribute__((aligned(8)));
	struct neigh_ctx c = {w, fn, arg, 0};
	if (w->fd < 0)
		return 0;
	for (;;) {
		ssize_t n = recv(w->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			/* ENOBUFS: notifications were lost; re-read the whole table. */
			if (errno == ENOBUFS)
				return nl_neigh_dump(w, fn, arg);
			break;
		}
		for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n))
			neigh_cb(&c, nh);
	}
	return c.count;
}

void nl_neigh_close(struct nl_neigh_watch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}
