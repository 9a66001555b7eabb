/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inspection from outside (tpa sockets, stats, trace, capture): each engine publishes its
 * counters, socket table, the stack's per-connection event trace (tpa/trace.h) and, on a
 * reader's request, a capture ring (tpa/capture.h) in a file in shared memory,
 * <dir>/tpa-<pid>.stats (dir: TPA_PUBLISH_DIR, default /dev/shm; pid: the process that started
 * the engine), which readers use without stopping, signalling or tracing the program
 * (scripts/tpa-inspect.py).
 *
 * Contract:
 * - The file is made at engine start (mode 0644, owned by the starter: a reader needs no
 *   privilege to read it, only the owner or root can ask for a fresh copy) and mapped
 *   MAP_SHARED, so every process of the fork family writes the same pages (a worker that
 *   dropped its privileges included). The starter holds a shared flock(2) on it through an fd
 *   every fork child inherits: the lock is free exactly when no process of the family is left,
 *   which is how readers and the next engine start tell a stale file (SIGKILL) and remove it.
 *   The last process of the family removes it at exit. A stale file whose trace holds events is
 *   renamed tpa-<pid>.dead instead (tpa trace --pid reads it; kept a day, at most
 *   PUBLISH_DEAD_MAX of them, tpa trace --clean removes them).
 * - The trace area is the stack's from engine start to the family's end (the stack writes it
 *   on its own events, under the same lock). The capture ring is allocated at the first
 *   request; capture runs while the reader wants it and drained it less than
 *   CAPTURE_READER_GONE_NS ago (checked on requests and once a second).
 * - Written only by a process of the family, with the shim lock held, from the poll path
 *   (shim_publish_poll): the counters when PUBLISH_PERIOD_NS has passed since this process last
 *   wrote them, and counters plus socket table when a reader asked (req_seq != served_seq), at
 *   most once per PUBLISH_MIN_GAP_NS. A poll that does neither costs two loads and a compare.
 * - Each section is behind its own sequence lock: odd while written. A reader copies a section,
 *   and keeps the copy if the sequence was even and unchanged around it.
 * - A reader never writes anything but req_seq (an increment); the publisher reads nothing of
 *   the file but req_seq and what it wrote itself.
 *
 * Layout (little-endian, offsets in bytes; checked by _Static_assert in publish.c and read by
 * scripts/tpa-inspect.py; bump TPA_PUB_VERSION on any change):
 *   0      struct tpa_pub_header (TPA_PUB_HEADER_SIZE bytes reserved)
 *   counters_off: counters_max x struct tpa_pub_counter
 *   socks_off:    socks_cap x struct tpa_pub_sock (the file grows up to socks_max entries)
 *   trace_off:    struct tpa_trace_area and its rings (trace_len bytes; 0: tracing off)
 *   cap_off:      the capture ring (cap_size bytes; 0 until the first capture)
 */
#ifndef TPA_SHIM_PUBLISH_H
#define TPA_SHIM_PUBLISH_H

#include <stdint.h>
#include <sys/types.h>

#include "tpa/capture.h"

#define TPA_PUB_MAGIC       0x3142555041505400ull /* "\0TPAPUB1" read as little-endian u64 */
#define TPA_PUB_VERSION     2u
#define TPA_PUB_HEADER_SIZE 4096u
#define TPA_PUB_FAMILY_MAX  256

/* Counter flags */
#define TPA_PUB_GAUGE 1u /* a level (sockets in use), not a count: no rate */

struct tpa_pub_counter { /* 64 bytes */
	char name[48];   /* NUL-terminated */
	uint64_t value;
	uint32_t flags; /* TPA_PUB_* */
	uint32_t pad;
};

/* Socket flags */
#define TPA_PUB_SK_ORPHAN     1u /* closed by the program, finishing on its own */
#define TPA_PUB_SK_UNACCEPTED 2u /* a listener's child not accepted yet */
#define TPA_PUB_SK_TS         4u /* timestamps in use */
#define TPA_PUB_SK_SACK       8u /* SACK in use */

struct tpa_pub_sock {         /* 128 bytes */
	int32_t id;           /* 0   stack socket id */
	uint8_t state;        /* 4   enum tpa_tcp_state (Linux TCP_* values) */
	uint8_t flags;        /* 5   TPA_PUB_SK_* */
	uint8_t snd_wscale;   /* 6 */
	uint8_t rcv_wscale;   /* 7 */
	uint32_t laddr;       /* 8   network byte order */
	uint32_t raddr;       /* 12  network byte order */
	uint16_t lport;       /* 16  host byte order */
	uint16_t rport;       /* 18 */
	int32_t pid;          /* 20  a process of the family holding it, 0: none (orphan, queued) */
	uint32_t nholders;    /* 24  processes holding it */
	uint32_t rcv_queued;  /* 28  bytes readable (Recv-Q) */
	uint32_t snd_queued;  /* 32  bytes not acknowledged (Send-Q) */
	uint32_t backlog;     /* 36  listener: accept queue limit */
	uint32_t acc_queued;  /* 40  listener: waiting in accept() */
	uint32_t syn_queued;  /* 44  listener: children in SYN_RECV */
	uint32_t rtt_us;      /* 48  smoothed RTT */
	uint32_t rttvar_us;   /* 52 */
	uint32_t rto_ms;      /* 56 */
	uint32_t snd_mss;     /* 60 */
	uint32_t rcv_mss;     /* 64 */
	uint32_t cwnd;        /* 68  bytes */
	uint32_t ssthresh;    /* 72  bytes */
	uint32_t snd_wnd;     /* 76  bytes */
	uint32_t rcv_wnd;     /* 80  bytes */
	uint32_t pad0;        /* 84 */
	uint64_t retransmits; /* 88 */
	uint64_t bytes_acked; /* 96  bytes out (acknowledged by the peer) */
	uint64_t bytes_received; /* 104 bytes in */
	uint64_t pad1[2];        /* 112 */
};

