/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RST in every state, forged with the right and the wrong sequence number (RFC 9293, RFC 5961):
 * - synchronized states (ESTABLISHED, FIN_WAIT1/2, CLOSE_WAIT, LAST_ACK, CLOSING, and
 *   SYN_RECV): an RST outside the window is dropped silently; one inside the window but not at
 *   rcv_nxt gets a challenge ACK and changes nothing; one exactly at rcv_nxt resets.
 * - SYN_SENT: only an RST whose ACK acknowledges our SYN is accepted (ECONNREFUSED).
 * - TIME_WAIT: an out-of-window RST changes nothing; the socket still ends on time.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "sim_net.h"
#include "sim_tap.h"

#define PORT 7000

struct rig {
	struct sim_world *w;
	struct sim_tap tap;
	int l, cli, srv;
};

static void rig_up(struct rig *r)
{
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	memset(r, 0, sizeof(*r));
	r->w = sim_world_create(&o);
	ck_assert_ptr_nonnull(r->w);
	sim_tap_attach(r->w, &r->tap);
	r->l = sim_listen(r->w, 1, PORT, 16);
	ck_assert_int_ge(r->l, 0);
	ck_assert_int_eq(sim_connect(r->w, 1, r->l, PORT, &r->cli, &r->srv), 0);
	sim_run_for(r->w, VCLOCK_MS(500)); /* delayed ACKs out: the last segments are current */
}

static void rig_down(struct rig *r)
{
	sim_world_destroy(r->w);
}

static uint64_t challenges(struct rig *r, int node)
{
	return tpa_stack_stats(sim_stack(r->w, node))->tcp_challenge_ack;
}

/* The three RSTs against a socket in a synchronized state. */
static void rst_synchronized(struct rig *r, int victim, int sock, int state)
{
	/* A reset counts as a connection reset while the application can still receive; in
	 * LAST_ACK and CLOSING both directions are finished, so only the state is checked. */
	bool counted = state != TPA_TCP_LAST_ACK && state != TPA_TCP_CLOSING;
	ck_assert_int_eq(sim_sock_state(r->w, victim, sock), state);
	uint32_t rcv_nxt = r->tap.last[victim].ack;
	uint64_t seg_before = r->tap.segments[victim];
	uint64_t ch = challenges(r, victim);

	sim_tap_forge(r->w, &r->tap, victim, CRAFT_TCP_RST, rcv_nxt + 0x40000000u, 0, NULL, 0);
	ck_assert_int_eq(sim_sock_state(r->w, victim, sock), state);
	ck_assert_uint_eq(challenges(r, victim), ch);

	sim_tap_forge(r->w, &r->tap, victim, CRAFT_TCP_RST, rcv_nxt + 1, 0, NULL, 0);
	ck_assert_int_eq(sim_sock_state(r->w, victim, sock), state);
	ck_assert_uint_eq(challenges(r, victim), ch + 1);
	ck_assert_uint_gt(r->tap.segments[victim], seg_before); /* the challenge ACK went out */
	ck_assert_uint_eq(r->tap.last[victim].ack, rcv_nxt);

	uint64_t resets = tpa_stack_stats(sim_stack(r->w, victim))->tcp_conn_reset;
	sim_tap_forge(r->w, &r->tap, victim, CRAFT_TCP_RST, rcv_nxt, 0, NULL, 0);
	ck_assert_int_eq(sim_sock_state(r->w, victim, sock), TPA_TCP_CLOSED);
	if (counted)
		ck_assert_uint_eq(tpa_stack_stats(sim_stack(r->w, victim))->tcp_conn_reset,
		                  resets + 1);
	ck_assert(tpa_sock_events(sim_stack(r->w, victim), sock) & (TPA_EV_ERR | TPA_EV_HUP));
}

START_TEST(rst_established)
{
	struct rig r;
	rig_up(&r);
	rst_synchronized(&r, 1, r.srv, TPA_TCP_ESTABLISHED);
	char b[8];
	ck_assert_int_eq(tpa_recv(sim_stack(r.w, 1), r.srv, b, sizeof(b), 0), -ECONNRESET);
	/* The peer was not told anything: it still thinks the connection is up. */
	ck_assert_int_eq(sim_sock_state(r.w, 0, r.cli), TPA_TCP_ESTABLISHED);
	rig_down(&r);
}
END_TEST

START_TEST(rst_fin_wait1)
{
	struct rig r;
	rig_up(&r);
	sim_impair(r.w, 1)->down = true; /* the ACK of our FIN never comes back */
	ck_assert_int_eq(tpa_shutdown(sim_stack(r.w, 0), r.cli, SHUT_WR), 0);
	sim_run_for(r.w, VCLOCK_MS(100));
	ck_assert(r.tap.last[0].flags & CRAFT_TCP_FIN);
	rst_synchronized(&r, 0, r.cli, TPA_TCP_FIN_WAIT1);
	rig_down(&r);
}
END_TEST

