/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Interposed data calls (read/recv/write/send families, sendfile) and the fd-creating calls the
 * shim watches only to purge stale table entries.
 *
 * Blocking follows the kernel: a blocking receive returns as soon as some data is there
 * (MSG_WAITALL: all of it, or EOF/error/signal), a blocking send returns only when everything
 * is queued (a signal makes it return the partial count), EPIPE raises SIGPIPE unless
 * MSG_NOSIGNAL.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "family.h"
#include "shim.h"
#include "tpa/dpdk.h"
#include "tpa/stack.h"

#define IOV_LOCAL 16

/* The accelerated socket behind fd, or NULL for a kernel fd, whose read may block: what
 * earlier sends deferred leaves first. */
static struct shim_sock *accel_or_flush(int fd)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (!s)
		shim_tx_flush_unlocked();
	return s;
}

static bool readable(void *arg)
{
	struct shim_sock *s = arg;
	return (tpa_sock_events(shim.stack, s->sock) &
	        (TPA_EV_IN | TPA_EV_ERR | TPA_EV_HUP | TPA_EV_RDHUP)) != 0;
}

static bool writable(void *arg)
{
	struct shim_sock *s = arg;
	return (tpa_sock_events(shim.stack, s->sock) & (TPA_EV_OUT | TPA_EV_ERR | TPA_EV_HUP)) != 0;
}

/* Copy iov[] skipping `done` bytes into out[] (at most max entries). Returns the count. */
static int iov_skip(const struct iovec *iov, int n, size_t done, struct iovec *out, int max)
{
	int k = 0;
	for (int i = 0; i < n && k < max; i++) {
		if (done >= iov[i].iov_len) {
			done -= iov[i].iov_len;
			continue;
		}
		out[k].iov_base = (char *)iov[i].iov_base + done;
		out[k].iov_len = iov[i].iov_len - done;
		done = 0;
		k++;
	}
	return k;
}

static ssize_t iov_total(const struct iovec *iov, int n)
{
	size_t t = 0;
	for (int i = 0; i < n; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX - t)
			return -EINVAL;
		t += iov[i].iov_len;
	}
	return (ssize_t)t;
}

/* A read took fewer bytes than it asked for (lock held): nothing is left to read. An end of
 * stream or an error (s->events: the last hook call's state, brought up to date when the lock
 * was taken) keeps the socket readable. Level-triggered members stay on their ready lists, as
 * in the kernel: the next wait drops them if nothing came (poll.c member_bits), and new data
 * before it leaves them where they are. */
static void read_dry(struct shim_sock *s)
{
	s->rd_dry = !(s->events & (TPA_EV_RDHUP | TPA_EV_HUP | TPA_EV_ERR));
}

/* After a read returned data, under the lock: taken bytes (0 for a peek) left the socket. */
static void took(struct shim_sock *s, ssize_t taken)
{
	s->bits_epoch = 0; /* what a hook saw before is gone */
	/* Readable bytes drop by exactly what was taken (nothing arrives under the lock): the
	 * next arrival is an IN edge again. Never above the truth. */
	if (taken && s->n_et)
		s->last_nread = s->last_nread > taken ? s->last_nread - (int)taken : 0;
	/* A window update may be due now that the buffer drained: it leaves with this turn's
	 * output. */
	shim_tx_defer();
}

