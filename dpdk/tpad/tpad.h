/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tpad: the owner of one kernel interface shared by several accelerated programs.
 *
 * It holds what only one process may hold on the interface: the AF_XDP sockets of every queue,
 * the XDP steering program and its port map, the interface lock. Each program (a fork family)
 * runs its own stack in its own threads and reaches the wire through a memif link to tpad, one
 * slot each. tpad switches frames: from the wire by destination port to the slot that claimed
 * the port, from a slot to the wire if its source is a port that slot claimed.
 *
 *   main.c    arguments, start (lock, watchdog, EAL, ports, XDP), the loop, the end
 *   ctl.c     the control socket (tpad_proto.h): leases, port claims, a program's death
 *   switch.c  the frame switch, the flow table, resets for a dead program's peers
 *
 * A program that dies (its lease closes) gets its ports back to the kernel and a RST sent to
 * the peer of every connection it had sent on (seq = the next sequence number it would have
 * used, learned from its frames). If tpad itself dies, its watchdog detaches XDP: the kernel
 * serves every port again.
 */
#ifndef TPA_TPAD_H
#define TPA_TPAD_H

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/types.h>

#include "engine_impl.h"
#include "tpad_flows.h"
#include "tpad_proto.h"

#define TPAD_QUEUES_MAX 64
#define TPAD_FLOWS      (1u << 18) /* connections tracked for resets (power of two) */

struct rte_mempool;
struct rte_mbuf;

struct tpad_slot {
	unsigned conns;   /* the lease's control connections (one per process), 0 = free */
	uint64_t token;   /* what JOIN must show to add one */
	pid_t pid;        /* the program that took it */
	char name[32];    /* its name */
	uint16_t port_id; /* DPDK port of its memif link */
	int bell_tpad;    /* eventfd the program rings to wake tpad */
	int bell_prog;    /* eventfd tpad rings to wake the program */
	uint32_t ports;   /* TCP ports it claims */
	uint64_t rx, tx, tx_refused, rx_dropped;
};

/* The page programs map read-only (tpad_proto.h: struct tpad_bell_page). */
struct tpad_bell_page;

struct tpad {
	char iface[32];
	int ifindex;
	uint32_t ipv4; /* network order */
	uint8_t mac[6];
	unsigned nq;
	uint16_t xdp_ports[TPAD_QUEUES_MAX];
	int xsk_fds[TPAD_QUEUES_MAX];
	unsigned nslots;
	struct tpad_slot slots[TPAD_SLOTS_MAX];
	uint8_t owner[65536];     /* TCP port -> slot + 1, 0 = the kernel's */
	uint8_t conn_slot[65536]; /* control connection fd -> slot + 1 */
	struct tpad_flows flows;  /* for resets (tpad_flows.h) */
	struct rte_mempool *pool;
	struct xdp_ctl xdp;
	int xdp_open;
	int watchdog_fd;
	int lock_fd;
	struct tpad_bell_page *bell; /* sleeping: programs ring bell_tpad after sending */
	int bell_fd;                 /* its memfd, sealed against writable mappings */
	int ctl_fd;                  /* listening */
	int ep_fd;                   /* what wakes the loop */
	int on_demand;               /* started by a program: exit when the last one is gone */
	uint64_t idle_exit_ns;
	uint64_t empty_since_ns;
	uint64_t spin_ns;
	volatile int stop;
	uint64_t rx_unowned, tx_foreign, resets_sent;
};

/* ctl.c */
/* Bind the control socket (-EADDRINUSE: another tpad has the interface). Connections are
 * refused until tpad_ctl_listen, once tpad serves: a program never waits on a tpad that is
 * still starting (or failing to). */
int tpad_ctl_open(struct tpad *t, char *err, size_t errlen);
int tpad_ctl_listen(struct tpad *t, char *err, size_t errlen);
/* Handle what the control fds have (accept, requests, closed leases); ev = epoll data. */
void tpad_ctl_event(struct tpad *t, uint32_t ev);
int tpad_programs(const struct tpad *t);

/* switch.c */
int tpad_switch_init(struct tpad *t);
/* One round: wire -> slots, slots -> wire. Returns frames moved. */
unsigned tpad_switch_round(struct tpad *t);
/* A slot's program is gone: reset its connections' peers and forget them. */
void tpad_switch_reset_slot(struct tpad *t, unsigned slot);
/* Sleep until a frame or a request comes (or timeout_ms), with the doorbell page saying so;
 * returns the epoll events. */
int tpad_switch_sleep(struct tpad *t, int timeout_ms, struct epoll_event *ev, int max);
/* Wake the slot's program (frames were given to it). */
void tpad_switch_ring(struct tpad *t, unsigned slot);
/* Read the doorbells tpad sleeps on (after a sleep). */
void tpad_switch_drain_events(struct tpad *t);

/* epoll data tags */
#define TPAD_EV_LISTEN 0x10000u
#define TPAD_EV_CONN   0x20000u /* | fd: a connection of a lease */
#define TPAD_EV_WAKE   0x40000u /* a port's receive: just wake up */
#define TPAD_EV_NEW    0x80000u /* | fd: a connection before its HELLO */

uint64_t tpad_now_ns(void);

#endif
