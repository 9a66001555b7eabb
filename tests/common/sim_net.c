/* SPDX-License-Identifier: BSD-3-Clause */
#include "sim_net.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "sim_craft.h"
#include "test_eal.h"
#include "wire.h"

#define WIRE_MAX 2048 /* largest frame the link carries: the mbufs' data room */

#define SEQ_NONE UINT64_MAX /* injected frames: outside the link's send order */

struct sim_frame {
	uint64_t due;
	uint64_t order; /* FIFO among frames due at the same time */
	uint64_t seq;   /* send order on its direction */
	bool copy;      /* the second delivery of a duplicated frame */
	uint32_t len;
	uint8_t data[];
};

/* Frames on one direction, a binary min-heap on (due, order). */
struct sim_dir {
	struct sim_frame **heap;
	uint32_t len, cap;
	uint64_t order;
	uint64_t rng;
	uint64_t busy_until; /* end of the serialisation of the last queued frame */
	uint64_t next_seq;
	uint64_t newest_delivered; /* highest seq delivered + 1; 0 = none yet */
	struct sim_impair imp;
	struct sim_dir_stats st;
};

struct sim_node {
	struct sim_world *w;
	int idx;
	struct tpa_stack *stack;
	struct rte_mempool *pool;
	uint8_t mac[6];
	uint32_t ip_be;
};

struct sim_world {
	struct vclock clock;
	bool trace; /* TPA_SIM_TRACE set: print every frame and its fate */
	struct sim_node node[2];
	struct sim_dir dir[2];
	unsigned pool_size;
	bool offloads;
	sim_tap_fn tap;
	void *tap_ctx;
	sim_fault_fn fault_hook;
	void *fault_ctx;
	char fault_msg[256];
	bool faulted;
};

static uint64_t current_seed = 1;

uint64_t sim_seed(void)
{
	return current_seed;
}

uint64_t sim_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rand_unit(uint64_t *state)
{
	return (double)(sim_rand(state) >> 11) * 0x1.0p-53;
}

static bool chance(uint64_t *state, double p)
{
	return p > 0 && rand_unit(state) < p;
}

/* 1 us .. max_ns from the random word r, uniform in the logarithm (an octave, then a point in
 * it): a fixed extra delay would overtake by the same depth every time. */
static uint64_t log_uniform_ns(uint64_t r, uint64_t max_ns)
{
	const uint64_t min_ns = 1000;
	if (max_ns <= min_ns)
		return min_ns;
	unsigned octaves = 0;
	while ((min_ns << octaves) < max_ns && octaves < 40)
		octaves++;
	unsigned k = (unsigned)(r % octaves);
	uint64_t lo = min_ns << k, hi = lo * 2 < max_ns ? lo * 2 : max_ns;
	return lo + (r >> 8) % (hi - lo + 1);
}

/* ---- frame heap ---------------------------------------------------------------------- */

static bool frame_before(const struct sim_frame *a, const struct sim_frame *b)
{
	return a->due < b->due || (a->due == b->due && a->order < b->order);
}

static int heap_push(struct sim_dir *d, struct sim_frame *f)
{
	if (d->len == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 1024;
		struct sim_frame **h = realloc(d->heap, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		d->heap = h;
		d->cap = cap;
	}
	f->order = d->order++;
	uint32_t i = d->len++;
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!frame_before(f, d->heap[parent]))
			break;
		d->heap[i] = d->heap[parent];
		i = parent;
	}
	d->heap[i] = f;
	return 0;
}

static struct sim_frame *heap_pop(struct sim_dir *d)
{
	struct sim_frame *top = d->heap[0];
	struct sim_frame *last = d->heap[--d->len];
	uint32_t i = 0;
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= d->len)
			break;
		if (c + 1 < d->len && frame_before(d->heap[c + 1], d->heap[c]))
			c++;
		if (!frame_before(d->heap[c], last))
			break;
		d->heap[i] = d->heap[c];
		i = c;
	}
	if (d->len)
		d->heap[i] = last;
	return top;
}

