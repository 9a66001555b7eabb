/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A dual-stack listener (AF_INET6 bound to ::, IPV6_V6ONLY off, as iperf3 and node.js make
 * them) reached over IPv4: accept() and getsockname()/getpeername() show IPv4-mapped IPv6
 * addresses, sizes and truncation as on the kernel, and data flows both ways.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's one connection to the [::] listener. */
CONF_ACCELERATED(1);

#define BYTES (256u << 10)

static void show(const char *what, const struct sockaddr_in6 *a, socklen_t len, bool port)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
	if (port)
		say("%s: family %s len %u [%s]:%u", what,
		    a->sin6_family == AF_INET6 ? "inet6" : "other", (unsigned)len, ip,
		    ntohs(a->sin6_port));
	else
		say("%s: family %s len %u %s", what, a->sin6_family == AF_INET6 ? "inet6" : "other",
		    (unsigned)len, ip);
}

static void subject(void)
{
	int l = socket(AF_INET6, SOCK_STREAM, 0), one = 1, zero = 0;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
	                            .sin6_port = htons(CONF_PORT(4)),
	                            .sin6_addr = IN6ADDR_ANY_INIT};
	if (bind(l, (struct sockaddr *)&sin6, sizeof(sin6)) < 0 || listen(l, 16) < 0)
		die("listen [::]");
	struct pollfd p = {.fd = l, .events = POLLIN};
	(void)poll(&p, 1, 0); /* an event loop registers its listener before clients come */
	ctl_sync("listening");
	struct sockaddr_in6 peer;
	socklen_t plen = sizeof(peer);
	int c = accept(l, (struct sockaddr *)&peer, &plen);
	if (c < 0)
		die("accept");
	show("accept peer", &peer, plen, false);
	struct sockaddr_in6 me;
	socklen_t mlen = sizeof(me);
	res("getsockname", getsockname(c, (struct sockaddr *)&me, &mlen));
	show("local", &me, mlen, true);
	plen = sizeof(peer);
	res("getpeername", getpeername(c, (struct sockaddr *)&peer, &plen));
	show("peer", &peer, plen, false);
	/* Too small a buffer: truncated, the full size reported. */
	struct sockaddr_in small;
	socklen_t slen = sizeof(small);
	res("getsockname into sockaddr_in", getsockname(c, (struct sockaddr *)&small, &slen));
	say("reported length %u", (unsigned)slen);
	int domain = 0;
	socklen_t dl = sizeof(domain);
	getsockopt(c, SOL_SOCKET, SO_DOMAIN, &domain, &dl);
	say("accepted socket domain %s", domain == AF_INET6 ? "inet6" : "other");
	static uint8_t buf[65536];
	size_t n = 0, bad = 0;
	for (;;) {
		ssize_t k = read(c, buf, sizeof(buf));
		if (k <= 0)
			break;
		bad += check_pattern(buf, n, (size_t)k);
		n += (size_t)k;
	}
	say("received %zu bytes, %zu bad", n, bad);
	fill_pattern(buf, 0, 1000);
	res("write back", write(c, buf, 1000));
	close(c);
	close(l);
}

static void peer(void)
{
	static uint8_t data[BYTES];
	ctl_sync("listening");
	int c = tcp_connect(conf_subject_ip, CONF_PORT(4));
	fill_pattern(data, 0, BYTES);
	say("wrote %zu", write_full(c, data, BYTES));
	shutdown(c, SHUT_WR);
	size_t got = read_full(c, data, sizeof(data));
	say("read back %zu, %zu bad", got, check_pattern(data, 0, got));
	close(c);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
