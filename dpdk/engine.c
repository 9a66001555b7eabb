/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine: starts EAL and one port for a config, runs a tpa stack over it, and connects the
 * stack's hooks to the kernel (port holding, XDP steering, neighbour resolution). See
 * include/tpa/dpdk.h for the contract.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <linux/capability.h>
#include <linux/if_xdp.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "engine_impl.h"
#include "iface.h"
#include "mbuf_pool.h"
#include "port.h"
#include "shm.h"

/* Check the netlink socket this often (neighbour changes are rare), busy or idle: a spinning
 * caller makes every round idle, and a recv() per spin would be most of its cost. */
#define NL_POLL_INTERVAL_NS 1000000ull
/* After a resolve request, check it on every poll for this long. */
#define RESOLVE_WATCH_NS 3000000000ull
/* Sleep slice when the port has no fd to sleep on. */
#define NOFD_SLEEP_NS 50000ll
/* The largest IP MTU whose frames fit one AF_XDP buffer (2048 - 256 bytes of XDP headroom
 * - 14 bytes of Ethernet header), measured: 1779 stalls. */
#define KERNEL_PORT_MAX_MTU 1778u
/* The XDP program's socket map has this many slots (one per queue index). */
#define TPA_ENGINE_QUEUES_MAX 64
/* Packet buffers each extra queue keeps in its fill and Rx rings. */
#define MBUFS_PER_EXTRA_QUEUE 2048u

/* Virtual size of the shared heap holding the engine and its stack (touched only as used). */
#define SHARED_HEAP_SIZE (64ull << 30)

struct tpa_engine {
	struct shm_heap *heap; /* where this struct, the port holds and the stack live */
	pid_t creator;         /* the process that started EAL */
	struct tpa_engine_config cfg;
	struct tpa_engine_info info;
	struct tpa_stack *stack;
	struct rte_mempool *pool;
	/* DPDK ports: on af_xdp one per served queue (net_af_xdp<i>: queue queue_first + i), so
	 * the same code serves a veth (whose driver reports no combined channels, which the PMD
	 * needs for several queues in one port) and a NIC. ports[0] transmits. */
	uint16_t ports[TPA_ENGINE_QUEUES_MAX];
	struct rte_device *devices[TPA_ENGINE_QUEUES_MAX]; /* for removal when hot-plugged */
	uint16_t nports;                                   /* found after probing */
	uint16_t nports_started;                           /* configured and started */
	struct {
		uint16_t port, queue;
	} rxq[TPA_ENGINE_QUEUES_MAX]; /* every (port, queue) received from */
	int eal_started_here;
	int hotplugged; /* EAL was the program's: our device was probed into it */
	int wait_fd;
	unsigned mbufs_held; /* pool objects outside the AF_XDP UMEM, never used (mbuf_pool.h) */
	int iface_lock_fd;   /* iface_lock.c, -1 if none */
	int xsk_fds[TPA_ENGINE_QUEUES_MAX]; /* the PMD's AF_XDP sockets, for XDP_STATISTICS */
	int nxsk;
	int packet_fd;    /* af_packet: the PMD's packet socket */
	uint16_t nq;      /* queues of the port we receive on (all of them, every poll) */
	uint16_t rx_next; /* the queue read first in the next burst: no queue starves */
	int rx_intr;      /* wait_fd is an epoll fd holding the port's Rx event fd (memif) */
	int intr_fd;      /* the port's current Rx event fd, -1 until the link is up */
	uint64_t intr_check_ns;
	int prev_idle;
	int kernel_iface; /* af_xdp / af_packet: the kernel owns the interface and its addresses */
	int guarded;      /* memif: bursts kept apart from EAL's interrupt thread (port_guard.c) */
	struct port_guard guard;
	int memif_client; /* memif client: restarts its port while the link is down */
	struct memif_link memif;
	struct tx_backlog txb; /* frames the port did not take yet (tx_backlog.c) */
	int link_seen_up;      /* memif: the link has been up (a peer took frames) */
	int link_lost;         /* memif: the link went down: what waits for that peer is stale */
	struct fault_state fault;
	struct xdp_ctl xdp;
	int xdp_open;
	struct port_hold *hold;
	uint8_t local_ports[65536 / 8]; /* ports reserved without a kernel (memif, pci) */
	uint8_t steered[65536 / 8];     /* TCP ports steered to the stack */
	uint64_t rx_not_steered;        /* af_packet: frames left to the kernel */
	uint32_t next_local_port;
	struct nl_neigh_watch nl;
	int resolve_fd;
	uint64_t last_nl_ns;
	int nl_due; /* tpa_engine_wait woke up: read the netlink socket on the next round */
	uint64_t resolve_until_ns;
	int watchdog_fd;
	struct {
		uint64_t neigh_updates, neigh_resolves, steer_on, steer_off, steer_fail,
		        reserve_fail, tx_fault_unsent;
	} st;
};

static void intr_refresh(struct tpa_engine *e);

static int wait_add(struct tpa_engine *e, int fd)
{
	if (e->wait_fd < 0 || fd < 0)
		return -EBADF;
	struct epoll_event ev = {.events = EPOLLIN};
	ev.data.fd = fd;
	if (epoll_ctl(e->wait_fd, EPOLL_CTL_ADD, fd, &ev) && errno != EEXIST)
		return -errno;
	return 0;
}

/* 0: no engine yet; 1: one exists; 2: one existed and cleaned EAL up (cannot restart). */
static int engine_state;
/* EAL keeps pointers into argv; they live as long as the process. */
static struct eal_args eal_argv_keep;

uint64_t tpa_engine_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t clock_now(void *ctx)
{
	(void)ctx;
	return tpa_engine_now_ns();
}

/* ---- netdev over the port --------------------------------------------------------------- */

/* Every queue, starting one further each burst so a busy queue never starves the others. A
 * flow may move between queues at any time (the sender rehashes it): the stack has one socket
 * table for all of them, so the queue a segment came in on does not matter. */
static uint16_t rx_queues(struct tpa_engine *e, struct rte_mbuf **pkts, uint16_t max)
{
	if (e->nq == 1)
		return rte_eth_rx_burst(e->rxq[0].port, e->rxq[0].queue, pkts, max);
	uint16_t n = 0;
	uint16_t q = e->rx_next;
	for (uint16_t i = 0; i < e->nq && n < max; i++) {
		n += rte_eth_rx_burst(e->rxq[q].port, e->rxq[q].queue, pkts + n,
		                      (uint16_t)(max - n));
		if (++q == e->nq)
			q = 0;
	}
	if (++e->rx_next == e->nq)
		e->rx_next = 0;
	return n;
}

static uint16_t rx_all_queues(struct tpa_engine *e, struct rte_mbuf **pkts, uint16_t max)
{
	if (!e->guarded)
		return rx_queues(e, pkts, max);
	if (!port_guard_enter(&e->guard))
		return 0; /* the link is changing: nothing to read */
	uint16_t n = rx_queues(e, pkts, max);
	port_guard_leave(&e->guard);
	return n;
}

static uint16_t tx_port(struct tpa_engine *e, struct rte_mbuf **pkts, uint16_t n)
{
	if (!e->guarded)
		return rte_eth_tx_burst(e->info.port_id, 0, pkts, n);
	uint16_t sent = 0;
	/* The interrupt side holds the port while the link changes: as a full ring. */
	if (port_guard_enter(&e->guard)) {
		sent = rte_eth_tx_burst(e->info.port_id, 0, pkts, n);
		port_guard_leave(&e->guard);
	}
	struct rte_eth_link link;
	if (sent)
		e->link_seen_up = 1;
	else if (n && e->link_seen_up && rte_eth_link_get_nowait(e->info.port_id, &link) == 0 &&
	         !link.link_status)
		e->link_lost = 1; /* the peer went; the next one must not get its frames */
	return sent;
}

