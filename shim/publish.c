/* SPDX-License-Identifier: BSD-3-Clause */
/* The inspection file (tpa sockets, tpa stats); see publish.h. */
#include "publish.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "family.h"
#include "shim.h"
#include "tpa/dpdk.h"
#include "tpa/stack.h"
#include "tpa/trace.h"

_Static_assert(sizeof(struct tpa_pub_counter) == 64, "counter layout");
_Static_assert(sizeof(struct tpa_pub_sock) == 128, "socket layout");
_Static_assert(offsetof(struct tpa_pub_sock, pid) == 20, "socket layout");
_Static_assert(offsetof(struct tpa_pub_sock, rtt_us) == 48, "socket layout");
_Static_assert(offsetof(struct tpa_pub_sock, retransmits) == 88, "socket layout");
_Static_assert(offsetof(struct tpa_pub_header, req_seq) == 128, "header layout");
_Static_assert(offsetof(struct tpa_pub_header, cnt_seq) == 192, "header layout");
_Static_assert(offsetof(struct tpa_pub_header, sock_seq) == 256, "header layout");
_Static_assert(offsetof(struct tpa_pub_header, family_pids) == 324, "header layout");
_Static_assert(offsetof(struct tpa_pub_header, start_realtime_ns) == 120, "header layout");
_Static_assert(offsetof(struct tpa_pub_header, trace_off) == 1408, "header layout");
_Static_assert(offsetof(struct tpa_pub_header, cap) == 2048, "header layout");
_Static_assert(sizeof(struct tpa_capture_ctl) == 128, "capture layout");
_Static_assert(sizeof(struct tpa_capture_rec) == 24, "capture layout");
_Static_assert(sizeof(struct tpa_trace_ring) == 64 + 32 * TPA_TRACE_RING_EVENTS, "trace layout");
_Static_assert(sizeof(struct tpa_trace_area) == 64, "trace layout");
_Static_assert(sizeof(struct tpa_pub_header) <= TPA_PUB_HEADER_SIZE, "header layout");

/* Counters by time: a program nobody inspects pays for one copy a second (the engine's
 * counters read the XDP map and the port statistics: a few system calls). */
#define PUBLISH_PERIOD_NS 1000000000ull
/* Readers asking in a loop get at most this many walks a second. */
#define PUBLISH_MIN_GAP_NS 10000000ull
#define COUNTERS_MAX       256u
/* The socket section: the file starts with room for SOCKS_INITIAL entries and grows (on a
 * reader's request, outside the hot path) up to SOCKS_MAX, whole allocations (fallocate) so
 * that a full /dev/shm never faults the program: it only stops the file growing. */
#define SOCKS_INITIAL 1024u
#define SOCKS_MAX     65536u
/* The capture ring: at 100k frames/s of 100 bytes, 0.4 s for a reader that drains it every
 * few milliseconds. Allocated at the first capture. */
#define CAPTURE_RING_SIZE (4u << 20)
/* A capture whose reader has not drained the ring for this long stops (reader killed). */
#define CAPTURE_READER_GONE_NS 3000000000ull
/* Files of programs that died with a trace: kept this long, at most this many. */
#define PUBLISH_DEAD_MAX   8
#define PUBLISH_DEAD_AGE_S 86400

struct shim_publish shim_pub;

static int pub_fd = -1;
static char pub_path[256];
static size_t pub_map_len;
static struct tpa_engine *pub_engine;

static uint64_t page_up(uint64_t n)
{
	return (n + 4095) & ~4095ull;
}

static size_t file_size(uint32_t socks)
{
	return TPA_PUB_HEADER_SIZE + COUNTERS_MAX * sizeof(struct tpa_pub_counter) +
	       (size_t)socks * sizeof(struct tpa_pub_sock);
}

static const char *publish_dir(void)
{
	const char *d = getenv("TPA_PUBLISH_DIR");
	return d && *d ? d : "/dev/shm";
}