static uint64_t dir_next_due(const struct sim_dir *d)
{
	return d->len ? d->heap[0]->due : UINT64_MAX;
}

/* ---- checksum offload emulation ------------------------------------------------------ */

/* What a NIC does for RTE_MBUF_F_TX_IP_CKSUM / TX_TCP_CKSUM: the stack left 0 in the IP
 * checksum and the pseudo-header sum in the TCP checksum field. */
static void offload_tx_fill(uint8_t *f, uint32_t len, uint64_t ol_flags)
{
	if (len < ETH_HDR_LEN + IPV4_HDR_LEN || wire_load_be16(f + ETH_OFF_TYPE) != ETH_TYPE_IPV4)
		return;
	uint8_t *ip = f + ETH_HDR_LEN;
	uint32_t ihl = ipv4_hdr_len(ip);
	uint32_t tot = wire_load_be16(ip + IPV4_OFF_TOT_LEN);
	if (ihl < IPV4_HDR_LEN || tot > len - ETH_HDR_LEN || tot < ihl)
		return;
	if (ol_flags & RTE_MBUF_F_TX_IP_CKSUM) {
		wire_store_be16(ip + IPV4_OFF_CSUM, 0);
		uint16_t c = tpa_csum_fold(tpa_csum_partial(ip, ihl, 0));
		memcpy(ip + IPV4_OFF_CSUM, &c, 2);
	}
	if ((ol_flags & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_TCP_CKSUM &&
	    tot >= ihl + TCP_HDR_LEN) {
		uint8_t *th = ip + ihl;
		uint16_t c = tpa_csum_fold(tpa_csum_partial(th, tot - ihl, 0));
		memcpy(th + TCP_OFF_CSUM, &c, 2);
	}
}

/* What a NIC reports with rx checksum offload: verdicts in ol_flags. */
static uint64_t offload_rx_verdict(const uint8_t *f, uint32_t len)
{
	uint64_t fl = 0;
	if (len < ETH_HDR_LEN + IPV4_HDR_LEN || wire_load_be16(f + ETH_OFF_TYPE) != ETH_TYPE_IPV4)
		return 0;
	const uint8_t *ip = f + ETH_HDR_LEN;
	uint32_t ihl = ipv4_hdr_len(ip);
	uint32_t tot = wire_load_be16(ip + IPV4_OFF_TOT_LEN);
	if (ipv4_hdr_version(ip) != IPV4_VERSION || ihl < IPV4_HDR_LEN || tot > len - ETH_HDR_LEN ||
	    tot < ihl)
		return RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN;
	bool ip_ok = tpa_csum_fold(tpa_csum_partial(ip, ihl, 0)) == 0;
	fl |= ip_ok ? RTE_MBUF_F_RX_IP_CKSUM_GOOD : RTE_MBUF_F_RX_IP_CKSUM_BAD;
	if (ip[IPV4_OFF_PROTO] == IPPROTO_TCP && ip_ok && tot >= ihl + TCP_HDR_LEN) {
		uint32_t src = wire_load_addr(ip + IPV4_OFF_SRC);
		uint32_t dst = wire_load_addr(ip + IPV4_OFF_DST);
		uint32_t sum = tpa_csum_pseudo_ipv4(src, dst, IPPROTO_TCP, (uint16_t)(tot - ihl));
		bool l4_ok = tpa_csum_fold(tpa_csum_partial(ip + ihl, tot - ihl, sum)) == 0;
		fl |= l4_ok ? RTE_MBUF_F_RX_L4_CKSUM_GOOD : RTE_MBUF_F_RX_L4_CKSUM_BAD;
	}
	return fl;
}

/* ---- the link -------------------------------------------------------------------------- */

static struct sim_frame *frame_new(const uint8_t *data, uint32_t len, uint64_t due, uint64_t seq,
                                   bool copy)
{
	struct sim_frame *f = malloc(sizeof(*f) + len);
	if (!f)
		return NULL;
	f->due = due;
	f->seq = seq;
	f->copy = copy;
	f->len = len;
	memcpy(f->data, data, len);
	return f;
}

/* Flip 1-3 distinct bits inside one 16-bit word (aligned like the checksummed headers, which
 * start at even frame offsets): the Internet checksum detects every such error, so a run that
 * corrupts frames must still deliver every byte intact. Flips spread over several words can
 * cancel out in a ones'-complement sum, which would make the test flaky, not the stack wrong. */
static void corrupt_frame(uint64_t *rng, uint8_t *data, uint32_t len)
{
	uint32_t word = (uint32_t)(sim_rand(rng) % ((len + 1) / 2));
	unsigned nbits = 1 + (unsigned)(sim_rand(rng) % 3);
	uint16_t mask = 0;
	while (__builtin_popcount(mask) < (int)nbits)
		mask |= (uint16_t)(1u << (sim_rand(rng) % 16));
	data[2 * word] ^= (uint8_t)(mask >> 8);
	if (2 * word + 1 < len)
		data[2 * word + 1] ^= (uint8_t)mask;
}

static void trace_frame(const struct sim_world *w, int from, const uint8_t *data, uint32_t len,
                        const char *fate)
{
	struct parsed_tcp p;
	double t = (double)w->clock.now_ns * 1e-9;
	if (!parse_tcp_frame(data, len, &p)) {
		printf("%.6f %d->%d %u bytes (not TCP) %s\n", t, from, 1 - from, len, fate);
		return;
	}
	printf("%.6f %d->%d %c%c%c%c%c seq %u ack %u win %u len %u %s\n", t, from, 1 - from,
	       p.flags & 0x02 ? 'S' : '.', p.flags & 0x10 ? 'A' : '.', p.flags & 0x01 ? 'F' : '.',
	       p.flags & 0x04 ? 'R' : '.', p.flags & 0x08 ? 'P' : '.', p.seq, p.ack, p.window,
	       p.payload_len, fate);
}

static void link_send(struct sim_world *w, int from, uint8_t *data, uint32_t len)
{
	struct sim_dir *d = &w->dir[from];
	const struct sim_impair *imp = &d->imp;
	uint64_t now = w->clock.now_ns;
	uint64_t seq = d->next_seq++;
	d->st.sent++;
	d->st.bytes += len;
	if (w->tap && !w->tap(w->tap_ctx, from, data, len)) {
		if (w->trace)
			trace_frame(w, from, data, len, "DROP(tap)");
		d->st.dropped++;
		d->st.dropped_tap++;
		return;
	}
	if (imp->down) {
		if (w->trace)
			trace_frame(w, from, data, len, "DROP(down)");
		d->st.dropped++;
		d->st.dropped_down++;
		return;
	}
	uint64_t depart = now;
	if (imp->bandwidth_bps) {
		uint64_t start = d->busy_until > now ? d->busy_until : now;
		/* Bytes still waiting to be serialised ahead of this frame. */
		uint64_t backlog =
		        (uint64_t)((double)(start - now) * (double)imp->bandwidth_bps / 8e9);
		if (imp->queue_bytes && backlog + len > imp->queue_bytes) {
			if (w->trace)
				trace_frame(w, from, data, len, "DROP(queue)");
			d->st.dropped++;
			d->st.dropped_queue++;
			return;
		}
		d->busy_until = start + (uint64_t)((double)len * 8e9 / (double)imp->bandwidth_bps);
		depart = d->busy_until;
	}
	/* Decide every random event for every frame so that changing one rate does not shift the
	 * random sequence of the others. */
	bool lost = chance(&d->rng, imp->loss);
	bool reorder = chance(&d->rng, imp->reorder);
	bool corrupt = chance(&d->rng, imp->corrupt);
	bool dup = chance(&d->rng, imp->dup);
	uint64_t reorder_r = sim_rand(&d->rng), dup_r = sim_rand(&d->rng);
	if (w->trace)
		trace_frame(w, from, data, len,
		            lost      ? "DROP(loss)"
		            : reorder ? "reorder"
		            : corrupt ? "corrupt"
		            : dup     ? "dup"
		                      : "");
	if (lost) {
		d->st.dropped++;
		d->st.dropped_loss++;
		return;
	}
	uint64_t due = depart + imp->delay_ns;
	if (reorder) {
		due += log_uniform_ns(reorder_r, imp->reorder_extra_ns);
		d->st.reordered++;
	}
	if (corrupt) {
		corrupt_frame(&d->rng, data, len);
		d->st.corrupted++;
	}
	struct sim_frame *f = frame_new(data, len, due, seq, false);
	if (!f || heap_push(d, f) != 0) {
		free(f);
		d->st.dropped++;
		d->st.dropped_nomem++;
		return;
	}
	if (dup) {
		uint64_t lag = (dup_r & 1) || !imp->dup_extra_ns
		                       ? 1000
		                       : log_uniform_ns(dup_r >> 1, imp->dup_extra_ns);
		struct sim_frame *g = frame_new(data, len, due + lag, seq, true);
		if (g && heap_push(d, g) == 0)
			d->st.duplicated++;
		else
			free(g);
	}
}

static uint16_t node_tx_burst(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	struct sim_node *nd = ctx;
	struct sim_world *w = nd->w;
	uint8_t buf[WIRE_MAX];
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint32_t len = m->pkt_len;
		if (len > WIRE_MAX) {
			/* Larger than the link's MTU: a real switch drops it too. */
			w->dir[nd->idx].st.sent++;
			w->dir[nd->idx].st.dropped++;
			w->dir[nd->idx].st.dropped_nomem++;
			rte_pktmbuf_free(m);
			continue;
		}
		const uint8_t *p = rte_pktmbuf_read(m, 0, len, buf);
		if (p != buf)
			memcpy(buf, p, len);
		if (w->offloads)
			offload_tx_fill(buf, len, m->ol_flags);
		rte_pktmbuf_free(m);
		link_send(w, nd->idx, buf, len);
	}
	return n;
}

