/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tpa trace's event rings (stack/tcp_trace.c): a connection's events in order with the right
 * sequence numbers and causes: a retransmission timeout and its go-back-N retransmission, a
 * single loss repaired by RACK fast recovery, the peer's window closing and opening, the
 * states; rings handed to new connections (a free one first, else the oldest in turn).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sim_net.h"
#include "sim_tap.h"
#include "tpa/trace.h"

#define PORT 7100

struct rig {
	struct sim_world *w;
	struct sim_tap tap;
	struct tpa_trace_area *area;
	int l, cli, srv;
	int drop_nth;                /* drop node 0's nth data segment from now on (0: none) */
	uint32_t drop_seq, drop_len; /* the one dropped */
};

static bool drop_once(struct sim_tap *t, int from, const struct parsed_tcp *p)
{
	struct rig *r = t->user;
	if (from != 0 || !r->drop_nth || !p->payload_len || --r->drop_nth)
		return false;
	r->drop_seq = p->seq;
	r->drop_len = p->payload_len;
	return true;
}

static void tweak_rcvbuf(void *ctx, int node, struct tpa_stack_config *cfg)
{
	(void)ctx;
	if (node == 1)
		cfg->tcp.rcvbuf = 16384;
}

static void rig_up(struct rig *r, uint32_t nrings, bool small_rcvbuf)
{
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	if (small_rcvbuf)
		o.tweak = tweak_rcvbuf;
	memset(r, 0, sizeof(*r));
	r->w = sim_world_create(&o);
	ck_assert_ptr_nonnull(r->w);
	r->tap.drop = drop_once;
	r->tap.user = r;
	sim_tap_attach(r->w, &r->tap);
	size_t len = tpa_trace_area_size(nrings);
	r->area = calloc(1, len);
	ck_assert_ptr_nonnull(r->area);
	ck_assert_int_eq(tpa_stack_trace_attach(sim_stack(r->w, 0), r->area, len), 0);
	ck_assert_uint_eq(r->area->nrings, nrings);
	r->l = sim_listen(r->w, 1, PORT, 16);
	ck_assert_int_ge(r->l, 0);
	ck_assert_int_eq(sim_connect(r->w, 1, r->l, PORT, &r->cli, &r->srv), 0);
}

static void rig_down(struct rig *r)
{
	sim_world_destroy(r->w);
	free(r->area);
}

static struct tpa_trace_ring *ring(struct rig *r, uint32_t i)
{
	return (struct tpa_trace_ring *)(r->area + 1) + i;
}

/* The ring of node 0's socket id, NULL if none has it. */
static struct tpa_trace_ring *ring_of(struct rig *r, int sock)
{
	for (uint32_t i = 0; i < r->area->nrings; i++)
		if (ring(r, i)->gen && ring(r, i)->sock_id == sock)
			return ring(r, i);
	return NULL;
}

/* The index of the first event of type (and a8, unless -1) at or after `from`, or -1. */
static int find(const struct tpa_trace_ring *g, int from, uint8_t type, int a8)
{
	uint64_t n = g->nevents, first = n > TPA_TRACE_RING_EVENTS ? n - TPA_TRACE_RING_EVENTS : 0;
	for (uint64_t k = first > (uint64_t)from ? first : (uint64_t)from; k < n; k++) {
		const struct tpa_trace_rec *e = &g->rec[k % TPA_TRACE_RING_EVENTS];
		ck_assert_uint_eq(e->n, (uint32_t)(k + 1));
		if (e->type == type && (a8 < 0 || e->a8 == a8))
			return (int)k;
	}
	return -1;
}

static const struct tpa_trace_rec *rec(const struct tpa_trace_ring *g, int k)
{
	return &g->rec[(unsigned)k % TPA_TRACE_RING_EVENTS];
}

static void send_bytes(struct rig *r, size_t len)
{
	static uint8_t buf[65536];
	ck_assert_uint_le(len, sizeof(buf));
	ck_assert_int_eq(tpa_send(sim_stack(r->w, 0), r->cli, buf, len, 0), (ssize_t)len);
	tpa_stack_flush(sim_stack(r->w, 0));
}

