/* SPDX-License-Identifier: BSD-3-Clause */
/* Data calls: read/write families, MSG_PEEK/DONTWAIT/WAITALL, FIONREAD, SIOCOUTQ, partial
 * writes + EAGAIN, sendfile, and byte-exact bulk transfer both ways. */
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"

/* Accelerated: the peer's c and d. */
CONF_ACCELERATED(2);

#define BULK (8u << 20)

struct want {
	int fd;
	int req;
	int value;
};

static bool ioctl_is(void *arg)
{
	struct want *w = arg;
	int v = -1;
	return ioctl(w->fd, (unsigned long)w->req, &v) == 0 && v == w->value;
}

static void subject(void)
{
	int l = tcp_listen(NULL, CONF_PORT(2), 0);
	char buf[64];
	int v;
	ctl_sync("listening");
	int x = accept(l, NULL, NULL);
	if (x < 0)
		die("accept");

	res("recv DONTWAIT on empty", recv(x, buf, sizeof(buf), MSG_DONTWAIT));
	res("FIONREAD empty", ioctl(x, FIONREAD, &v));
	say("FIONREAD value %d", v);
	ctl_sync("send1");
	struct want w10 = {x, FIONREAD, 10};
	say("FIONREAD reaches 10: %d", wait_until(ioctl_is, &w10));
	memset(buf, 0, sizeof(buf));
	res("recv PEEK 4", recv(x, buf, 4, MSG_PEEK));
	say("peeked '%s'", buf);
	res("recv PEEK|DONTWAIT 4", recv(x, buf, 4, MSG_PEEK | MSG_DONTWAIT));
	memset(buf, 0, sizeof(buf));
	res("read 4", read(x, buf, 4));
	say("read '%s'", buf);
	res("FIONREAD after read", ioctl(x, FIONREAD, &v));
	say("FIONREAD value %d", v);
	char a3[3] = {0}, b10[10] = {0};
	struct iovec iov[2] = {{a3, 3}, {b10, 10}};
	res("readv", readv(x, iov, 2));
	say("readv '%.3s' '%.3s'", a3, b10);

	ctl_sync("waitall");
	memset(buf, 0, sizeof(buf));
	res("recv WAITALL 10", recv(x, buf, 10, MSG_WAITALL));
	say("waitall got '%s'", buf);

	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	ctl_sync("recvfrom");
	/* A null buffer with a length is EFAULT, and takes nothing (the kernel's answer; the
	 * shim's stack used to copy to address 0). */
	void *volatile nullbuf = NULL;
	struct want w10b = {x, FIONREAD, 10};
	say("FIONREAD reaches 10 again: %d", wait_until(ioctl_is, &w10b));
	res("recv into a null buffer", recv(x, nullbuf, 5, 0));
	res("read into a null buffer", read(x, nullbuf, 5));
	res("FIONREAD after the null reads", ioctl(x, FIONREAD, &v));
	say("FIONREAD value %d", v);
	memset(buf, 0, sizeof(buf));
	res("recvfrom", recvfrom(x, buf, 5, MSG_WAITALL, (struct sockaddr *)&ss, &sl));
	say("recvfrom '%s' addrlen %u", buf, (unsigned)sl);
	char m1[4] = {0}, m2[4] = {0};
	struct iovec miov[2] = {{m1, 2}, {m2, 3}};
	struct msghdr mh = {
	        .msg_name = &ss, .msg_namelen = sizeof(ss), .msg_iov = miov, .msg_iovlen = 2};
	res("recvmsg WAITALL", recvmsg(x, &mh, MSG_WAITALL));
	say("recvmsg '%s' '%s' namelen %u flags %#x", m1, m2, (unsigned)mh.msg_namelen,
	    mh.msg_flags);

	/* Writes of every flavour; the peer prints what it gets. */
	struct iovec wv[3] = {{"wr", 2}, {"it", 2}, {"ev", 2}};
	res("writev", writev(x, wv, 3));
	res("send", send(x, "send", 4, 0));
	res("sendto (address ignored)", sendto(x, "sendto", 6, 0, NULL, 0));
	struct iovec sv[2] = {{"send", 4}, {"msg", 3}};
	struct msghdr smh = {.msg_iov = sv, .msg_iovlen = 2};
	res("sendmsg", sendmsg(x, &smh, 0));
	res("write zero bytes", write(x, "", 0));
	volatile int bad_cnt = -1;
	res("writev bad iovcnt", writev(x, wv, bad_cnt));
	res("write from a null buffer", write(x, nullbuf, 5));
	res("send from a null buffer", send(x, nullbuf, 5, MSG_DONTWAIT));
	ctl_sync("writes");

	/* sendfile from a regular file, with and without an offset. */
	char path[] = "/tmp/conf_sendfile_XXXXXX";
	int f = mkstemp(path);
	static uint8_t fb[100000];
	fill_pattern(fb, 0, sizeof(fb));
	if (f < 0 || write(f, fb, sizeof(fb)) != (ssize_t)sizeof(fb))
		die("temp file");
	unlink(path);
	off_t off = 0;
	size_t sent = 0;
	while (sent < 60000) {
		ssize_t r = sendfile(x, f, &off, 60000 - sent);
		if (r <= 0)
			die("sendfile");
		sent += (size_t)r;
	}
	say("sendfile with offset: %zu, offset now %ld", sent, (long)off);
	lseek(f, 60000, SEEK_SET);
	while (sent < sizeof(fb)) {
		ssize_t r = sendfile(x, f, NULL, sizeof(fb) - sent);
		if (r <= 0)
			die("sendfile");
		sent += (size_t)r;
	}
	say("sendfile total %zu, file position %ld", sent, (long)lseek(f, 0, SEEK_CUR));
	close(f);
	ctl_sync("sendfile");

	/* Bulk both ways, byte-exact. */
	uint8_t *big = malloc(BULK);
	fill_pattern(big, 0, BULK);
	say("bulk write %zu", write_full(x, big, BULK));
	res("shutdown WR", shutdown(x, SHUT_WR));
	uint32_t bad;
	size_t got = drain(x, &bad);
	say("bulk read %zu bad bytes %u", got, bad);
	struct want q0 = {x, SIOCOUTQ, 0};
	say("SIOCOUTQ drains to 0: %d", wait_until(ioctl_is, &q0));
	close(x);

	/* Partial writes and EAGAIN: the peer does not read until told. */
	ctl_sync("partial");
	int y = accept(l, NULL, NULL);
	fcntl(y, F_SETFL, O_NONBLOCK);
	size_t chunk = 16u << 20, total = 0;
	uint8_t *huge = malloc(chunk);
	fill_pattern(huge, 0, chunk);
	ssize_t r = write(y, huge, chunk);
	say("first write partial: %d", r > 0 && (size_t)r < chunk);
	if (r > 0)
		total += (size_t)r;
	int writes = 0;
	for (;;) {
		r = write(y, huge + total % chunk, chunk - total % chunk);
		if (r < 0)
			break;
		total += (size_t)r;
		if (++writes > 100000)
			break;
	}
	res("write until full", r);
	say("poll POLLOUT when full: %#x", wait_fd(y, POLLOUT, 0));
	ctl_send_long((long)total);
	ctl_sync("drained");
	say("poll POLLOUT after the peer read: %#x", wait_fd(y, POLLOUT, 10000));
	close(y);
	close(l);
	free(big);
	free(huge);
}