static void count_arrival(struct sim_dir *d, const struct sim_frame *f)
{
	if (f->seq == SEQ_NONE)
		return;
	if (f->copy)
		d->st.arrived_dup++;
	if (f->seq + 1 >= d->newest_delivered) {
		d->newest_delivered = f->seq + 1;
		return;
	}
	uint64_t depth = d->newest_delivered - 1 - f->seq;
	if (f->copy) {
		d->st.arrived_dup_late++;
		return;
	}
	d->st.arrived_overtaken++;
	if (!d->st.depth_min || depth < d->st.depth_min)
		d->st.depth_min = depth;
	if (depth > d->st.depth_max)
		d->st.depth_max = depth;
	unsigned b = 0;
	while (b < 7 && (depth >> (b + 1)))
		b++;
	d->st.depth_log2[b]++;
}

static uint16_t node_rx_burst(void *ctx, struct rte_mbuf **pkts, uint16_t max)
{
	struct sim_node *nd = ctx;
	struct sim_world *w = nd->w;
	struct sim_dir *d = &w->dir[1 - nd->idx];
	uint16_t n = 0;
	while (n < max && d->len && d->heap[0]->due <= w->clock.now_ns) {
		struct sim_frame *f = heap_pop(d);
		struct rte_mbuf *m = rte_pktmbuf_alloc(nd->pool);
		if (!m || rte_pktmbuf_tailroom(m) < f->len) {
			/* No receive buffer: the frame is lost, as on a NIC with an empty ring. */
			rte_pktmbuf_free(m);
			d->st.dropped++;
			d->st.dropped_nomem++;
			free(f);
			continue;
		}
		memcpy(rte_pktmbuf_append(m, (uint16_t)f->len), f->data, f->len);
		if (w->offloads)
			m->ol_flags = offload_rx_verdict(f->data, f->len);
		count_arrival(d, f);
		free(f);
		d->st.delivered++;
		pkts[n++] = m;
	}
	return n;
}

