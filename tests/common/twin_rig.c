/* SPDX-License-Identifier: BSD-3-Clause */
/* Two capture rigs holding the same connection, a shortcut against the general path: see
 * twin_rig.h. */
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/uio.h>

#include <rte_mbuf.h>

#include "tcp_impl.h"
#include "test_eal.h"
#include "twin_rig.h"

struct tcp_sock *twin_conn(struct twin_rig *t, int i)
{
	return tcp_sock_get(t->rig[i].s, t->sock[i]);
}

static uint64_t stat_of(const struct twin_rig *t, int i)
{
	uint64_t v;
	memcpy(&v, (const char *)tpa_stack_stats(t->rig[i].s) + t->stat, sizeof(v));
	return v;
}

uint64_t twin_count(struct twin_rig *t)
{
	ck_assert_uint_eq(stat_of(t, 1), 0);
	return stat_of(t, 0);
}

void twin_use(struct twin_rig *t, int i)
{
	*t->off = i == 1;
}

void twin_end(struct twin_rig *t)
{
	*t->off = false;
	twin_compare(t);
}

static void rxq_equal(const struct tcp_rxq *a, const struct tcp_rxq *b)
{
	ck_assert_uint_eq(a->count, b->count);
	for (uint32_t i = 0; i < a->count; i++) {
		const struct tcp_rxseg *x = &a->v[(a->head + i) & (a->cap - 1)];
		const struct tcp_rxseg *y = &b->v[(b->head + i) & (b->cap - 1)];
		ck_assert_uint_eq(x->seq, y->seq);
		ck_assert_uint_eq(x->len, y->len);
		ck_assert(memcmp(rte_pktmbuf_mtod_offset(x->m, void *, x->off),
		                 rte_pktmbuf_mtod_offset(y->m, void *, y->off), x->len) == 0);
	}
}

static void sndbuf_equal(const struct tcp_sndbuf *a, const struct tcp_sndbuf *b)
{
	ck_assert_uint_eq(a->len, b->len);
	for (uint32_t i = 0; i < a->len; i++)
		ck_assert_uint_eq(a->buf[(a->head + i) & (a->cap - 1)],
		                  b->buf[(b->head + i) & (b->cap - 1)]);
}

static void conns_equal(struct tcp_sock a, struct tcp_sock b)
{
	ck_assert_uint_eq(a.rack.count, b.rack.count);
	for (uint32_t i = 0; i < a.rack.count; i++) {
		const struct tcp_rack_seg *x = &a.rack.v[(a.rack.head + i) & (a.rack.cap - 1)];
		const struct tcp_rack_seg *y = &b.rack.v[(b.rack.head + i) & (b.rack.cap - 1)];
		ck_assert(x->xmit_ns == y->xmit_ns && x->start == y->start && x->end == y->end &&
		          x->flags == y->flags);
	}
	rxq_equal(&a.rq, &b.rq);
	rxq_equal(&a.ooo, &b.ooo);
	sndbuf_equal(&a.sb, &b.sb);
	for (struct tcp_sock *x = &a; x; x = x == &a ? &b : NULL) {
		x->user = NULL;
		x->sb.buf = NULL;
		x->rq.v = x->ooo.v = NULL;
		x->rack.v = NULL;
		x->trace = NULL;
		x->wheel.next = NULL;
		x->wheel.pprev = NULL;
	}
	ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0, "connections differ");
}

void twin_compare(struct twin_rig *t)
{
	conns_equal(*twin_conn(t, 0), *twin_conn(t, 1));
	ck_assert_uint_eq(tcp_of(t->rig[0].s)->mbufs_held, tcp_of(t->rig[1].s)->mbufs_held);
	struct tpa_stack_stats sa = *tpa_stack_stats(t->rig[0].s);
	struct tpa_stack_stats sb = *tpa_stack_stats(t->rig[1].s);
	memset((char *)&sa + t->stat, 0, sizeof(uint64_t));
	memset((char *)&sb + t->stat, 0, sizeof(uint64_t));
	ck_assert_msg(memcmp(&sa, &sb, sizeof(sa)) == 0, "counters differ");
	const struct sim_capture *c0 = &t->rig[0].cap, *c1 = &t->rig[1].cap;
	ck_assert_uint_eq(c0->count, c1->count);
	for (uint32_t i = 0; i < c0->count; i++) {
		const struct captured_frame *x = &c0->frames[i], *y = &c1->frames[i];
		ck_assert_uint_eq(x->len, y->len);
		ck_assert(memcmp(x->data, y->data, x->len) == 0);
		ck_assert_uint_eq(x->ol_flags, y->ol_flags);
		ck_assert_uint_eq(x->l2_len, y->l2_len);
		ck_assert_uint_eq(x->l3_len, y->l3_len);
	}
}