START_TEST(trace_states_of_a_connection)
{
	struct rig r;
	rig_up(&r, 4, false);
	struct tpa_trace_ring *g = ring_of(&r, r.cli);
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(r.area->opened, 1); /* node 0 has one connection and no listener */
	ck_assert_uint_eq(g->lport != 0 && g->rport == PORT, 1);
	int k = find(g, 0, TPA_TRACE_STATE, TPA_TCP_SYN_SENT);
	ck_assert_int_eq(k, 0);
	ck_assert_uint_eq(rec(g, k)->a16, TPA_TCP_CLOSED);
	k = find(g, k, TPA_TRACE_STATE, TPA_TCP_ESTABLISHED);
	ck_assert_int_eq(k, 1);
	ck_assert_uint_eq(rec(g, k)->a16, TPA_TCP_SYN_SENT);
	ck_assert_int_eq(tpa_close(sim_stack(r.w, 0), r.cli), 0);
	ck_assert_int_eq(tpa_close(sim_stack(r.w, 1), r.srv), 0);
	sim_run_for(r.w, VCLOCK_MS(500));
	ck_assert_int_ge(find(g, k, TPA_TRACE_STATE, TPA_TCP_FIN_WAIT1), 0);
	ck_assert_int_ge(find(g, k, TPA_TRACE_STATE, TPA_TCP_TIME_WAIT), 0);
	ck_assert_int_lt(find(g, 0, TPA_TRACE_RETRANSMIT, -1), 0);
	rig_down(&r);
}
END_TEST

START_TEST(trace_rto_then_go_back_n)
{
	struct rig r;
	rig_up(&r, 4, false);
	struct tpa_trace_ring *g = ring_of(&r, r.cli);
	uint32_t una = g->iss + 1;
	sim_impair(r.w, 0)->down = true;
	send_bytes(&r, 1000);
	sim_run_for(r.w, VCLOCK_MS(1500));
	sim_impair(r.w, 0)->down = false;
	sim_run_for(r.w, VCLOCK_MS(3000));
	int k = find(g, 0, TPA_TRACE_RTO, 0);
	ck_assert_int_ge(k, 0);
	ck_assert_uint_eq(rec(g, k)->a16, 1); /* the first expiry */
	ck_assert_uint_eq(rec(g, k)->v[1], una);
	ck_assert_uint_gt(rec(g, k)->v[0], 0);
	int x = find(g, k, TPA_TRACE_RETRANSMIT, -1);
	ck_assert_int_eq(x, k + 1);
	ck_assert_uint_eq(rec(g, x)->a8, TPA_TRACE_CAUSE_RTO);
	ck_assert_uint_eq(rec(g, x)->v[0], una);
	ck_assert_uint_eq(rec(g, x)->v[1], 1000);
	ck_assert_uint_ge(rec(g, x)->t_ns, rec(g, k)->t_ns);
	ck_assert_int_lt(find(g, 0, TPA_TRACE_RECOVERY, -1), 0);
	rig_down(&r);
}
END_TEST

START_TEST(trace_one_loss_repaired_by_rack)
{
	struct rig r;
	rig_up(&r, 4, false);
	struct tpa_trace_ring *g = ring_of(&r, r.cli);
	r.drop_nth = 3;
	send_bytes(&r, 8 * 1448);
	sim_run_for(r.w, VCLOCK_MS(2000));
	uint32_t lost = r.drop_seq;
	ck_assert_uint_eq(lost, g->iss + 1 + 2 * r.drop_len); /* the third was dropped */
	int k = find(g, 0, TPA_TRACE_RECOVERY, TPA_TRACE_CAUSE_RACK);
	ck_assert_int_ge(k, 0);
	ck_assert_uint_eq(rec(g, k)->v[0], lost);
	ck_assert_uint_lt(rec(g, k)->v[2], 10 * r.drop_len); /* cwnd reduced */
	int x = find(g, k, TPA_TRACE_RETRANSMIT, TPA_TRACE_CAUSE_RACK);
	ck_assert_int_eq(x, k + 1);
	ck_assert_uint_eq(rec(g, x)->v[0], lost);
	ck_assert_uint_eq(rec(g, x)->v[1], r.drop_len);
	ck_assert_int_gt(find(g, x, TPA_TRACE_RECOVERY_END, -1), x);
	ck_assert_int_lt(find(g, 0, TPA_TRACE_RTO, -1), 0);
	ck_assert_int_lt(find(g, x + 1, TPA_TRACE_RETRANSMIT, -1), 0); /* only the lost one */
	rig_down(&r);
}
END_TEST