/* ---- world --------------------------------------------------------------------------- */

void sim_world_opts_init(struct sim_world_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->seed = current_seed;
	o->pool_size = 16384;
	for (int d = 0; d < 2; d++) {
		o->impair[d].delay_ns = 1000000;
		o->impair[d].bandwidth_bps = 1000000000ull;
		o->impair[d].queue_bytes = 1u << 20;
		o->impair[d].reorder_extra_ns = 3000000;
		o->impair[d].dup_extra_ns = 3000000;
	}
}

struct sim_world *sim_world_create(const struct sim_world_opts *o)
{
	static unsigned instance; /* pool names must be unique in the process */
	test_eal_init();
	struct sim_world *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->pool_size = o->pool_size ? o->pool_size : 16384;
	w->offloads = o->offloads;
	w->trace = getenv("TPA_SIM_TRACE") != NULL;
	w->clock.now_ns = 1000000000ull; /* not 0: catches code that treats 0 as "unset" */
	for (int i = 0; i < 2; i++) {
		struct sim_dir *d = &w->dir[i];
		d->imp = o->impair[i];
		d->rng = o->seed * 0x2545f4914f6cdd1dull + (uint64_t)i + 1;
		struct sim_node *nd = &w->node[i];
		nd->w = w;
		nd->idx = i;
		uint8_t mac[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, (uint8_t)(i + 1)};
		memcpy(nd->mac, mac, 6);
		nd->ip_be = htonl(0xc6120000u | (uint32_t)(i + 1)); /* 198.18.0.1 / .2 */
		char name[RTE_MEMPOOL_NAMESIZE];
		snprintf(name, sizeof(name), "sim%u_%d", instance, i);
		nd->pool = test_pool_create(name, w->pool_size);
	}
	instance++;
	for (int i = 0; i < 2; i++) {
		struct sim_node *nd = &w->node[i];
		struct tpa_stack_config cfg;
		tpa_stack_config_init(&cfg);
		cfg.dev.rx_burst = node_rx_burst;
		cfg.dev.tx_burst = node_tx_burst;
		cfg.dev.ctx = nd;
		memcpy(cfg.dev.mac, nd->mac, 6);
		if (o->offloads) {
			cfg.dev.tx_offloads =
			        TPA_DEV_OFFLOAD_IPV4_CKSUM | TPA_DEV_OFFLOAD_TCP_CKSUM;
			cfg.dev.rx_offloads = TPA_DEV_OFFLOAD_RX_CKSUM;
		}
		cfg.clock = vclock_clock(&w->clock);
		cfg.pool = nd->pool;
		cfg.ipv4_addr = nd->ip_be;
		cfg.ipv4_prefix_len = 24;
		cfg.name = i == 0 ? "sim0" : "sim1";
		for (int k = 0; k < 16; k++)
			cfg.isn_key[k] =
			        (uint8_t)(o->seed >> (8 * (k % 8))) ^ (uint8_t)(k * 31 + i);
		if (o->tweak)
			o->tweak(o->tweak_ctx, i, &cfg);
		nd->stack = tpa_stack_create(&cfg);
		if (!nd->stack) {
			fprintf(stderr, "sim_world_create: node %d: %s\n", i,
			        tpa_stack_last_error());
			sim_world_destroy(w);
			return NULL;
		}
	}
	return w;
}

