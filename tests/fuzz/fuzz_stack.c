/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: one stack (10.0.0.1, port 80 listening) on an in-memory device with a
 * virtual clock, driven by a program the input encodes: frames from a peer (10.0.0.2), clock
 * steps, and socket calls (listen, accept, connect, send, recv, shutdown, close, options),
 * plus device and allocator faults.
 *
 * Arbitrary bytes rarely get past the checksums and sequence checks, so most frames are
 * templates: the harness fills in checksums and, on request, the sequence and acknowledgement
 * numbers and timestamps a real peer would use, learnt from the frames the stack sent (per
 * flow). A few bytes thus make a valid handshake, data, SACK, FIN or RST, while raw frames and
 * header knobs (IP options, fragments, bad checksums, truncation, padding, chained mbufs) still
 * reach the parsers.
 *
 * Beyond ASan/UBSan, each input must leave no trace: once the program ends, every socket is
 * closed and virtual time runs until the stack holds no socket and no mbuf, then every mbuf must
 * be back in the pool and every allocated byte freed. A failure aborts with a message.
 *
 * Input: 4 config bytes, then operations until the input ends (format in the op_* functions;
 * tests/fuzz/gen_corpus.py writes seeds in it). A missing byte reads as 0.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "checksum.h"
#include "test_eal.h"
#include "tpa/stack.h"
#include "wire.h"

#define POOL_SIZE  512
#define MAX_SOCKS  32
#define N_FLOWS    8
#define FRAME_ROOM 2048
#define LPORT      80
#define PEER_PORT0 40000 /* flows 0-3: peer 40000+f -> our listeners */
#define PEER_SRV0  7000  /* flows 4-7: our connect() to peer 7000+f */

static const uint8_t our_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
#define OUR_IP  0x0100000au /* 10.0.0.1, network order on little-endian */
#define PEER_IP 0x0200000au /* 10.0.0.2 */

struct input {
	const uint8_t *p;
	size_t len, off;
};

static uint8_t in_u8(struct input *in)
{
	return in->off < in->len ? in->p[in->off++] : 0;
}
static uint16_t in_u16(struct input *in)
{
	uint16_t hi = in_u8(in);
	return (uint16_t)(hi << 8 | in_u8(in));
}
static uint32_t in_u32(struct input *in)
{
	uint32_t hi = in_u16(in);
	return hi << 16 | in_u16(in);
}

/* What the peer knows of a flow, learnt from the stack's frames and its own. */
struct flow {
	bool seen;        /* the stack sent a frame on it */
	uint16_t lport;   /* our port (host order) */
	uint32_t stk_nxt; /* highest seq + len the stack sent: what the peer acknowledges */
	uint32_t stk_ack; /* the stack's last acknowledgement */
	uint32_t stk_ts;  /* the stack's last TSval */
	uint32_t peer_nxt;
	uint32_t peer_ts;
};

static struct {
	struct rte_mempool *pool;
	struct tpa_stack *s;
	uint64_t now;
	int tx_accept;   /* < 0: take every frame */
	long fail_alloc; /* the n-th allocation from now fails (0 = none) */
	long long mem_bytes;
	bool verbose; /* FUZZ_STACK_VERBOSE set: counters of each input on stderr */
	int socks[MAX_SOCKS];
	int nsocks;
	struct flow flows[N_FLOWS];
} F;

static void fatal(const char *what)
{
	fprintf(stderr, "fuzz_stack: %s\n", what);
	abort();
}

/* ---- device, clock and allocator ------------------------------------------------------ */

static bool seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