static ssize_t shim_recvv(struct shim_sock *s, const struct iovec *iov, int n, int flags)
{
	if (s->inherited) {
		errno = EBADF;
		return -1;
	}
	if (n < 0 || n > IOV_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (flags & ~(MSG_PEEK | MSG_DONTWAIT | MSG_WAITALL | MSG_TRUNC | MSG_NOSIGNAL |
	              MSG_CMSG_CLOEXEC)) {
		errno = EOPNOTSUPP;
		return -1;
	}
	ssize_t total = iov_total(iov, n);
	if (total < 0)
		return shim_ret(total);
	bool nonblock = s->nonblock || (flags & MSG_DONTWAIT);
	bool waitall = (flags & MSG_WAITALL) && !(flags & MSG_PEEK) && !nonblock;
	int sflags = flags & (MSG_PEEK | MSG_TRUNC);
	struct iovec local[IOV_LOCAL], *tmp = n <= IOV_LOCAL ? local : malloc(sizeof(*tmp) * n);
	if (!tmp) {
		errno = ENOMEM;
		return -1;
	}
	ssize_t got = 0, r;
	shim_lock();
	s->busy++; /* another thread may close the fd while we sleep */
	for (;;) {
		/* The caller's vector as it is until part of it was filled. */
		int k = got ? iov_skip(iov, n, (size_t)got, tmp, n) : n;
		r = tpa_recvv(shim.stack, s->sock, got ? tmp : iov, k, sflags);
		if (r > 0) {
			got += r;
			took(s, (flags & MSG_PEEK) ? 0 : r);
			if (!waitall || got == total)
				break;
			continue;
		}
		if (r == 0 || total == 0)
			break;
		if (r != -EAGAIN) {
			if (!got)
				got = r;
			break;
		}
		if (nonblock && shim_engine_poll() > 0)
			continue; /* fresh packets may have brought data */
		if (nonblock) {
			if (!got)
				got = -EAGAIN;
			break;
		}
		r = shim_block(readable, s, -1, UINT64_MAX);
		if (r == -EINTR) {
			if (!got)
				got = -EINTR;
			break;
		}
	}
	if (got > 0 && got < total && !(flags & MSG_PEEK))
		read_dry(s);
	shim_sock_idle(s);
	shim_unlock();
	if (tmp != local)
		free(tmp);
	return shim_ret(got);
}

/* Flags that change nothing in a read that finds data. */
#define RECV1_FLAGS (MSG_DONTWAIT | MSG_NOSIGNAL | MSG_CMSG_CLOEXEC)

/* read(2), or recv(2) with at most RECV1_FLAGS: data already there is taken with one stack call
 * (a request of a request/response protocol). Nothing there, end of stream or an error goes
 * the general way, which also decides about blocking. */
static ssize_t shim_recv1(struct shim_sock *s, void *buf, size_t len, int flags)
{
	if (!(flags & ~RECV1_FLAGS) && !s->inherited && len && len <= SSIZE_MAX) {
		shim_lock();
		ssize_t r = tpa_recv(shim.stack, s->sock, buf, len, 0);
		if (r > 0) {
			took(s, r);
			if ((size_t)r < len)
				read_dry(s);
			shim_unlock();
			return r;
		}
		shim_unlock();
		/* End of stream, or an error the call has taken (a pending error is reported
		 * once): the answer as it is. */
		if (r != -EAGAIN)
			return shim_ret(r);
	}
	struct iovec v = {buf, len};
	return shim_recvv(s, &v, 1, flags);
}

/* The test hook of shim_family_test_stop_due (family.h): stop here, the lock held. */
static __attribute__((noinline, cold)) void test_stop(void)
{
	shim_tx_flush();
	fprintf(stderr, "tpa: test hook: pid %d stops in a send, holding the lock\n",
	        (int)getpid());
	raise(SIGSTOP); /* the test kills us here */
}

/* After a send queued bytes, under the lock. */
static void queued(struct shim_sock *s)
{
	s->bits_epoch = 0; /* what a hook saw before is gone */
	/* One device burst per event-loop turn, not per send. */
	shim_tx_defer();
	if (__builtin_expect(shim_family_test_stop_due(), 0))
		test_stop();
}

static ssize_t shim_sendv(struct shim_sock *s, const struct iovec *iov, int n, int flags)
{
	if (s->inherited) {
		errno = EBADF;
		return -1;
	}
	if (n < 0 || n > IOV_MAX) {
		errno = EINVAL;
		return -1;
	}
	ssize_t total = iov_total(iov, n);
	if (total < 0)
		return shim_ret(total);
	bool nonblock = s->nonblock || (flags & MSG_DONTWAIT);
	int sflags = flags & MSG_MORE;
	struct iovec local[IOV_LOCAL], *tmp = n <= IOV_LOCAL ? local : malloc(sizeof(*tmp) * n);
	if (!tmp) {
		errno = ENOMEM;
		return -1;
	}
	ssize_t sent = 0, r;
	shim_lock();
	s->busy++; /* another thread may close the fd while we sleep */
	for (;;) {
		if (s->shut_wr) {
			r = -EPIPE;
		} else {
			int k = sent ? iov_skip(iov, n, (size_t)sent, tmp, n) : n;
			r = tpa_sendv(shim.stack, s->sock, sent ? tmp : iov, k, sflags);
		}
		if (r > 0) {
			sent += r;
			queued(s);
			if (sent == total || nonblock)
				break;
			continue;
		}
		if (r == 0 && total == 0)
			break;
		if (r == -EAGAIN || r == 0) {
			if (nonblock) {
				if (!sent)
					sent = -EAGAIN;
				break;
			}
			r = shim_block(writable, s, -1, UINT64_MAX);
			if (r == -EINTR) {
				if (!sent)
					sent = -EINTR;
				break;
			}
			continue;
		}
		if (!sent) {
			sent = r;
		}
		break;
	}
	shim_sock_idle(s);
	shim_unlock();
	/* Outside the lock: the program's handler may well call into the shim. */
	if (sent == -EPIPE && !(flags & MSG_NOSIGNAL))
		shim_raise_sigpipe();
	if (tmp != local)
		free(tmp);
	return shim_ret(sent);
}

/* write(2), or send(2) with at most MSG_NOSIGNAL and MSG_DONTWAIT, on a non-blocking socket or
 * with MSG_DONTWAIT (what event-driven servers use): one stack call. A blocking send goes the
 * general way, which waits for room. */
static ssize_t shim_send1(struct shim_sock *s, const void *buf, size_t len, int flags)
{
	bool nonblock = s->nonblock || (flags & MSG_DONTWAIT);
	if ((flags & ~(MSG_NOSIGNAL | MSG_DONTWAIT)) || !nonblock || s->inherited || s->shut_wr ||
	    !len || len > SSIZE_MAX) {
		struct iovec v = {(void *)buf, len};
		return shim_sendv(s, &v, 1, flags);
	}
	shim_lock();
	ssize_t r = tpa_send(shim.stack, s->sock, buf, len, 0);
	if (r > 0)
		queued(s);
	shim_unlock();
	if (r > 0)
		return r;
	if (r == -EPIPE && !(flags & MSG_NOSIGNAL))
		shim_raise_sigpipe();
	return shim_ret(r);
}

/* read(2) of a kernel fd, apart so that read() itself keeps no registers: both of its ways are
 * tail calls. */
static __attribute__((noinline)) ssize_t read_kernel(int fd, void *buf, size_t len)
{
	shim_tx_flush_unlocked();
	return REAL(read)(fd, buf, len);
}

ssize_t read(int fd, void *buf, size_t len)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (!s)
		return read_kernel(fd, buf, len);
	return shim_recv1(s, buf, len, 0);
}

ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	struct shim_sock *s = accel_or_flush(fd);
	if (!s)
		return REAL(__read_chk)(fd, buf, len, buflen);
	if (len > buflen)
		abort(); /* what glibc's check does: a buffer overflow */
	return shim_recv1(s, buf, len, 0);
}