void sim_world_destroy(struct sim_world *w)
{
	if (!w)
		return;
	for (int i = 0; i < 2; i++) {
		tpa_stack_destroy(w->node[i].stack);
		struct sim_dir *d = &w->dir[i];
		for (uint32_t k = 0; k < d->len; k++)
			free(d->heap[k]);
		free(d->heap);
	}
	for (int i = 0; i < 2; i++)
		rte_mempool_free(w->node[i].pool);
	free(w);
}

struct tpa_stack *sim_stack(struct sim_world *w, int node)
{
	return w->node[node].stack;
}
struct rte_mempool *sim_pool(struct sim_world *w, int node)
{
	return w->node[node].pool;
}
unsigned sim_pool_size(const struct sim_world *w)
{
	return w->pool_size;
}
uint32_t sim_ip(const struct sim_world *w, int node)
{
	return w->node[node].ip_be;
}
const uint8_t *sim_mac(const struct sim_world *w, int node)
{
	return w->node[node].mac;
}
uint64_t sim_now(const struct sim_world *w)
{
	return w->clock.now_ns;
}
struct vclock *sim_clock(struct sim_world *w)
{
	return &w->clock;
}
struct sim_impair *sim_impair(struct sim_world *w, int dir)
{
	return &w->dir[dir].imp;
}
const struct sim_dir_stats *sim_stats(const struct sim_world *w, int dir)
{
	return &w->dir[dir].st;
}
uint32_t sim_in_flight(const struct sim_world *w)
{
	return w->dir[0].len + w->dir[1].len;
}

