/* SPDX-License-Identifier: BSD-3-Clause */
/* The tpa_* socket API (stack.h) with Linux semantics and errno values. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include "ipv4.h"
#include "tcp_impl.h"

static struct tcp_sock *user_sock(const struct tpa_stack *s, int id)
{
	struct tcp_sock *ts = tcp_sock_get(s, id);
	if (!ts || (ts->flags & TSF_USER_CLOSED))
		return NULL;
	return ts;
}

static int get_sin(const struct sockaddr *addr, socklen_t len, struct sockaddr_in *sin)
{
	if (!addr || len < (socklen_t)sizeof(struct sockaddr_in))
		return -EINVAL;
	memcpy(sin, addr, sizeof(*sin));
	if (sin->sin_family != AF_INET)
		return -EAFNOSUPPORT;
	return 0;
}

static void put_sin(uint32_t addr, uint16_t port, struct sockaddr *out, socklen_t *len)
{
	if (!out || !len)
		return;
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = addr;
	sin.sin_port = port;
	socklen_t n = *len < (socklen_t)sizeof(sin) ? *len : (socklen_t)sizeof(sin);
	memcpy(out, &sin, n);
	*len = sizeof(sin);
}

int tpa_socket(struct tpa_stack *s)
{
	/* The table is the stack's limit, shared by every process of the family: the kernel's
	 * system-wide ENFILE (the per-process EMFILE stays the kernel's, on the descriptor the
	 * layer above holds). No memory: ENOBUFS, as Linux's inet_create. */
	if (tpa_stack_socket_count(s) >= s->cfg.max_sockets)
		return -ENFILE;
	struct tcp_sock *ts = tcp_sock_alloc(s);
	if (!ts)
		return -ENOBUFS;
	return ts->id;
}

int tpa_bind(struct tpa_stack *s, int sock, const struct sockaddr *addr, socklen_t len)
{
	struct tcp_sock *ts = user_sock(s, sock);
	if (!ts)
		return -EBADF;
	struct sockaddr_in sin;
	int rc = get_sin(addr, len, &sin);
	if (rc < 0)
		return rc;
	if (ts->state != TPA_TCP_CLOSED || (ts->flags & TSF_BOUND))
		return -EINVAL;
	if (sin.sin_addr.s_addr != 0 && sin.sin_addr.s_addr != s->cfg.ipv4_addr)
		return -EADDRNOTAVAIL;
	uint16_t port = rte_be_to_cpu_16(sin.sin_port);
	if (port == 0) {
		rc = tcp_sock_pick_port(s, ts, &port);
		if (rc < 0)
			return rc;
	}
	rc = tcp_sock_bind_check(s, ts, sin.sin_addr.s_addr, rte_cpu_to_be_16(port));
	if (rc < 0) {
		if ((ts->flags & TSF_EPHEMERAL) && s->cfg.hooks.port_release)
			s->cfg.hooks.port_release(s->cfg.hooks.ctx, port);
		ts->flags &= ~TSF_EPHEMERAL;
		return rc;
	}
	ts->laddr = sin.sin_addr.s_addr;
	ts->lport = rte_cpu_to_be_16(port);
	tcp_sock_bind_add(s, ts);
	return 0;
}

/* An unbound socket gets an ephemeral port (listen, connect). */
static int autobind(struct tpa_stack *s, struct tcp_sock *ts)
{
	if (ts->flags & TSF_BOUND)
		return 0;
	uint16_t port;
	int rc = tcp_sock_pick_port(s, ts, &port);
	if (rc < 0)
		return rc;
	ts->lport = rte_cpu_to_be_16(port);
	tcp_sock_bind_add(s, ts);
	return 0;
}

int tpa_listen(struct tpa_stack *s, int sock, int backlog)
{
	struct tcp_sock *ts = user_sock(s, sock);
	if (!ts)
		return -EBADF;
	if (backlog < 1)
		backlog = 1;
	if (backlog > 65535)
		backlog = 65535;
	if (ts->state == TPA_TCP_LISTEN) {
		ts->backlog = backlog;
		return 0;
	}
	if (ts->state != TPA_TCP_CLOSED || (ts->flags & (TSF_CONNECT_SEEN | TSF_RESET)))
		return -EINVAL;
	int rc = autobind(s, ts);
	if (rc < 0)
		return rc;
	/* Another socket may already listen on the port (both bound with SO_REUSEADDR). */
	struct tcp_sock *other = tcp_sock_listener(s, ts->laddr, ts->lport);
	if (other && other != ts && other->laddr == ts->laddr)
		return -EADDRINUSE;
	ts->backlog = backlog;
	ts->state = TPA_TCP_LISTEN;
	tcp_sock_steer(s, ts, true);
	return 0;
}