/* Learn from a frame the stack sent to the peer what a real peer would echo back. */
static void learn(const uint8_t *f, uint32_t len)
{
	if (len < ETH_HDR_LEN + IPV4_HDR_LEN + TCP_HDR_LEN ||
	    wire_load_be16(f + ETH_OFF_TYPE) != ETH_TYPE_IPV4)
		return;
	const uint8_t *ip = f + ETH_HDR_LEN;
	uint32_t ihl = ipv4_hdr_len(ip);
	uint32_t tot = wire_load_be16(ip + IPV4_OFF_TOT_LEN);
	if (ip[IPV4_OFF_PROTO] != IPPROTO_TCP || ihl < IPV4_HDR_LEN || tot > len - ETH_HDR_LEN ||
	    tot < ihl + TCP_HDR_LEN)
		return;
	const uint8_t *th = ip + ihl;
	uint32_t thl = tcp_hdr_len(th);
	if (thl < TCP_HDR_LEN || ihl + thl > tot)
		return;
	uint16_t sport = wire_load_be16(th + TCP_OFF_SPORT);
	uint16_t dport = wire_load_be16(th + TCP_OFF_DPORT);
	int f_i;
	if (dport >= PEER_PORT0 && dport < PEER_PORT0 + 4)
		f_i = dport - PEER_PORT0;
	else if (dport >= PEER_SRV0 + 4 && dport < PEER_SRV0 + N_FLOWS)
		f_i = dport - PEER_SRV0;
	else
		return;
	struct flow *fl = &F.flows[f_i];
	uint8_t flags = th[TCP_OFF_FLAGS];
	uint32_t seq = wire_load_be32(th + TCP_OFF_SEQ);
	uint32_t end = seq + (tot - ihl - thl) + !!(flags & 0x02) + !!(flags & 0x01);
	if (!fl->seen || fl->lport != sport || (flags & 0x02) || seq_after(end, fl->stk_nxt))
		fl->stk_nxt = end;
	fl->seen = true;
	fl->lport = sport;
	if (flags & 0x10)
		fl->stk_ack = wire_load_be32(th + TCP_OFF_ACK);
	for (uint32_t k = TCP_HDR_LEN; k < thl;) {
		uint8_t kind = th[k];
		if (kind == TCP_OPT_EOL)
			break;
		if (kind == TCP_OPT_NOP || k + 1 >= thl) {
			k++;
			continue;
		}
		uint8_t l = th[k + 1];
		if (l < 2 || k + l > thl)
			break;
		if (kind == TCP_OPT_TS && l == TCP_OPT_TS_LEN)
			fl->stk_ts = wire_load_be32(th + k + TCP_OPT_TS_OFF_TSVAL);
		k += l;
	}
}

static uint16_t dev_tx(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t take = n;
	if (F.tx_accept >= 0 && F.tx_accept < n)
		take = (uint16_t)F.tx_accept;
	uint8_t buf[FRAME_ROOM];
	for (uint16_t i = 0; i < take; i++) {
		struct rte_mbuf *m = pkts[i];
		uint32_t len = m->pkt_len < FRAME_ROOM ? m->pkt_len : FRAME_ROOM;
		const uint8_t *p = rte_pktmbuf_read(m, 0, len, buf);
		if (p)
			learn(p, len);
		rte_pktmbuf_free(m);
	}
	return take;
}

static uint16_t dev_rx(void *ctx, struct rte_mbuf **pkts, uint16_t max)
{
	return 0;
}

static uint64_t clock_now(void *ctx)
{
	return F.now;
}

/* Every block carries its size in front so the harness can count live bytes. The instance's
 * big tables (hundreds of KiB, fresh pages from mmap under ASan on every input) are kept for the
 * next input: faulting them in again cost a third of each execution. */
#define BIG_BLOCK  (64 * 1024)
#define BIG_CACHED 8
static max_align_t *big_cache[BIG_CACHED];

static void *mem_alloc(void *ctx, size_t size)
{
	if (F.fail_alloc > 0 && --F.fail_alloc == 0)
		return NULL;
	max_align_t *p = NULL;
	for (int i = 0; size >= BIG_BLOCK && i < BIG_CACHED && !p; i++) {
		size_t have;
		if (big_cache[i] && (memcpy(&have, big_cache[i], sizeof(have)), have == size)) {
			p = big_cache[i];
			big_cache[i] = NULL;
		}
	}
	if (!p)
		p = malloc(sizeof(max_align_t) + size);
	if (!p)
		return NULL;
	memcpy(p, &size, sizeof(size));
	F.mem_bytes += (long long)size;
	return p + 1;
}

static void mem_free(void *ctx, void *ptr)
{
	if (!ptr)
		return;
	max_align_t *p = (max_align_t *)ptr - 1;
	size_t size;
	memcpy(&size, p, sizeof(size));
	F.mem_bytes -= (long long)size;
	if (size < BIG_BLOCK) {
		free(p);
		return;
	}
	for (int i = 0; i < BIG_CACHED; i++) {
		if (!big_cache[i]) {
			big_cache[i] = p;
			return;
		}
	}
	/* Full: the oldest kind goes. Socket buffers come in many sizes, and a cache that only
	 * filled up kept eight stale ones while the instance's tables were mapped afresh on
	 * every input (~190 page faults, a third of an execution). */
	static int evict;
	free(big_cache[evict]);
	big_cache[evict] = p;
	evict = (evict + 1) % BIG_CACHED;
}

/* ---- frames from the peer ------------------------------------------------------------- */

