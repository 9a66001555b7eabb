/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Conformance harness for plain POSIX socket programs (no tpa headers).
 *
 * Each case is one program with two roles: "subject" (the code under test: run once on the
 * kernel and once with libtpa_shim.so preloaded, in the server namespace) and "peer" (always
 * the kernel, in the client namespace). Both print observable results, one per line, to stdout;
 * the runner diffs the outputs of the two runs. Nothing printed may legitimately differ between
 * a correct kernel and a correct shim: no kernel-chosen port numbers, no timings, no buffer
 * sizes (print booleans like "partial" instead).
 *
 * Addresses: the subject is CONF_SUBJECT_IP (198.18.0.2), the peer CONF_PEER_IP (198.18.0.1).
 * Ports: the subject listens on CONF_PORT(n) = 7001+n (selected by TPA_PORTS=7001-7010), the
 * peer on CONF_PEER_PORT(n) = 7101+n (TPA_CONNECT=198.18.0.1/32:7101-7110); CONF_REFUSED_PORT
 * has no listener; the control connection (CONF_CTL_PORT) is never accelerated.
 */
#ifndef TPA_CONF_H
#define TPA_CONF_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONF_PORT(n)      (7001 + (n))
#define CONF_PEER_PORT(n) (7101 + (n))
#define CONF_REFUSED_PORT 7109
#define CONF_CTL_PORT     7900

/*
 * What an accelerated run of the case must show, stated next to its code (a case without it
 * does not link): how many TCP connections of the subject the stack establishes (accepted from
 * the peer on CONF_PORT(n), made to CONF_PEER_PORT(n)), and how many the kernel socket of an
 * accelerated listener accepts by design (a client on this host, over loopback). `case expect`
 * prints them; run_case.sh requires the shim's counters (TPA_SHIM_STATS=1) to equal them.
 */
struct conf_expect {
	int accelerated;
	int kernel_accepted;
};
extern const struct conf_expect conf_expect;
#define CONF_ACCELERATED(n)           const struct conf_expect conf_expect = {(n), 0}
#define CONF_ACCELERATED_KERNEL(n, k) const struct conf_expect conf_expect = {(n), (k)}

extern const char *conf_role; /* "S" or "P" */
extern const char *conf_subject_ip, *conf_peer_ip;

/* Runs subject() or peer() according to argv[1] (or prints conf_expect for "expect"); returns
 * the exit status. */
int conf_main(int argc, char **argv, void (*subject)(void), void (*peer)(void));

/* One output line, prefixed with the role. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "what = value" or "what = -1 ENAME" (errno captured at call time). */
long res(const char *what, long r);
/* Like res() for calls returning an fd: prints "fd" instead of the number (the shim's engine
 * may hold fds of its own, so numbers legitimately differ). */
int resfd(const char *what, int r);
const char *errname(int e);
/* Abort the case with a message (an unexpected harness failure, not a result). */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Control channel between subject and peer (a kernel TCP connection). */
void ctl_open(void);
/* Both sides call it with the same tag; returns when the other side reached it too. */
void ctl_sync(const char *tag);
void ctl_send_long(long v);
long ctl_recv_long(void);

/* Listening TCP socket on ip:port (ip NULL = any) with SO_REUSEADDR; dies on failure. */
int tcp_listen(const char *ip, int port, int flags);
/* Blocking connect; dies on failure. */
int tcp_connect(const char *ip, int port);
/* poll() one fd for `events` up to timeout_ms; returns revents (0 on timeout). */
short wait_fd(int fd, short events, int timeout_ms);
/* Read exactly n bytes (or until EOF/error); returns the count. */
size_t read_full(int fd, void *buf, size_t n);
size_t write_full(int fd, const void *buf, size_t n);
/* Read until EOF; returns the count and a checksum of the pattern check. */
size_t drain(int fd, uint32_t *sum);
/* Deterministic test data: byte i of a stream = pattern(i). */
uint8_t pattern(size_t i);
void fill_pattern(uint8_t *buf, size_t off, size_t n);
/* How many bytes of buf differ from the pattern at stream offset off. */
size_t check_pattern(const uint8_t *buf, size_t off, size_t n);
/* Retry `cond` (a poll of some state) every 10 ms for up to 10 s: waits for an asynchronous
 * effect (data arriving) without making timing part of the result. */
bool wait_until(bool (*cond)(void *), void *arg);
/* A wait_until() condition: FIONREAD on fd reads n. */
struct nread {
	int fd, n;
};
bool nread_is(void *arg);
/* Addresses without kernel-chosen ports: "198.18.0.1:7001" or "198.18.0.1:*". */
const char *addr_str(const struct sockaddr *sa, socklen_t len, bool show_port);

#endif