void sim_set_tap(struct sim_world *w, sim_tap_fn fn, void *ctx)
{
	w->tap = fn;
	w->tap_ctx = ctx;
}

int sim_inject(struct sim_world *w, int to, const void *frame, uint32_t len, uint64_t delay_ns)
{
	if (len > WIRE_MAX)
		return -EINVAL;
	struct sim_frame *f = frame_new(frame, len, w->clock.now_ns + delay_ns, SEQ_NONE, false);
	if (!f || heap_push(&w->dir[1 - to], f) != 0) {
		free(f);
		return -ENOMEM;
	}
	return 0;
}

/* ---- runner -------------------------------------------------------------------------- */

#define STUCK_POLLS 4

void sim_set_fault_hook(struct sim_world *w, sim_fault_fn fn, void *ctx)
{
	w->fault_hook = fn;
	w->fault_ctx = ctx;
}

const char *sim_fault(const struct sim_world *w)
{
	return w->faulted ? w->fault_msg : NULL;
}

static void clock_fault(struct sim_world *w, uint64_t due)
{
	int node = tpa_stack_next_timer_ns(w->node[0].stack) == due ? 0 : 1;
	snprintf(w->fault_msg, sizeof(w->fault_msg),
	         "virtual clock: node %d's timer due at %" PRIu64 " ns never fired (now %" PRIu64
	         " ns, polled %d times); the clock will not step over it",
	         node, due, w->clock.now_ns, STUCK_POLLS);
	w->faulted = true;
	if (w->fault_hook)
		w->fault_hook(w->fault_ctx, w->fault_msg);
	else
		ck_abort_msg("%s", w->fault_msg);
}

bool sim_run_until(struct sim_world *w, sim_pred_fn pred, void *ctx, uint64_t max_virtual_ns)
{
	uint64_t deadline = w->clock.now_ns + max_virtual_ns;
	if (deadline < w->clock.now_ns)
		deadline = UINT64_MAX;
	int stuck = 0;
	for (;;) {
		if (pred && pred(w, ctx))
			return true;
		int work = tpa_stack_poll(w->node[0].stack);
		work += tpa_stack_poll(w->node[1].stack);
		if (work) {
			stuck = 0;
			continue;
		}
		/* Both idle: jump to the next thing that can happen. */
		uint64_t next = dir_next_due(&w->dir[0]);
		uint64_t t = dir_next_due(&w->dir[1]);
		if (t < next)
			next = t;
		for (int i = 0; i < 2; i++) {
			t = tpa_stack_next_timer_ns(w->node[i].stack);
			if (t < next)
				next = t;
		}
		if (next <= w->clock.now_ns) {
			/* Both stacks just ran their timers at this instant, yet a deadline already
			 * passed is still reported. Stepping the clock past it would hide the very
			 * bugs the simulation exists to find (a retransmission that never happens,
			 * a connection that never times out). A few more polls first: a timer walk
			 * may legitimately stop early and go on at the next poll. */
			if (++stuck < STUCK_POLLS)
				continue;
			clock_fault(w, next);
			return false;
		}
		stuck = 0;
		if (next > deadline) {
			w->clock.now_ns = deadline;
			return pred ? pred(w, ctx) : false;
		}
		w->clock.now_ns = next;
	}
}