void twin_clear_frames(struct twin_rig *t)
{
	for (int i = 0; i < 2; i++)
		sim_rig_clear(&t->rig[i]);
}

/* The stack's TSval in its last frame (what the peer echoes). */
static uint32_t stack_tsval(const struct twin_rig *t)
{
	if (!t->rig[0].cap.count)
		return 0;
	const uint8_t *o = sim_frame_tcp_opt(&t->rig[0], t->rig[0].cap.count - 1, 8);
	return o ? sim_be32(o + 2) : 0;
}

/* NOP, NOP, kind, length 10, two 32-bit values in network order. */
static uint8_t put_opt(uint8_t *o, uint8_t kind, uint32_t a, uint32_t b)
{
	uint32_t v[2] = {htonl(a), htonl(b)};
	o[0] = 1;
	o[1] = 1;
	o[2] = kind;
	o[3] = 10;
	memcpy(o + 4, v, 8);
	return 12;
}

uint64_t twin_send(struct twin_rig *t, struct twin_seg g)
{
	uint8_t o[40];
	uint8_t n = 0;
	if (!g.no_ts)
		n += put_opt(o + n, 8, g.tsval ? g.tsval : t->peer_tsval, stack_tsval(t));
	if (g.nsack)
		n += put_opt(o + n, 5, g.sack[0], g.sack[1]);
	struct sim_peer_seg s = {.sport = TWIN_PEER_PORT,
	                         .dport = TWIN_SRV_PORT,
	                         .flags = g.flags,
	                         .seq = g.seq,
	                         .ack = g.ack,
	                         .window = g.window ? g.window : t->peer_win,
	                         .opts = n ? o : NULL,
	                         .optlen = n,
	                         .len = g.len};
	uint64_t before = twin_count(t);
	for (int i = 0; i < 2; i++) {
		twin_use(t, i);
		sim_peer_send(&t->rig[i], &s);
		tpa_stack_flush(t->rig[i].s);
	}
	twin_end(t);
	return twin_count(t) - before;
}

uint64_t twin_data_in(struct twin_rig *t, uint16_t len)
{
	t->peer_tsval++;
	uint64_t f = twin_send(t, (struct twin_seg){.flags = CRAFT_TCP_ACK | CRAFT_TCP_PSH,
	                                            .seq = t->peer_nxt,
	                                            .ack = t->peer_ack,
	                                            .len = len});
	t->peer_nxt += len;
	return f;
}

uint64_t twin_ack_in(struct twin_rig *t, uint32_t ack)
{
	t->peer_tsval++;
	t->peer_ack = ack;
	return twin_send(t,
	                 (struct twin_seg){.flags = CRAFT_TCP_ACK, .seq = t->peer_nxt, .ack = ack});
}

void twin_advance(struct twin_rig *t, uint64_t ns)
{
	for (int i = 0; i < 2; i++) {
		twin_use(t, i);
		vclock_advance(&t->rig[i].clock, ns);
		tpa_stack_poll(t->rig[i].s);
	}
	twin_end(t);
}

