/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tpa engine: one tpa stack running on one DPDK port, configured from tpa's settings.
 *
 * Contract:
 * - One engine per process: DPDK's EAL can start only once. A second tpa_engine_create() fails
 *   with EALREADY while an engine exists. If the engine started EAL, tpa_engine_destroy() cleans
 *   EAL up and no new engine can be created in the process (EALREADY). If the program runs EAL
 *   itself, the engine hot-plugs its device into it and destroy removes it: engines can then be
 *   created again, one at a time.
 * - The engine is not thread-safe. Exactly like the stack it owns, one thread at a time calls
 *   into it (the caller serialises, e.g. with the same lock that guards the stack). EAL runs no
 *   threads of its own that touch packets; the calling thread's CPU affinity is the same after
 *   tpa_engine_create() as before it.
 * - Nothing happens behind the caller's back: packets move, timers run and neighbour updates are
 *   applied only inside tpa_engine_poll() (and tpa_engine_wait(), which polls once it wakes).
 * - Addresses (MAC, IPv4 address/prefix, gateway, MTU) are learned from the kernel over netlink
 *   for ports that have a kernel interface (af_xdp, af_packet) unless overridden in the config.
 * - On af_xdp ports an XDP program of ours steers to the engine only IPv4 TCP packets whose
 *   destination port the stack uses (listening or connected); the kernel keeps everything else
 *   (ARP, ICMP, UDP, other TCP ports). Every steered port is also held by a kernel socket bound
 *   to it, so the kernel never hands it to another program. On af_packet ports a tc ingress
 *   filter from the same object drops those ports' frames before the kernel's TCP sees them.
 * - Neighbours come from the kernel: its table is read at start, the stack's neigh_resolve
 *   requests make the kernel resolve, and RTM_NEWNEIGH updates are followed. On ports without
 *   a kernel interface (memif, pci) the stack resolves with ARP itself.
 * - Cleanup: tpa_engine_destroy() stops the port, detaches the XDP program (tc filter), closes
 *   the held kernel sockets and cleans EAL up. If the process dies without it (crash, SIGKILL),
 *   a watchdog process (double-forked, so it is never the program's child) detaches the XDP
 *   program / tc filter; the kernel closes the held sockets by itself. A later engine start on
 *   the interface also removes a tpa program left there (never another XDP program).
 * - Every function returning int returns >= 0 on success and a negative errno value on failure;
 *   functions taking (err, errlen) also write a one-line, human-readable reason there.
 */
#ifndef TPA_DPDK_H
#define TPA_DPDK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tpa/stack.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tpa_engine;

/* ---- configuration ------------------------------------------------------------------- */

enum tpa_port_kind {
	TPA_PORT_AF_XDP = 0, /* "af_xdp": net_af_xdp on a kernel interface + our XDP program */
	TPA_PORT_AF_PACKET,  /* "af_packet": net_af_packet; the kernel sees every frame too */
	TPA_PORT_MEMIF,      /* "memif": net_memif shared-memory link to another process */
	TPA_PORT_PCI,        /* "pci": a NIC bound to vfio-pci/uio, given by PCI address */
};

enum tpa_memif_role {
	TPA_MEMIF_CLIENT = 0, /* "client": connects to the socket */
	TPA_MEMIF_SERVER,     /* "server": creates the socket and waits */
};

/* Rates are in parts per million (1000000 = every packet). */
struct tpa_fault_rates {
	uint32_t drop_ppm;    /* the packet disappears */
	uint32_t dup_ppm;     /* the packet is delivered twice */
	uint32_t reorder_ppm; /* the packet is held back and delivered after the next one */
	uint32_t corrupt_ppm; /* one byte past the Ethernet header is flipped */
};

struct tpa_fault_config {
	struct tpa_fault_rates rx; /* applied to frames received from the port */
	struct tpa_fault_rates tx; /* applied to frames handed to the port */
	uint64_t seed;             /* same seed + same traffic = same faults */
};

#define TPA_ENGINE_IFNAME_MAX   16
#define TPA_ENGINE_PATH_MAX     256
#define TPA_ENGINE_EAL_ARGS_MAX 512

enum tpa_owner { TPA_OWNER_AUTO = 0, TPA_OWNER_SELF = 1, TPA_OWNER_TPAD = 2 };

struct tpa_engine_config {
	/* Port -------------------------------------------------------------------------- */
	enum tpa_port_kind port_kind;      /* TPA_PORT_TYPE (default af_xdp) */
	char iface[TPA_ENGINE_IFNAME_MAX]; /* TPA_IFACE: kernel interface (af_xdp, af_packet) */
	char memif_socket[TPA_ENGINE_PATH_MAX]; /* TPA_MEMIF_SOCKET (default /run/tpa-memif.sock) */
	enum tpa_memif_role memif_role;         /* TPA_MEMIF_ROLE (default client) */
	uint32_t memif_id;                      /* TPA_MEMIF_ID: connection id (default 0) */
	char pci_addr[32];                      /* TPA_PCI_ADDR, e.g. 0000:03:00.0 */
	/* TPA_QUEUES: the device queues served, "all" (default), "N" or "A-B". Every queue the
	 * interface receives on needs an AF_XDP socket of ours, or the flows hashed there reach
	 * the kernel; a subset is for NICs whose flow steering (ethtool -N) puts tpa's ports on
	 * those queues. TPA_QUEUE=N is the old single-queue form of TPA_QUEUES=N. */
	uint32_t queue;       /* first queue (default 0) */
	uint32_t queue_count; /* 0 = every queue from `queue` on */
	/* TPA_RX_CSUM_PARTIAL: trust a TCP checksum field that holds just the pseudo-header sum
	 * (a local sender's CHECKSUM_PARTIAL): -1 auto (on for veth, tun/tap, netkit), 0 off, 1 on
	 */
	int8_t rx_csum_partial;

	/* Addresses: zero/unset = learn from the kernel interface -------------------------- */
	uint8_t mac[6];           /* TPA_MAC */
	uint8_t mac_set;          /* mac is an override */
	uint32_t ipv4_addr;       /* TPA_IP "a.b.c.d/len": network byte order */
	uint8_t ipv4_prefix_len;  /* from TPA_IP (default 24 when no length is given) */
	uint32_t ipv4_gateway;    /* TPA_GATEWAY: network byte order */
	uint8_t ipv4_gateway_set; /* gateway is an override (0.0.0.0 = explicitly none) */
	uint16_t mtu;             /* TPA_MTU: IP MTU */

	/* XDP (af_xdp only) ----------------------------------------------------------------- */
	/* TPA_XDP_PROG: the steering object. Empty = $TPA_XDP_PROG_DEFAULT search: the file
	 * tpa_steer.bpf.o next to libtpa's installed data dir, then the build tree. */
	char xdp_prog[TPA_ENGINE_PATH_MAX];
	/* TPA_XDP_STEER: 1 = our program steers ports (default); 0 = the PMD's default program,
	 * which sends EVERY packet of the queue to the engine (kernel loses the interface). */
	uint8_t xdp_steer;

	/* Sharing the interface (af_xdp) ----------------------------------------------------- */
	/* TPA_OWNER: tpad = the interface's owner daemon holds it and this program reaches it
	 * over a memif link, so several programs (each with its own stack) share one interface;
	 * started on demand. self = this program holds the interface alone. auto (default) =
	 * tpad if one serves the interface already (started by hand or as a service), else self.
	 */
	enum tpa_owner owner;
	char tpad_path[TPA_ENGINE_PATH_MAX]; /* TPA_TPAD: the tpad binary (default: found) */

	/* EAL and memory -------------------------------------------------------------------- */
	char eal_args[TPA_ENGINE_EAL_ARGS_MAX]; /* TPA_EAL_ARGS: appended, space separated */
	/* TPA_HUGEPAGES: -1 auto (use them if any are free, else --no-huge), 0 never, 1 always */
	int8_t hugepages;
	uint32_t mbufs;       /* TPA_MBUFS: pool size (default 16384) */
	uint32_t max_sockets; /* TPA_MAX_SOCKETS (default: the stack's) */
	/* TPA_WATCHDOG: 1 = start the cleanup watchdog (default for af_xdp), 0 = none */
	uint8_t watchdog;
	char log_level[16]; /* TPA_LOG_LEVEL: EAL log level (default "error") */

	/* Stack ----------------------------------------------------------------------------- */
	struct tpa_tcp_params tcp; /* TPA_TCP_*: defaults from tpa_stack_config_init() */

	/* Fault injection (testing): TPA_FAULT_{DROP,DUP,REORDER,CORRUPT} (both directions),
	 * TPA_FAULT_{RX,TX}_{DROP,DUP,REORDER,CORRUPT}, TPA_FAULT_SEED. Rates: "0.02" or "2%". */
	struct tpa_fault_config fault;

	/* Passed through to the stack (the engine fills the other stack hooks itself). */
	void (*sock_event)(void *ctx, int sock, const struct tpa_sock_state *st);
	void *sock_event_ctx;
};

/* Defaults for everything (af_xdp, no interface, addresses learned, TCP defaults). 0. */
int tpa_engine_config_init(struct tpa_engine_config *cfg);

/*
 * Apply one setting by name, e.g. ("TPA_IFACE", "eth0"). Returns 0 when applied, 1 when `name`
 * is not an engine setting (the caller may own it: TPA_PORTS, TPA_CONNECT, ...), -EINVAL when
 * the value is bad: err then names the setting, the value and what is accepted.
 */
int tpa_engine_config_set(struct tpa_engine_config *cfg, const char *name, const char *value,
                          char *err, size_t errlen);

/* Apply every engine setting found in the environment (TPA_* variables that are engine
 * settings; others are left alone). 0, or -EINVAL at the first bad one (err says which). */
int tpa_engine_config_from_env(struct tpa_engine_config *cfg, char *err, size_t errlen);

/* Calls fn(arg, name, help) for every engine setting, in a stable order (docs, --help). */
void tpa_engine_config_foreach(void (*fn)(void *arg, const char *name, const char *help),
                               void *arg);

/* Parse a rate ("0.02", "2%", "0") into parts per million. 0 or -EINVAL. */
int tpa_engine_parse_rate(const char *value, uint32_t *ppm);

/* ---- lifetime ------------------------------------------------------------------------ */

/* Starts EAL, the port, the stack. NULL on failure with errno set and err filled. */
struct tpa_engine *tpa_engine_create(const struct tpa_engine_config *cfg, char *err, size_t errlen);
/* Stops everything tpa_engine_create() started (see the contract above). NULL is a no-op. */
void tpa_engine_destroy(struct tpa_engine *e);

struct tpa_stack *tpa_engine_stack(struct tpa_engine *e);

/* ---- running ------------------------------------------------------------------------- */

/* One round: receive + process + timers + flush (tpa_stack_poll), neighbour updates from the
 * kernel, housekeeping. Returns the work done (packets + events; 0 = idle), never negative. */
int tpa_engine_poll(struct tpa_engine *e);

/*
 * An fd that becomes readable (POLLIN, level-triggered) when tpa_engine_poll() has something to
 * do: received packets wait on the port, or a neighbour update arrived from the kernel. It is an
 * epoll fd holding the port's AF_XDP / packet socket or memif Rx event fd and the netlink
 * socket; it stays the same fd for the engine's life. Put it in an epoll/poll/select set next
 * to other fds; never read from it or close it. After it fires, call tpa_engine_poll() until it
 * returns 0 (readiness may persist until then). -1 when the port has no such fd (pci, and memif
 * on DPDK 22.11, whose memif PMD lacks Rx interrupts): then poll periodically. Timers are not
 * reported on it: use tpa_engine_next_timer_ns().
 */
int tpa_engine_wait_fd(struct tpa_engine *e);

/* Absolute CLOCK_MONOTONIC ns of the stack's next timer (UINT64_MAX if none). */
uint64_t tpa_engine_next_timer_ns(struct tpa_engine *e);
/* The engine's (and the stack's) clock: CLOCK_MONOTONIC in ns. */
uint64_t tpa_engine_now_ns(void);

/*
 * Sleep until packets arrive, the stack's next timer is due or timeout_ns passes (< 0 = no
 * limit, 0 = do not sleep), then poll. Returns the work done by that poll (>= 0), or -EINTR
 * when a signal interrupted the sleep (nothing polled).
 */
int tpa_engine_wait(struct tpa_engine *e, int64_t timeout_ns);

/* ---- control ------------------------------------------------------------------------- */

/* Change fault injection at run time (rates and seed; the random sequence restarts). */
void tpa_engine_set_fault(struct tpa_engine *e, const struct tpa_fault_config *fault);

/* Steer a local TCP port to the engine (on = 1) or back to the kernel (on = 0) by hand. The
 * stack already does this through its hooks for ports it listens/connects on. 0 or -errno. */
int tpa_engine_steer_port(struct tpa_engine *e, uint16_t port, int on);

struct tpa_engine_info {
	char port_name[64]; /* DPDK device name, e.g. net_af_xdp0 */
	uint16_t port_id;
	char iface[TPA_ENGINE_IFNAME_MAX];
	int ifindex; /* 0 when there is no kernel interface */
	uint8_t mac[6];
	uint32_t ipv4_addr; /* network byte order */
	uint8_t ipv4_prefix_len;
	uint32_t ipv4_gateway;
	uint16_t mtu;
	uint32_t tx_offloads; /* TPA_DEV_OFFLOAD_* handed to the stack */
	uint8_t xdp_attached; /* our steering program is on the interface */
	int numa_node;
	char driver[32];      /* kernel driver of iface ("" without one) */
	uint16_t queue_first; /* device queues served: queue_first .. + queue_count - 1 */
	uint16_t queue_count;
	uint16_t iface_queues;   /* receive queues the interface uses (0 = no kernel interface) */
	uint8_t rx_csum_partial; /* partial checksums from a local sender are trusted */
	/* Something the user should know about this setup although the engine runs (e.g. queues
	 * left to the kernel): one line, "" if none. The shim prints it at start. */
	char notice[512];
};
void tpa_engine_get_info(const struct tpa_engine *e, struct tpa_engine_info *info);

/* Engine counters (fault injection, port holding, neighbours), like tpa_stack_stats_foreach. */
void tpa_engine_stats_foreach(const struct tpa_engine *e,
                              void (*fn)(void *arg, const char *name, uint64_t value), void *arg);

/* ---- for a library that interposes the process's libc calls (the shim) ------------------ */

/*
 * EAL's interrupt thread runs DPDK's control callbacks (net_memif's: mapping and unmapping the
 * rings as the peer comes and goes) between two epoll_wait calls. Call begin before and end
 * after every epoll_wait that passes through to the kernel: in that thread they keep the
 * round of callbacks and the bursts on the port apart; elsewhere (or without a memif port)
 * they return at once. end keeps errno.
 */
void tpa_engine_epoll_wait_begin(void);
void tpa_engine_epoll_wait_end(void);
/* 1 in EAL's interrupt thread. While a memif port exists that thread's rounds of callbacks
 * hold the port (above) and the engine may wait for one to end: nothing it calls may wait for
 * a lock held while calling the engine. */
int tpa_engine_eal_thread(void);

struct msghdr;
/*
 * A sendmsg on a kernel socket failed (errno set): what to return instead of -1. In EAL's
 * interrupt thread with a memif port, a send to a peer that has gone (EPIPE, ECONNRESET,
 * ENOTCONN) counts as sent, so that net_memif takes its normal path when the peer's end of file
 * arrives (its listener mishandles that send failing); otherwise -1 with errno unchanged.
 */
ssize_t tpa_engine_sendmsg_failed(const struct msghdr *msg);

#ifdef __cplusplus
}
#endif
#endif