static void deliver(const uint8_t *frame, size_t len, uint64_t ol_flags, size_t split)
{
	if (len == 0 || len > FRAME_ROOM)
		return;
	struct rte_mbuf *m = rte_pktmbuf_alloc(F.pool);
	if (!m)
		return; /* the stack holds the whole pool: the frame is lost, as on a NIC */
	size_t first = split && split < len ? split : len;
	memcpy(rte_pktmbuf_append(m, (uint16_t)first), frame, first);
	if (first < len) {
		struct rte_mbuf *t = rte_pktmbuf_alloc(F.pool);
		if (!t) {
			rte_pktmbuf_free(m);
			return;
		}
		memcpy(rte_pktmbuf_append(t, (uint16_t)(len - first)), frame + first, len - first);
		if (rte_pktmbuf_chain(m, t) != 0) {
			rte_pktmbuf_free(m);
			rte_pktmbuf_free(t);
			return;
		}
	}
	m->ol_flags = ol_flags;
	tpa_stack_input(F.s, &m, 1);
}

static void eth_header(uint8_t *f, uint16_t type)
{
	memcpy(f + ETH_OFF_DST, our_mac, ETH_ADDR_LEN);
	memcpy(f + ETH_OFF_SRC, peer_mac, ETH_ADDR_LEN);
	wire_store_be16(f + ETH_OFF_TYPE, type);
}

static void ip_cksum(uint8_t *ip, size_t hlen)
{
	wire_store_be16(ip + IPV4_OFF_CSUM, 0);
	uint16_t c = tpa_csum_fold(tpa_csum_partial(ip, hlen, 0));
	memcpy(ip + IPV4_OFF_CSUM, &c, 2);
}

/* seg: flow, flags, modes (bits 0-1 seq, 2-3 ack, 4-6 options, 7 IP knobs follow), window
 * (2), payload length; then per mode: seq delta (1) or value (4), ack delta (1) or value (4),
 * options bytes, IP knobs. */