int tpa_accept(struct tpa_stack *s, int sock, struct sockaddr *addr, socklen_t *len)
{
	struct tcp_sock *ts = user_sock(s, sock);
	if (!ts)
		return -EBADF;
	if (ts->state != TPA_TCP_LISTEN)
		return -EINVAL;
	struct tcp_sock *c = tcp_sock_accept_pop(s, ts);
	if (!c)
		return -EAGAIN;
	put_sin(c->raddr, c->rport, addr, len);
	return c->id;
}

int tpa_connect(struct tpa_stack *s, int sock, const struct sockaddr *addr, socklen_t len)
{
	struct tcp_sock *ts = user_sock(s, sock);
	if (!ts)
		return -EBADF;
	struct sockaddr_in sin;
	int rc = get_sin(addr, len, &sin);
	if (rc < 0)
		return rc;
	switch (ts->state) {
	case TPA_TCP_SYN_SENT:
	case TPA_TCP_SYN_RECV:
		return -EALREADY;
	case TPA_TCP_CLOSED:
		break;
	case TPA_TCP_LISTEN:
		return -EISCONN;
	default:
		/* Linux reports a non-blocking connect's success once, then EISCONN. */
		if (!(ts->flags & TSF_CONNECT_SEEN)) {
			ts->flags |= TSF_CONNECT_SEEN;
			ts->flags &= ~TSF_SYN_ATTEMPTED;
			return 0;
		}
		return -EISCONN;
	}
	if (ts->flags & TSF_SYN_ATTEMPTED) {
		/* The previous attempt failed: report it once, like Linux (sock_error, or
		 * ECONNABORTED when SO_ERROR already took it); the next call starts over. */
		int err = ts->soerror ? ts->soerror : ECONNABORTED;
		ts->soerror = 0;
		ts->flags &= ~TSF_SYN_ATTEMPTED;
		return -err;
	}
	if (ts->flags & (TSF_WAS_CONNECTED | TSF_RESET | TSF_FIN_RCVD))
		return -EISCONN;
	if (sin.sin_addr.s_addr == 0 || sin.sin_port == 0)
		return -ECONNREFUSED;
	rc = autobind(s, ts);
	if (rc < 0)
		return rc;
	if (!ts->laddr)
		ts->laddr = s->cfg.ipv4_addr;
	struct tcp_sock *old =
	        tcp_sock_lookup(s, ts->laddr, ts->lport, sin.sin_addr.s_addr, sin.sin_port);
	if (old) {
		/* A TIME_WAIT connection protected by timestamps may be replaced (like Linux
		 * tcp_tw_reuse); anything else occupies the 4-tuple. */
		if (old->state == TPA_TCP_TIME_WAIT && (old->flags & TSF_TS_OK))
			tcp_sock_closed(s, old);
		else
			return -EADDRNOTAVAIL;
	}
	ts->raddr = sin.sin_addr.s_addr;
	ts->rport = sin.sin_port;
	stack_now(s);
	tcp_sock_init_isn(s, ts);
	/* The smallest shift that lets the whole receive buffer be offered. */
	uint8_t ws = 0;
	while (s->cfg.tcp.window_scaling && ws < TCP_MAX_WSCALE && (ts->rcvbuf_max >> ws) > 65535)
		ws++;
	ts->rcv_wscale = ws;
	ts->snd_una = ts->snd_nxt = ts->snd_max = ts->iss;
	ts->soerror = 0;
	ts->retries = 0;
	ts->syn_retransmitted = false;
	ts->state = TPA_TCP_SYN_SENT;
	ts->flags |= TSF_SYN_ATTEMPTED;
	tcp_sock_hash_add(s, ts);
	tcp_sock_steer(s, ts, true);
	tcp_send_syn(s, ts, NULL);
	return -EINPROGRESS;
}

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t t = 0;
	for (int i = 0; i < iovcnt; i++)
		t += iov[i].iov_len;
	return t;
}