/* Frames held for a memif peer that went are dropped, not sent to the next one. */
static void tx_link_check(struct tpa_engine *e)
{
	if (e->link_lost) {
		e->link_lost = 0;
		tx_backlog_discard(&e->txb);
	}
}

static uint16_t tx_port_cb(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	return tx_port(ctx, pkts, n);
}

/* The XDP program's decision, for a packet socket that sees every frame of the interface:
 * IPv4 TCP, not a fragment, to our address and a steered port. The rest is the kernel's, and
 * the stack must not answer it (a RST to a kernel connection's SYN). */
static int frame_is_steered(const struct tpa_engine *e, const struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	if (len < 14 + 20 + 4 || f[12] != 0x08 || f[13] != 0x00)
		return 0;
	const uint8_t *ip = f + 14;
	uint32_t ihl = (uint32_t)(ip[0] & 0xf) * 4;
	if ((ip[0] >> 4) != 4 || ihl < 20 || len < 14 + ihl + 4 || ip[9] != IPPROTO_TCP ||
	    ((ip[6] & 0x3f) | ip[7]) != 0 || memcmp(ip + 16, &e->info.ipv4_addr, 4))
		return 0;
	uint16_t dport = (uint16_t)(ip[ihl + 2] << 8 | ip[ihl + 3]);
	return (e->steered[dport / 8] >> (dport % 8)) & 1;
}

static uint16_t keep_steered(struct tpa_engine *e, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t k = 0;
	for (uint16_t i = 0; i < n; i++) {
		if (frame_is_steered(e, pkts[i])) {
			pkts[k++] = pkts[i];
		} else {
			rte_pktmbuf_free(pkts[i]);
			e->rx_not_steered++;
		}
	}
	return k;
}

static uint16_t nd_rx(void *ctx, struct rte_mbuf **pkts, uint16_t max)
{
	struct tpa_engine *e = ctx;
	if (e->cfg.port_kind == TPA_PORT_AF_PACKET && e->cfg.xdp_steer) {
		uint16_t n = keep_steered(e, pkts, rx_all_queues(e, pkts, max));
		return e->fault.active ? fault_apply(&e->fault, &e->fault.rx, e->pool, pkts, n, max)
		                       : n;
	}
	if (!e->fault.active)
		return rx_all_queues(e, pkts, max);
	/* Leave room for duplicates and frames released from the reorder hold. */
	uint16_t want = max > 2 ? max / 2 : 1;
	uint16_t n = rx_all_queues(e, pkts, want);
	return fault_apply(&e->fault, &e->fault.rx, e->pool, pkts, n, max);
}

static uint16_t nd_tx(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	struct tpa_engine *e = ctx;
	/* What the port does not take waits for room (backpressure), in order. */
	if (!e->fault.active) {
		tx_backlog_send(&e->txb, tx_port_cb, e, pkts, n);
		tx_link_check(e);
		return n;
	}
	struct rte_mbuf *out[512];
	if (n > 256)
		n = 256;
	memcpy(out, pkts, n * sizeof(pkts[0]));
	uint16_t m = fault_apply(&e->fault, &e->fault.tx, e->pool, out, n, 512);
	uint16_t sent = tx_port(e, out, m);
	/* Under fault injection a full ring is one more loss, not back-pressure. */
	for (uint16_t i = sent; i < m; i++) {
		rte_pktmbuf_free(out[i]);
		e->st.tx_fault_unsent++;
	}
	return n;
}

/* ---- stack hooks ------------------------------------------------------------------------ */

static int hook_port_reserve(void *ctx, uint32_t laddr_be, uint16_t *port)
{
	struct tpa_engine *e = ctx;
	(void)laddr_be;
	if (e->kernel_iface) {
		int rc = port_hold_reserve(e->hold, port);
		if (rc)
			e->st.reserve_fail++;
		return rc;
	}
	/* No kernel on this port: the engine owns the whole ephemeral range. */
	for (uint32_t i = 0; i < 16384; i++) {
		uint32_t p = 49152 + (e->next_local_port++ % 16384);
		if (!(e->local_ports[p / 8] & (1u << (p % 8)))) {
			e->local_ports[p / 8] |= (uint8_t)(1u << (p % 8));
			*port = (uint16_t)p;
			return 0;
		}
	}
	e->st.reserve_fail++;
	return -EADDRNOTAVAIL;
}

static void hook_port_release(void *ctx, uint16_t port)
{
	struct tpa_engine *e = ctx;
	if (e->kernel_iface)
		port_hold_drop(e->hold, port);
	else
		e->local_ports[port / 8] &= (uint8_t) ~(1u << (port % 8));
}

int tpa_engine_steer_port(struct tpa_engine *e, uint16_t port, int on)
{
	if (!e || !port)
		return -EINVAL;
	int rc = 0;
	if (on)
		e->steered[port / 8] |= (uint8_t)(1u << (port % 8));
	else
		e->steered[port / 8] &= (uint8_t) ~(1u << (port % 8));
	if (on) {
		e->st.steer_on++;
		if (e->kernel_iface)
			rc = port_hold_take(e->hold, port);
		if (!rc && e->xdp_open)
			rc = xdp_ctl_steer(&e->xdp, port, 1);
	} else {
		e->st.steer_off++;
		if (e->xdp_open)
			rc = xdp_ctl_steer(&e->xdp, port, 0);
		/* A reserved port stays held until port_release; a listener's hold goes now. */
		if (e->kernel_iface && !(e->hold->reserved[port / 8] & (1u << (port % 8))))
			port_hold_drop(e->hold, port);
	}
	if (rc)
		e->st.steer_fail++;
	return rc;
}

static void hook_port_steer(void *ctx, uint16_t port, int on)
{
	tpa_engine_steer_port(ctx, port, on);
}

static void hook_neigh_resolve(void *ctx, uint32_t ip_be)
{
	struct tpa_engine *e = ctx;
	e->st.neigh_resolves++;
	/* A datagram to the discard port makes the kernel resolve the address (ARP) like for
	 * any of its own packets; the answer comes back as an RTM_NEWNEIGH notification. An
	 * entry the kernel already has produces no notification, so read the table again too. */
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9)};
	sa.sin_addr.s_addr = ip_be;
	if (e->resolve_fd >= 0)
		(void)!sendto(e->resolve_fd, "", 0, MSG_DONTWAIT, (struct sockaddr *)&sa,
		              sizeof(sa));
	e->resolve_until_ns = tpa_engine_now_ns() + RESOLVE_WATCH_NS;
}

/* The stack has one ctx for all hooks (the engine's); the caller's sock_event has its own. */
static void hook_sock_event(void *ctx, int sock, uint32_t events)
{
	struct tpa_engine *e = ctx;
	e->cfg.sock_event(e->cfg.sock_event_ctx, sock, events);
}

static void neigh_to_stack(void *arg, uint32_t ip_be, const uint8_t *mac)
{
	struct tpa_engine *e = arg;
	e->st.neigh_updates++;
	if (e->stack)
		tpa_stack_neigh_update(e->stack, ip_be, mac);
}

/* The stack's state goes to the shared heap with the engine: a fork child drives the same
 * stack (the callers' lock serialises every process). */
