/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's internals, shared by the files of dpdk/ (each owns one concern):
 *   engine.c     lifetime: create in phases (addresses, steering, EAL, ports, stack), destroy
 *   engine_run.c one poll round, waiting, info and counters
 *   engine_dev.c the stack's device, clock, hooks and memory over the ports (engine_state.h)
 *   port.c       DPDK port: vdev/devargs per port kind, configure/start, offloads, wait fd
 *   fault.c      fault injection on the device boundary
 *   iface.c      what the kernel interface is: driver, queues, partial checksums
 *   netlink.c    rtnetlink: link/address/route learning, neighbour table and updates
 *   xdp_ctl.c    the attached steering program: finding its maps, steering ports, detaching
 *   port_hold.c  kernel sockets that hold the ports the stack uses
 *   watchdog.c   a detached process that detaches XDP when the engine's process dies
 */
#ifndef TPA_DPDK_ENGINE_IMPL_H
#define TPA_DPDK_ENGINE_IMPL_H

#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>

#include "tpa/dpdk.h"

struct rte_mbuf;
struct rte_mempool;

/* Write a formatted reason into (err, errlen); returns -code so callers can `return seterr(..)`.
 */
int engine_seterr(char *err, size_t errlen, int code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* The steering object: TPA_XDP_PROG, else next to the library or program, else installed or
 * in the build tree. 0 with out filled, or -ENOENT (err says where it looked). */
int engine_find_xdp_prog(const struct tpa_engine_config *cfg, char *out, size_t len, char *err,
                         size_t errlen);

/* ---- fault injection ---------------------------------------------------------------------- */

#define FAULT_HOLD_MAX 32

struct fault_dir_state {
	struct tpa_fault_rates rates;
	struct rte_mbuf *held[FAULT_HOLD_MAX]; /* reordered frames waiting for a later burst */
	uint16_t nheld;
	uint32_t idle_rounds; /* polls without traffic while frames are held */
	uint64_t dropped, duplicated, reordered, corrupted;
};

struct fault_state {
	struct fault_dir_state rx, tx;
	uint64_t rng;
	int active; /* any rate non-zero: the fast path skips everything when 0 */
};

void fault_configure(struct fault_state *f, const struct tpa_fault_config *cfg);
/* Apply faults to a received burst in place: pkts[0..n) in, returns the new count (<= max).
 * Frees dropped frames, may add duplicates (allocated from pool) and hold frames back. */
uint16_t fault_apply(struct fault_state *f, struct fault_dir_state *d, struct rte_mempool *pool,
                     struct rte_mbuf **pkts, uint16_t n, uint16_t max);
void fault_release(struct fault_state *f);

/* ---- port guard (port_guard.c) ---------------------------------------------------------------
 * EAL's interrupt thread (which runs net_memif's control channel: it maps and unmaps the rings
 * as peers come and go) and the threads bursting on the port never overlap. */

struct port_guard {
	pid_t burst; /* the process inside a burst on the port, 0 = none (shared across fork) */
	int intr;    /* the interrupt side holds the port or waits for the burst to end */
	int stopped; /* the port did not start again (its peer is away): no bursts */
};

/* This process's port is guarded from now on (before its first burst). */
void port_guard_install(struct port_guard *g);
/* Around every rx/tx burst: 0 = the interrupt side holds the port, skip the burst. */
int port_guard_enter(struct port_guard *g);
void port_guard_leave(struct port_guard *g);
/* Take the interrupt side from another thread (to restart or stop the port): waits for the
 * interrupt thread's round and for the burst under way. */
void port_guard_lock(struct port_guard *g);
void port_guard_unlock(struct port_guard *g);
/* The port is stopped and closed, the caller holds the interrupt side: release it, or, with
 * for_good (EAL stays without the port until the process ends), keep the interrupt thread out
 * until then. */
void port_guard_retire(struct port_guard *g, int for_good);

/* ---- memif client link (memif_link.c) --------------------------------------------------------
 * net_memif's client connects only when its port starts: while the link is down, restart it. */

struct memif_link {
	uint64_t next_check_ns;
	uint64_t down_since_ns;
	uint64_t retry_ns; /* how long down before the next restart */
	uint64_t restarts;
	int up;
};

void memif_link_init(struct memif_link *l, uint64_t now_ns);
/* Call from the polling thread (not inside a burst): 1 when it restarted the port. Only the
 * process that started EAL (creator) restarts it. */
int memif_link_upkeep(struct memif_link *l, uint16_t port, struct port_guard *g, pid_t creator,
                      uint64_t now_ns);

/* ---- transmit backlog (tx_backlog.c) ---------------------------------------------------------
 * Frames the port did not take wait here, in order, instead of being dropped. */

#define TX_BACKLOG_MAX 4096

typedef uint16_t (*tx_backlog_fn)(void *ctx, struct rte_mbuf **pkts, uint16_t n);

struct tx_backlog {
	struct rte_mbuf *m[TX_BACKLOG_MAX]; /* a ring: n frames from head */
	uint32_t head, n;
	uint64_t stuck_since_ns; /* last try that moved frames while some were held */
	uint64_t retry_ns;       /* when to offer the held frames again, UINT64_MAX if none */
	uint64_t held;           /* frames that had to wait */
	uint64_t dropped;        /* frames dropped: backlog full, or stale (the peer is gone) */
};

void tx_backlog_init(struct tx_backlog *b);
/* Send pkts[0..n) through fn after the held frames; what fn does not take is held. Always takes
 * all n (the caller's frames are the backlog's now). */
uint16_t tx_backlog_send(struct tx_backlog *b, tx_backlog_fn fn, void *ctx, struct rte_mbuf **pkts,
                         uint16_t n);
/* Offer the held frames again (due at b->retry_ns); returns how many left. */
uint32_t tx_backlog_flush(struct tx_backlog *b, tx_backlog_fn fn, void *ctx);
/* Drop the held frames, counted (their peer is gone). */
void tx_backlog_discard(struct tx_backlog *b);
/* Free the held frames (the engine stops), not counted as lost. */
void tx_backlog_release(struct tx_backlog *b);

/* ---- netlink ----------------------------------------------------------------------------------
 */

struct nl_link_info {
	int ifindex;
	uint8_t mac[6];
	uint32_t mtu;
	uint32_t ipv4_addr; /* network byte order, first address of the interface */
	uint8_t prefix_len;
	uint32_t gateway; /* default route via this interface, network order, 0 = none */
};

int nl_learn_link(const char *iface, struct nl_link_info *out, char *err, size_t errlen);

typedef void (*nl_neigh_fn)(void *arg, uint32_t ip_be, const uint8_t *mac /* NULL = failed */);

/* A non-blocking socket subscribed to neighbour changes. */
struct nl_neigh_watch {
	int fd;
	int ifindex;
	uint32_t seq;
};

int nl_neigh_open(struct nl_neigh_watch *w, int ifindex);
/* Dump the kernel's neighbour table for the interface (blocking, once at start). */
int nl_neigh_dump(struct nl_neigh_watch *w, nl_neigh_fn fn, void *arg);
/* Read pending updates without blocking; returns how many were reported. */
int nl_neigh_poll(struct nl_neigh_watch *w, nl_neigh_fn fn, void *arg);
void nl_neigh_close(struct nl_neigh_watch *w);

/* ---- XDP program control ----------------------------------------------------------------------
 */

struct xdp_ctl {
	int ifindex;
	uint32_t prog_id;
	int tc;              /* the tc ingress variant (af_packet), not XDP */
	int tc_hook_created; /* we created the clsact qdisc: remove it at the end */
	int ports_fd;
	int config_fd;
	int stats_fd;
	int xsks_fd; /* the program's XSKMAP: queue index -> AF_XDP socket */
	/* af_packet on a veth: our XDP program attached natively, passing everything, so that
	 * the kernel segments on the peer (see xdp_ctl_open_tc); 0 if none */
	uint32_t xdp_pass_id;
};

/* Detach a tpa_steer program left on the interface by a dead process. 1 if one was removed,
 * 0 if none, -EBUSY if a foreign XDP program is attached (err says which). */
int xdp_ctl_clear_stale(int ifindex, char *err, size_t errlen);
/* iface_lock.c: 0 with *lock_fd the held lock (-1 if locking is unavailable here), or
 * -EBUSY (message in err) while another process's engine uses the interface. */
int iface_lock_take(int ifindex, const char *iface, int *lock_fd, char *err, size_t errlen);
/* Find the maps of the program attached to ifindex (after the PMD attached it). */
int xdp_ctl_open(struct xdp_ctl *x, int ifindex, uint32_t ipv4_addr_be, char *err, size_t errlen);
int xdp_ctl_steer(struct xdp_ctl *x, uint16_t port, int on);
/* Detach the tpa program attached to ifindex, whichever instance it is. 1 = detached, 0 = none,
 * -EBUSY = the attached program is not tpa's. */
int xdp_ctl_detach_current(int ifindex);
/* Point queue's slot of the attached program's socket map at an AF_XDP socket. 0 or -errno. */
int xdp_ctl_add_xsk(struct xdp_ctl *x, uint32_t queue, int xsk_fd);
/* Detach program `id` from ifindex only if it is still the attached one. 1 = detached. */
int xdp_ctl_detach_prog(int ifindex, uint32_t id);
void xdp_ctl_stats(struct xdp_ctl *x, uint64_t *redirected, uint64_t *passed, uint64_t *no_socket);
/* af_packet: load the object's tc program and attach it at ingress, where it drops the frames
 * tpa serves (the packet socket already has its copy) so the kernel's TCP never answers them. */
int xdp_ctl_open_tc(struct xdp_ctl *x, int ifindex, const char *obj_path, uint32_t ipv4_addr_be,
                    int segment_on_peer, char *err, size_t errlen);
/* Remove our tc filter from ifindex if it is there. 1 = removed. */
int xdp_ctl_tc_detach(int ifindex);
/* Close map fds; if detach, remove the program from the interface (only if it is ours).
 * -EPERM when a detach failed: a process that dropped its privileges after the engine started
 * (the watchdog, which kept them, must then do it). */
int xdp_ctl_close(struct xdp_ctl *x, int detach);

/* ---- port holding -----------------------------------------------------------------------------
 */

struct port_hold {
	uint32_t addr_be;
	int fds[65536];    /* kernel TCP socket holding each port, -1 = none */
	pid_t pids[65536]; /* the process whose fd that is (the table is shared across fork) */
	uint8_t steered[65536 / 8];
	uint8_t reserved[65536 / 8];
	uint64_t held, hold_busy, hold_fail;
};

void port_hold_init(struct port_hold *h, uint32_t addr_be);
/* Bind a kernel socket to port 0 on addr; returns the port it got. */
int port_hold_reserve(struct port_hold *h, uint16_t *port);
/* Bind a kernel socket to `port` unless held; EADDRINUSE = someone else holds it (fine). */
int port_hold_take(struct port_hold *h, uint16_t port);
void port_hold_drop(struct port_hold *h, uint16_t port);
void port_hold_release_all(struct port_hold *h);

/* ---- watchdog ---------------------------------------------------------------------------------
 */

/* Start a detached (double-forked) watchdog in the caller's network namespace. Call it before
 * EAL starts (the process is still small and single-threaded). Returns the write end of its
 * command pipe (CLOEXEC) or -errno. */
int watchdog_start(char *err, size_t errlen);
/* Tell the watchdog which program to detach from which interface if this process dies
 * (tc = 1: our tc ingress filter instead of an XDP program). */
int watchdog_arm(int fd, int ifindex, uint32_t prog_id, int tc);
/* The engine cleaned up normally: the watchdog exits without touching anything. */
void watchdog_stop(int fd);
/* The interface lock file: removed by the watchdog too (if nobody holds its lock) when it
 * cleans up after the family, which may have lost the right to remove it (dropped privileges). */
int watchdog_lock_file(int fd, const char *path);
/* iface_lock.c: the lock file this process (or its fork parent) took, "" if none. */
const char *iface_lock_path(void);
/* Remove the lock file this process took if nobody holds it any more (exit handler; also
 * called by a fork child that leaves last, which may end with _exit). */
void iface_lock_remove_at_exit(void);
/* Remove `path` if no process holds its flock (and it is still the file we opened). */
void iface_lock_remove_if_free(const char *path);

#endif