ssize_t readv(int fd, const struct iovec *iov, int n)
{
	struct shim_sock *s = accel_or_flush(fd);
	if (!s)
		return REAL(readv)(fd, iov, n);
	return shim_recvv(s, iov, n, 0);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	struct shim_sock *s = accel_or_flush(fd);
	if (!s)
		return REAL(recv)(fd, buf, len, flags);
	return shim_recv1(s, buf, len, flags);
}

ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	struct shim_sock *s = accel_or_flush(fd);
	if (!s)
		return REAL(__recv_chk)(fd, buf, len, buflen, flags);
	if (len > buflen)
		abort();
	struct iovec v = {buf, len};
	return shim_recvv(s, &v, 1, flags);
}

/* TCP ignores the source address argument of recvfrom except to report the peer. */
static ssize_t recvfrom_common(struct shim_sock *s, void *buf, size_t len, int flags,
                               struct sockaddr *addr, socklen_t *alen)
{
	ssize_t r = shim_recv1(s, buf, len, flags);
	if (r >= 0 && addr && alen) {
		/* Linux reports no address for a connected TCP socket. */
		*alen = 0;
	}
	return r;
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr, socklen_t *alen)
{
	struct shim_sock *s = accel_or_flush(fd);
	if (!s)
		return REAL(recvfrom)(fd, buf, len, flags, addr, alen);
	return recvfrom_common(s, buf, len, flags, addr, alen);
}

ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
                       struct sockaddr *addr, socklen_t *alen);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
                       struct sockaddr *addr, socklen_t *alen)
{
	struct shim_sock *s = accel_or_flush(fd);
	if (!s)
		return REAL(__recvfrom_chk)(fd, buf, len, buflen, flags, addr, alen);
	if (len > buflen)
		abort();
	return recvfrom_common(s, buf, len, flags, addr, alen);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct shim_sock *s = accel_or_flush(fd);
	if (!s)
		return REAL(recvmsg)(fd, msg, flags);
	ssize_t r = shim_recvv(s, msg->msg_iov, (int)msg->msg_iovlen, flags);
	if (r >= 0) {
		msg->msg_namelen = 0;
		msg->msg_controllen = 0;
		msg->msg_flags = 0;
	}
	return r;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (!s)
		return REAL(write)(fd, buf, len);
	return shim_send1(s, buf, len, 0);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (!s)
		return REAL(writev)(fd, iov, n);
	return shim_sendv(s, iov, n, 0);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (!s)
		return REAL(send)(fd, buf, len, flags);
	return shim_send1(s, buf, len, flags);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
               socklen_t alen)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (!s)
		return REAL(sendto)(fd, buf, len, flags, addr, alen);
	/* A connected TCP socket ignores the address (Linux: EISCONN only for TFO). */
	return shim_send1(s, buf, len, flags);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (!s) {
		ssize_t r = REAL(sendmsg)(fd, msg, flags);
		return r >= 0 ? r : tpa_engine_sendmsg_failed(msg); /* EAL's, to a peer gone */
	}
	return shim_sendv(s, msg->msg_iov, (int)msg->msg_iovlen, flags);
}