/* Whether the stale file open on fd holds trace events (worth keeping for tpa trace). */
static int has_trace(int fd, uint64_t *cap_off)
{
	struct tpa_pub_header h;
	struct tpa_trace_area a;
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.magic != TPA_PUB_MAGIC ||
	    h.version != TPA_PUB_VERSION || !h.trace_off)
		return 0;
	*cap_off = h.cap_off;
	return pread(fd, &a, sizeof(a), (off_t)h.trace_off) == (ssize_t)sizeof(a) &&
	       a.magic == TPA_TRACE_MAGIC && a.opened > 0;
}

/* Dead programs' files beyond PUBLISH_DEAD_MAX (the oldest first) or a day old go. */
static void prune_dead(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	int pids[64];
	time_t mtimes[64];
	int n = 0;
	struct dirent *de;
	time_t now = time(NULL);
	while ((de = readdir(d))) {
		int pid;
		char tail[8];
		struct stat st;
		char p[512];
		if (sscanf(de->d_name, "tpa-%d.%7s", &pid, tail) != 2 || strcmp(tail, "dead") != 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (now - st.st_mtime > PUBLISH_DEAD_AGE_S || n == 64) {
			unlink(p);
			continue;
		}
		pids[n] = pid;
		mtimes[n++] = st.st_mtime;
	}
	closedir(d);
	for (; n > PUBLISH_DEAD_MAX; n--) {
		int oldest = 0;
		for (int i = 1; i < n; i++)
			if (mtimes[i] < mtimes[oldest])
				oldest = i;
		char p[512];
		snprintf(p, sizeof(p), "%s/tpa-%d.dead", dir, pids[oldest]);
		unlink(p);
		pids[oldest] = pids[n - 1];
		mtimes[oldest] = mtimes[n - 1];
	}
}

/* A tpa-<pid>.stats whose lock nobody holds and whose starter is gone: its family died
 * without removing it (SIGKILL, a crash). With a trace it becomes tpa-<pid>.dead (without
 * its capture ring), else it goes. */
static void remove_stale(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		int pid;
		char tail[8];
		if (sscanf(de->d_name, "tpa-%d.%7s", &pid, tail) != 2 || strcmp(tail, "stats") != 0)
			continue;
		if (pid == getpid() || kill(pid, 0) == 0 || errno == EPERM)
			continue;
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		/* Not blocking on a FIFO someone named so; regular files only. */
		int fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    flock(fd, LOCK_EX | LOCK_NB) == 0) {
			char dead[512];
			snprintf(dead, sizeof(dead), "%s/tpa-%d.dead", dir, pid);
			uint64_t cap_off = 0;
			if (!has_trace(fd, &cap_off) || (cap_off && truncate(p, (off_t)cap_off)) ||
			    rename(p, dead) != 0)
				unlink(p);
		}
		close(fd);
	}
	closedir(d);
	prune_dead(dir);
}

/* Make room for `socks` entries (whole allocation). */
static int grow(uint32_t socks)
{
	struct tpa_pub_header *h = shim_pub.hdr;
	if (socks > h->socks_max)
		socks = h->socks_max;
	if (socks <= h->socks_cap)
		return 0;
	if (posix_fallocate(pub_fd, 0, (off_t)file_size(socks)) != 0)
		return -1;
	h->socks_cap = socks;
	return 0;
}

/* TPA_TRACE=0: no trace; TPA_TRACE_CONNS: connections traced at once (checked with the rest
 * of the shim's settings: a bad value stops the program at start). */
static uint32_t trace_conns(void)
{
	return shim.cfg.trace ? shim.cfg.trace_conns : 0;
}

/* The stack traces into the file from now on (the area was reserved with the file). */
static void trace_start(struct tpa_engine *e, struct tpa_pub_header *h)
{
	if (!h->trace_len)
		return;
	struct tpa_stack *s = tpa_engine_stack(e);
	if (!s || tpa_stack_trace_attach(s, (char *)h + h->trace_off, h->trace_len) != 0) {
		h->trace_off = 0;
		h->trace_len = 0;
	}
}

