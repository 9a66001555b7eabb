/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tpa stack: the native C API of tpa's user-space TCP/IP stack.
 *
 * Contract:
 * - A struct tpa_stack is one independent instance (no global state). It is NOT thread-safe:
 *   one thread at a time calls into an instance (the layer above serialises).
 * - The stack knows packets (rte_mbuf) but not devices: the owner supplies a struct tpa_netdev
 *   (receive a burst, transmit a burst, offload capabilities) and a struct tpa_clock. Tests drive
 *   it with an in-memory link and a virtual clock.
 * - Nothing happens behind the owner's back: packets are read, timers run and output is flushed
 *   only inside tpa_stack_poll() (or the finer tpa_stack_input/run_timers/flush).
 * - Socket calls never block. They return >= 0 on success and a negative errno value on failure
 *   (-EAGAIN, -ECONNRESET, ...), using Linux errno numbers with Linux socket semantics.
 * - Readiness is reported as TPA_EV_* bits (numerically equal to the EPOLL* bits) through
 *   tpa_sock_events() and, whenever a socket's readiness may have changed, through the
 *   sock_event hook, so a poll layer never has to scan all sockets.
 * - Addresses are struct sockaddr (AF_INET today; flow keys are sized for AF_INET6 later).
 */
#ifndef TPA_STACK_H
#define TPA_STACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rte_mbuf;
struct rte_mempool;
struct tpa_stack;

/* ---- clock --------------------------------------------------------------------------- */

/* Monotonic time in nanoseconds. Tests pass a virtual clock they advance by hand. */
struct tpa_clock {
	uint64_t (*now_ns)(void *ctx);
	void *ctx;
};

/* ---- device boundary ----------------------------------------------------------------- */

/* Offload capabilities of the device (tx_offloads / rx_offloads). */
#define TPA_DEV_OFFLOAD_IPV4_CKSUM (1u << 0) /* tx: device fills IPv4 header checksum */
#define TPA_DEV_OFFLOAD_TCP_CKSUM  (1u << 1) /* tx: device fills TCP checksum (pseudo-hdr set) */
#define TPA_DEV_OFFLOAD_TSO        (1u << 2) /* tx: device segments TCP (tso_segsz in mbuf) */
#define TPA_DEV_OFFLOAD_RX_CKSUM   (1u << 3) /* rx: mbuf ol_flags carry checksum verdicts */
/* rx: the device delivers frames a local sender left for "hardware" to checksum (a veth, a tap:
 * the kernel's CHECKSUM_PARTIAL, whose TCP checksum field holds only the pseudo-header sum).
 * The stack then accepts a TCP checksum field equal to the pseudo-header sum, as the kernel
 * trusts CHECKSUM_PARTIAL from a local peer; every other checksum is still verified. Never set
 * it on a port that faces a wire. */
#define TPA_DEV_OFFLOAD_RX_CSUM_PARTIAL (1u << 4)

struct tpa_netdev {
	/* Fill up to max received frames (Ethernet II, starting at the MAC header). */
	uint16_t (*rx_burst)(void *ctx, struct rte_mbuf **pkts, uint16_t max);
	/* Send n frames; returns how many the device took. The device holds one reference to
	 * each and drops it with rte_pktmbuf_free or the like, which honours the count (never a
	 * "fast free" that assumes it is 1): the stack may keep a reference of its own, to reuse
	 * a buffer once the device is done with it. The stack frees or retries the rest. */
	uint16_t (*tx_burst)(void *ctx, struct rte_mbuf **pkts, uint16_t n);
	void *ctx;
	uint32_t tx_offloads;
	uint32_t rx_offloads;
	uint16_t mtu;   /* IP MTU, e.g. 1500 */
	uint8_t mac[6]; /* our Ethernet address */
};

/* ---- configuration ------------------------------------------------------------------- */

enum tpa_cc_algo {
	TPA_CC_NEWRENO = 0,
	TPA_CC_CUBIC = 1,
};

