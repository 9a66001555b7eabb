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
#include <rte_log.h>
#include <rte_mbuf.h>

#include "engine_state.h"

int engine_wait_add(struct tpa_engine *e, int fd)
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

/* ---- create ----------------------------------------------------------------------------- */

int engine_find_xdp_prog(const struct tpa_engine_config *cfg, char *out, size_t len, char *err,
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
	if (dladdr((void *)engine_find_xdp_prog, &di) && di.dli_fname) {
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

/* The kernel interface ports need raw sockets and, for steering, BPF and netlink admin. */
static int has_net_privileges(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return 1; /* cannot tell: let the port say what is missing */
	return (d[0].effective & (1u << CAP_NET_RAW)) && (d[0].effective & (1u << CAP_NET_ADMIN));
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
	/* A process that gave up root (TPA_USER, nginx's www-data workers) cannot detach the XDP
	 * program: the watchdog does. The PMD would say "Error while removing XDP program" for
	 * each port; that is expected here, not an error to show. */
	if (e->xdp_open && !has_net_privileges()) {
		int t = rte_log_register("pmd.net.af_xdp");
		if (t >= 0)
			rte_log_set_level((uint32_t)t, RTE_LOG_EMERG);
	}
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
	tpad_client_close(e);
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

static uint8_t packet_before[PORT_FD_BITS / 8]; /* af_packet: sockets before EAL */

/* The interface's addresses and MTU (the kernel's, then the configuration's); the interface
 * lock taken. */
static int learn_addresses(struct tpa_engine *e, char *err, size_t errlen)
{
	const struct tpa_engine_config *cfg = &e->cfg;
	struct tpa_engine_info *in = &e->info;
	int rc = 0;
	/* Addresses: the kernel's, then overrides. */
	in->mtu = 1500;
	in->ipv4_prefix_len = 24;
	if (e->kernel_iface) {
		struct nl_link_info li;
		if ((rc = nl_learn_link(cfg->iface, &li, err, errlen)))
			return rc;
		snprintf(in->iface, sizeof(in->iface), "%s", cfg->iface);
		in->ifindex = li.ifindex;
		memcpy(in->mac, li.mac, 6);
		if (li.mtu)
			in->mtu = (uint16_t)(li.mtu > 9000 ? 9000 : li.mtu);
		in->ipv4_addr = li.ipv4_addr;
		in->ipv4_prefix_len = li.prefix_len ? li.prefix_len : 24;
		in->ipv4_gateway = li.gateway;
		if (!e->via_tpad && !has_net_privileges()) {
			rc = engine_seterr(
			        err, errlen, EPERM,
			        "TPA_PORT_TYPE=%s needs root (CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF "
			        "or "
			        "CAP_SYS_ADMIN, CAP_IPC_LOCK) when a selected port is listened on "
			        "or connected to: start the program as root (it may drop them "
			        "later, nginx `user www-data;` included)",
			        cfg->port_kind == TPA_PORT_AF_XDP ? "af_xdp" : "af_packet");
			return rc;
		}
		/* Before anything touches the interface (a stale XDP program is only stale if its
		 * owner is gone). */
		if (!e->via_tpad &&
		    (rc = iface_lock_take(in->ifindex, cfg->iface, &e->iface_lock_fd, err, errlen)))
			return rc;
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
		return rc;
	}
	return 0;
}

/* Steering's object found, a stale copy of ours removed, the watchdog started. */
static int prepare_steering(struct tpa_engine *e, int use_xdp, int use_tc, char *xdp_prog,
                            char *err, size_t errlen)
{
	const struct tpa_engine_config *cfg = &e->cfg;
	struct tpa_engine_info *in = &e->info;
	int rc = 0;
	/* Steering (XDP for af_xdp, a tc filter for af_packet): the object, a stale copy of it,
	 * the watchdog (before EAL: see watchdog.c). */
	if (use_xdp || use_tc) {
		if ((rc = engine_find_xdp_prog(cfg, xdp_prog, TPA_ENGINE_PATH_MAX, err, errlen)))
			return rc;
		if (use_xdp && (rc = xdp_ctl_clear_stale(in->ifindex, err, errlen)) < 0)
			return rc;
		if (cfg->watchdog) {
			rc = watchdog_start(err, errlen);
			if (rc < 0)
				return rc;
			e->watchdog_fd = rc;
			watchdog_lock_file(rc, iface_lock_path());
		}
	}
	return 0;
}

/* The queues chosen, EAL started on the devices, the mbuf pool made. */
static int start_dpdk(struct tpa_engine *e, const char *xdp_prog, char *err, size_t errlen)
{
	const struct tpa_engine_config *cfg = &e->cfg;
	struct tpa_engine_info *in = &e->info;
	int rc = 0;
	if ((rc = choose_queues(e, err, errlen)))
		return rc;
	const size_t devargs_len = (size_t)TPA_ENGINE_QUEUES_MAX * (TPA_ENGINE_PATH_MAX + 128);
	char *devargs = malloc(devargs_len);
	if (!devargs) {
		rc = engine_seterr(err, errlen, ENOMEM, "out of memory");
		return rc;
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
		return rc;
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
		return rc;
	}
	return 0;
}

/* The ports started and the wait fd that holds what wakes a sleeper. */
static int start_port_io(struct tpa_engine *e, int use_xdp, uint32_t *rx_offloads, char *err,
                         size_t errlen)
{
	const struct tpa_engine_config *cfg = &e->cfg;
	struct tpa_engine_info *in = &e->info;
	int rc = 0;
	uint16_t port_id = e->ports[0];
	int wait_domain = cfg->port_kind == TPA_PORT_AF_XDP      ? AF_XDP
	                  : cfg->port_kind == TPA_PORT_AF_PACKET ? AF_PACKET
	                                                         : -1;
	int rx_intr = 0;
	if (cfg->port_kind == TPA_PORT_MEMIF) {
		port_guard_install(&e->guard);
		e->guarded = 1;
		e->memif_client = cfg->memif_role == TPA_MEMIF_CLIENT;
		memif_link_init(&e->memif, tpa_engine_now_ns());
	}
	if ((rc = start_ports(e, wait_domain, use_xdp, rx_offloads, &rx_intr, err, errlen)))
		return rc;
	/* tpad's link comes up in EAL's interrupt thread, which maps its rings into this
	 * process only: wait for it, so that fork children (nginx workers, postgres backends)
	 * inherit the mapping instead of a link they cannot use. */
	for (int i = 0; e->via_tpad && i < 400; i++) {
		struct rte_eth_link link;
		if (rte_eth_link_get_nowait(port_id, &link) == 0 && link.link_status)
			break;
		usleep(5000);
	}
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
	if (e->via_tpad) /* tpad rings a doorbell instead (memif has no Rx interrupts) */
		rx_intr = 1;
	if (wait_domain >= 0 || rx_intr) {
		e->wait_fd = epoll_create1(EPOLL_CLOEXEC);
		if (e->wait_fd < 0) {
			rc = engine_seterr(err, errlen, errno, "epoll_create1: %s",
			                   strerror(errno));
			return rc;
		}
	}
	if (wait_domain >= 0) {
		for (int i = 0; i < e->nxsk; i++)
			engine_wait_add(e, e->xsk_fds[i]);
		if (e->packet_fd >= 0)
			engine_wait_add(e, e->packet_fd);
	} else if (e->via_tpad) {
		e->rx_intr = 1;
		e->intr_fd = tpad_client_wait_fd();
		engine_wait_add(e, e->intr_fd);
	} else if (rx_intr) {
		e->rx_intr = 1;
		engine_intr_refresh(e);
	}
	return 0;
}

/* The XDP program (af_xdp) or tc filter (af_packet) attached and armed in the watchdog. */
static int attach_steering(struct tpa_engine *e, const char *xdp_prog, int use_xdp, int use_tc,
                           char *err, size_t errlen)
{
	const struct tpa_engine_config *cfg = &e->cfg;
	struct tpa_engine_info *in = &e->info;
	int rc = 0;
	if (use_xdp) {
		if ((rc = xdp_ctl_open(&e->xdp, in->ifindex, in->ipv4_addr, err, errlen)))
			return rc;
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
				return rc;
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
			return rc;
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
	return 0;
}

/* What a kernel interface needs beside: port holds, the neighbour socket. */
static int open_kernel_side(struct tpa_engine *e, char *err, size_t errlen)
{
	struct tpa_engine_info *in = &e->info;
	int rc = 0;
	if (e->kernel_iface) {
		e->hold = shm_alloc(e->heap, sizeof(*e->hold));
		if (!e->hold) {
			rc = engine_seterr(err, errlen, ENOMEM, "out of memory");
			return rc;
		}
		port_hold_init(e->hold, in->ipv4_addr);
		if ((rc = nl_neigh_open(&e->nl, in->ifindex))) {
			engine_seterr(err, errlen, -rc, "netlink neighbour socket: %s",
			              strerror(-rc));
			return rc;
		}
		e->resolve_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		engine_wait_add(e, e->nl.fd);
		if (e->tpad_fd >= 0) /* its end wakes a sleeper too */
			engine_wait_add(e, e->tpad_fd);
	}
	return 0;
}

/* The stack over the engine (engine_dev.c wires it), the kernel's neighbours given to it. */
static int create_stack(struct tpa_engine *e, uint32_t rx_offloads, char *err, size_t errlen)
{
	const struct tpa_engine_config *cfg = &e->cfg;
	struct tpa_engine_info *in = &e->info;
	int rc = 0;
	fault_configure(&e->fault, &cfg->fault);

	struct tpa_stack_config sc;
	tpa_stack_config_init(&sc);
	if ((rc = engine_stack_wire(e, &sc)) != 0)
		return engine_seterr(err, errlen, -rc, "stack: getrandom for the ISN key: %s",
		                     strerror(-rc));
	sc.dev.tx_offloads = in->tx_offloads;
	sc.dev.rx_offloads = rx_offloads;
	if (in->rx_csum_partial)
		sc.dev.rx_offloads |= TPA_DEV_OFFLOAD_RX_CSUM_PARTIAL;
	sc.dev.mtu = in->mtu;
	memcpy(sc.dev.mac, in->mac, 6);
	sc.pool = e->pool;
	sc.ipv4_addr = in->ipv4_addr;
	sc.ipv4_prefix_len = in->ipv4_prefix_len;
	sc.ipv4_gateway = in->ipv4_gateway;
	if (cfg->max_sockets)
		sc.max_sockets = cfg->max_sockets;
	sc.tcp = cfg->tcp;
	sc.name = in->port_name;
	e->stack = tpa_stack_create(&sc);
	if (!e->stack) {
		rc = engine_seterr(err, errlen, errno ? errno : EINVAL, "stack: %s",
		                   tpa_stack_last_error() ? tpa_stack_last_error()
		                                          : "create failed");
		return rc;
	}
	if (e->kernel_iface)
		nl_neigh_dump(&e->nl, engine_neigh_to_stack, e);
	return 0;
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
	e->tpad_fd = -1;
	e->via_tpad = cfg->port_kind == TPA_PORT_AF_XDP &&
	              (cfg->owner == TPA_OWNER_TPAD ||
	               (cfg->owner == TPA_OWNER_AUTO && tpad_client_serves(cfg->iface)));
	tx_backlog_init(&e->txb);
	engine_state = 1;
	e->kernel_iface = cfg->port_kind == TPA_PORT_AF_XDP || cfg->port_kind == TPA_PORT_AF_PACKET;
	/* Without a kernel, each process picks its own ephemeral ports, and a peer may still hold
	 * the connections of the previous process on the same address (it exited before their
	 * last ACK): a new SYN on one of those 4-tuples costs a reset and a 1 s SYN timeout. Start
	 * where the clock points, one port per millisecond, so that successive processes use
	 * different ports (the range wraps every 16.4 s). */
	e->next_local_port = (uint32_t)(tpa_engine_now_ns() / 1000000u);

	char xdp_prog[TPA_ENGINE_PATH_MAX] = "";
	int use_xdp = cfg->port_kind == TPA_PORT_AF_XDP && cfg->xdp_steer && !e->via_tpad;
	int use_tc = cfg->port_kind == TPA_PORT_AF_PACKET && cfg->xdp_steer;
	uint32_t rx_offloads = 0;
	if ((rc = learn_addresses(e, err, errlen)) ||
	    (e->via_tpad && (rc = tpad_client_open(e, err, errlen))) ||
	    (rc = prepare_steering(e, use_xdp, use_tc, xdp_prog, err, errlen)) ||
	    (rc = start_dpdk(e, xdp_prog, err, errlen)) ||
	    (rc = start_port_io(e, use_xdp, &rx_offloads, err, errlen)) ||
	    (rc = attach_steering(e, xdp_prog, use_xdp, use_tc, err, errlen)) ||
	    (rc = open_kernel_side(e, err, errlen)) ||
	    (rc = create_stack(e, rx_offloads, err, errlen)))
		goto fail;
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