static void *stack_shm_alloc(void *ctx, size_t size)
{
	return shm_alloc(ctx, size);
}

static void stack_shm_free(void *ctx, void *p)
{
	shm_free(ctx, p);
}

/* ---- create ----------------------------------------------------------------------------- */

static int find_xdp_prog(const struct tpa_engine_config *cfg, char *out, size_t len, char *err,
                         size_t errlen)
{
	if (cfg->xdp_prog[0]) {
		if (access(cfg->xdp_prog, R_OK))
			return engine_seterr(err, errlen, ENOENT,
			                     "TPA_XDP_PROG: cannot read '%s': %s", cfg->xdp_prog,
			                     strerror(errno));
		snprintf(out, len, "%s", cfg->xdp_prog);
		return 0;
	}
	/* Relative to the library or program this code is linked into: <libdir>/tpa/ for a
	 * library, <prefix>/<libdir>/tpa/ for a program in <prefix>/bin (relocatable installs). */
	Dl_info di;
	if (dladdr((void *)find_xdp_prog, &di) && di.dli_fname) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", di.dli_fname);
		char *slash = strrchr(dir, '/');
		if (slash) {
			*slash = '\0';
			const char *rel[] = {"", "/../" TPA_INSTALL_LIBDIR};
			for (size_t i = 0; i < 2; i++) {
				snprintf(out, len, "%s%s/tpa/tpa_steer.bpf.o", dir, rel[i]);
				if (!access(out, R_OK))
					return 0;
			}
		}
	}
	const char *candidates[] = {TPA_XDP_OBJ_INSTALL, TPA_XDP_OBJ_BUILD};
	for (size_t i = 0; i < 2; i++)
		if (!access(candidates[i], R_OK)) {
			snprintf(out, len, "%s", candidates[i]);
			return 0;
		}
	return engine_seterr(err, errlen, ENOENT,
	                     "TPA_XDP_PROG: no steering program found (looked in %s and %s); set "
	                     "TPA_XDP_PROG to tpa_steer.bpf.o",
	                     TPA_XDP_OBJ_INSTALL, TPA_XDP_OBJ_BUILD);
}

static int validate(const struct tpa_engine_config *cfg, char *err, size_t errlen)
{
	switch (cfg->port_kind) {
	case TPA_PORT_AF_XDP:
	case TPA_PORT_AF_PACKET:
		if (!cfg->iface[0])
			return engine_seterr(err, errlen, EINVAL,
			                     "TPA_IFACE: required for port type %s (the kernel "
			                     "interface to run on)",
			                     cfg->port_kind == TPA_PORT_AF_XDP ? "af_xdp"
			                                                       : "af_packet");
		break;
	case TPA_PORT_MEMIF:
		if (!cfg->ipv4_addr)
			return engine_seterr(
			        err, errlen, EINVAL,
			        "TPA_IP: required for port type memif (there is no kernel "
			        "interface to learn it from)");
		if (!cfg->memif_socket[0])
			return engine_seterr(err, errlen, EINVAL,
			                     "TPA_MEMIF_SOCKET: required for port type memif");
		break;
	case TPA_PORT_PCI:
		if (!cfg->pci_addr[0])
			return engine_seterr(err, errlen, EINVAL,
			                     "TPA_PCI_ADDR: required for port type pci");
		if (!cfg->ipv4_addr)
			return engine_seterr(err, errlen, EINVAL,
			                     "TPA_IP: required for port type pci");
		break;
	default:
		return engine_seterr(err, errlen, EINVAL, "TPA_PORT_TYPE: unknown port kind %d",
		                     (int)cfg->port_kind);
	}
	if (cfg->mbufs < 1024)
		return engine_seterr(err, errlen, EINVAL, "TPA_MBUFS: at least 1024 (got %u)",
		                     cfg->mbufs);
	return 0;
}

/* TPA_MBUFS, plus what every extra queue keeps in its rings. */
static unsigned pool_mbufs(const struct tpa_engine *e)
{
	return e->cfg.mbufs + (e->nq - 1u) * MBUFS_PER_EXTRA_QUEUE;
}

/* Start EAL with the calling thread as its only lcore, keeping the thread's CPU affinity. */
static int start_eal(struct tpa_engine *e, const char *devargs, char *err, size_t errlen)
{
	cpu_set_t saved;
	CPU_ZERO(&saved);
	int have_aff = pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) == 0;
	int cpu = 0;
	if (have_aff)
		for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &saved); cpu++)
			;
	if (cpu >= CPU_SETSIZE)
		cpu = 0;
	struct eal_args a;
	int rc = eal_args_build(&a, &e->cfg, devargs, pool_mbufs(e), cpu, err, errlen);
	if (rc)
		return rc;
	/* rte_eal_init permutes argv; give it a copy. The strings stay for the process's life
	 * once EAL runs on them. */
	char *argv[EAL_ARGS_MAX];
	memcpy(argv, a.argv, sizeof(argv));
	/* A program that runs EAL itself has lcores already: do not ask EAL to start twice. */
	int eal_errno = EALREADY;
	rc = -1;
	if (rte_lcore_count() == 0) {
		/* EAL's threads (interrupts, multi-process) inherit this mask: they must never
		 * take the program's signals, or a SIGCHLD handled there leaves the thread that
		 * waits for it in sigsuspend for ever. */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		rc = rte_eal_init(a.argc, argv);
		eal_errno = rte_errno;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (have_aff)
		pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
	if (rc < 0 && eal_errno == EALREADY) {
		eal_args_free(&a);
		/* The program runs EAL itself: hot-plug our devices into it. */
		e->hotplugged = 1;
		for (const char *d = devargs; *d;) {
			size_t l = strcspn(d, "\n");
			char one[TPA_ENGINE_PATH_MAX + 128];
			snprintf(one, sizeof(one), "%.*s", (int)l, d);
			rc = rte_dev_probe(one);
			if (rc < 0)
				return engine_seterr(
				        err, errlen, -rc,
				        "EAL was already running; probing %s failed: %s", one,
				        rte_strerror(-rc));
			d += l + (d[l] == '\n');
		}
		return 0;
	}
	if (rc < 0) {
		char cmd[512] = "";
		size_t off = 0;
		for (int i = 0; i < a.argc && off < sizeof(cmd) - 2; i++)
			off += (size_t)snprintf(cmd + off, sizeof(cmd) - off, "%s%s", i ? " " : "",
			                        a.argv[i]);
		eal_args_free(&a);
		return engine_seterr(err, errlen, eal_errno ? eal_errno : EINVAL,
		                     "DPDK EAL failed to start (%s); arguments: %s",
		                     rte_strerror(eal_errno), cmd);
	}
	eal_argv_keep = a;
	e->eal_started_here = 1;
	return 0;
}

/* The ports our device strings made: net_af_xdp0..N-1 on af_xdp, else the one port. */
static int find_ports(struct tpa_engine *e)
{
	const struct tpa_engine_config *cfg = &e->cfg;
	uint16_t want = cfg->port_kind == TPA_PORT_AF_XDP ? e->nq : 1;
	for (uint16_t i = 0; i < want; i++) {
		char name[RTE_ETH_NAME_MAX_LEN];
		if (cfg->port_kind == TPA_PORT_AF_XDP)
			snprintf(name, sizeof(name), "net_af_xdp%u", i);
		else
			snprintf(name, sizeof(name), "%s",
			         cfg->port_kind == TPA_PORT_AF_PACKET ? "net_af_packet0"
			         : cfg->port_kind == TPA_PORT_MEMIF   ? "net_memif0"
			                                              : cfg->pci_addr);
		uint16_t p;
		if (rte_eth_dev_get_port_by_name(name, &p)) {
			if (cfg->port_kind == TPA_PORT_AF_XDP)
				return -ENODEV;
			/* A PCI device may be named differently: take the only port. */
			int found = 0;
			RTE_ETH_FOREACH_DEV(p)
			{
				found = 1;
				break;
			}
			if (!found)
				return -ENODEV;
		}
		struct rte_eth_dev_info di;
		e->devices[e->nports] = rte_eth_dev_info_get(p, &di) == 0 ? di.device : NULL;
		e->ports[e->nports++] = p;
	}
	return 0;
}