struct tpa_tcp_params {
	uint32_t sndbuf;            /* default send buffer per socket, bytes */
	uint32_t rcvbuf;            /* default receive buffer per socket, bytes */
	uint32_t ooo_limit;         /* max bytes held out of order per socket */
	uint32_t rto_min_ms;        /* RFC 6298 lower bound (default 200) */
	uint32_t rto_max_ms;        /* upper bound (default 120000) */
	uint32_t rto_initial_ms;    /* before any RTT sample (default 1000) */
	uint32_t syn_retries;       /* active open retransmissions before ETIMEDOUT (default 6) */
	uint32_t synack_retries;    /* passive open (default 5) */
	uint32_t data_retries;      /* data retransmissions before ETIMEDOUT (default 15) */
	uint32_t delack_ms;         /* delayed ACK timeout (default 40; 0 = ACK every segment) */
	uint32_t time_wait_ms;      /* TIME_WAIT duration (default 60000) */
	uint32_t fin_wait2_ms;      /* orphaned FIN_WAIT_2 timeout (default 60000) */
	uint32_t keepalive_idle_s;  /* defaults for SO_KEEPALIVE sockets (7200) */
	uint32_t keepalive_intvl_s; /* (75) */
	uint32_t keepalive_cnt;     /* (9) */
	uint32_t initial_cwnd_segs; /* RFC 6928 (default 10) */
	enum tpa_cc_algo cc;        /* default congestion control */
	uint8_t timestamps;         /* offer RFC 7323 timestamps (default 1) */
	uint8_t window_scaling;     /* offer window scale (default 1) */
	uint8_t sack;               /* offer SACK (default 1) */
	/* RFC 4987 SYN cookies when a listener's SYN queue is full (default 1) */
	uint8_t syncookies;
};

struct tpa_sock_state; /* below */

struct tpa_stack_hooks {
	/* Pick a free ephemeral local port for an active open to (raddr, rport); the layer above
	 * holds it in the kernel. 0 or -errno (-EADDRNOTAVAIL when none is free). */
	int (*port_reserve)(void *ctx, uint32_t laddr_be, uint16_t *port_host);
	void (*port_release)(void *ctx, uint16_t port_host);
	/* A local port starts/stops receiving (listen, active open, full close): steer it. */
	void (*port_steer)(void *ctx, uint16_t port_host, int on);
	/* If set, the owner resolves neighbours (e.g. through the kernel) and reports them with
	 * tpa_stack_neigh_update(); the stack then sends no ARP requests itself. */
	void (*neigh_resolve)(void *ctx, uint32_t ip_be);
	/* Readiness of socket `sock` may have changed; `st` is its current state (st->events its
	 * TPA_EV_* set), as tpa_sock_state() would give it. */
	void (*sock_event)(void *ctx, int sock, const struct tpa_sock_state *st);
	void *ctx;
	/* sock_event's own ctx when it is not the others' (NULL: ctx): an owner passing on a
	 * caller's hook hands it over directly, without a call of its own in between. */
	void *sock_event_ctx;
};

/* Where the stack's memory comes from (the instance, the socket table, socket buffers): every
 * allocation of an instance goes through it, so an owner can place the whole state in memory
 * shared with other processes (the engine shares it with fork children). alloc returns memory
 * aligned for any type, or NULL; free(NULL) must be a no-op. Both are called only from stack
 * calls, under the owner's serialisation. alloc == NULL: malloc/free. */
struct tpa_allocator {
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *p);
	void *ctx;
};

struct tpa_stack_config {
	struct tpa_netdev dev;
	struct tpa_clock clock;
	struct rte_mempool *pool; /* mbufs for transmitted packets */
	uint32_t ipv4_addr;       /* network byte order */
	uint8_t ipv4_prefix_len;
	uint32_t ipv4_gateway;   /* network byte order; 0 = none */
	uint32_t max_sockets;    /* socket table size (default 65536) */
	uint32_t arp_timeout_ms; /* neighbour entry lifetime (default 60000) */
	/* RFC 6528 secret (ISNs, SYN cookies, timestamp offsets): required, not all zero. The
	 * owner draws it (the engine with getrandom): the stack makes no system calls. */
	uint8_t isn_key[16];
	struct tpa_tcp_params tcp;
	struct tpa_stack_hooks hooks;
	struct tpa_allocator mem; /* default (alloc NULL): malloc/free */
	const char *name;         /* for logs and counters */
};

/* Fill every field with its default (zero device, zero addresses). */
void tpa_stack_config_init(struct tpa_stack_config *cfg);

/* ---- instance ------------------------------------------------------------------------ */

/* NULL and errno set on failure (EINVAL names the bad field in tpa_stack_last_error()). */
struct tpa_stack *tpa_stack_create(const struct tpa_stack_config *cfg);
/* Frees every socket and every mbuf the stack holds. Sends nothing. */
void tpa_stack_destroy(struct tpa_stack *s);
const char *tpa_stack_last_error(void);

/* Receive a burst from the device, process it, run due timers, flush output.
 * Returns the number of packets received + sent (0 = idle). */