/* A null buffer with a length: the kernel's EFAULT, instead of a copy to or from address 0
 * (other bad addresses fault in the copy, as they would in the program's own code). */
static bool iov_null(const struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++)
		if (!iov[i].iov_base && iov[i].iov_len)
			return true;
	return false;
}

static int take_error(struct tcp_sock *ts)
{
	int e = ts->soerror;
	ts->soerror = 0;
	return -e;
}

/* Whether the connection takes data now: 0, or the error a send returns (a pending error is
 * taken). */
static int send_refused(struct tcp_sock *ts)
{
	if (ts->soerror)
		return take_error(ts);
	switch (ts->state) {
	case TPA_TCP_ESTABLISHED:
	case TPA_TCP_CLOSE_WAIT:
		break;
	case TPA_TCP_SYN_SENT:
	case TPA_TCP_SYN_RECV:
		return -EAGAIN;
	default:
		return -EPIPE;
	}
	return (ts->flags & TSF_SHUT_WR) ? -EPIPE : 0;
}

/* Bytes were queued: MSG_MORE holds them back like a cork for this call, then out. */
static void queued_out(struct tpa_stack *s, struct tcp_sock *ts, int flags)
{
	if (flags & MSG_MORE)
		ts->flags |= TSF_MSG_MORE;
	else
		ts->flags &= ~TSF_MSG_MORE;
	stack_now(s);
	tcp_output(s, ts);
}

/* One buffer into an empty ring (a reply): what tcp_sndbuf_append does there, then out. */
static size_t send_into_empty(struct tpa_stack *s, struct tcp_sock *ts, const void *buf, size_t len,
                              int flags)
{
	if (!(flags & MSG_MORE) && tcp_send_reply(s, ts, buf, (uint32_t)len))
		return len;
	tcp_sndbuf_fill_empty(ts, buf, len);
	queued_out(s, ts, flags);
	return len;
}

/* The socket of a vector call, or NULL with *err the error (a bad handle, a bad vector). */
static struct tcp_sock *vector_sock(struct tpa_stack *s, int sock, const struct iovec *iov,
                                    int iovcnt, int *err)
{
	struct tcp_sock *ts = user_sock(s, sock);
	*err = !ts ? -EBADF : (iovcnt < 0 || (iovcnt && !iov)) ? -EINVAL : 0;
	return *err ? NULL : ts;
}

ssize_t tpa_sendv(struct tpa_stack *s, int sock, const struct iovec *iov, int iovcnt, int flags)
{
	int err;
	struct tcp_sock *ts = vector_sock(s, sock, iov, iovcnt, &err);
	if (!ts)
		return err;
	err = send_refused(ts);
	if (err)
		return err;
	if (iov_null(iov, iovcnt))
		return -EFAULT;
	if (iovcnt == 1 && tcp_sndbuf_fits_empty(ts, iov->iov_len))
		return (ssize_t)send_into_empty(s, ts, iov->iov_base, iov->iov_len, flags);
	if (!iov_total(iov, iovcnt))
		return 0;
	if (!tcp_sndbuf_space(ts))
		return -EAGAIN;
	size_t done = 0;
	for (int i = 0; i < iovcnt; i++) {
		if (!iov[i].iov_len)
			continue;
		size_t n = tcp_sndbuf_append(s, ts, iov[i].iov_base, iov[i].iov_len);
		done += n;
		if (n < iov[i].iov_len)
			break;
	}
	if (!done)
		return -EAGAIN;
	queued_out(s, ts, flags);
	return (ssize_t)done;
}

ssize_t tpa_send(struct tpa_stack *s, int sock, const void *buf, size_t len, int flags)
{
	struct tcp_sock *ts = user_sock(s, sock);
	if (ts) {
		int err = send_refused(ts);
		if (err)
			return err;
		if (buf && tcp_sndbuf_fits_empty(ts, len))
			return (ssize_t)send_into_empty(s, ts, buf, len, flags);
	}
	struct iovec v = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
	return tpa_sendv(s, sock, &v, 1, flags);
}

/* After recv freed space, tell the peer if the window grew by a worthwhile amount. The usual
 * read, a request of a request/response protocol out of a wide-open window, is decided inline
 * (the window can never exceed the buffer, so it cannot grow by that much); the rest is
 * window_update_send's. */