void sim_run_for(struct sim_world *w, uint64_t virtual_ns)
{
	sim_run_until(w, NULL, NULL, virtual_ns);
}

/* ---- socket helpers ------------------------------------------------------------------ */

static void make_addr(struct sockaddr_in *a, uint32_t ip_be, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = ip_be;
	a->sin_port = htons(port);
}

int sim_listen(struct sim_world *w, int node, uint16_t port, int backlog)
{
	struct tpa_stack *s = w->node[node].stack;
	int l = tpa_socket(s);
	if (l < 0)
		return l;
	struct sockaddr_in a;
	make_addr(&a, w->node[node].ip_be, port);
	int one = 1;
	tpa_setsockopt(s, l, TPA_SO_REUSEADDR, &one, sizeof(one));
	int rc = tpa_bind(s, l, (struct sockaddr *)&a, sizeof(a));
	if (rc == 0)
		rc = tpa_listen(s, l, backlog);
	if (rc < 0) {
		tpa_close(s, l);
		return rc;
	}
	return l;
}

struct connect_wait {
	int lnode, lsock, cli, srv, err;
};

static bool connect_done(struct sim_world *w, void *ctx)
{
	struct connect_wait *c = ctx;
	struct tpa_stack *ls = w->node[c->lnode].stack, *cs = w->node[1 - c->lnode].stack;
	if (c->srv < 0) {
		int a = tpa_accept(ls, c->lsock, NULL, NULL);
		if (a >= 0)
			c->srv = a;
		else if (a != -EAGAIN)
			c->err = a;
	}
	uint32_t ev = tpa_sock_events(cs, c->cli);
	if (ev & TPA_EV_ERR) {
		int err = 0;
		socklen_t len = sizeof(err);
		tpa_getsockopt(cs, c->cli, TPA_SO_ERROR, &err, &len);
		c->err = err ? -err : -ECONNREFUSED;
	}
	return c->err || (c->srv >= 0 && (ev & TPA_EV_OUT));
}

int sim_connect(struct sim_world *w, int lnode, int lsock, uint16_t port, int *cli, int *srv)
{
	struct tpa_stack *cs = w->node[1 - lnode].stack;
	struct connect_wait c = {.lnode = lnode, .lsock = lsock, .srv = -1};
	c.cli = tpa_socket(cs);
	if (c.cli < 0)
		return c.cli;
	struct sockaddr_in a;
	make_addr(&a, w->node[lnode].ip_be, port);
	int rc = tpa_connect(cs, c.cli, (struct sockaddr *)&a, sizeof(a));
	if (rc != 0 && rc != -EINPROGRESS) {
		tpa_close(cs, c.cli);
		return rc;
	}
	if (!sim_run_until(w, connect_done, &c, 30000000000ull) && !c.err)
		c.err = -ETIMEDOUT;
	if (c.err) {
		tpa_close(cs, c.cli);
		if (c.srv >= 0)
			tpa_close(w->node[lnode].stack, c.srv);
		return c.err;
	}
	*cli = c.cli;
	*srv = c.srv;
	return 0;
}

bool sim_no_mbufs_leaked(struct sim_world *w)
{
	bool ok = true;
	for (int i = 0; i < 2; i++) {
		uint32_t held = tpa_stack_mbufs_held(w->node[i].stack);
		unsigned avail = rte_mempool_avail_count(w->node[i].pool);
		if (held || avail != w->pool_size) {
			fprintf(stderr, "node %d: stack holds %u mbufs, pool has %u of %u\n", i,
			        held, avail, w->pool_size);
			ok = false;
		}
	}
	return ok;
}