START_TEST(trace_peer_window_closes_and_opens)
{
	struct rig r;
	rig_up(&r, 4, true);
	struct tpa_trace_ring *g = ring_of(&r, r.cli);
	send_bytes(&r, 65536); /* more than node 1's 16 KiB receive buffer */
	sim_run_for(r.w, VCLOCK_MS(1000));
	int k = find(g, 0, TPA_TRACE_WINDOW, 1);
	ck_assert_int_ge(k, 0);
	ck_assert_uint_eq(rec(g, k)->v[0], 0);
	static uint8_t buf[65536];
	ck_assert_int_gt(tpa_recv(sim_stack(r.w, 1), r.srv, buf, sizeof(buf), 0), 0);
	sim_run_for(r.w, VCLOCK_MS(1000));
	int o = find(g, k, TPA_TRACE_WINDOW, 0);
	ck_assert_int_gt(o, k);
	ck_assert_uint_gt(rec(g, o)->v[0], 0);
	rig_down(&r);
}
END_TEST

START_TEST(trace_rings_go_to_new_connections)
{
	struct rig r;
	rig_up(&r, 2, false); /* ring 0: the first connection */
	int c[3], s[3];
	ck_assert_ptr_eq(ring_of(&r, r.cli), ring(&r, 0));
	ck_assert_int_eq(sim_connect(r.w, 1, r.l, PORT, &c[0], &s[0]), 0);
	ck_assert_ptr_eq(ring_of(&r, c[0]), ring(&r, 1));
	/* Both rings are held: the next connection takes the oldest in turn. */
	ck_assert_int_eq(sim_connect(r.w, 1, r.l, PORT, &c[1], &s[1]), 0);
	ck_assert_ptr_eq(ring_of(&r, c[1]), ring(&r, 0));
	ck_assert_ptr_null(ring_of(&r, r.cli));
	ck_assert_uint_eq(ring(&r, 0)->nevents, 2); /* its own: SYN_SENT, ESTABLISHED */
	/* The first connection is traced no more; the others still are. */
	send_bytes(&r, 100);
	sim_run_for(r.w, VCLOCK_MS(100));
	ck_assert_uint_eq(ring(&r, 0)->nevents, 2);
	/* A ring whose connection is gone is taken before a live one. */
	ck_assert_int_eq(tpa_close(sim_stack(r.w, 0), c[0]), 0);
	ck_assert_int_eq(tpa_close(sim_stack(r.w, 1), s[0]), 0);
	sim_run_for(r.w, VCLOCK_MS(200)); /* node 1 closed second: node 0 is not in TIME_WAIT */
	ck_assert_int_eq(sim_connect(r.w, 1, r.l, PORT, &c[2], &s[2]), 0);
	ck_assert_ptr_eq(ring_of(&r, c[2]), ring(&r, 1));
	ck_assert_ptr_eq(ring_of(&r, c[1]), ring(&r, 0));
	ck_assert_uint_eq(r.area->opened, 4);
	rig_down(&r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_trace");
	TCase *t = tcase_create("trace");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, trace_states_of_a_connection);
	tcase_add_test(t, trace_rto_then_go_back_n);
	tcase_add_test(t, trace_one_loss_repaired_by_rack);
	tcase_add_test(t, trace_peer_window_closes_and_opens);
	tcase_add_test(t, trace_rings_go_to_new_connections);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return sim_main(suite, 1, 1);
}