/*
 * Configure and start every port; on af_xdp note each port's AF_XDP socket (a new AF_XDP fd
 * after its setup) and, when steering, leave only the last port's instance of the XDP
 * program attached: each port loads its own, and the PMD attaches only to an interface
 * without a program. The caller then points the attached instance at every socket.
 */
static int start_ports(struct tpa_engine *e, int wait_domain, int use_xdp, uint32_t *rx_offloads,
                       int *rx_intr, char *err, size_t errlen)
{
	struct tpa_engine_info *in = &e->info;
	uint16_t queues_per_port = e->cfg.port_kind == TPA_PORT_AF_XDP ? 1 : e->nq;
	static uint8_t before[PORT_FD_BITS / 8];
	for (uint16_t i = 0; i < e->nports; i++) {
		if (wait_domain == AF_XDP)
			socket_fds_snapshot(wait_domain, before, PORT_FD_BITS);
		int rc = port_setup(e->ports[i], e->pool, queues_per_port,
		                    e->cfg.port_kind == TPA_PORT_MEMIF, &in->tx_offloads,
		                    rx_offloads, rx_intr, err, errlen);
		if (rc)
			return rc;
		e->nports_started++;
		for (uint16_t q = 0; q < queues_per_port; q++) {
			e->rxq[i * queues_per_port + q].port = e->ports[i];
			e->rxq[i * queues_per_port + q].queue = q;
		}
		int fd = -1;
		if (wait_domain == AF_XDP) {
			if (socket_fds_new(wait_domain, before, PORT_FD_BITS, &fd, 1) != 1)
				return engine_seterr(err, errlen, EIO,
				                     "port %u: no new AF_XDP socket after start",
				                     e->ports[i]);
			e->xsk_fds[e->nxsk++] = fd;
		}
		if (use_xdp && i + 1 < e->nports && (rc = xdp_ctl_detach_current(in->ifindex)) < 0)
			return engine_seterr(err, errlen, -rc,
			                     "XDP: cannot detach port %u's program before the next "
			                     "queue's: %s",
			                     e->ports[i], strerror(-rc));
	}
	return 0;
}

/* A fork child that is the last of its family to leave: what the outside world sees goes
 * (the XDP program, held ports, the watchdog, the interface lock with our fds); DPDK's own
 * state is left to the process exit, since EAL's threads and heap bookkeeping exist only in
 * the creator. */
/* Detach XDP and stop the watchdog; a process that dropped its privileges since the engine
 * started cannot detach, so it leaves the watchdog armed: it detaches once every process of
 * the family has closed its command socket. */
static void engine_detach(struct tpa_engine *e)
{
	int rc = 0;
	if (e->xdp_open)
		rc = xdp_ctl_close(&e->xdp, 1);
	e->xdp_open = 0;
	if (rc < 0 && e->watchdog_fd >= 0)
		close(e->watchdog_fd);
	else
		watchdog_stop(e->watchdog_fd);
	e->watchdog_fd = -1;
}

static void engine_leave_forked(struct tpa_engine *e)
{
	engine_detach(e);
	if (e->hold)
		port_hold_release_all(e->hold);
	if (e->iface_lock_fd >= 0)
		close(e->iface_lock_fd);
	e->iface_lock_fd = -1;
	iface_lock_remove_at_exit();
}

static void engine_free(struct tpa_engine *e)
{
	if (e->creator != getpid()) {
		engine_leave_forked(e);
		return;
	}
	if (e->stack)
		tpa_stack_destroy(e->stack);
	e->stack = NULL;
	tx_backlog_release(&e->txb);
	fault_release(&e->fault);
	/* EAL's interrupt thread runs net_memif's control channel: kept out while the port stops
	 * and closes, and after that if EAL stays without the port (port_guard.c). */
	if (e->guarded)
		port_guard_lock(&e->guard);
	for (uint16_t i = 0; i < e->nports_started; i++)
		rte_eth_dev_stop(e->ports[i]);
	for (uint16_t i = 0; i < e->nports; i++) {
		rte_eth_dev_close(e->ports[i]);
		/* In a program's own EAL the device must go too, or the next engine cannot probe
		 * it. */
		if (e->hotplugged && e->devices[i])
			rte_dev_remove(e->devices[i]);
	}
	e->nports_started = e->nports = 0;
	if (e->guarded)
		port_guard_retire(&e->guard, !e->hotplugged);
	e->guarded = 0;
	engine_detach(e);
	if (e->hold) {
		port_hold_release_all(e->hold);
		shm_free(e->heap, e->hold);
	}
	nl_neigh_close(&e->nl);
	if (e->resolve_fd >= 0)
		close(e->resolve_fd);
	if (e->wait_fd >= 0)
		close(e->wait_fd);
	if (e->pool)
		rte_mempool_free(e->pool);
	if (e->iface_lock_fd >= 0)
		close(e->iface_lock_fd);
	if (e->eal_started_here) {
		rte_eal_cleanup();
		/* EAL is done with its arguments only now. */
		eal_args_free(&eal_argv_keep);
		engine_state = 2;
	} else {
		engine_state = 0;
	}
	shm_heap_destroy(e->heap);
}