static void op_seg(struct input *in)
{
	uint8_t fsel = in_u8(in);
	struct flow *fl = &F.flows[fsel % N_FLOWS];
	int fi = fsel % N_FLOWS;
	uint8_t flags = in_u8(in);
	uint8_t modes = in_u8(in);
	uint16_t window = in_u16(in);
	uint8_t plb = in_u8(in);
	uint32_t plen = plb < 128 ? plb : (uint32_t)(plb - 128) * 12;
	uint32_t seq, ack;
	switch (modes & 3) {
	case 0:
		seq = fl->peer_nxt;
		break;
	case 1:
		seq = fl->peer_nxt + (uint32_t)(int8_t)in_u8(in);
		break;
	case 2:
		seq = in_u32(in);
		break;
	default:
		seq = fl->stk_ack;
		break;
	}
	switch ((modes >> 2) & 3) {
	case 0:
		ack = fl->stk_nxt;
		break;
	case 1:
		ack = fl->stk_nxt + (uint32_t)(int8_t)in_u8(in) * 97u;
		break;
	case 2:
		ack = in_u32(in);
		break;
	default:
		ack = fl->stk_nxt - plen;
		break;
	}
	uint8_t opt[40];
	uint32_t olen = 0;
	switch ((modes >> 4) & 7) {
	case 0:
		break;
	case 1: { /* what a Linux SYN carries */
		uint8_t ws = in_u8(in);
		opt[0] = TCP_OPT_MSS;
		opt[1] = TCP_OPT_MSS_LEN;
		wire_store_be16(opt + 2, 1460);
		opt[4] = TCP_OPT_SACK_PERM;
		opt[5] = TCP_OPT_SACK_PERM_LEN;
		opt[6] = TCP_OPT_TS;
		opt[7] = TCP_OPT_TS_LEN;
		wire_store_be32(opt + 6 + TCP_OPT_TS_OFF_TSVAL, fl->peer_ts);
		wire_store_be32(opt + 6 + TCP_OPT_TS_OFF_TSECR, fl->stk_ts);
		opt[16] = TCP_OPT_NOP;
		opt[17] = TCP_OPT_WSCALE;
		opt[18] = TCP_OPT_WSCALE_LEN;
		opt[19] = ws;
		olen = 20;
		break;
	}
	case 2:
	case 3: { /* timestamps, then (3) SACK blocks around what the stack sent */
		const uint8_t o[12] = {TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_TS, TCP_OPT_TS_LEN};
		memcpy(opt, o, 12);
		wire_store_be32(opt + 2 + TCP_OPT_TS_OFF_TSVAL, fl->peer_ts);
		wire_store_be32(opt + 2 + TCP_OPT_TS_OFF_TSECR, fl->stk_ts);
		olen = 12;
		if ((modes >> 4 & 7) == 3) {
			uint8_t nb = in_u8(in) % 4;
			opt[olen++] = TCP_OPT_NOP;
			opt[olen++] = TCP_OPT_NOP;
			opt[olen++] = TCP_OPT_SACK;
			opt[olen++] = (uint8_t)(2 + TCP_OPT_SACK_BLOCK_LEN * (nb ? nb : 1));
			for (uint8_t b = 0; b < (nb ? nb : 1) && olen + 8 <= 40; b++) {
				uint32_t l = fl->stk_nxt - (uint32_t)in_u8(in) * 64u;
				wire_store_be32(opt + olen, l);
				wire_store_be32(opt + olen + 4, l + (uint32_t)in_u8(in) * 64u);
				olen += 8;
			}
			olen = olen > 40 ? 40 : olen;
		}
		break;
	}
	case 4: { /* raw */
		olen = in_u8(in) % 41;
		for (uint32_t k = 0; k < olen; k++)
			opt[k] = in_u8(in);
		break;
	}
	case 5: {
		const uint8_t o[4] = {TCP_OPT_MSS, TCP_OPT_MSS_LEN};
		memcpy(opt, o, 4);
		wire_store_be16(opt + TCP_OPT_OFF_VALUE, in_u16(in));
		olen = 4;
		break;
	}
	case 6: { /* timestamps with raw values (PAWS) */
		const uint8_t o[4] = {TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_TS, TCP_OPT_TS_LEN};
		memcpy(opt, o, 4);
		wire_store_be32(opt + 2 + TCP_OPT_TS_OFF_TSVAL, in_u32(in));
		wire_store_be32(opt + 2 + TCP_OPT_TS_OFF_TSECR, in_u32(in));
		olen = 12;
		break;
	}
	default: { /* SACK-permitted and window scale only */
		const uint8_t o[8] = {TCP_OPT_SACK_PERM,  TCP_OPT_SACK_PERM_LEN,
		                      TCP_OPT_NOP,        TCP_OPT_WSCALE,
		                      TCP_OPT_WSCALE_LEN, 14,
		                      TCP_OPT_NOP,        TCP_OPT_NOP};
		memcpy(opt, o, 8);
		opt[3 + TCP_OPT_OFF_VALUE] = in_u8(in);
		olen = 8;
		break;
	}
	}
	while (olen % 4)
		opt[olen++] = 0;
	uint8_t knobs = (modes & 0x80) ? in_u8(in) : 0;
	uint8_t ipopt_len = (knobs & 0x01) ? (uint8_t)((in_u8(in) % 11) * 4) : 0;

	uint8_t f[FRAME_ROOM + 64];
	memset(f, 0, sizeof(f));
	eth_header(f, ETH_TYPE_IPV4);
	uint8_t *ip = f + ETH_HDR_LEN;
	uint32_t ihl = IPV4_HDR_LEN + ipopt_len;
	uint32_t thl = TCP_HDR_LEN + olen;
	if (ETH_HDR_LEN + ihl + thl + plen > FRAME_ROOM)
		plen = FRAME_ROOM - ETH_HDR_LEN - ihl - thl;
	ip[IPV4_OFF_VER_IHL] = (uint8_t)(IPV4_VERSION << 4 | ihl / 4);
	wire_store_be16(ip + IPV4_OFF_TOT_LEN, (uint16_t)(ihl + thl + plen));
	wire_store_be16(ip + IPV4_OFF_FRAG, IPV4_FLAG_DF);
	ip[IPV4_OFF_TTL] = 64;
	ip[IPV4_OFF_PROTO] = IPPROTO_TCP;
	uint32_t src = PEER_IP, dst = OUR_IP;
	wire_store_addr(ip + IPV4_OFF_SRC, src);
	wire_store_addr(ip + IPV4_OFF_DST, dst);
	for (uint32_t k = 0; k < ipopt_len; k++)
		ip[IPV4_HDR_LEN + k] = in_u8(in);
	if (knobs & 0x02) /* fragment: MF and/or an offset */
		wire_store_be16(ip + IPV4_OFF_FRAG,
		                in_u16(in) & (IPV4_FLAG_MF | IPV4_FRAG_OFFSET_MASK));
	ip_cksum(ip, ihl);
	uint8_t *th = ip + ihl;
	uint16_t sport = (uint16_t)(fi < 4 ? PEER_PORT0 + fi : PEER_SRV0 + fi);
	uint16_t dport = fi < 4 ? (uint16_t)(LPORT + (fi & 1)) : fl->lport;
	wire_store_be16(th + TCP_OFF_SPORT, sport);
	wire_store_be16(th + TCP_OFF_DPORT, dport);
	wire_store_be32(th + TCP_OFF_SEQ, seq);
	wire_store_be32(th + TCP_OFF_ACK, ack);
	th[TCP_OFF_DATAOFF] = (uint8_t)(thl / 4 << 4);
	th[TCP_OFF_FLAGS] = flags;
	wire_store_be16(th + TCP_OFF_WIN, window);
	memcpy(th + TCP_HDR_LEN, opt, olen);
	for (uint32_t k = 0; k < plen; k++)
		th[thl + k] = (uint8_t)(seq + k);
	uint32_t sum = tpa_csum_pseudo_ipv4(src, dst, IPPROTO_TCP, (uint16_t)(thl + plen));
	uint16_t c = tpa_csum_fold(tpa_csum_partial(th, thl + plen, sum));
	memcpy(th + TCP_OFF_CSUM, &c, 2);
	size_t len = ETH_HDR_LEN + ihl + thl + plen;
	if (knobs & 0x04)
		th[TCP_OFF_CSUM] ^= 0x40;
	if (knobs & 0x08)
		ip[IPV4_OFF_CSUM] ^= 0x01;
	if (knobs & 0x10) /* Ethernet padding after the datagram */
		len += in_u8(in) % 40;
	if (knobs & 0x20) { /* datagram cut short */
		uint8_t cut = in_u8(in);
		len = cut < len ? len - cut : 1;
	}
	if (knobs & 0x80) /* not for us */
		ip[IPV4_OFF_DST + (in_u8(in) & 3)] ^= 1;
	uint64_t ol = 0;
	if (knobs & 0x40)
		ol = (uint64_t)in_u8(in) << 4 &
		     (RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
	size_t split = (knobs & 0x20) ? 0 : (size_t)(in_u8(in) & 0x7f);
	deliver(f, len, ol, split);

	/* What a real peer remembers of what it sent. */
	if (flags & 0x02) /* SYN */
		fl->peer_nxt = seq + 1 + plen + !!(flags & 0x01);
	else if ((modes & 3) == 0 || (modes & 3) == 3)
		fl->peer_nxt = seq + plen + !!(flags & 0x01);
	fl->peer_ts += 1 + (in_u8(in) & 0x0f);
}

/* raw: length (2), then the frame as it is. */
static void op_raw(struct input *in)
{
	size_t len = in_u16(in) % FRAME_ROOM;
	if (len > in->len - in->off)
		len = in->len - in->off;
	deliver(in->p + in->off, len, 0, 0);
	in->off += len;
}

/* raw IP: length (1), IP datagram bytes after a correct Ethernet header; the header checksum
 * is fixed when its length fits. */
static void op_raw_ip(struct input *in)
{
	size_t len = in_u8(in);
	if (len > in->len - in->off)
		len = in->len - in->off;
	uint8_t f[ETH_HDR_LEN + 256];
	eth_header(f, ETH_TYPE_IPV4);
	memcpy(f + ETH_HDR_LEN, in->p + in->off, len);
	in->off += len;
	size_t ihl = len ? ipv4_hdr_len(f + ETH_HDR_LEN) : 0;
	if (ihl >= IPV4_HDR_LEN && ihl <= len)
		ip_cksum(f + ETH_HDR_LEN, ihl);
	deliver(f, ETH_HDR_LEN + len, 0, 0);
}

/* arp: op and variant bits. */
static void op_arp(struct input *in)
{
	uint8_t v = in_u8(in);
	uint8_t f[64];
	memset(f, 0, sizeof(f));
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	memcpy(f + ETH_OFF_DST, v & 1 ? bcast : our_mac, ETH_ADDR_LEN);
	memcpy(f + ETH_OFF_SRC, peer_mac, ETH_ADDR_LEN);
	wire_store_be16(f + ETH_OFF_TYPE, ETH_TYPE_ARP);
	uint8_t *a = f + ETH_HDR_LEN;
	wire_store_be16(a + ARP_OFF_HTYPE, ARP_HTYPE_ETHER);
	wire_store_be16(a + ARP_OFF_PTYPE, ETH_TYPE_IPV4);
	a[ARP_OFF_HLEN] = ETH_ADDR_LEN;
	a[ARP_OFF_PLEN] = 4;
	wire_store_be16(a + ARP_OFF_OP, (uint16_t)(ARP_OP_REQUEST + (v >> 1 & 1)));
	uint8_t sha[6];
	memcpy(sha, peer_mac, 6);
	sha[5] = (uint8_t)(sha[5] + (v >> 2 & 3)); /* the peer may move */
	memcpy(a + ARP_OFF_SHA, sha, ETH_ADDR_LEN);
	uint32_t spa = (v & 0x10) ? (PEER_IP ^ (uint32_t)(in_u8(in)) << 24) : PEER_IP;
	wire_store_addr(a + ARP_OFF_SPA, spa);
	uint32_t tpa = (v & 0x20) ? PEER_IP : OUR_IP;
	wire_store_addr(a + ARP_OFF_TPA, tpa);
	if (v & 0x40)
		a[ARP_OFF_HLEN] = in_u8(in); /* malformed */
	deliver(f, (v & 0x80) ? ETH_HDR_LEN + ARP_PKT_LEN - (in_u8(in) % 20) : 60, 0, 0);
}

/* ---- the application ------------------------------------------------------------------ */

static void keep(int sock)
{
	if (sock >= 0 && F.nsocks < MAX_SOCKS)
		F.socks[F.nsocks++] = sock;
	else if (sock >= 0)
		tpa_close(F.s, sock);
}

static int pick(struct input *in, int *idx)
{
	uint8_t b = in_u8(in);
	if (!F.nsocks)
		return -1;
	*idx = b % F.nsocks;
	return F.socks[*idx];
}

static void forget(int idx)
{
	F.socks[idx] = F.socks[--F.nsocks];
}

static void op_listen(struct input *in)
{
	uint8_t b = in_u8(in);
	int s = tpa_socket(F.s);
	if (s < 0)
		return;
	int one = 1;
	tpa_setsockopt(F.s, s, TPA_SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(LPORT + (b & 1))};
	if (tpa_bind(F.s, s, (struct sockaddr *)&a, sizeof(a)) == 0)
		tpa_listen(F.s, s, b >> 1 & 7);
	keep(s);
}

static void op_accept(struct input *in)
{
	int idx;
	int l = pick(in, &idx);
	if (l < 0)
		return;
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	keep(tpa_accept(F.s, l, (struct sockaddr *)&a, &al));
}

static void op_connect(struct input *in)
{
	uint8_t b = in_u8(in);
	int s = tpa_socket(F.s);
	if (s < 0)
		return;
	int fi = 4 + (b & 3);
	F.flows[fi].seen = false;
	F.flows[fi].peer_nxt = 0x50000000u * (uint32_t)fi;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PEER_SRV0 + fi)};
	a.sin_addr.s_addr = (b & 4) ? (PEER_IP ^ 0x01000000u) : PEER_IP;
	tpa_connect(F.s, s, (struct sockaddr *)&a, sizeof(a));
	keep(s);
}