void shim_publish_start(struct tpa_engine *e, uint32_t max_sockets)
{
	const char *on = getenv("TPA_PUBLISH");
	if (shim_pub.hdr || (on && strcmp(on, "0") == 0))
		return;
	const char *dir = publish_dir();
	remove_stale(dir);
	char tmp[300];
	int n = snprintf(pub_path, sizeof(pub_path), "%s/tpa-%d.stats", dir, (int)getpid());
	if (n <= 0 || (size_t)n >= sizeof(pub_path))
		return;
	snprintf(tmp, sizeof(tmp), "%s.new", pub_path);
	unlink(tmp);
	/* Made under a temporary name and renamed once locked: a reader never finds the final
	 * name without its lock. */
	int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	uint32_t socks_max = max_sockets < SOCKS_MAX ? max_sockets : SOCKS_MAX;
	uint32_t cap = socks_max < SOCKS_INITIAL ? socks_max : SOCKS_INITIAL;
	uint32_t nrings = trace_conns();
	uint64_t trace_off = page_up(file_size(socks_max));
	uint64_t trace_len = nrings ? page_up(tpa_trace_area_size(nrings)) : 0;
	size_t len = trace_off + trace_len + CAPTURE_RING_SIZE;
	void *m = MAP_FAILED;
	/* The trace area is reserved now (the stack writes it on its own); between it and the
	 * socket entries the file has a hole that only reads reach until the file grows. */
	if (fchmod(fd, 0644) == 0 && flock(fd, LOCK_SH) == 0 &&
	    posix_fallocate(fd, 0, (off_t)file_size(cap)) == 0 &&
	    (!trace_len || posix_fallocate(fd, (off_t)trace_off, (off_t)trace_len) == 0))
		/* The whole maximum is mapped; pages past the end of the file are never touched:
		 * entries are written only below socks_cap. */
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		unlink(tmp);
		close(fd);
		return;
	}
	struct tpa_pub_header *h = m;
	h->version = TPA_PUB_VERSION;
	h->header_size = TPA_PUB_HEADER_SIZE;
	h->counter_size = sizeof(struct tpa_pub_counter);
	h->counters_max = COUNTERS_MAX;
	h->counters_off = TPA_PUB_HEADER_SIZE;
	h->sock_size = sizeof(struct tpa_pub_sock);
	h->socks_max = socks_max;
	h->socks_cap = cap;
	h->socks_off = TPA_PUB_HEADER_SIZE + COUNTERS_MAX * sizeof(struct tpa_pub_counter);
	h->pid = (int32_t)getpid();
	h->max_sockets = max_sockets;
	int cfd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	if (cfd >= 0) {
		ssize_t r = read(cfd, h->comm, sizeof(h->comm) - 1);
		if (r > 0 && h->comm[r - 1] == '\n')
			h->comm[r - 1] = 0;
		close(cfd);
	}
	struct tpa_engine_info info;
	tpa_engine_get_info(e, &info);
	snprintf(h->iface, sizeof(h->iface), "%s", info.iface);
	h->ipv4_addr = info.ipv4_addr;
	h->start_ns = tpa_engine_now_ns();
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	h->start_realtime_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
	h->trace_off = trace_len ? trace_off : 0;
	h->trace_len = trace_len;
	trace_start(e, h);
	__atomic_store_n(&h->magic, TPA_PUB_MAGIC, __ATOMIC_RELEASE);
	if (rename(tmp, pub_path) < 0) {
		if (h->trace_len)
			tpa_stack_trace_attach(tpa_engine_stack(e), NULL, 0);
		munmap(m, len);
		unlink(tmp);
		close(fd);
		return;
	}
	pub_fd = fd;
	pub_map_len = len;
	pub_engine = e;
	shim_pub.hdr = h;
	shim_pub.due_ns = 0; /* the first poll writes the counters */
}

void shim_publish_chown(uid_t uid, gid_t gid)
{
	if (pub_fd >= 0)
		(void)!fchown(pub_fd, uid, gid);
}

void shim_publish_stop(void)
{
	if (!shim_pub.hdr)
		return;
	/* Nothing of the engine's or the stack's writes into the mapping once it is gone. */
	tpa_engine_capture_stop(pub_engine);
	if (shim_pub.hdr->trace_len)
		tpa_stack_trace_attach(tpa_engine_stack(pub_engine), NULL, 0);
	pub_engine = NULL;
	unlink(pub_path);
	munmap(shim_pub.hdr, pub_map_len);
	close(pub_fd);
	shim_pub.hdr = NULL;
	pub_fd = -1;
}