__attribute__((noinline)) static void window_update_send(struct tpa_stack *s, struct tcp_sock *ts,
                                                         uint32_t adv, uint32_t worth)
{
	if (ts->state != TPA_TCP_ESTABLISHED && ts->state != TPA_TCP_FIN_WAIT1 &&
	    ts->state != TPA_TCP_FIN_WAIT2)
		return;
	uint32_t now = tcp_rcv_window(ts);
	if (now > adv && now - adv >= worth) {
		stack_now(s);
		tcp_send_ack(s, ts);
	}
}

static inline void window_update(struct tpa_stack *s, struct tcp_sock *ts)
{
	uint32_t adv = seq_gt(ts->rcv_adv_edge, ts->rcv_nxt) ? ts->rcv_adv_edge - ts->rcv_nxt : 0;
	uint32_t mss = ts->snd_mss ? ts->snd_mss : TCP_DEFAULT_MSS;
	uint32_t worth = 2 * mss < ts->rcvbuf_max / 2 ? 2 * mss : ts->rcvbuf_max / 2;
	if (adv >= ts->rcvbuf_max || ts->rcvbuf_max - adv < worth)
		return;
	window_update_send(s, ts, adv, worth);
}

ssize_t tpa_recvv(struct tpa_stack *s, int sock, const struct iovec *iov, int iovcnt, int flags)
{
	int err;
	struct tcp_sock *ts = vector_sock(s, sock, iov, iovcnt, &err);
	if (!ts)
		return err;
	if (ts->state == TPA_TCP_LISTEN)
		return -ENOTCONN;
	size_t want = iov_total(iov, iovcnt);
	if (ts->rcv_queued) {
		if (!want)
			return 0;
		if (iov_null(iov, iovcnt))
			return -EFAULT;
		size_t n = tcp_rcv_copy(s, ts, iov, iovcnt, want, (flags & MSG_PEEK) != 0,
		                        (flags & MSG_TRUNC) != 0);
		if (!(flags & MSG_PEEK))
			window_update(s, ts);
		return (ssize_t)n;
	}
	/* After the peer's FIN, reads report end of stream even if an error is pending (it is
	 * for the next write), as Linux does. */
	if (ts->flags & TSF_FIN_RCVD)
		return 0;
	if (ts->soerror)
		return take_error(ts);
	if (ts->flags & (TSF_SHUT_RD | TSF_RESET))
		return 0;
	switch (ts->state) {
	case TPA_TCP_SYN_SENT:
	case TPA_TCP_SYN_RECV:
		return -EAGAIN;
	case TPA_TCP_CLOSED:
		return (ts->flags & TSF_WAS_CONNECTED) ? 0 : -ENOTCONN;
	default:
		return -EAGAIN;
	}
}

bool tcp_read_direct_off;

ssize_t tpa_recv(struct tpa_stack *s, int sock, void *buf, size_t len, int flags)
{
	struct tcp_sock *ts = user_sock(s, sock);
	if (ts && !flags && buf && ts->rcv_queued && ts->state != TPA_TCP_LISTEN &&
	    !tcp_read_direct_off) {
		ssize_t n = tcp_rcv_copy_one(s, ts, buf, len);
		if (n >= 0) {
			STAT_INC(s, tcp_read_direct);
			window_update(s, ts);
			return n;
		}
	}
	struct iovec v = {.iov_base = buf, .iov_len = len};
	return tpa_recvv(s, sock, &v, 1, flags);
}

int tpa_shutdown(struct tpa_stack *s, int sock, int how)
{
	struct tcp_sock *ts = user_sock(s, sock);
	if (!ts)
		return -EBADF;
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return -EINVAL;
	switch (ts->state) {
	case TPA_TCP_CLOSED:
	case TPA_TCP_SYN_SENT:
	case TPA_TCP_LISTEN:
		if (ts->state == TPA_TCP_CLOSED && (ts->flags & (TSF_RESET | TSF_FIN_RCVD)))
			break;
		return -ENOTCONN;
	default:
		break;
	}
	if (how == SHUT_RD || how == SHUT_RDWR) {
		ts->flags |= TSF_SHUT_RD;
		/* Linux drops what is queued and discards what arrives later. */
		tcp_rxq_clear(s, &ts->rq);
		ts->rcv_queued = 0;
	}
	if ((how == SHUT_WR || how == SHUT_RDWR) && !(ts->flags & TSF_SHUT_WR)) {
		ts->flags |= TSF_SHUT_WR;
		stack_now(s);
		tcp_output(s, ts);
	}
	tcp_sock_notify(s, ts);
	return 0;
}