int tpa_stack_poll(struct tpa_stack *s);
/* Process frames received by other means; the stack takes ownership of every mbuf. */
void tpa_stack_input(struct tpa_stack *s, struct rte_mbuf **pkts, uint16_t n);
void tpa_stack_run_timers(struct tpa_stack *s);
/* Hand queued output to the device. Returns packets sent. */
int tpa_stack_flush(struct tpa_stack *s);
/* Absolute time (clock ns) of the earliest pending timer, UINT64_MAX if none. */
uint64_t tpa_stack_next_timer_ns(const struct tpa_stack *s);

/* Neighbour table: add or refresh a resolved entry (mac != NULL) or mark failed (mac == NULL). */
void tpa_stack_neigh_update(struct tpa_stack *s, uint32_t ip_be, const uint8_t mac[6]);

/* Counters ------------------------------------------------------------------------------ */
/* X-macro list so names and fields never drift apart. */
#define TPA_STACK_COUNTERS(X)                                                                      \
	X(eth_rx)                                                                                  \
	X(eth_tx)                                                                                  \
	X(eth_drop_short)                                                                          \
	X(eth_drop_not_ours)                                                                       \
	X(eth_drop_ethertype)                                                                      \
	X(eth_tx_drop_full)                                                                        \
	X(arp_rx)                                                                                  \
	X(arp_tx)                                                                                  \
	X(arp_drop_malformed)                                                                      \
	X(arp_queue_drop)                                                                          \
	X(ip_rx)                                                                                   \
	X(ip_tx)                                                                                   \
	X(ip_drop_short)                                                                           \
	X(ip_drop_version)                                                                         \
	X(ip_drop_ihl)                                                                             \
	X(ip_drop_len)                                                                             \
	X(ip_drop_cksum)                                                                           \
	X(ip_drop_fragment)                                                                        \
	X(ip_drop_not_ours)                                                                        \
	X(ip_drop_proto)                                                                           \
	X(ip_drop_no_route)                                                                        \
	X(tcp_rx)                                                                                  \
	X(tcp_tx)                                                                                  \
	X(tcp_tx_direct)                                                                           \
	X(tcp_drop_short)                                                                          \
	X(tcp_drop_cksum)                                                                          \
	X(tcp_rx_csum_partial)                                                                     \
	X(tcp_rx_fast)                                                                             \
	X(tcp_read_direct)                                                                         \
	X(tcp_drop_bad_offset)                                                                     \
	X(tcp_drop_bad_option)                                                                     \
	X(tcp_drop_bad_flags)                                                                      \
	X(tcp_drop_no_socket)                                                                      \
	X(tcp_drop_out_of_window)                                                                  \
	X(tcp_drop_paws)                                                                           \
	X(tcp_stale_ack_data_rx)                                                                   \
	X(tcp_drop_ooo_limit)                                                                      \
	X(tcp_drop_nomem)                                                                          \
	X(tcp_rst_tx)                                                                              \
	X(tcp_rst_rx)                                                                              \
	X(tcp_challenge_ack)                                                                       \
	X(tcp_retransmit)                                                                          \
	X(tcp_fast_retransmit)                                                                     \
	X(tcp_dsack_rx)                                                                            \
	X(tcp_spurious_rtx_undone)                                                                 \
	X(tcp_spurious_rtx_eifel)                                                                  \
	X(tcp_reordering_seen)                                                                     \
	X(tcp_rack_lost)                                                                           \
	X(tcp_rack_reo_timeout)                                                                    \
	X(tcp_tlp_probes)                                                                          \
	X(tcp_tlp_recovered)                                                                       \
	X(tcp_rto_timeout)                                                                         \
	X(tcp_dup_ack_rx)                                                                          \
	X(tcp_dup_segment_rx)                                                                      \
	X(tcp_ooo_rx)                                                                              \
	X(tcp_zero_window_probe)                                                                   \
	X(tcp_keepalive_probe)                                                                     \
	X(tcp_syn_queue_overflow)                                                                  \
	X(tcp_syncookies_sent)                                                                     \
	X(tcp_syncookies_ok)                                                                       \
	X(tcp_syncookies_failed)                                                                   \
	X(tcp_accept_queue_overflow)                                                               \
	X(tcp_conn_established)                                                                    \
	X(tcp_conn_reset)                                                                          \
	X(tcp_conn_timeout)                                                                        \
	X(tcp_bytes_tx)                                                                            \
	X(tcp_bytes_rx)                                                                            \
	X(mbuf_alloc_fail)