static void op_send(struct input *in)
{
	int idx;
	int s = pick(in, &idx);
	uint16_t len = in_u16(in);
	uint8_t fl = in_u8(in);
	if (s < 0)
		return;
	static uint8_t buf[65536];
	struct iovec iov[2] = {{buf, len / 2u}, {buf + len / 2u, len - len / 2u}};
	tpa_sendv(F.s, s, iov, 2, (fl & 1) ? MSG_MORE : 0);
}

static void op_recv(struct input *in)
{
	int idx;
	int s = pick(in, &idx);
	uint16_t len = in_u16(in);
	uint8_t fl = in_u8(in);
	if (s < 0)
		return;
	static uint8_t buf[65536];
	int flags = ((fl & 1) ? MSG_PEEK : 0) | ((fl & 2) ? MSG_TRUNC : 0);
	tpa_recv(F.s, s, (fl & 2) ? NULL : buf, len, flags);
}

static void op_close(struct input *in)
{
	int idx;
	int s = pick(in, &idx);
	uint8_t how = in_u8(in);
	if (s < 0)
		return;
	if (how & 4) {
		tpa_shutdown(F.s, s, how & 3);
		return;
	}
	if (how & 8) {
		struct linger lg = {1, 0};
		tpa_setsockopt(F.s, s, TPA_SO_LINGER, &lg, sizeof(lg));
	}
	tpa_close(F.s, s);
	forget(idx);
}