struct tpa_pub_header {
	uint64_t magic;             /* 0   TPA_PUB_MAGIC, stored last at creation */
	uint32_t version;           /* 8 */
	uint32_t header_size;       /* 12 */
	uint32_t counter_size;      /* 16  sizeof(struct tpa_pub_counter) */
	uint32_t counters_max;      /* 20 */
	uint64_t counters_off;      /* 24 */
	uint32_t sock_size;         /* 32  sizeof(struct tpa_pub_sock) */
	uint32_t socks_max;         /* 36  entries the file may grow to */
	uint64_t socks_off;         /* 40 */
	int32_t pid;                /* 48  the process that started the engine */
	uint32_t max_sockets;       /* 52  the stack's socket table size */
	char comm[16];              /* 56  its name (/proc/PID/comm) */
	char iface[32];             /* 72  TPA_IFACE */
	uint32_t ipv4_addr;         /* 104 network byte order */
	uint32_t pad0;              /* 108 */
	uint64_t start_ns;          /* 112 CLOCK_MONOTONIC at engine start */
	uint64_t start_realtime_ns; /* 120 CLOCK_REALTIME then (times of a dead program) */
	/* 128: the only field readers write (own cache line) */
	uint64_t req_seq;    /* 128 incremented by a reader that wants a fresh copy */
	uint64_t served_seq; /* 136 the req_seq value the last socket walk answered */
	uint8_t pad2[48];    /* 144 */
	/* 192: counters section */
	uint64_t cnt_seq;     /* 192 sequence lock */
	uint64_t cnt_time_ns; /* 200 CLOCK_MONOTONIC of the copy */
	uint32_t cnt_count;   /* 208 entries used */
	int32_t cnt_pid;      /* 212 process that wrote them */
	uint8_t pad3[40];     /* 216 */
	/* 256: socket section */
	uint64_t sock_seq;     /* 256 sequence lock */
	uint64_t sock_time_ns; /* 264 CLOCK_MONOTONIC of the walk, 0 before the first */
	uint32_t sock_count;   /* 272 entries written */
	uint32_t sock_total;   /* 276 sockets in the table (more than written if over socks_cap) */
	uint32_t socks_cap;    /* 280 entries the file holds now */
	int32_t sock_pid;      /* 284 process that walked */
	uint8_t pad4[32];      /* 288 */
	/* 320: the family, written with the sockets (sock_seq) */
	uint32_t family_count;                   /* 320 */
	int32_t family_pids[TPA_PUB_FAMILY_MAX]; /* 324 */
	uint8_t pad5[60];                        /* 1348 */
	/* 1408: where the trace and the capture ring are (fixed at start but cap_off) */
	uint64_t trace_off;         /* 1408 */
	uint64_t trace_len;         /* 1416 */
	uint64_t cap_off;           /* 1424 0 until the first capture */
	uint32_t cap_size;          /* 1432 */
	uint8_t pad6[612];          /* 1436 */
	struct tpa_capture_ctl cap; /* 2048 */
};

struct tpa_engine;

/* Where publishing stands in this process (the mapping is the family's). */
struct shim_publish {
	struct tpa_pub_header *hdr; /* NULL: not publishing */
	uint64_t due_ns;            /* this process writes the counters again from then on */
};
extern struct shim_publish shim_pub;

/* Engine start (lock held, before the engine's fds are recorded): make and map the file,
 * remove stale ones. Failing leaves publishing off, silently (TPA_PUBLISH=0: off). */
void shim_publish_start(struct tpa_engine *e, uint32_t max_sockets);
/* The family's last process tears the engine down: remove the file (lock held). */
void shim_publish_stop(void);
/* The file belongs to uid:gid from now on (TPA_USER: the program removes it at exit). */
void shim_publish_chown(uid_t uid, gid_t gid);
/* The work itself (publish.c). */
void shim_publish_run(uint64_t now_ns);

/* Poll path (lock held): now_ns is the engine clock the caller already read. */
static inline void shim_publish_poll(uint64_t now_ns)
{
	const struct tpa_pub_header *h = shim_pub.hdr;
	if (h && (now_ns >= shim_pub.due_ns ||
	          __atomic_load_n(&h->req_seq, __ATOMIC_RELAXED) != h->served_seq))
		shim_publish_run(now_ns);
}

#endif