static void close_listener(struct tpa_stack *s, struct tcp_sock *l)
{
	struct tcp_layer *tl = tcp_of(s);
	while (l->syn_head != TCP_NO_SOCK) {
		struct tcp_sock *c = tl->socks[l->syn_head];
		tcp_send_rst(s, c);
		c->flags |= TSF_USER_CLOSED;
		tcp_sock_closed(s, c);
	}
	struct tcp_sock *c;
	while ((c = tcp_sock_accept_pop(s, l)) != NULL) {
		if (c->state != TPA_TCP_CLOSED) /* not one the peer already reset */
			tcp_send_rst(s, c);
		c->flags |= TSF_USER_CLOSED;
		tcp_sock_closed(s, c);
	}
}

int tpa_close(struct tpa_stack *s, int sock)
{
	struct tcp_sock *ts = user_sock(s, sock);
	if (!ts)
		return -EBADF;
	stack_now(s);
	ts->flags |= TSF_USER_CLOSED;
	ts->user = NULL;
	switch (ts->state) {
	case TPA_TCP_LISTEN:
		close_listener(s, ts);
		tcp_sock_closed(s, ts);
		return 0;
	case TPA_TCP_CLOSED:
	case TPA_TCP_SYN_SENT:
		tcp_sock_closed(s, ts);
		return 0;
	case TPA_TCP_TIME_WAIT:
		return 0; /* lives on until the timer */
	default:
		break;
	}
	if (ts->rcv_queued || (ts->flags & TSF_LINGER0)) {
		/* Unread data or linger {1, 0}: abortive close (RFC 9293 3.10.4, Linux). */
		tcp_send_rst(s, ts);
		tcp_sock_closed(s, ts);
		return 0;
	}
	tcp_rxq_clear(s, &ts->rq);
	ts->flags |= TSF_SHUT_WR;
	ts->flags &= ~(TSF_CORK | TSF_MSG_MORE);
	tcp_output(s, ts);
	if (ts->state == TPA_TCP_FIN_WAIT2)
		tcp_timer_set(s, ts, TT_LINGER,
		              s->now_ns + (uint64_t)s->cfg.tcp.fin_wait2_ms * 1000000ull);
	return 0;
}

static int get_int(const void *val, socklen_t len, int *out)
{
	if (!val || len < (socklen_t)sizeof(int))
		return -EINVAL;
	memcpy(out, val, sizeof(int));
	return 0;
}