/* n bytes of a pattern that changes with every call. */
static uint8_t *pattern(uint32_t n)
{
	static uint8_t buf[65536];
	static uint32_t salt;
	ck_assert_uint_le(n, sizeof(buf));
	salt++;
	for (uint32_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(i * 7 + salt);
	return buf;
}

/* v written on both: by tpa_sendv in iovcnt pieces, or (iovcnt 0) v[0] by tpa_send. */
static uint64_t write_both(struct twin_rig *t, const struct iovec *v, int iovcnt, int flags)
{
	size_t n = v[0].iov_len + (iovcnt == 2 ? v[1].iov_len : 0);
	uint64_t before = twin_count(t);
	for (int i = 0; i < 2; i++) {
		struct tpa_stack *s = t->rig[i].s;
		twin_use(t, i);
		ssize_t r = iovcnt ? tpa_sendv(s, t->sock[i], v, iovcnt, flags)
		                   : tpa_send(s, t->sock[i], v[0].iov_base, v[0].iov_len, flags);
		ck_assert_int_eq(r, (ssize_t)n);
		tpa_stack_flush(s);
	}
	twin_end(t);
	return twin_count(t) - before;
}

uint64_t twin_writev(struct twin_rig *t, uint32_t n, int iovcnt, int flags)
{
	ck_assert(iovcnt == 1 || iovcnt == 2);
	uint8_t *buf = pattern(n);
	uint32_t first = iovcnt == 1 ? n : n / 2;
	struct iovec v[2] = {{.iov_base = buf, .iov_len = first},
	                     {.iov_base = buf + first, .iov_len = n - first}};
	return write_both(t, v, iovcnt, flags);
}

uint64_t twin_write(struct twin_rig *t, uint32_t n)
{
	struct iovec v = {.iov_base = pattern(n), .iov_len = n};
	return write_both(t, &v, 0, 0);
}

uint64_t twin_recv(struct twin_rig *t, size_t len, int flags)
{
	static uint8_t buf[2][65536];
	ck_assert_uint_le(len, sizeof(buf[0]));
	uint64_t before = twin_count(t);
	int got[2];
	for (int i = 0; i < 2; i++) {
		twin_use(t, i);
		got[i] = (int)tpa_recv(t->rig[i].s, t->sock[i], buf[i], len, flags);
	}
	*t->off = false;
	ck_assert_int_eq(got[0], got[1]);
	if (got[0] > 0)
		ck_assert(memcmp(buf[0], buf[1], (size_t)got[0]) == 0);
	for (int i = 0; i < 2; i++)
		tpa_stack_flush(t->rig[i].s);
	twin_compare(t);
	return twin_count(t) - before;
}

void twin_read(struct twin_rig *t)
{
	twin_recv(t, 65536, 0);
}

void twin_setup(struct twin_rig *t, bool *off, size_t stat)
{
	test_eal_init();
	static const uint8_t syn_opts[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
	                                   0, 1, 0,    0,    0, 0, 1, 3,  3, TWIN_WS};
	static const uint8_t peer_mac[6] = PEER_MAC;
	memset(t, 0, sizeof(*t));
	t->off = off;
	t->stat = stat;
	t->peer_win = 512;
	for (int i = 0; i < 2; i++) {
		sim_rig_init(&t->rig[i], NULL);
		tpa_stack_neigh_update(t->rig[i].s, sim_peer_ip(), peer_mac);
		int l = tpa_socket(t->rig[i].s);
		t->lsock[i] = t->sock[i] = l;
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(TWIN_SRV_PORT)};
		ck_assert_int_eq(tpa_bind(t->rig[i].s, l, (struct sockaddr *)&a, sizeof(a)), 0);
		ck_assert_int_eq(tpa_listen(t->rig[i].s, l, 4), 0);
		struct sim_peer_seg syn = {.sport = TWIN_PEER_PORT,
		                           .dport = TWIN_SRV_PORT,
		                           .flags = CRAFT_TCP_SYN,
		                           .seq = TWIN_PEER_ISN,
		                           .opts = syn_opts,
		                           .optlen = sizeof(syn_opts)};
		twin_use(t, i);
		sim_peer_send(&t->rig[i], &syn);
		tpa_stack_flush(t->rig[i].s);
	}
	*t->off = false;
	t->peer_ack = sim_frame_tcp(&t->rig[0], t->rig[0].cap.count - 1).seq + 1;
	t->peer_nxt = TWIN_PEER_ISN + 1;
	t->peer_tsval = 777;
	twin_ack_in(t, t->peer_ack);
	for (int i = 0; i < 2; i++) {
		t->sock[i] = tpa_accept(t->rig[i].s, t->lsock[i], NULL, NULL);
		ck_assert_int_ge(t->sock[i], 0);
	}
	ck_assert(twin_conn(t, 0)->flags & TSF_TS_OK);
	ck_assert(twin_conn(t, 0)->flags & TSF_SACK_OK);
	ck_assert_uint_eq(twin_conn(t, 0)->snd_wscale, TWIN_WS);
	twin_clear_frames(t);
	twin_compare(t);
}

void twin_teardown(struct twin_rig *t)
{
	twin_read(t);
	for (int i = 0; i < 2; i++) {
		struct sim_peer_seg rst = {.sport = TWIN_PEER_PORT,
		                           .dport = TWIN_SRV_PORT,
		                           .flags = CRAFT_TCP_RST,
		                           .seq = t->peer_nxt};
		twin_use(t, i);
		sim_peer_send(&t->rig[i], &rst);
		*t->off = false;
		ck_assert(sim_rig_destroy(&t->rig[i]));
	}
}