void sim_print_stats(const struct sim_world *w, const char *label)
{
	for (int i = 0; i < 2; i++) {
		const struct sim_dir_stats *s = &w->dir[i].st;
		printf("%s dir%d: sent %llu delivered %llu dropped %llu (loss %llu queue %llu down "
		       "%llu "
		       "tap %llu nomem %llu) dup %llu reord %llu corrupt %llu\n",
		       label, i, (unsigned long long)s->sent, (unsigned long long)s->delivered,
		       (unsigned long long)s->dropped, (unsigned long long)s->dropped_loss,
		       (unsigned long long)s->dropped_queue, (unsigned long long)s->dropped_down,
		       (unsigned long long)s->dropped_tap, (unsigned long long)s->dropped_nomem,
		       (unsigned long long)s->duplicated, (unsigned long long)s->reordered,
		       (unsigned long long)s->corrupted);
		printf("%s dir%d: arrived overtaken %llu (depth %llu-%llu) dup %llu (late %llu)\n",
		       label, i, (unsigned long long)s->arrived_overtaken,
		       (unsigned long long)s->depth_min, (unsigned long long)s->depth_max,
		       (unsigned long long)s->arrived_dup, (unsigned long long)s->arrived_dup_late);
	}
}

/* ---- streams ------------------------------------------------------------------------- */

static uint64_t stream_word(uint64_t seed, uint64_t index)
{
	uint64_t st = seed * 0x9e3779b97f4a7c15ull ^ index * 0xd1b54a32d192ed03ull;
	return sim_rand(&st);
}

void sim_stream_fill(uint64_t seed, uint64_t pos, uint8_t *buf, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint64_t p = pos + i;
		uint64_t word = stream_word(seed, p >> 3);
		unsigned off = (unsigned)(p & 7);
		size_t n = 8 - off;
		if (n > len - i)
			n = len - i;
		for (size_t k = 0; k < n; k++)
			buf[i + k] = (uint8_t)(word >> (8 * (off + k)));
		i += n;
	}
}

size_t sim_stream_check(uint64_t seed, uint64_t pos, const uint8_t *buf, size_t len)
{
	uint8_t exp[4096];
	for (size_t i = 0; i < len; i += sizeof(exp)) {
		size_t n = len - i < sizeof(exp) ? len - i : sizeof(exp);
		sim_stream_fill(seed, pos + i, exp, n);
		if (memcmp(exp, buf + i, n) != 0)
			for (size_t k = 0; k < n; k++)
				if (exp[k] != buf[i + k])
					return i + k;
	}
	return SIZE_MAX;
}

uint64_t sim_hash(uint64_t h, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= buf[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* ---- seeds --------------------------------------------------------------------------- */

static bool env_u64(const char *name, uint64_t *v)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return false;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (errno || *end || *s == '-') {
		fprintf(stderr, "%s=%s: not a number\n", name, s);
		exit(2);
	}
	*v = x;
	return true;
}

int sim_main(struct Suite *(*make_suite)(void), uint64_t first, unsigned count)
{
	uint64_t n = count;
	bool from_env = env_u64("TPA_SIM_SEED", &first);
	if (env_u64("TPA_SIM_SEEDS", &n))
		from_env = true;
	else if (from_env)
		n = 1;
	if (n == 0 || n > 1000000) {
		fprintf(stderr, "TPA_SIM_SEEDS=%llu: want 1 .. 1000000\n", (unsigned long long)n);
		exit(2);
	}
	int failed = 0;
	for (uint64_t i = 0; i < n; i++) {
		current_seed = first + i;
		/* Every run names its seed: TPA_SIM_SEED=<seed> reproduces it alone. */
		printf("sim: seed %llu%s\n", (unsigned long long)current_seed,
		       from_env ? " (from the environment)" : "");
		fflush(stdout);
		SRunner *sr = srunner_create(make_suite());
		srunner_run_all(sr, CK_NORMAL);
		failed += srunner_ntests_failed(sr);
		srunner_free(sr);
	}
	if (n > 1)
		printf("sim: %llu seeds from %llu, %d failed test runs\n", (unsigned long long)n,
		       (unsigned long long)first, failed);
	return failed ? 1 : 0;
}