static void peer(void)
{
	char buf[64];
	ctl_sync("listening");
	int c = tcp_connect(conf_subject_ip, CONF_PORT(2));
	ctl_sync("send1");
	res("send 10", write(c, "abcdefghij", 10));
	ctl_sync("waitall");
	res("send 5", write(c, "12345", 5));
	struct timespec ts = {0, 100 * 1000 * 1000};
	nanosleep(&ts, NULL);
	res("send 5 more", write(c, "67890", 5));
	ctl_sync("recvfrom");
	res("send 10", write(c, "fromAmsgAB", 10));
	ctl_sync("writes");
	memset(buf, 0, sizeof(buf));
	say("got %zu '%s'", read_full(c, buf, 6 + 4 + 6 + 7), buf);
	ctl_sync("sendfile");
	static uint8_t fb[100000];
	size_t fbn = read_full(c, fb, sizeof(fb));
	say("sendfile bytes %zu bad %zu", fbn, check_pattern(fb, 0, sizeof(fb)));
	uint32_t bad;
	size_t got = drain(c, &bad);
	say("bulk read %zu bad bytes %u", got, bad);
	uint8_t *big = malloc(BULK);
	fill_pattern(big, 0, BULK);
	say("bulk write %zu", write_full(c, big, BULK));
	close(c);
	free(big);

	ctl_sync("partial");
	int d = tcp_connect(conf_subject_ip, CONF_PORT(2));
	long total = ctl_recv_long();
	size_t chunk = 16u << 20, n = 0, badp = 0;
	uint8_t *b = malloc(65536);
	while (n < (size_t)total) {
		size_t want = (size_t)total - n < 65536 ? (size_t)total - n : 65536;
		ssize_t r = read(d, b, want);
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			badp += b[i] != pattern((n + (size_t)i) % chunk);
		n += (size_t)r;
	}
	say("partial-write stream: got all %d bad %zu", n == (size_t)total, badp);
	ctl_sync("drained");
	close(d);
	free(b);
}

int main(int argc, char **argv)
{
	return conf_main(argc, argv, subject, peer);
}