START_TEST(rst_fin_wait2_and_close_wait)
{
	for (int victim = 0; victim < 2; victim++) {
		struct rig r;
		rig_up(&r);
		ck_assert_int_eq(tpa_shutdown(sim_stack(r.w, 0), r.cli, SHUT_WR), 0);
		sim_run_for(r.w, VCLOCK_MS(500));
		if (victim == 0)
			rst_synchronized(&r, 0, r.cli, TPA_TCP_FIN_WAIT2);
		else
			rst_synchronized(&r, 1, r.srv, TPA_TCP_CLOSE_WAIT);
		rig_down(&r);
	}
}
END_TEST

START_TEST(rst_last_ack)
{
	struct rig r;
	rig_up(&r);
	ck_assert_int_eq(tpa_shutdown(sim_stack(r.w, 0), r.cli, SHUT_WR), 0);
	sim_run_for(r.w, VCLOCK_MS(500));
	sim_impair(r.w, 1)->down = true; /* our FIN is lost: no ACK */
	ck_assert_int_eq(tpa_shutdown(sim_stack(r.w, 1), r.srv, SHUT_WR), 0);
	sim_run_for(r.w, VCLOCK_MS(100));
	rst_synchronized(&r, 1, r.srv, TPA_TCP_LAST_ACK);
	rig_down(&r);
}
END_TEST

START_TEST(rst_closing)
{
	struct rig r;
	rig_up(&r);
	/* Simultaneous close whose ACKs are lost: both FINs cross, both sides wait in CLOSING. */
	ck_assert_int_eq(tpa_shutdown(sim_stack(r.w, 0), r.cli, SHUT_WR), 0);
	ck_assert_int_eq(tpa_shutdown(sim_stack(r.w, 1), r.srv, SHUT_WR), 0);
	tpa_stack_flush(sim_stack(r.w, 0));
	tpa_stack_flush(sim_stack(r.w, 1));
	sim_impair(r.w, 0)->down = true;
	sim_impair(r.w, 1)->down = true;
	sim_run_for(r.w, VCLOCK_MS(100));
	ck_assert_int_eq(sim_sock_state(r.w, 1, r.srv), TPA_TCP_CLOSING);
	rst_synchronized(&r, 0, r.cli, TPA_TCP_CLOSING);
	rig_down(&r);
}
END_TEST

static bool drop_pure_ack_from_client(struct sim_tap *t, int from, const struct parsed_tcp *p)
{
	return from == 0 && p->flags == CRAFT_TCP_ACK && p->payload_len == 0;
}

START_TEST(rst_syn_recv)
{
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	struct sim_world *w = sim_world_create(&o);
	struct sim_tap tap = {.drop = drop_pure_ack_from_client};
	sim_tap_attach(w, &tap);
	int l = sim_listen(w, 1, PORT, 16);
	int c = tpa_socket(sim_stack(w, 0));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	a.sin_addr.s_addr = sim_ip(w, 1);
	ck_assert_int_eq(tpa_connect(sim_stack(w, 0), c, (struct sockaddr *)&a, sizeof(a)),
	                 -EINPROGRESS);
	sim_run_for(w, VCLOCK_MS(100));
	/* The client is established; the server's half never saw the final ACK. */
	ck_assert_int_eq(sim_sock_state(w, 0, c), TPA_TCP_ESTABLISHED);
	ck_assert_int_eq(tpa_accept(sim_stack(w, 1), l, NULL, NULL), -EAGAIN);
	ck_assert(tap.last[1].flags & CRAFT_TCP_SYN);
	uint32_t rcv_nxt = tap.last[1].ack; /* the SYN-ACK acknowledges the client's SYN */
	uint64_t ch = tpa_stack_stats(sim_stack(w, 1))->tcp_challenge_ack;
	sim_tap_forge(w, &tap, 1, CRAFT_TCP_RST, rcv_nxt + 1, 0, NULL, 0);
	ck_assert_uint_eq(tpa_stack_stats(sim_stack(w, 1))->tcp_challenge_ack, ch + 1);
	sim_tap_forge(w, &tap, 1, CRAFT_TCP_RST, rcv_nxt, 0, NULL, 0);
	/* The half-open connection is gone: the client's data now meets an RST. */
	tap.drop = NULL;
	ck_assert_int_eq(tpa_send(sim_stack(w, 0), c, "x", 1, 0), 1);
	sim_run_for(w, VCLOCK_MS(100));
	ck_assert_int_eq(tpa_accept(sim_stack(w, 1), l, NULL, NULL), -EAGAIN);
	char b[4];
	ck_assert_int_eq(tpa_recv(sim_stack(w, 0), c, b, sizeof(b), 0), -ECONNRESET);
	sim_world_destroy(w);
}
END_TEST

