/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The real libc functions behind every call the shim interposes.
 *
 * Contract: real_fn.<name> points at the next definition of <name> (dlsym(RTLD_NEXT)), resolved
 * all at once by shim_real_init(), which is idempotent, allocation-free on our side and safe to
 * call from any interposed function before the library constructor has run (another library's
 * constructor may call socket() or read() first). Nothing here ever calls back into the shim.
 */
#ifndef TPA_SHIM_REAL_H
#define TPA_SHIM_REAL_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

/* X(name, return type, parameter list) for every function the shim resolves. */
#define SHIM_REAL_FUNCTIONS(X)                                                                     \
	X(socket, int, (int, int, int))                                                            \
	X(bind, int, (int, const struct sockaddr *, socklen_t))                                    \
	X(listen, int, (int, int))                                                                 \
	X(accept, int, (int, struct sockaddr *, socklen_t *))                                      \
	X(accept4, int, (int, struct sockaddr *, socklen_t *, int))                                \
	X(connect, int, (int, const struct sockaddr *, socklen_t))                                 \
	X(read, ssize_t, (int, void *, size_t))                                                    \
	X(readv, ssize_t, (int, const struct iovec *, int))                                        \
	X(write, ssize_t, (int, const void *, size_t))                                             \
	X(writev, ssize_t, (int, const struct iovec *, int))                                       \
	X(recv, ssize_t, (int, void *, size_t, int))                                               \
	X(recvfrom, ssize_t, (int, void *, size_t, int, struct sockaddr *, socklen_t *))           \
	X(recvmsg, ssize_t, (int, struct msghdr *, int))                                           \
	X(send, ssize_t, (int, const void *, size_t, int))                                         \
	X(sendto, ssize_t, (int, const void *, size_t, int, const struct sockaddr *, socklen_t))   \
	X(sendmsg, ssize_t, (int, const struct msghdr *, int))                                     \
	X(sendfile, ssize_t, (int, int, off_t *, size_t))                                          \
	X(sendfile64, ssize_t, (int, int, off_t *, size_t))                                        \
	X(close, int, (int))                                                                       \
	X(close_range, int, (unsigned, unsigned, int))                                             \
	X(shutdown, int, (int, int))                                                               \
	X(getsockopt, int, (int, int, int, void *, socklen_t *))                                   \
	X(setsockopt, int, (int, int, int, const void *, socklen_t))                               \
	X(getsockname, int, (int, struct sockaddr *, socklen_t *))                                 \
	X(getpeername, int, (int, struct sockaddr *, socklen_t *))                                 \
	X(fcntl, int, (int, int, ...))                                                             \
	X(fcntl64, int, (int, int, ...))                                                           \
	X(ioctl, int, (int, unsigned long, ...))                                                   \
	X(epoll_create, int, (int))                                                                \
	X(epoll_create1, int, (int))                                                               \
	X(epoll_ctl, int, (int, int, int, struct epoll_event *))                                   \
	X(epoll_wait, int, (int, struct epoll_event *, int, int))                                  \
	X(epoll_pwait, int, (int, struct epoll_event *, int, int, const sigset_t *))               \
	X(poll, int, (struct pollfd *, nfds_t, int))                                               \
	X(ppoll, int, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *))        \
	X(select, int, (int, fd_set *, fd_set *, fd_set *, struct timeval *))                      \
	X(pselect, int,                                                                            \
	  (int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *))          \
	X(dup, int, (int))                                                                         \
	X(dup2, int, (int, int))                                                                   \
	X(dup3, int, (int, int, int))                                                              \
	X(pipe, int, (int[2]))                                                                     \
	X(pipe2, int, (int[2], int))                                                               \
	X(eventfd, int, (unsigned, int))                                                           \
	X(timerfd_create, int, (int, int))                                                         \
	X(open, int, (const char *, int, ...))                                                     \
	X(open64, int, (const char *, int, ...))                                                   \
	X(openat, int, (int, const char *, int, ...))                                              \
	X(openat64, int, (int, const char *, int, ...))                                            \
	X(__read_chk, ssize_t, (int, void *, size_t, size_t))                                      \
	X(__recv_chk, ssize_t, (int, void *, size_t, size_t, int))                                 \
	X(__recvfrom_chk, ssize_t,                                                                 \
	  (int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *))                      \
	X(__poll_chk, int, (struct pollfd *, nfds_t, int, size_t))

struct shim_real_table {
#define SHIM_REAL_FIELD(name, ret, params) ret(*name) params;
	SHIM_REAL_FUNCTIONS(SHIM_REAL_FIELD)
#undef SHIM_REAL_FIELD
};

extern struct shim_real_table real_fn;
extern bool shim_real_ready;

void shim_real_init(void);

/* Every interposed function starts with this: resolution costs one predictable branch. */
#define REAL(name) (__builtin_expect(shim_real_ready, 1) ? 0 : (shim_real_init(), 0), real_fn.name)

#endif