static void op_sockopt(struct input *in)
{
	int idx;
	int s = pick(in, &idx);
	uint8_t opt = in_u8(in);
	int val = (int)in_u32(in);
	if (s < 0)
		return;
	static const enum tpa_sockopt settable[] = {
	        TPA_SO_NODELAY,   TPA_SO_CORK,         TPA_SO_KEEPALIVE, TPA_SO_KEEPIDLE,
	        TPA_SO_KEEPINTVL, TPA_SO_KEEPCNT,      TPA_SO_SNDBUF,    TPA_SO_RCVBUF,
	        TPA_SO_MAXSEG,    TPA_SO_USER_TIMEOUT,
	};
	size_t n = sizeof(settable) / sizeof(settable[0]);
	if (opt & 0x80) {
		union {
			int i;
			struct tpa_tcp_info info;
			struct linger lg;
		} out;
		socklen_t ol = sizeof(out);
		tpa_getsockopt(F.s, s, (enum tpa_sockopt)(opt % (TPA_SO_INFO + 1)), &out, &ol);
		struct tpa_sock_state st;
		tpa_sock_state(F.s, s, &st);
		return;
	}
	/* Small sizes and times reach the interesting edges; keep them bounded. */
	if (settable[opt % n] == TPA_SO_SNDBUF || settable[opt % n] == TPA_SO_RCVBUF)
		val &= 0x3ffff;
	tpa_setsockopt(F.s, s, settable[opt % n], &val, sizeof(val));
}