struct tpa_stack_stats {
#define TPA_STACK_COUNTER_FIELD(name) uint64_t name;
	TPA_STACK_COUNTERS(TPA_STACK_COUNTER_FIELD)
#undef TPA_STACK_COUNTER_FIELD
};

const struct tpa_stack_stats *tpa_stack_stats(const struct tpa_stack *s);
/* Calls fn for every counter (name, value). */
void tpa_stack_stats_foreach(const struct tpa_stack *s,
                             void (*fn)(void *arg, const char *name, uint64_t value), void *arg);
/* Sockets currently allocated (including orphans in FIN_WAIT/TIME_WAIT). */
uint32_t tpa_stack_socket_count(const struct tpa_stack *s);
/* mbufs the stack currently holds (queues, reassembly, pending output, and its references to
 * sent frames, given back at the first flush after the device is done with them). */
uint32_t tpa_stack_mbufs_held(const struct tpa_stack *s);

/* ---- sockets ------------------------------------------------------------------------- */

/* Readiness bits: equal to EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP. */
#define TPA_EV_IN    0x001u
#define TPA_EV_OUT   0x004u
#define TPA_EV_ERR   0x008u
#define TPA_EV_HUP   0x010u
#define TPA_EV_RDHUP 0x2000u

/* TCP states as in RFC 9293 (values equal Linux's TCP_ESTABLISHED..TCP_CLOSING). */
enum tpa_tcp_state {
	TPA_TCP_ESTABLISHED = 1,
	TPA_TCP_SYN_SENT = 2,
	TPA_TCP_SYN_RECV = 3,
	TPA_TCP_FIN_WAIT1 = 4,
	TPA_TCP_FIN_WAIT2 = 5,
	TPA_TCP_TIME_WAIT = 6,
	TPA_TCP_CLOSED = 7,
	TPA_TCP_CLOSE_WAIT = 8,
	TPA_TCP_LAST_ACK = 9,
	TPA_TCP_LISTEN = 10,
	TPA_TCP_CLOSING = 11,
};

/* Socket options (level-free: the stack has one option space). */
enum tpa_sockopt {
	TPA_SO_NODELAY,      /* int: disable Nagle */
	TPA_SO_CORK,         /* int: hold partial segments */
	TPA_SO_KEEPALIVE,    /* int */
	TPA_SO_KEEPIDLE,     /* int, seconds */
	TPA_SO_KEEPINTVL,    /* int, seconds */
	TPA_SO_KEEPCNT,      /* int */
	TPA_SO_SNDBUF,       /* int, bytes */
	TPA_SO_RCVBUF,       /* int, bytes */
	TPA_SO_LINGER,       /* struct linger */
	TPA_SO_REUSEADDR,    /* int */
	TPA_SO_ERROR,        /* int, get only; returns and clears the pending error */
	TPA_SO_MAXSEG,       /* int */
	TPA_SO_CONGESTION,   /* int: enum tpa_cc_algo */
	TPA_SO_USER_TIMEOUT, /* int, ms; 0 = use retries */
	TPA_SO_NREAD,        /* int, get only: bytes readable (FIONREAD) */
	TPA_SO_NWRITE,       /* int, get only: bytes not yet acknowledged (SIOCOUTQ) */
	TPA_SO_STATE,        /* int, get only: enum tpa_tcp_state */
	TPA_SO_ACCEPTCONN,   /* int, get only */
	TPA_SO_INFO,         /* struct tpa_tcp_info, get only */
};

struct tpa_tcp_info {
	uint32_t state;
	uint32_t rtt_us, rttvar_us, rto_ms;
	uint32_t snd_mss, rcv_mss;
	uint32_t snd_cwnd, snd_ssthresh, snd_wnd, rcv_wnd;
	uint8_t snd_wscale, rcv_wscale, timestamps, sack;
	uint64_t retransmits, bytes_acked, bytes_received;
};

/* Flags accepted by send/recv: the Linux MSG_* values. The stack honours MSG_PEEK (recv),
 * MSG_MORE (send, like TCP_CORK for this call) and MSG_TRUNC (recv: discard); blocking
 * (MSG_DONTWAIT, MSG_WAITALL) and signals (MSG_NOSIGNAL) belong to the layer above. */