/* sendfile onto an accelerated socket: read the file in chunks and send them. */
static ssize_t shim_sendfile(struct shim_sock *s, int in_fd, off_t *offset, size_t count)
{
	char buf[65536];
	size_t done = 0;
	off_t pos = offset ? *offset : 0;
	while (done < count) {
		size_t want = count - done < sizeof(buf) ? count - done : sizeof(buf);
		ssize_t n = offset ? pread(in_fd, buf, want, pos) : REAL(read)(in_fd, buf, want);
		if (n < 0) {
			if (done)
				break;
			return -1;
		}
		if (n == 0)
			break;
		struct iovec v = {buf, (size_t)n};
		ssize_t w = shim_sendv(s, &v, 1, done ? MSG_NOSIGNAL : 0);
		if (w < 0) {
			if (!offset)
				lseek(in_fd, -(off_t)n, SEEK_CUR);
			if (done)
				break;
			return -1;
		}
		if (w < n && !offset)
			lseek(in_fd, -(off_t)(n - w), SEEK_CUR);
		done += (size_t)w;
		pos += w;
		if (w < n)
			break;
	}
	if (offset)
		*offset = pos;
	return (ssize_t)done;
}

ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	struct shim_sock *s = shim_fdt_get(out_fd);
	if (!s)
		return REAL(sendfile)(out_fd, in_fd, offset, count);
	if (s->inherited) {
		errno = EBADF;
		return -1;
	}
	return shim_sendfile(s, in_fd, offset, count);
}

ssize_t sendfile64(int out_fd, int in_fd, off_t *offset, size_t count)
{
	struct shim_sock *s = shim_fdt_get(out_fd);
	if (!s)
		return REAL(sendfile64)(out_fd, in_fd, offset, count);
	if (s->inherited) {
		errno = EBADF;
		return -1;
	}
	return shim_sendfile(s, in_fd, offset, count);
}

/* ---- fd-creating calls: a returned number that is in the table was closed behind our back */

static int appeared(int fd)
{
	if (fd >= 0)
		shim_fd_appeared(fd);
	return fd;
}

int pipe(int fds[2])
{
	int r = REAL(pipe)(fds);
	if (r == 0) {
		appeared(fds[0]);
		appeared(fds[1]);
	}
	return r;
}

int pipe2(int fds[2], int flags)
{
	int r = REAL(pipe2)(fds, flags);
	if (r == 0) {
		appeared(fds[0]);
		appeared(fds[1]);
	}
	return r;
}

int eventfd(unsigned initval, int flags)
{
	return appeared(REAL(eventfd)(initval, flags));
}

int timerfd_create(int clockid, int flags)
{
	return appeared(REAL(timerfd_create)(clockid, flags));
}

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	return appeared(REAL(open)(path, flags, mode));
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	return appeared(REAL(open64)(path, flags, mode));
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	return appeared(REAL(openat)(dirfd, path, flags, mode));
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = open_mode(flags, ap);
	va_end(ap);
	return appeared(REAL(openat64)(dirfd, path, flags, mode));
}