/* One more line for the user (tpa_engine_info.notice): appended after any earlier one. */
static void add_notice(struct tpa_engine_info *in, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void add_notice(struct tpa_engine_info *in, const char *fmt, ...)
{
	size_t used = strlen(in->notice);
	if (used && used + 2 < sizeof(in->notice)) {
		memcpy(in->notice + used, "; ", 3);
		used += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(in->notice + used, sizeof(in->notice) - used, fmt, ap);
	va_end(ap);
}

/*
 * Which device queues to serve, and whether to trust partial checksums. On a kernel interface
 * the default is every receive queue it uses: the kernel (or the NIC's RSS) spreads flows over
 * them, and a queue without our socket hands its share of the steered flows to the kernel.
 */
static int choose_queues(struct tpa_engine *e, char *err, size_t errlen)
{
	const struct tpa_engine_config *cfg = &e->cfg;
	struct tpa_engine_info *in = &e->info;
	in->queue_first = (uint16_t)cfg->queue;
	in->queue_count = 1;
	e->nq = 1;
	struct iface_probe ip = {0};
	if (e->kernel_iface) {
		int rc = iface_probe(cfg->iface, &ip);
		if (rc)
			return engine_seterr(err, errlen, -rc, "TPA_IFACE: %s: %s", cfg->iface,
			                     strerror(-rc));
		snprintf(in->driver, sizeof(in->driver), "%s", ip.driver);
		in->iface_queues = (uint16_t)ip.rx_queues;
		in->rx_csum_partial = cfg->rx_csum_partial < 0 ? ip.local_partial_csum
		                                               : (uint8_t)cfg->rx_csum_partial;
	} else if (cfg->rx_csum_partial > 0) {
		in->rx_csum_partial = 1;
	}
	if (cfg->port_kind == TPA_PORT_PCI && cfg->queue_count > 1)
		e->nq = (uint16_t)cfg->queue_count;
	if (cfg->port_kind != TPA_PORT_AF_XDP)
		return 0; /* a packet socket sees every queue; memif has one */
	if (cfg->queue >= ip.rx_queues)
		return engine_seterr(err, errlen, EINVAL,
		                     "TPA_QUEUES: queue %u does not exist: %s receives on queues "
		                     "0-%u (see ethtool -l %s)",
		                     cfg->queue, cfg->iface, ip.rx_queues - 1, cfg->iface);
	unsigned n = cfg->queue_count ? cfg->queue_count : ip.rx_queues - cfg->queue;
	if (cfg->queue + n > ip.rx_queues)
		return engine_seterr(err, errlen, EINVAL,
		                     "TPA_QUEUES: queues %u-%u asked, %s receives on queues 0-%u "
		                     "(see ethtool -l %s)",
		                     cfg->queue, cfg->queue + n - 1, cfg->iface, ip.rx_queues - 1,
		                     cfg->iface);
	if (cfg->queue + n > TPA_ENGINE_QUEUES_MAX)
		return engine_seterr(
		        err, errlen, EINVAL,
		        "TPA_QUEUES: %s receives on %u queues; tpa serves queues 0-%d: "
		        "lower the count (ethtool -L %s combined %d) or set "
		        "TPA_QUEUES to a range that flow steering feeds",
		        cfg->iface, ip.rx_queues, TPA_ENGINE_QUEUES_MAX - 1, cfg->iface,
		        TPA_ENGINE_QUEUES_MAX);
	e->nq = (uint16_t)n;
	in->queue_count = (uint16_t)n;
	if (n < ip.rx_queues)
		add_notice(
		        in,
		        "TPA_QUEUES: serving queues %u-%u of %s's %u: steered flows the interface "
		        "hashes to other queues go to the kernel (counter xdp_no_socket); use "
		        "TPA_QUEUES=all unless flow steering (ethtool -N) feeds these queues",
		        cfg->queue, cfg->queue + n - 1, cfg->iface, ip.rx_queues);
	return 0;
}

/* The kernel interface ports need raw sockets and, for steering, BPF and netlink admin. */
static int has_net_privileges(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return 1; /* cannot tell: let the port say what is missing */
	return (d[0].effective & (1u << CAP_NET_RAW)) && (d[0].effective & (1u << CAP_NET_ADMIN));
}

struct tpa_engine *tpa_engine_create(const struct tpa_engine_config *cfg, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!cfg) {
		errno = EINVAL;
		engine_seterr(err, errlen, EINVAL, "tpa_engine_create: no config");
		return NULL;
	}
	if (engine_state) {
		errno = EALREADY;
		engine_seterr(err, errlen, EALREADY,
		              engine_state == 1 ? "an engine already exists in this process (one "
		                                  "per process)"
		                                : "DPDK was shut down by a previous engine and "
		                                  "cannot restart in this process");
		return NULL;
	}
	int rc = validate(cfg, err, errlen);
	if (rc) {
		errno = -rc;
		return NULL;
	}
	struct shm_heap *heap = shm_heap_create(SHARED_HEAP_SIZE);
	struct tpa_engine *e = heap ? shm_alloc(heap, sizeof(*e)) : NULL;
	if (!e) {
		int en = errno ? errno : ENOMEM;
		shm_heap_destroy(heap);
		errno = en;
		engine_seterr(err, errlen, en, "shared memory for the engine: %s", strerror(en));
		return NULL;
	}
	memset(e, 0, sizeof(*e));
	e->heap = heap;
	e->creator = getpid();
	e->cfg = *cfg;
	e->wait_fd = e->resolve_fd = e->watchdog_fd = e->intr_fd = e->iface_lock_fd = -1;
	e->packet_fd = -1;
	e->nq = 1;
	e->nl.fd = -1;
	tx_backlog_init(&e->txb);
	engine_state = 1;
	e->kernel_iface = cfg->port_kind == TPA_PORT_AF_XDP || cfg->port_kind == TPA_PORT_AF_PACKET;
	/* Without a kernel, each process picks its own ephemeral ports, and a peer may still hold
	 * the connections of the previous process on the same address (it exited before their
	 * last ACK): a new SYN on one of those 4-tuples costs a reset and a 1 s SYN timeout. Start
	 * where the clock points, one port per millisecond, so that successive processes use
	 * different ports (the range wraps every 16.4 s). */
	e->next_local_port = (uint32_t)(tpa_engine_now_ns() / 1000000u);

	/* Addresses: the kernel's, then overrides. */
	struct tpa_engine_info *in = &e->info;
	in->mtu = 1500;
	in->ipv4_prefix_len = 24;
	if (e->kernel_iface) {
		struct nl_link_info li;
		if ((rc = nl_learn_link(cfg->iface, &li, err, errlen)))
			goto fail;
		snprintf(in->iface, sizeof(in->iface), "%s", cfg->iface);
		in->ifindex = li.ifindex;
		memcpy(in->mac, li.mac, 6);
		if (li.mtu)
			in->mtu = (uint16_t)(li.mtu > 9000 ? 9000 : li.mtu);
		in->ipv4_addr = li.ipv4_addr;
		in->ipv4_prefix_len = li.prefix_len ? li.prefix_len : 24;
		in->ipv4_gateway = li.gateway;
		if (!has_net_privileges()) {
			rc = engine_seterr(
			        err, errlen, EPERM,
			        "TPA_PORT_TYPE=%s needs root (CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF "
			        "or "
			        "CAP_SYS_ADMIN, CAP_IPC_LOCK) when a selected port is listened on "
			        "or connected to: start the program as root (it may drop them "
			        "later, nginx `user www-data;` included)",
			        cfg->port_kind == TPA_PORT_AF_XDP ? "af_xdp" : "af_packet");
			goto fail;
		}
		/* Before anything touches the interface (a stale XDP program is only stale if its
		 * owner is gone). */
		if ((rc = iface_lock_take(in->ifindex, cfg->iface, &e->iface_lock_fd, err, errlen)))
			goto fail;
	}
	if (cfg->ipv4_addr) {
		in->ipv4_addr = cfg->ipv4_addr;
		in->ipv4_prefix_len = cfg->ipv4_prefix_len ? cfg->ipv4_prefix_len : 24;
	}
	if (cfg->ipv4_gateway_set)
		in->ipv4_gateway = cfg->ipv4_gateway;
	if (cfg->mtu)
		in->mtu = cfg->mtu;
	/* AF_XDP copies a frame into one 2 KiB buffer after its 256-byte XDP headroom: a larger
	 * frame is dropped by the kernel (xsk_rx_dropped) and its connection stalls. The MSS the
	 * stack advertises keeps peers' segments within the MTU it uses. */
	if (e->kernel_iface && in->mtu > KERNEL_PORT_MAX_MTU) {
		add_notice(in,
		           "%s has MTU %u: tpa uses %u, the largest frame its packet buffers "
		           "take, and advertises the matching MSS",
		           cfg->iface, in->mtu, KERNEL_PORT_MAX_MTU);
		in->mtu = KERNEL_PORT_MAX_MTU;
	}
	if (cfg->mac_set)
		memcpy(in->mac, cfg->mac, 6);
	if (!in->ipv4_addr) {
		rc = engine_seterr(
		        err, errlen, EADDRNOTAVAIL,
		        "TPA_IP: interface %s has no IPv4 address; assign one or set TPA_IP",
		        cfg->iface);
		goto fail;
	}

	/* Steering (XDP for af_xdp, a tc filter for af_packet): the object, a stale copy of it,
	 * the watchdog (before EAL: see watchdog.c). */
	char xdp_prog[TPA_ENGINE_PATH_MAX] = "";
	int use_xdp = cfg->port_kind == TPA_PORT_AF_XDP && cfg->xdp_steer;
	int use_tc = cfg->port_kind == TPA_PORT_AF_PACKET && cfg->xdp_steer;
	if (use_xdp || use_tc) {
		if ((rc = find_xdp_prog(cfg, xdp_prog, sizeof(xdp_prog), err, errlen)))
			goto fail;
		if (use_xdp && (rc = xdp_ctl_clear_stale(in->ifindex, err, errlen)) < 0)
			goto fail;
		if (cfg->watchdog) {
			rc = watchdog_start(err, errlen);
			if (rc < 0)
				goto fail;
			e->watchdog_fd = rc;
			watchdog_lock_file(rc, iface_lock_path());
		}
	}

	if ((rc = choose_queues(e, err, errlen)))
		goto fail;
	static uint8_t packet_before[PORT_FD_BITS / 8];
	const size_t devargs_len = (size_t)TPA_ENGINE_QUEUES_MAX * (TPA_ENGINE_PATH_MAX + 128);
	char *devargs = malloc(devargs_len);
	if (!devargs) {
		rc = engine_seterr(err, errlen, ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = port_devargs(cfg, xdp_prog, in->queue_first, e->nq, devargs, devargs_len)))
		engine_seterr(err, errlen, -rc, "device arguments too long");
	else {
		if (cfg->port_kind == TPA_PORT_AF_PACKET)
			socket_fds_snapshot(AF_PACKET, packet_before, PORT_FD_BITS);
		rc = start_eal(e, devargs, err, errlen);
	}
	if (!rc && (rc = find_ports(e)))
		engine_seterr(err, errlen, -rc, "no DPDK port after probing '%.200s'", devargs);
	free(devargs);
	if (rc)
		goto fail;
	uint16_t port_id = e->ports[0];
	in->port_id = port_id;
	rte_eth_dev_get_name_by_port(port_id, in->port_name);
	in->numa_node = rte_eth_dev_socket_id(port_id);

	char pool_name[RTE_MEMPOOL_NAMESIZE];
	snprintf(pool_name, sizeof(pool_name), "tpa_%d", (int)getpid());
	e->pool = mbuf_pool_create(pool_name, pool_mbufs(e),
	                           in->numa_node < 0 ? SOCKET_ID_ANY : in->numa_node,
	                           cfg->port_kind == TPA_PORT_AF_XDP, &e->mbufs_held);
	if (!e->pool) {
		rc = engine_seterr(err, errlen, rte_errno ? rte_errno : ENOMEM,
		                   "mbuf pool of %u: %s (TPA_MBUFS, TPA_HUGEPAGES)", cfg->mbufs,
		                   rte_strerror(rte_errno));
		goto fail;
	}

	int wait_domain = cfg->port_kind == TPA_PORT_AF_XDP      ? AF_XDP
	                  : cfg->port_kind == TPA_PORT_AF_PACKET ? AF_PACKET
	                                                         : -1;
	int rx_intr = 0;
	uint32_t rx_offloads = 0;
	if (cfg->port_kind == TPA_PORT_MEMIF) {
		port_guard_install(&e->guard);
		e->guarded = 1;
		e->memif_client = cfg->memif_role == TPA_MEMIF_CLIENT;
		memif_link_init(&e->memif, tpa_engine_now_ns());
	}
	if ((rc = start_ports(e, wait_domain, use_xdp, &rx_offloads, &rx_intr, err, errlen)))
		goto fail;
	/* The af_packet PMD opens its socket when EAL probes the device. */
	if (cfg->port_kind == TPA_PORT_AF_PACKET &&
	    socket_fds_new(AF_PACKET, packet_before, PORT_FD_BITS, &e->packet_fd, 1) != 1)
		e->packet_fd = -1; /* then sleepers wake on timers and netlink only */
	if (!e->kernel_iface && !cfg->mac_set) {
		struct rte_ether_addr ma;
		if (rte_eth_macaddr_get(port_id, &ma) == 0)
			memcpy(in->mac, ma.addr_bytes, 6);
	} else if (cfg->port_kind == TPA_PORT_PCI && cfg->mac_set) {
		struct rte_ether_addr ma;
		memcpy(ma.addr_bytes, cfg->mac, 6);
		rte_eth_dev_default_mac_addr_set(port_id, &ma);
	}
	if (cfg->port_kind == TPA_PORT_PCI && !cfg->mtu) {
		uint16_t mtu;
		if (rte_eth_dev_get_mtu(port_id, &mtu) == 0)
			in->mtu = mtu;
	}

	/* The fd we hand out is an epoll fd holding everything that should wake a sleeper: the
	 * ports' sockets (af_xdp, af_packet) or Rx event fd (memif: created only once the peer
	 * connects, and anew on every reconnect, hence the indirection) and the netlink socket
	 * (a neighbour answer must wake a thread waiting to send its SYN). */
	/* A PMD without Rx interrupt support (memif in DPDK 22.11) leaves us without a wait fd:
	 * tpa_engine_wait() then polls in short slices. */
	if (rx_intr && rte_eth_dev_rx_intr_enable(port_id, 0) == -ENOTSUP)
		rx_intr = 0;
	if (wait_domain >= 0 || rx_intr) {
		e->wait_fd = epoll_create1(EPOLL_CLOEXEC);
		if (e->wait_fd < 0) {
			rc = engine_seterr(err, errlen, errno, "epoll_create1: %s",
			                   strerror(errno));
			goto fail;
		}
	}
	if (wait_domain >= 0) {
		for (int i = 0; i < e->nxsk; i++)
			wait_add(e, e->xsk_fds[i]);
		if (e->packet_fd >= 0)
			wait_add(e, e->packet_fd);
	} else if (rx_intr) {
		e->rx_intr = 1;
		intr_refresh(e);
	}

	if (use_xdp) {
		if ((rc = xdp_ctl_open(&e->xdp, in->ifindex, in->ipv4_addr, err, errlen)))
			goto fail;
		e->xdp_open = 1;
		in->xdp_attached = 1;
		/* The attached program is the last port's: it knows only that port's socket. */
		for (int i = 0; i < e->nxsk; i++) {
			rc = xdp_ctl_add_xsk(&e->xdp, in->queue_first + (uint32_t)i, e->xsk_fds[i]);
			if (rc) {
				engine_seterr(
				        err, errlen, -rc,
				        "XDP: cannot add the socket of queue %u to xsks_map: %s",
				        in->queue_first + i, strerror(-rc));
				goto fail;
			}
		}
		if (e->watchdog_fd >= 0)
			watchdog_arm(e->watchdog_fd, in->ifindex, e->xdp.prog_id, 0);
	} else if (use_tc) {
		int veth = !strcmp(in->driver, "veth");
		if (veth)
			(void)xdp_ctl_clear_stale(in->ifindex, NULL, 0); /* a foreign one stays */
		rc = xdp_ctl_open_tc(&e->xdp, in->ifindex, xdp_prog, in->ipv4_addr, veth, err,
		                     errlen);
		if (rc)
			goto fail;
		e->xdp_open = 1;
		if (e->watchdog_fd >= 0)
			watchdog_arm(e->watchdog_fd, in->ifindex, e->xdp.prog_id, 1);
		if (e->watchdog_fd >= 0 && e->xdp.xdp_pass_id)
			watchdog_arm(e->watchdog_fd, in->ifindex, e->xdp.xdp_pass_id, 0);
		if (veth && !e->xdp.xdp_pass_id)
			add_notice(
			        in,
			        "%s: another XDP program is attached, so the veth peer keeps TSO "
			        "on "
			        "and may send frames larger than the MTU, which af_packet drops: "
			        "turn TSO off on the peer (ethtool -K PEER tso off)",
			        cfg->iface);
	}
	if (e->kernel_iface) {
		e->hold = shm_alloc(e->heap, sizeof(*e->hold));
		if (!e->hold) {
			rc = engine_seterr(err, errlen, ENOMEM, "out of memory");
			goto fail;
		}
		port_hold_init(e->hold, in->ipv4_addr);
		if ((rc = nl_neigh_open(&e->nl, in->ifindex))) {
			engine_seterr(err, errlen, -rc, "netlink neighbour socket: %s",
			              strerror(-rc));
			goto fail;
		}
		e->resolve_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		wait_add(e, e->nl.fd);
	}
	fault_configure(&e->fault, &cfg->fault);

	struct tpa_stack_config sc;
	tpa_stack_config_init(&sc);
	sc.dev.rx_burst = nd_rx;
	sc.dev.tx_burst = nd_tx;
	sc.dev.ctx = e;
	sc.dev.tx_offloads = in->tx_offloads;
	sc.dev.rx_offloads = rx_offloads;
	if (in->rx_csum_partial)
		sc.dev.rx_offloads |= TPA_DEV_OFFLOAD_RX_CSUM_PARTIAL;
	sc.dev.mtu = in->mtu;
	memcpy(sc.dev.mac, in->mac, 6);
	sc.clock.now_ns = clock_now;
	sc.clock.ctx = e;
	sc.pool = e->pool;
	sc.ipv4_addr = in->ipv4_addr;
	sc.ipv4_prefix_len = in->ipv4_prefix_len;
	sc.ipv4_gateway = in->ipv4_gateway;
	if (cfg->max_sockets)
		sc.max_sockets = cfg->max_sockets;
	sc.tcp = cfg->tcp;
	sc.hooks.port_reserve = hook_port_reserve;
	sc.hooks.port_release = hook_port_release;
	sc.hooks.port_steer = hook_port_steer;
	sc.hooks.neigh_resolve = e->kernel_iface ? hook_neigh_resolve : NULL;
	sc.hooks.sock_event = cfg->sock_event ? hook_sock_event : NULL;
	sc.hooks.ctx = e;
	sc.name = in->port_name;
	sc.mem.alloc = stack_shm_alloc;
	sc.mem.free = stack_shm_free;
	sc.mem.ctx = e->heap;
	e->stack = tpa_stack_create(&sc);
	if (!e->stack) {
		rc = engine_seterr(err, errlen, errno ? errno : EINVAL, "stack: %s",
		                   tpa_stack_last_error() ? tpa_stack_last_error()
		                                          : "create failed");
		goto fail;
	}
	if (e->kernel_iface)
		nl_neigh_dump(&e->nl, neigh_to_stack, e);
	return e;

fail:
	if (rc > 0)
		rc = -rc;
	engine_free(e);
	errno = rc ? -rc : EINVAL;
	return NULL;
}

void tpa_engine_destroy(struct tpa_engine *e)
{
	if (e)
		engine_free(e);
}

struct tpa_stack *tpa_engine_stack(struct tpa_engine *e)
{
	return e ? e->stack : NULL;
}

int tpa_engine_wait_fd(struct tpa_engine *e)
{
	return e ? e->wait_fd : -1;
}

uint64_t tpa_engine_next_timer_ns(struct tpa_engine *e)
{
	uint64_t t = e && e->stack ? tpa_stack_next_timer_ns(e->stack) : UINT64_MAX;
	/* Frames waiting for room in the port are offered again then. */
	if (e && e->txb.n && e->txb.retry_ns < t)
		t = e->txb.retry_ns;
	return t;
}

static void drain_event_fd(struct tpa_engine *e)
{
	uint64_t v;
	if (e->intr_fd >= 0)
		(void)!read(e->intr_fd, &v, sizeof(v));
}

/* (Re)attach the port's Rx event fd to our epoll fd once the link is up; checked every
 * millisecond while it is missing or the link is down. */
static void intr_refresh(struct tpa_engine *e)
{
	uint64_t now = tpa_engine_now_ns();
	if (now - e->intr_check_ns < NL_POLL_INTERVAL_NS)
		return;
	e->intr_check_ns = now;
	struct rte_eth_link link;
	if (rte_eth_link_get_nowait(e->info.port_id, &link) || !link.link_status) {
		e->intr_fd = -1;
		return;
	}
	if (e->intr_fd >= 0)
		return;
	if (rte_eth_dev_rx_intr_enable(e->info.port_id, 0))
		return;
	int fd = rte_eth_dev_rx_intr_ctl_q_get_fd(e->info.port_id, 0);
	if (fd < 0)
		return;
	if (wait_add(e, fd))
		return;
	e->intr_fd = fd;
}

int tpa_engine_poll(struct tpa_engine *e)
{
	if (e->rx_intr && (e->intr_fd < 0 || e->prev_idle))
		intr_refresh(e);
	/* Drain the Rx event fd before reading the ring (after an idle round only, to keep the
	 * busy path free of syscalls): a frame that lands after the drain raises it again, so a
	 * sleeper never misses one. */
	if (e->rx_intr && e->prev_idle)
		drain_event_fd(e);
	int work = tpa_stack_poll(e->stack);
	if (e->txb.n) {
		work += (int)tx_backlog_flush(&e->txb, tx_port_cb, e);
		tx_link_check(e);
	}
	if (e->memif_client)
		work += memif_link_upkeep(&e->memif, e->info.port_id, &e->guard, e->creator,
		                          tpa_engine_now_ns());
	if (e->nl.fd >= 0) {
		uint64_t now = tpa_engine_now_ns();
		/* Every millisecond, and at once after tpa_engine_wait woke up (the wait fd
		 * includes this socket). A thread sleeping on the wait fd by itself (the shim)
		 * may find it readable for up to a millisecond after a notification. */
		if (now - e->last_nl_ns >= NL_POLL_INTERVAL_NS || e->nl_due ||
		    now < e->resolve_until_ns) {
			e->nl_due = 0;
			if (now < e->resolve_until_ns &&
			    now - e->last_nl_ns >= NL_POLL_INTERVAL_NS) {
				/* Entries the kernel already had raise no notification: re-read. */
				e->resolve_until_ns = 0;
				work += nl_neigh_dump(&e->nl, neigh_to_stack, e) > 0;
			}
			e->last_nl_ns = now;
			int n = nl_neigh_poll(&e->nl, neigh_to_stack, e);
			if (n > 0) {
				work += n;
				/* Packets may wait for this neighbour: send them now. */
				work += tpa_stack_flush(e->stack);
			}
		}
	}
	e->prev_idle = work == 0;
	return work < 0 ? 0 : work;
}

int tpa_engine_wait(struct tpa_engine *e, int64_t timeout_ns)
{
	uint64_t now = tpa_engine_now_ns();
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : now + (uint64_t)timeout_ns;
	uint64_t timer = tpa_engine_next_timer_ns(e);
	if (timer < deadline)
		deadline = timer;
	if (e->rx_intr && e->intr_fd < 0 && now + NL_POLL_INTERVAL_NS < deadline)
		deadline = now + NL_POLL_INTERVAL_NS; /* link not up yet: nothing can wake us */
	if (e->resolve_until_ns && now + NL_POLL_INTERVAL_NS < deadline)
		deadline = now + NL_POLL_INTERVAL_NS; /* a resolve may need a table re-read */
	if (deadline <= now || timeout_ns == 0)
		return tpa_engine_poll(e);
	if (e->wait_fd < 0) {
		/* No fd to sleep on (pci): poll in short slices. */
		for (;;) {
			int n = tpa_engine_poll(e);
			now = tpa_engine_now_ns();
			if (n > 0 || now >= deadline)
				return n;
			uint64_t left = deadline - now;
			struct timespec ts = {0, (long)(left < (uint64_t)NOFD_SLEEP_NS
			                                        ? left
			                                        : (uint64_t)NOFD_SLEEP_NS)};
			if (nanosleep(&ts, NULL) < 0 && errno == EINTR)
				return -EINTR;
		}
	}
	if (e->rx_intr) {
		/* Drain, then look at the ring once, so sleeping cannot miss a frame. */
		drain_event_fd(e);
		e->prev_idle = 0;
		int n = tpa_engine_poll(e);
		if (n > 0)
			return n;
		e->prev_idle = 0;
	}
	struct pollfd p = {.fd = e->wait_fd, .events = POLLIN};
	int rc;
	if (deadline == UINT64_MAX) {
		rc = ppoll(&p, 1, NULL, NULL);
	} else {
		uint64_t left = deadline - now;
		struct timespec ts = {(time_t)(left / 1000000000ull), (long)(left % 1000000000ull)};
		rc = ppoll(&p, 1, &ts, NULL);
	}
	if (rc < 0 && errno == EINTR)
		return -EINTR;
	e->prev_idle = 1; /* whatever woke us (port or netlink) gets looked at */
	e->nl_due = 1;
	return tpa_engine_poll(e);
}

void tpa_engine_set_fault(struct tpa_engine *e, const struct tpa_fault_config *fault)
{
	if (!e || !fault)
		return;
	e->cfg.fault = *fault;
	fault_configure(&e->fault, fault);
}

void tpa_engine_get_info(const struct tpa_engine *e, struct tpa_engine_info *info)
{
	if (e && info)
		*info = e->info;
}

void tpa_engine_stats_foreach(const struct tpa_engine *e,
                              void (*fn)(void *arg, const char *name, uint64_t value), void *arg)
{
	if (!e || !fn)
		return;
	const struct fault_state *f = &e->fault;
	fn(arg, "fault_rx_dropped", f->rx.dropped);
	fn(arg, "fault_rx_duplicated", f->rx.duplicated);
	fn(arg, "fault_rx_reordered", f->rx.reordered);
	fn(arg, "fault_rx_corrupted", f->rx.corrupted);
	fn(arg, "fault_tx_dropped", f->tx.dropped);
	fn(arg, "fault_tx_duplicated", f->tx.duplicated);
	fn(arg, "fault_tx_reordered", f->tx.reordered);
	fn(arg, "fault_tx_corrupted", f->tx.corrupted);
	fn(arg, "fault_tx_unsent", e->st.tx_fault_unsent);
	fn(arg, "neigh_updates", e->st.neigh_updates);
	fn(arg, "neigh_resolves", e->st.neigh_resolves);
	fn(arg, "steer_on", e->st.steer_on);
	fn(arg, "steer_off", e->st.steer_off);
	fn(arg, "steer_fail", e->st.steer_fail);
	fn(arg, "port_reserve_fail", e->st.reserve_fail);
	if (e->cfg.port_kind == TPA_PORT_AF_PACKET)
		fn(arg, "rx_not_steered", e->rx_not_steered);
	if (e->memif_client)
		fn(arg, "memif_link_restarts", e->memif.restarts);
	fn(arg, "tx_held", e->txb.held);
	fn(arg, "tx_held_dropped", e->txb.dropped);
	if (e->hold) {
		fn(arg, "ports_held", e->hold->held);
		fn(arg, "ports_held_elsewhere", e->hold->hold_busy);
		fn(arg, "port_hold_fail", e->hold->hold_fail);
	}
	if (e->xdp_open) {
		uint64_t redirected, passed, no_socket;
		xdp_ctl_stats((struct xdp_ctl *)&e->xdp, &redirected, &passed, &no_socket);
		fn(arg, "xdp_redirected", redirected);
		fn(arg, "xdp_passed", passed);
		fn(arg, "xdp_no_socket", no_socket);
	}
	struct rte_eth_stats es = {0};
	for (uint16_t i = 0; i < e->nports_started; i++) {
		struct rte_eth_stats one;
		if (rte_eth_stats_get(e->ports[i], &one))
			continue;
		if (e->nports_started > 1) {
			/* Which queues the traffic came in on: the kernel's (or NIC's) spreading.
			 */
			char name[40];
			snprintf(name, sizeof(name), "port_q%u_ipackets", e->info.queue_first + i);
			fn(arg, name, one.ipackets);
		}
		es.ipackets += one.ipackets;
		es.opackets += one.opackets;
		es.imissed += one.imissed;
		es.ierrors += one.ierrors;
		es.oerrors += one.oerrors;
		es.rx_nombuf += one.rx_nombuf;
	}
	if (e->nports_started) {
		fn(arg, "port_queues", e->nq);
		fn(arg, "port_ipackets", es.ipackets);
		fn(arg, "port_opackets", es.opackets);
		fn(arg, "port_imissed", es.imissed);
		fn(arg, "port_ierrors", es.ierrors);
		fn(arg, "port_oerrors", es.oerrors);
		fn(arg, "port_rx_nombuf", es.rx_nombuf);
	}
	/* The kernel's view of the AF_XDP rings: drops and invalid descriptors that the PMD's own
	 * counters never see. */
	struct xdp_statistics sum = {0};
	int nstat = 0;
	for (int i = 0; i < e->nxsk; i++) {
		struct xdp_statistics xs;
		socklen_t xl = sizeof(xs);
		if (getsockopt(e->xsk_fds[i], SOL_XDP, XDP_STATISTICS, &xs, &xl))
			continue;
		nstat++;
		sum.rx_dropped += xs.rx_dropped;
		sum.rx_invalid_descs += xs.rx_invalid_descs;
		sum.tx_invalid_descs += xs.tx_invalid_descs;
		sum.rx_ring_full += xs.rx_ring_full;
		sum.rx_fill_ring_empty_descs += xs.rx_fill_ring_empty_descs;
		sum.tx_ring_empty_descs += xs.tx_ring_empty_descs;
	}
	if (nstat) {
		fn(arg, "xsk_sockets", (uint64_t)nstat);
		fn(arg, "xsk_rx_dropped", sum.rx_dropped);
		fn(arg, "xsk_rx_invalid_descs", sum.rx_invalid_descs);
		fn(arg, "xsk_tx_invalid_descs", sum.tx_invalid_descs);
		fn(arg, "xsk_rx_ring_full", sum.rx_ring_full);
		fn(arg, "xsk_rx_fill_ring_empty", sum.rx_fill_ring_empty_descs);
		fn(arg, "xsk_tx_ring_empty", sum.tx_ring_empty_descs);
	}
	if (e->pool) {
		fn(arg, "mbufs_free", rte_mempool_avail_count(e->pool));
		fn(arg, "mbufs_in_use", rte_mempool_in_use_count(e->pool) - e->mbufs_held);
		fn(arg, "mbufs_outside_umem", e->mbufs_held);
	}
}