/* ---- sequence locks: odd while written ---- */
static void seq_begin(uint64_t *seq)
{
	__atomic_store_n(seq, *seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void seq_end(uint64_t *seq)
{
	__atomic_store_n(seq, *seq + 1, __ATOMIC_RELEASE);
}

/* ---- counters ---- */
struct cnt_build {
	struct tpa_pub_counter *c;
	uint32_t n;
};

static void add_counter(void *arg, const char *name, uint64_t value)
{
	struct cnt_build *b = arg;
	if (b->n >= COUNTERS_MAX)
		return;
	struct tpa_pub_counter *c = &b->c[b->n++];
	/* Levels rather than counts: shown, never turned into a rate. */
	static const char *const gauges[] = {"port_queues",    "ports_held",        "xsk_sockets",
	                                     "mbufs_free",     "mbufs_in_use",      "mbufs_held",
	                                     "sockets_in_use", "mbufs_outside_umem"};
	uint32_t flags = 0;
	for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++)
		if (strcmp(name, gauges[i]) == 0)
			flags = TPA_PUB_GAUGE;
	/* Names are at most a few dozen characters; the entry's name field is cleared once. */
	size_t len = strnlen(name, sizeof(c->name) - 1);
	if (memcmp(c->name, name, len) != 0 || c->name[len] != 0) {
		memset(c->name, 0, sizeof(c->name));
		memcpy(c->name, name, len);
	}
	c->value = value;
	c->flags = flags;
}

/* The shim's own counters are per process (the kernel path of the process that accepted):
 * the engine's starter's are published; a fork child keeps what is there. */
static void add_shim_counter(struct cnt_build *b, const char *name, uint64_t mine)
{
	uint64_t v = mine;
	if (shim.forked_child) {
		const struct tpa_pub_counter *c = &b->c[b->n];
		v = b->n < COUNTERS_MAX && strcmp(c->name, name) == 0 ? c->value : 0;
	}
	add_counter(b, name, v);
}

static void publish_counters(struct tpa_pub_header *h, uint64_t now)
{
	struct cnt_build b = {(struct tpa_pub_counter *)((char *)h + h->counters_off), 0};
	seq_begin(&h->cnt_seq);
	tpa_stack_stats_foreach(shim.stack, add_counter, &b);
	tpa_engine_stats_foreach(shim.engine, add_counter, &b);
	add_counter(&b, "sockets_in_use", tpa_stack_socket_count(shim.stack));
	add_counter(&b, "mbufs_held", tpa_stack_mbufs_held(shim.stack));
	add_shim_counter(&b, "shim_kernel_accepted", shim.kernel_accepted);
	add_shim_counter(&b, "shim_kernel_accepted_remote", shim.kernel_accepted_remote);
	h->cnt_count = b.n;
	h->cnt_time_ns = now;
	h->cnt_pid = (int32_t)getpid();
	seq_end(&h->cnt_seq);
}

/* ---- sockets ---- */
struct sock_build {
	struct tpa_pub_header *h;
	struct tpa_pub_sock *out;
	struct shim_family_member *fam;
	int nfam;
	uint32_t n, total;
};

static void add_sock(void *arg, const struct tpa_sock_dump *d)
{
	struct sock_build *b = arg;
	b->total++;
	if (b->n >= b->h->socks_cap && (b->n >= b->h->socks_max || grow(b->h->socks_cap * 2) < 0))
		return;
	struct tpa_pub_sock *o = &b->out[b->n++];
	const struct tpa_tcp_info *ti = &d->info;
	memset(o, 0, sizeof(*o));
	o->id = d->id;
	o->state = (uint8_t)d->state;
	o->flags =
	        (uint8_t)((d->orphan ? TPA_PUB_SK_ORPHAN : 0) |
	                  (d->unaccepted ? TPA_PUB_SK_UNACCEPTED : 0) |
	                  (ti->timestamps ? TPA_PUB_SK_TS : 0) | (ti->sack ? TPA_PUB_SK_SACK : 0));
	o->snd_wscale = ti->snd_wscale;
	o->rcv_wscale = ti->rcv_wscale;
	o->laddr = d->laddr;
	o->raddr = d->raddr;
	o->lport = d->lport;
	o->rport = d->rport;
	for (int i = 0; i < b->nfam; i++) {
		const struct shim_family_member *f = &b->fam[i];
		if ((uint32_t)d->id < f->nbits && (f->bitmap[d->id / 8] & (1u << (d->id % 8)))) {
			if (!o->pid)
				o->pid = f->pid;
			o->nholders++;
		}
	}
	o->rcv_queued = d->rcv_queued;
	o->snd_queued = d->snd_queued;
	o->backlog = d->backlog;
	o->acc_queued = d->acc_queued;
	o->syn_queued = d->syn_queued;
	o->rtt_us = ti->rtt_us;
	o->rttvar_us = ti->rttvar_us;
	o->rto_ms = ti->rto_ms;
	o->snd_mss = ti->snd_mss;
	o->rcv_mss = ti->rcv_mss;
	o->cwnd = ti->snd_cwnd;
	o->ssthresh = ti->snd_ssthresh;
	o->snd_wnd = ti->snd_wnd;
	o->rcv_wnd = ti->rcv_wnd;
	o->retransmits = ti->retransmits;
	o->bytes_acked = ti->bytes_acked;
	o->bytes_received = ti->bytes_received;
}

static void publish_sockets(struct tpa_pub_header *h, uint64_t now)
{
	static struct shim_family_member fam[TPA_PUB_FAMILY_MAX];
	struct sock_build b = {h, (struct tpa_pub_sock *)((char *)h + h->socks_off), fam, 0, 0, 0};
	b.nfam = shim_family_members(fam, TPA_PUB_FAMILY_MAX);
	seq_begin(&h->sock_seq);
	tpa_stack_sock_foreach(shim.stack, add_sock, &b);
	h->sock_count = b.n;
	h->sock_total = b.total;
	h->sock_time_ns = now;
	h->sock_pid = (int32_t)getpid();
	if (b.nfam == 0) { /* no family table: this process alone */
		h->family_count = 1;
		h->family_pids[0] = (int32_t)getpid();
	} else {
		h->family_count = (uint32_t)b.nfam;
		for (int i = 0; i < b.nfam; i++)
			h->family_pids[i] = fam[i].pid;
	}
	seq_end(&h->sock_seq);
}

/* ---- capture: on while a reader wants it and drains the ring ---- */
static void capture_upkeep(struct tpa_pub_header *h, uint64_t now)
{
	struct tpa_capture_ctl *c = &h->cap;
	uint64_t alive = __atomic_load_n(&c->alive_ns, __ATOMIC_ACQUIRE);
	int want = __atomic_load_n(&c->want, __ATOMIC_ACQUIRE) &&
	           (alive >= now || now - alive < CAPTURE_READER_GONE_NS);
	if (!want) {
		if (c->on)
			tpa_engine_capture_stop(pub_engine);
		return;
	}
	if (c->on)
		return;
	uint64_t off = h->trace_off + h->trace_len;
	if (!off)
		off = page_up(file_size(h->socks_max));
	if (!h->cap_off) {
		if (posix_fallocate(pub_fd, (off_t)off, CAPTURE_RING_SIZE) != 0)
			return; /* /dev/shm full: no capture (the reader sees it never starts) */
		h->cap_size = CAPTURE_RING_SIZE;
		h->cap_off = off;
	}
	tpa_engine_capture_start(pub_engine, c, (char *)h + h->cap_off, h->cap_size);
}

void shim_publish_run(uint64_t now)
{
	struct tpa_pub_header *h = shim_pub.hdr;
	if (!h || !shim.stack)
		return;
	capture_upkeep(h, now);
	uint64_t req = __atomic_load_n(&h->req_seq, __ATOMIC_ACQUIRE);
	if (req != h->served_seq) {
		/* A reader asked: counters and sockets, unless a walk is only just done. */
		if (now - h->sock_time_ns >= PUBLISH_MIN_GAP_NS || h->sock_time_ns == 0) {
			publish_counters(h, now);
			publish_sockets(h, now);
			shim_pub.due_ns = now + PUBLISH_PERIOD_NS;
		}
		__atomic_store_n(&h->served_seq, req, __ATOMIC_RELEASE);
		return;
	}
	publish_counters(h, now);
	shim_pub.due_ns = now + PUBLISH_PERIOD_NS;
}