int tpa_setsockopt(struct tpa_stack *s, int sock, enum tpa_sockopt opt, const void *val,
                   socklen_t len)
{
	struct tcp_sock *ts = user_sock(s, sock);
	if (!ts)
		return -EBADF;
	int v = 0;
	if (opt == TPA_SO_LINGER) {
		struct linger lg;
		if (!val || len < (socklen_t)sizeof(lg))
			return -EINVAL;
		memcpy(&lg, val, sizeof(lg));
		if (lg.l_onoff && lg.l_linger == 0)
			ts->flags |= TSF_LINGER0;
		else
			ts->flags &= ~TSF_LINGER0;
		return 0;
	}
	int rc = get_int(val, len, &v);
	if (rc < 0)
		return rc;
	switch (opt) {
	case TPA_SO_NODELAY:
		if (v)
			ts->flags |= TSF_NODELAY;
		else
			ts->flags &= ~TSF_NODELAY;
		break;
	case TPA_SO_CORK:
		if (v) {
			ts->flags |= TSF_CORK;
		} else {
			ts->flags &= ~TSF_CORK;
			stack_now(s);
			tcp_output(s, ts); /* uncorking pushes what waits */
		}
		break;
	case TPA_SO_KEEPALIVE:
		if (v) {
			ts->flags |= TSF_KEEPALIVE;
			stack_now(s);
			if (ts->state == TPA_TCP_ESTABLISHED || ts->state == TPA_TCP_CLOSE_WAIT)
				tcp_timer_set(s, ts, TT_KEEPALIVE,
				              s->now_ns + (uint64_t)ts->ka_idle_s * 1000000000ull);
		} else {
			ts->flags &= ~TSF_KEEPALIVE;
			ts->tmr[TT_KEEPALIVE] = 0;
		}
		break;
	case TPA_SO_KEEPIDLE:
		if (v < 1 || v > 32767)
			return -EINVAL;
		ts->ka_idle_s = (uint32_t)v;
		/* Like Linux, a running keepalive timer follows the new idle time at once. */
		if ((ts->flags & TSF_KEEPALIVE) &&
		    (ts->state == TPA_TCP_ESTABLISHED || ts->state == TPA_TCP_CLOSE_WAIT)) {
			stack_now(s);
			uint64_t at = ts->last_rx_ns + (uint64_t)v * 1000000000ull;
			tcp_timer_set(s, ts, TT_KEEPALIVE, at > s->now_ns ? at : s->now_ns);
		}
		break;
	case TPA_SO_KEEPINTVL:
		if (v < 1 || v > 32767)
			return -EINVAL;
		ts->ka_intvl_s = (uint32_t)v;
		break;
	case TPA_SO_KEEPCNT:
		if (v < 1 || v > 127)
			return -EINVAL;
		ts->ka_cnt = (uint32_t)v;
		break;
	case TPA_SO_SNDBUF:
		/* Linux doubles the request; keep a sane floor. */
		if (v < 0)
			return -EINVAL;
		ts->sndbuf_max = (uint32_t)(v < 2048 ? 4096 : (v > (1 << 29) ? (1 << 30) : v * 2));
		break;
	case TPA_SO_RCVBUF:
		if (v < 0)
			return -EINVAL;
		/* The window scale is fixed at the handshake: only grow within it afterwards. */
		ts->rcvbuf_max = (uint32_t)(v < 2048 ? 4096 : (v > (1 << 29) ? (1 << 30) : v * 2));
		if (ts->state != TPA_TCP_CLOSED && ts->state != TPA_TCP_LISTEN &&
		    ts->rcvbuf_max > (65535u << ts->rcv_wscale))
			ts->rcvbuf_max = 65535u << ts->rcv_wscale;
		break;
	case TPA_SO_REUSEADDR:
		if (v)
			ts->flags |= TSF_REUSEADDR;
		else
			ts->flags &= ~TSF_REUSEADDR;
		break;
	case TPA_SO_MAXSEG:
		if (v < 0 || (v && (v < 88 || v > 65535)))
			return -EINVAL;
		ts->user_mss = (uint32_t)v;
		break;
	case TPA_SO_CONGESTION:
		if (v != TPA_CC_NEWRENO && v != TPA_CC_CUBIC)
			return -ENOENT;
		if (ts->cc_algo != (uint8_t)v) {
			ts->cc_algo = (uint8_t)v;
			if (ts->state != TPA_TCP_CLOSED && ts->state != TPA_TCP_LISTEN &&
			    ts->state != TPA_TCP_SYN_SENT && ts->state != TPA_TCP_SYN_RECV) {
				/* Switch keeping the window and any recovery in progress, like
				 * Linux: re-initialising would forget the recovery the socket is
				 * in. */
				tcp_cc_set_ops(&ts->cc, tcp_cc_by_algo((enum tpa_cc_algo)v));
			}
		}
		break;
	case TPA_SO_USER_TIMEOUT:
		if (v < 0)
			return -EINVAL;
		ts->user_timeout_ms = (uint32_t)v;
		break;
	default:
		return -ENOPROTOOPT;
	}
	return 0;
}

static int put_int(void *val, socklen_t *len, int v)
{
	if (!val || !len || *len < (socklen_t)sizeof(int))
		return -EINVAL;
	memcpy(val, &v, sizeof(int));
	*len = sizeof(int);
	return 0;
}