static void op_clock(struct input *in)
{
	uint8_t b = in_u8(in);
	F.now += ((uint64_t)1 << (b & 31)) * (uint64_t)((b >> 5) + 1);
}

static void op_next_timer(struct input *in)
{
	uint64_t t = tpa_stack_next_timer_ns(F.s);
	if (t != UINT64_MAX && t > F.now)
		F.now = t;
}

static void op_faults(struct input *in)
{
	uint8_t b = in_u8(in);
	switch (b & 3) {
	case 0:
		F.tx_accept = -1;
		break;
	case 1:
		F.tx_accept = b >> 2 & 3;
		break;
	case 2:
		F.fail_alloc = 1 + (b >> 2);
		break;
	default:
		tpa_stack_neigh_update(F.s, PEER_IP, (b & 4) ? NULL : peer_mac);
		break;
	}
}

/* ---- one input ------------------------------------------------------------------------ */

static void setup(struct input *in)
{
	uint8_t c0 = in_u8(in), c1 = in_u8(in), c2 = in_u8(in), c3 = in_u8(in);
	struct tpa_stack_config cfg;
	tpa_stack_config_init(&cfg);
	cfg.dev.rx_burst = dev_rx;
	cfg.dev.tx_burst = dev_tx;
	memcpy(cfg.dev.mac, our_mac, 6);
	cfg.dev.mtu = (c3 & 1) ? 576 : 1500;
	if (c0 & 0x20)
		cfg.dev.rx_offloads = TPA_DEV_OFFLOAD_RX_CKSUM;
	if (c0 & 0x40)
		cfg.dev.rx_offloads |= TPA_DEV_OFFLOAD_RX_CSUM_PARTIAL;
	if (c0 & 0x80)
		cfg.dev.tx_offloads = TPA_DEV_OFFLOAD_IPV4_CKSUM | TPA_DEV_OFFLOAD_TCP_CKSUM;
	cfg.clock = (struct tpa_clock){clock_now, NULL};
	cfg.pool = F.pool;
	cfg.ipv4_addr = OUR_IP;
	cfg.ipv4_prefix_len = 24;
	cfg.max_sockets = 8 + (c2 & 31);
	memset(cfg.isn_key, 0x5a, sizeof(cfg.isn_key)); /* reproducible ISNs and cookies */
	cfg.mem = (struct tpa_allocator){mem_alloc, mem_free, NULL};
	cfg.tcp.timestamps = c0 & 1;
	cfg.tcp.window_scaling = c0 >> 1 & 1;
	cfg.tcp.sack = c0 >> 2 & 1;
	cfg.tcp.syncookies = c0 >> 3 & 1;
	cfg.tcp.delack_ms = (c0 & 0x10) ? 0 : 40;
	cfg.tcp.cc = (c1 & 0x80) ? TPA_CC_NEWRENO : TPA_CC_CUBIC;
	if (c1 & 0x40) { /* small buffers: full windows and queues in a few segments */
		cfg.tcp.sndbuf = 4096;
		cfg.tcp.rcvbuf = 4096;
		cfg.tcp.ooo_limit = 4096;
	}
	cfg.name = "fuzz";
	memset(F.flows, 0, sizeof(F.flows));
	for (int i = 0; i < N_FLOWS; i++) {
		F.flows[i].peer_nxt = 0x10000000u * (uint32_t)(i + 1);
		F.flows[i].peer_ts = 1000u * (uint32_t)(i + 1);
	}
	F.now = 1000000000ull;
	F.tx_accept = -1;
	F.fail_alloc = 0;
	F.nsocks = 0;
	F.s = tpa_stack_create(&cfg);
	if (!F.s)
		fatal(tpa_stack_last_error());
	if (!(c3 & 2))
		tpa_stack_neigh_update(F.s, PEER_IP, peer_mac);
	int l = tpa_socket(F.s);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(LPORT)};
	if (l < 0 || tpa_bind(F.s, l, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    tpa_listen(F.s, l, 1 + (c1 & 7)) != 0)
		fatal("cannot listen");
	keep(l);
}

