/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's state, shared by engine.c (lifetime, EAL, polling, waiting) and engine_dev.c
 * (the stack's device, clock, hooks and memory over it). Nothing outside dpdk/ sees it.
 */
#ifndef TPA_DPDK_ENGINE_STATE_H
#define TPA_DPDK_ENGINE_STATE_H

#include <stdint.h>
#include <sys/types.h>

#include "capture.h"
#include "engine_impl.h"
#include "iface.h"
#include "mbuf_pool.h"
#include "port.h"
#include "shm.h"
#include "tpa/stack.h"

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
	struct capture_state cap; /* tpa capture (capture.c): ctl NULL when off */
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
	/* TPA_OWNER=tpad (tpad_client.c): the lease on the interface's owner. Each process of
	 * the family reaches it through its own control fd (tpad_client.c keeps it); these are
	 * the family's. */
	int via_tpad;
	int tpad_fd;        /* the creator's first connection, for the wait set */
	uint16_t tpad_slot; /* the lease's slot: the memif id */
	uint64_t tpad_token;
	uint32_t tpad_gen; /* leases taken so far: a process whose fd is older joins anew */
	int tpad_lost;     /* tpad went away: ask again from tpad_retry_ns on */
	uint64_t tpad_retry_ns;
	struct {
		uint64_t neigh_updates, neigh_resolves, steer_on, steer_off, steer_fail,
		        reserve_fail, tx_fault_unsent;
	} st;
};

/* engine.c */
/* Add fd to what wakes a sleeper (the wait epoll fd). 0 or -errno. */
int engine_wait_add(struct tpa_engine *e, int fd);

/* engine_run.c */
/* memif: follow the port's current Rx event fd in the wait fd (it changes on reconnect). */
void engine_intr_refresh(struct tpa_engine *e);

/* tpad_client.c: the lease on tpad (TPA_OWNER=tpad) */
/* A tpad serves iface in this network namespace (TPA_OWNER=auto). */
int tpad_client_serves(const char *iface);
/* Take a lease (starting tpad if none runs); the port becomes the slot's memif link. */
int tpad_client_open(struct tpa_engine *e, char *err, size_t errlen);
/* Claim (on) or give back a port. 0, or -errno (the reason is printed). */
int tpad_client_steer(struct tpa_engine *e, uint16_t port, int on);
/* From the poll path, every millisecond: notice tpad's end, take a lease again. */
void tpad_client_upkeep(struct tpa_engine *e, uint64_t now_ns);
void tpad_client_close(struct tpa_engine *e);
/* Frames went to tpad: ring its doorbell if it sleeps. */
void tpad_client_kick(void);
/* Read this process's doorbell (after a sleep), and the fd to sleep on. */
void tpad_client_drain(void);
int tpad_client_wait_fd(void);

/* engine_dev.c */
/* The stack's device, clock, hooks, memory and secret (the RFC 6528 key, drawn here: the
 * stack makes no system calls) over engine e. 0, or -errno when no key could be drawn. */
int engine_stack_wire(struct tpa_engine *e, struct tpa_stack_config *sc);
/* Transmit on the port (tx_backlog.c's callback). */
uint16_t engine_tx_port_cb(void *ctx, struct rte_mbuf **pkts, uint16_t n);
/* memif: notice a link that went down while frames wait. */
void engine_tx_link_check(struct tpa_engine *e);
/* A neighbour the kernel learnt, for the stack (nl_neigh_dump/poll callback). */
void engine_neigh_to_stack(void *arg, uint32_t ip_be, const uint8_t *mac);

#endif