int tpa_socket(struct tpa_stack *s);
int tpa_bind(struct tpa_stack *s, int sock, const struct sockaddr *addr, socklen_t len);
int tpa_listen(struct tpa_stack *s, int sock, int backlog);
/* New connected socket, or -EAGAIN. addr/len may be NULL. */
int tpa_accept(struct tpa_stack *s, int sock, struct sockaddr *addr, socklen_t *len);
/* 0 if already connected, -EINPROGRESS when the SYN is on its way (completion shows as
 * TPA_EV_OUT, failure as TPA_EV_ERR with TPA_SO_ERROR), -EALREADY, -EISCONN, ... */
int tpa_connect(struct tpa_stack *s, int sock, const struct sockaddr *addr, socklen_t len);
ssize_t tpa_send(struct tpa_stack *s, int sock, const void *buf, size_t len, int flags);
ssize_t tpa_sendv(struct tpa_stack *s, int sock, const struct iovec *iov, int iovcnt, int flags);
/* Bytes read, 0 at end of stream, -EAGAIN when nothing is there yet. */
ssize_t tpa_recv(struct tpa_stack *s, int sock, void *buf, size_t len, int flags);
ssize_t tpa_recvv(struct tpa_stack *s, int sock, const struct iovec *iov, int iovcnt, int flags);
int tpa_shutdown(struct tpa_stack *s, int sock, int how); /* SHUT_RD, SHUT_WR, SHUT_RDWR */
/* Releases the handle. Graceful FIN unless linger {1,0} or unread data (then RST). The
 * connection may live on internally (FIN_WAIT, TIME_WAIT); the id is not reused until then. */
int tpa_close(struct tpa_stack *s, int sock);
int tpa_setsockopt(struct tpa_stack *s, int sock, enum tpa_sockopt opt, const void *val,
                   socklen_t len);
int tpa_getsockopt(struct tpa_stack *s, int sock, enum tpa_sockopt opt, void *val, socklen_t *len);
int tpa_getsockname(struct tpa_stack *s, int sock, struct sockaddr *addr, socklen_t *len);
int tpa_getpeername(struct tpa_stack *s, int sock, struct sockaddr *addr, socklen_t *len);
/* Current TPA_EV_* readiness. */
uint32_t tpa_sock_events(const struct tpa_stack *s, int sock);
/* What a poll layer looks at on every event, in one lookup: the same values as
 * tpa_sock_events(), TPA_SO_NREAD, TPA_SO_NWRITE and TPA_SO_SNDBUF. */
struct tpa_sock_state {
	uint32_t events;     /* TPA_EV_* */
	uint32_t rcv_queued; /* bytes readable; a listener's connections waiting for accept */
	uint32_t snd_queued; /* bytes not yet acknowledged */
	uint32_t sndbuf;     /* send buffer size */
};
/* 0, or -EBADF for an unknown socket (then events = TPA_EV_ERR | TPA_EV_HUP, the rest 0,
 * as tpa_sock_events() says). */
int tpa_sock_state(const struct tpa_stack *s, int sock, struct tpa_sock_state *st);
/* Inspection (tpa sockets): one socket as a table walk sees it. */
struct tpa_sock_dump {
	int id;
	uint32_t state;           /* enum tpa_tcp_state */
	uint32_t laddr;           /* network byte order */
	uint32_t raddr;           /* network byte order (0 for a listener) */
	uint16_t lport;           /* host byte order */
	uint16_t rport;           /* host byte order */
	uint8_t orphan;           /* the user closed it (FIN_WAIT, TIME_WAIT, ... on its own) */
	uint8_t unaccepted;       /* a listener's child not accepted yet (SYN_RECV or queued) */
	uint32_t rcv_queued;      /* bytes readable */
	uint32_t snd_queued;      /* bytes not yet acknowledged */
	uint32_t backlog;         /* listener: accept queue limit */
	uint32_t acc_queued;      /* listener: connections waiting in accept() */
	uint32_t syn_queued;      /* listener: children in SYN_RECV */
	struct tpa_tcp_info info; /* as TPA_SO_INFO */
};
/* Calls fn for every socket of the table (listeners, connections, orphans, unaccepted
 * children), in id order. Reads only: the walk costs one load per table slot (max_sockets). */
void tpa_stack_sock_foreach(const struct tpa_stack *s,
                            void (*fn)(void *arg, const struct tpa_sock_dump *d), void *arg);
/* An opaque pointer the layer above keeps with a socket (e.g. its fd entry). */
void tpa_sock_set_user(struct tpa_stack *s, int sock, void *user);
void *tpa_sock_get_user(const struct tpa_stack *s, int sock);

#ifdef __cplusplus
}
#endif
#endif