static void print_counter(void *arg, const char *name, uint64_t value)
{
	if (value)
		fprintf(stderr, " %s=%llu", name, (unsigned long long)value);
}

/* Close everything, let every timer run out, and check nothing is left. */
/* What is left, for the report of a finding. */
static void print_left(void *arg, const struct tpa_sock_dump *d)
{
	(void)arg;
	fprintf(stderr,
	        "  socket %d state %u orphan %u unaccepted %u port %u->%u rcv_queued %u "
	        "snd_queued %u acc_queued %u syn_queued %u\n",
	        d->id, d->state, d->orphan, d->unaccepted, d->lport, d->rport, d->rcv_queued,
	        d->snd_queued, d->acc_queued, d->syn_queued);
}

static void teardown(void)
{
	F.tx_accept = -1;
	F.fail_alloc = 0;
	for (int i = 0; i < F.nsocks; i++)
		tpa_close(F.s, F.socks[i]);
	F.nsocks = 0;
	tpa_stack_poll(F.s);
	/* Orphans end by their own timers (FIN_WAIT_2, TIME_WAIT, retransmission limits), and so
	 * do frames waiting for ARP: the peer is silent now, so all must go in virtual hours. */
	for (int i = 0; i < 100000 && (tpa_stack_socket_count(F.s) || tpa_stack_mbufs_held(F.s));
	     i++) {
		uint64_t t = tpa_stack_next_timer_ns(F.s);
		if (t == UINT64_MAX)
			break;
		if (t > F.now)
			F.now = t;
		tpa_stack_poll(F.s);
	}
	if (tpa_stack_socket_count(F.s) || tpa_stack_mbufs_held(F.s)) {
		fprintf(stderr, "fuzz_stack: %u sockets, %u mbufs left after closing everything\n",
		        tpa_stack_socket_count(F.s), tpa_stack_mbufs_held(F.s));
		tpa_stack_sock_foreach(F.s, print_left, NULL);
		abort();
	}
	if (F.verbose)
		tpa_stack_stats_foreach(F.s, print_counter, NULL);
	tpa_stack_destroy(F.s);
	F.s = NULL;
	if (rte_mempool_avail_count(F.pool) != POOL_SIZE) {
		fprintf(stderr, "fuzz_stack: pool has %u of %u mbufs\n",
		        rte_mempool_avail_count(F.pool), POOL_SIZE);
		abort();
	}
	if (F.mem_bytes != 0) {
		fprintf(stderr, "fuzz_stack: %lld bytes not freed\n", F.mem_bytes);
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	F.verbose = getenv("FUZZ_STACK_VERBOSE") != NULL;
	test_eal_init();
	/* Cache 0: every mbuf is in the ring, so the leak check can count them. */
	F.pool = rte_pktmbuf_pool_create("fuzz", POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
	                                 SOCKET_ID_ANY);
	if (!F.pool)
		fatal("cannot create the pool");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size, 0};
	setup(&in);
	while (in.off < in.len) {
		uint8_t op = in_u8(&in);
		switch (op % 20) {
		case 0:
		case 1:
		case 2:
		case 3:
		case 4:
			op_seg(&in);
			break;
		case 5:
			op_raw(&in);
			break;
		case 6:
			op_raw_ip(&in);
			break;
		case 7:
			op_arp(&in);
			break;
		case 8:
			op_listen(&in);
			break;
		case 9:
		case 10:
			op_accept(&in);
			break;
		case 11:
			op_connect(&in);
			break;
		case 12:
			op_send(&in);
			break;
		case 13:
			op_recv(&in);
			break;
		case 14:
			op_close(&in);
			break;
		case 15:
			op_sockopt(&in);
			break;
		case 16:
			op_clock(&in);
			break;
		case 17:
			op_next_timer(&in);
			break;
		case 18:
			op_faults(&in);
			break;
		default:
			break; /* just poll */
		}
		tpa_stack_poll(F.s);
	}
	teardown();
	return 0;
}
