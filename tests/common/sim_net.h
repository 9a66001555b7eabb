/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The simulated network: two stack instances (node 0 = 198.18.0.1, node 1 = 198.18.0.2, /24,
 * each with its own mbuf pool and MAC) joined by a link whose two directions impair traffic
 * deterministically from a seed: loss, duplication (the copy sometimes right behind the
 * original, sometimes late), reordering (an extra delay of varying length, so frames overtake by
 * varying depths), corruption (bit flips a checksum must catch), propagation delay, bandwidth
 * with a bounded queue. Frames are copied onto the wire, never shared between the stacks. The
 * link counts what the receiver really saw (frames overtaken, by how far; late duplicates), so
 * a test can prove its impairments happened.
 *
 * Time is virtual (struct vclock). sim_run_until() polls both stacks and, when both are idle,
 * jumps the clock to the next event (a frame arriving, or either stack's next timer), so
 * protocol timeouts of minutes take no wall time. A timer a stack reports as due that does not
 * fire when polled is a fault: the test fails instead of the clock stepping over it. Everything
 * is single threaded and the same seed always gives the same run; the seed comes from the
 * environment (TPA_SIM_SEED, TPA_SIM_SEEDS) when set, see sim_main().
 *
 * Direction d carries frames sent by node d (dir 0: node 0 -> node 1, dir 1: node 1 -> node 0).
 */
#ifndef TPA_TEST_SIM_NET_H
#define TPA_TEST_SIM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tpa/stack.h"
#include "vclock.h"

struct rte_mempool;
struct sim_world;

struct sim_impair {
	double loss;       /* probability a frame is lost */
	double dup;        /* probability a frame is delivered twice */
	double reorder;    /* probability a frame is held back (see reorder_extra_ns) */
	double corrupt;    /* probability 1-3 bits of a frame are flipped */
	uint64_t delay_ns; /* propagation delay */
	/* Longest extra delay of a reordered frame. Each one draws 1 us .. this, uniform in the
	 * logarithm: shallow reordering (below the dup-ACK threshold) as often as deep. */
	uint64_t reorder_extra_ns;
	/* Longest a duplicate trails its original: half the copies follow 1 us behind, the others
	 * draw 1 us .. this like reordered frames (late duplicates). 0: always 1 us. */
	uint64_t dup_extra_ns;
	uint64_t bandwidth_bps; /* serialisation rate; 0 = infinite */
	uint64_t queue_bytes;   /* bound of the serialisation queue; 0 = unbounded */
	bool down;              /* link cut: every frame is lost */
};

struct sim_dir_stats {
	uint64_t sent;      /* frames the sender handed to the link */
	uint64_t bytes;     /* their bytes */
	uint64_t delivered; /* frames handed to the receiver (duplicates included) */
	uint64_t dropped;   /* all drops below */
	uint64_t dropped_loss, dropped_queue, dropped_down, dropped_tap, dropped_nomem;
	uint64_t duplicated, reordered, corrupted; /* decided when sent */
	/* What the receiver saw, by send order. A frame is overtaken when one sent after it was
	 * delivered first; its depth is how many frames later in send order the newest delivered
	 * one was (lost ones included). A late duplicate is a copy overtaken that way. */
	uint64_t arrived_overtaken, arrived_dup, arrived_dup_late;
	uint64_t depth_min, depth_max;
	uint64_t depth_log2[8]; /* overtaken frames by depth: 1, 2-3, 4-7, ... 128+ */
};

/* Sees every frame node `from` sends, before impairment; return false to drop it. */
typedef bool (*sim_tap_fn)(void *ctx, int from, const uint8_t *frame, uint32_t len);

struct sim_world_opts {
	uint64_t seed;
	struct sim_impair impair[2];
	unsigned pool_size; /* mbufs per node (default 16384) */
	/* Emulate a NIC with checksum offloads (tx fill, rx verdict flags) on both nodes. */
	bool offloads;
	/* Adjust a node's stack config (TCP params, max_sockets...) before the stack is made. */
	void (*tweak)(void *ctx, int node, struct tpa_stack_config *cfg);
	void *tweak_ctx;
};

/* Defaults: seed sim_seed(), 1 ms delay each way, 1 Gbit/s, 1 MiB queue, no impairment (3 ms
 * for reorder_extra_ns and dup_extra_ns). */
void sim_world_opts_init(struct sim_world_opts *o);
/* NULL (with a message on stderr) if a stack cannot be created. */
struct sim_world *sim_world_create(const struct sim_world_opts *o);
/* Destroys both stacks and frees frames in flight and the pools. */
void sim_world_destroy(struct sim_world *w);

struct tpa_stack *sim_stack(struct sim_world *w, int node);
struct rte_mempool *sim_pool(struct sim_world *w, int node);
unsigned sim_pool_size(const struct sim_world *w);
uint32_t sim_ip(const struct sim_world *w, int node); /* network order */
const uint8_t *sim_mac(const struct sim_world *w, int node);
uint64_t sim_now(const struct sim_world *w);
struct vclock *sim_clock(struct sim_world *w);
/* Live impairment of direction dir (may be changed between runs, e.g. to cut the link). */
struct sim_impair *sim_impair(struct sim_world *w, int dir);
const struct sim_dir_stats *sim_stats(const struct sim_world *w, int dir);
void sim_set_tap(struct sim_world *w, sim_tap_fn fn, void *ctx);
/* Frames queued on the link (both directions). */
uint32_t sim_in_flight(const struct sim_world *w);

/* Deliver a crafted frame to node `to` after delay_ns (no impairment). 0 or -ENOMEM. */
int sim_inject(struct sim_world *w, int to, const void *frame, uint32_t len, uint64_t delay_ns);

/* Called before every polling round; returns true when the run is done. May do application
 * work (send, recv, accept...). */
typedef bool (*sim_pred_fn)(struct sim_world *w, void *ctx);
/* Run until pred returns true (true) or max_virtual_ns of virtual time passed or nothing can
 * happen any more or the clock faulted (false). pred NULL: run for max_virtual_ns. */
bool sim_run_until(struct sim_world *w, sim_pred_fn pred, void *ctx, uint64_t max_virtual_ns);
void sim_run_for(struct sim_world *w, uint64_t virtual_ns);

/* Clock fault: both stacks were polled at the current instant, stayed idle, and one still
 * reports a timer due at or before it. The default hook fails the running Check test with msg;
 * a test of the harness itself may install its own (NULL restores the default). */
typedef void (*sim_fault_fn)(void *ctx, const char *msg);
void sim_set_fault_hook(struct sim_world *w, sim_fault_fn fn, void *ctx);
/* The last fault's message, or NULL. */
const char *sim_fault(const struct sim_world *w);

/* Seeds. sim_main() runs a suite once per seed: first .. first+count-1, or TPA_SIM_SEED=S
 * (first) and TPA_SIM_SEEDS=N (count, default 1 when TPA_SIM_SEED is set) from the
 * environment. sim_world_opts_init() takes the current seed (1 outside sim_main). Returns the
 * process exit status; exits 2 on a malformed variable. */
struct Suite;
int sim_main(struct Suite *(*make_suite)(void), uint64_t first, unsigned count);
uint64_t sim_seed(void);

/* A listening socket on node:port (backlog), or -errno. */
int sim_listen(struct sim_world *w, int node, uint16_t port, int backlog);
/* Connect a new socket of node 1-lnode to listener lsock (port) of node lnode, run until
 * established and accepted. 0 with *cli and *srv set, or -errno (-ETIMEDOUT after 30 s). */
int sim_connect(struct sim_world *w, int lnode, int lsock, uint16_t port, int *cli, int *srv);
/* Both stacks hold no mbuf, the link carries none and both pools have every mbuf back. */
bool sim_no_mbufs_leaked(struct sim_world *w);
/* Print a direction's stats with a label. */
void sim_print_stats(const struct sim_world *w, const char *label);

/* Deterministic test streams: byte i of stream `seed` is a function of (seed, i) only, so any
 * slice can be generated or checked on its own. */
void sim_stream_fill(uint64_t seed, uint64_t pos, uint8_t *buf, size_t len);
/* Position of the first byte of buf that differs from the stream, or SIZE_MAX. */
size_t sim_stream_check(uint64_t seed, uint64_t pos, const uint8_t *buf, size_t len);
/* 64-bit FNV-1a, continued from h (start with SIM_HASH_INIT). */
#define SIM_HASH_INIT 0xcbf29ce484222325ull
uint64_t sim_hash(uint64_t h, const uint8_t *buf, size_t len);
/* splitmix64: the seeded generator used everywhere in the simulation. */
uint64_t sim_rand(uint64_t *state);

#endif