int tpa_getsockopt(struct tpa_stack *s, int sock, enum tpa_sockopt opt, void *val, socklen_t *len)
{
	struct tcp_sock *ts = user_sock(s, sock);
	if (!ts)
		return -EBADF;
	switch (opt) {
	case TPA_SO_NODELAY:
		return put_int(val, len, !!(ts->flags & TSF_NODELAY));
	case TPA_SO_CORK:
		return put_int(val, len, !!(ts->flags & TSF_CORK));
	case TPA_SO_KEEPALIVE:
		return put_int(val, len, !!(ts->flags & TSF_KEEPALIVE));
	case TPA_SO_KEEPIDLE:
		return put_int(val, len, (int)ts->ka_idle_s);
	case TPA_SO_KEEPINTVL:
		return put_int(val, len, (int)ts->ka_intvl_s);
	case TPA_SO_KEEPCNT:
		return put_int(val, len, (int)ts->ka_cnt);
	case TPA_SO_SNDBUF:
		return put_int(val, len, (int)ts->sndbuf_max);
	case TPA_SO_RCVBUF:
		return put_int(val, len, (int)ts->rcvbuf_max);
	case TPA_SO_LINGER: {
		struct linger lg = {.l_onoff = !!(ts->flags & TSF_LINGER0), .l_linger = 0};
		if (!val || !len || *len < (socklen_t)sizeof(lg))
			return -EINVAL;
		memcpy(val, &lg, sizeof(lg));
		*len = sizeof(lg);
		return 0;
	}
	case TPA_SO_REUSEADDR:
		return put_int(val, len, !!(ts->flags & TSF_REUSEADDR));
	case TPA_SO_ERROR: {
		int rc = put_int(val, len, ts->soerror);
		if (rc == 0)
			ts->soerror = 0;
		return rc;
	}
	case TPA_SO_MAXSEG:
		return put_int(val, len,
		               (int)(ts->state == TPA_TCP_ESTABLISHED ? ts->snd_mss
		                     : ts->user_mss                   ? ts->user_mss
		                                                      : TCP_DEFAULT_MSS));
	case TPA_SO_CONGESTION:
		return put_int(val, len, ts->cc_algo);
	case TPA_SO_USER_TIMEOUT:
		return put_int(val, len, (int)ts->user_timeout_ms);
	case TPA_SO_NREAD:
		return put_int(val, len, ts->state == TPA_TCP_LISTEN ? 0 : (int)ts->rcv_queued);
	case TPA_SO_NWRITE:
		return put_int(val, len, (int)ts->sb.len);
	case TPA_SO_STATE:
		return put_int(val, len, ts->state);
	case TPA_SO_ACCEPTCONN:
		return put_int(val, len, ts->state == TPA_TCP_LISTEN);
	case TPA_SO_INFO: {
		struct tpa_tcp_info ti;
		if (!val || !len || *len < (socklen_t)sizeof(ti))
			return -EINVAL;
		tcp_fill_info(ts, &ti);
		memcpy(val, &ti, sizeof(ti));
		*len = sizeof(ti);
		return 0;
	}
	default:
		return -ENOPROTOOPT;
	}
}

int tpa_getsockname(struct tpa_stack *s, int sock, struct sockaddr *addr, socklen_t *len)
{
	struct tcp_sock *ts = user_sock(s, sock);
	if (!ts)
		return -EBADF;
	if (!addr || !len)
		return -EFAULT;
	put_sin(ts->laddr, ts->lport, addr, len);
	return 0;
}

int tpa_getpeername(struct tpa_stack *s, int sock, struct sockaddr *addr, socklen_t *len)
{
	struct tcp_sock *ts = user_sock(s, sock);
	if (!ts)
		return -EBADF;
	if (!addr || !len)
		return -EFAULT;
	if (ts->state == TPA_TCP_LISTEN || ts->state == TPA_TCP_SYN_SENT || !ts->rport ||
	    (ts->state == TPA_TCP_CLOSED && !(ts->flags & (TSF_RESET | TSF_FIN_RCVD))))
		return -ENOTCONN;
	put_sin(ts->raddr, ts->rport, addr, len);
	return 0;
}

uint32_t tpa_sock_events(const struct tpa_stack *s, int sock)
{
	const struct tcp_sock *ts = user_sock(s, sock);
	if (!ts)
		return TPA_EV_ERR | TPA_EV_HUP;
	return tcp_sock_events(ts);
}

int tpa_sock_state(const struct tpa_stack *s, int sock, struct tpa_sock_state *st)
{
	const struct tcp_sock *ts = user_sock(s, sock);
	if (!ts) {
		*st = (struct tpa_sock_state){.events = TPA_EV_ERR | TPA_EV_HUP};
		return -EBADF;
	}
	tcp_sock_state_fill(ts, st);
	return 0;
}

void tpa_sock_set_user(struct tpa_stack *s, int sock, void *user)
{
	struct tcp_sock *ts = user_sock(s, sock);
	if (ts)
		ts->user = user;
}

void *tpa_sock_get_user(const struct tpa_stack *s, int sock)
{
	const struct tcp_sock *ts = user_sock(s, sock);
	return ts ? ts->user : NULL;
}