START_TEST(rst_syn_sent)
{
	struct sim_world_opts o;
	sim_world_opts_init(&o);
	struct sim_world *w = sim_world_create(&o);
	struct sim_tap tap = {0};
	sim_tap_attach(w, &tap);
	tpa_stack_neigh_update(sim_stack(w, 0), sim_ip(w, 1), sim_mac(w, 1));
	sim_impair(w, 1)->down = true; /* no SYN-ACK */
	int c = tpa_socket(sim_stack(w, 0));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	a.sin_addr.s_addr = sim_ip(w, 1);
	ck_assert_int_eq(tpa_connect(sim_stack(w, 0), c, (struct sockaddr *)&a, sizeof(a)),
	                 -EINPROGRESS);
	sim_run_for(w, VCLOCK_MS(10));
	ck_assert(tap.last[0].flags & CRAFT_TCP_SYN);
	uint32_t iss = tap.last[0].seq;
	/* No ACK, or an ACK of something we never sent: ignored. */
	sim_tap_forge(w, &tap, 0, CRAFT_TCP_RST, 0, 0, NULL, 0);
	ck_assert_int_eq(sim_sock_state(w, 0, c), TPA_TCP_SYN_SENT);
	sim_tap_forge(w, &tap, 0, CRAFT_TCP_RST | CRAFT_TCP_ACK, 0, iss + 5, NULL, 0);
	ck_assert_int_eq(sim_sock_state(w, 0, c), TPA_TCP_SYN_SENT);
	sim_tap_forge(w, &tap, 0, CRAFT_TCP_RST | CRAFT_TCP_ACK, 0, iss + 1, NULL, 0);
	ck_assert_int_eq(sim_sock_state(w, 0, c), TPA_TCP_CLOSED);
	ck_assert(tpa_sock_events(sim_stack(w, 0), c) & TPA_EV_ERR);
	ck_assert_int_eq(sim_sock_error(w, 0, c), ECONNREFUSED);
	ck_assert_int_eq(tpa_close(sim_stack(w, 0), c), 0);
	ck_assert_uint_eq(tpa_stack_socket_count(sim_stack(w, 0)), 0);
	sim_world_destroy(w);
}
END_TEST

START_TEST(rst_time_wait)
{
	struct rig r;
	rig_up(&r);
	ck_assert_int_eq(tpa_shutdown(sim_stack(r.w, 0), r.cli, SHUT_WR), 0);
	sim_run_for(r.w, VCLOCK_MS(500));
	ck_assert_int_eq(tpa_shutdown(sim_stack(r.w, 1), r.srv, SHUT_WR), 0);
	sim_run_for(r.w, VCLOCK_MS(500));
	ck_assert_int_eq(sim_sock_state(r.w, 0, r.cli), TPA_TCP_TIME_WAIT);
	uint32_t rcv_nxt = r.tap.last[0].ack;
	sim_tap_forge(r.w, &r.tap, 0, CRAFT_TCP_RST, rcv_nxt + 0x40000000u, 0, NULL, 0);
	ck_assert_int_eq(sim_sock_state(r.w, 0, r.cli), TPA_TCP_TIME_WAIT);
	ck_assert_int_eq(tpa_close(sim_stack(r.w, 0), r.cli), 0);
	ck_assert_int_eq(tpa_close(sim_stack(r.w, 1), r.srv), 0);
	ck_assert_int_eq(tpa_close(sim_stack(r.w, 1), r.l), 0);
	ck_assert_uint_eq(tpa_stack_socket_count(sim_stack(r.w, 0)), 1); /* in TIME_WAIT */
	sim_run_for(r.w, VCLOCK_S(61));
	ck_assert_uint_eq(tpa_stack_socket_count(sim_stack(r.w, 0)), 0);
	ck_assert_uint_eq(tpa_stack_socket_count(sim_stack(r.w, 1)), 0);
	ck_assert(sim_no_mbufs_leaked(r.w));
	rig_down(&r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("rst");
	TCase *tc = tcase_create("rst");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, rst_established);
	tcase_add_test(tc, rst_fin_wait1);
	tcase_add_test(tc, rst_fin_wait2_and_close_wait);
	tcase_add_test(tc, rst_last_ack);
	tcase_add_test(tc, rst_closing);
	tcase_add_test(tc, rst_syn_recv);
	tcase_add_test(tc, rst_syn_sent);
	tcase_add_test(tc, rst_time_wait);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return sim_main(suite, 1, 1);
}
