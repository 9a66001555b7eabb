/* SPDX-License-Identifier: BSD-3-Clause */
/* TCP behaviour as a script: see tcp_script.h. */
#include "tcp_script.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "sim_peer.h"
#include "tcp_isn.h"
#include "wire.h"

#define SCRIPT_PORT      80
#define SCRIPT_PEER_PORT 40000
#define SCRIPT_PEER_ISN  1000u

void tscript_init(struct tcp_script *sc, void (*cfg_tweak)(struct tpa_stack_config *cfg))
{
	memset(sc, 0, sizeof(*sc));
	sim_rig_init(&sc->rig, cfg_tweak);
	const uint8_t peer_mac[6] = PEER_MAC;
	tpa_stack_neigh_update(sc->rig.s, sim_peer_ip(), peer_mac);
	sc->port = SCRIPT_PORT;
	sc->peer_port = SCRIPT_PEER_PORT;
	sc->peer_isn = SCRIPT_PEER_ISN;
	sc->peer_window = 65535;
	sc->stack_window = 65535;
	sc->lsock = sc->sock = -1;
}

bool tscript_destroy(struct tcp_script *sc)
{
	/* Reset what is left (linger 0): whatever a connection still holds is freed with it, so
	 * the rig's count of held mbufs finds only what a socket lost. */
	struct linger lg = {1, 0};
	if (sc->sock >= 0) {
		tpa_setsockopt(sc->rig.s, sc->sock, TPA_SO_LINGER, &lg, sizeof(lg));
		tpa_close(sc->rig.s, sc->sock);
	}
	if (sc->lsock >= 0)
		tpa_close(sc->rig.s, sc->lsock);
	tpa_stack_flush(sc->rig.s);
	return sim_rig_destroy(&sc->rig);
}

static size_t flow(const struct tcp_script *sc, uint8_t out[TCP_ISN_FLOW4_LEN])
{
	return tcp_isn_flow4(out, rig_ip(), htons(sc->port), sim_peer_ip(), htons(sc->peer_port));
}

uint32_t tscript_iss(const struct tcp_script *sc)
{
	uint8_t f[TCP_ISN_FLOW4_LEN];
	size_t n = flow(sc, f);
	return tcp_isn(rig_isn_key, f, n, sc->rig.clock.now_ns);
}

uint32_t tscript_tsval(const struct tcp_script *sc)
{
	uint8_t f[TCP_ISN_FLOW4_LEN];
	size_t n = flow(sc, f);
	return (uint32_t)(sc->rig.clock.now_ns / 1000000u) + tcp_ts_offset(rig_isn_key, f, n);
}

struct find_ctx {
	const struct tcp_script *sc;
	int state;
};

static void find_conn(void *arg, const struct tpa_sock_dump *d)
{
	struct find_ctx *c = arg;
	if (d->raddr == sim_peer_ip() && d->lport == c->sc->port && d->rport == c->sc->peer_port)
		c->state = (int)d->state;
}

int tscript_state(const struct tcp_script *sc)
{
	struct find_ctx c = {.sc = sc, .state = TSCRIPT_NO_TCB};
	tpa_stack_sock_foreach(sc->rig.s, find_conn, &c);
	return c.state;
}

const char *tscript_state_name(int state)
{
	static const char *const names[] = {
	        [TSCRIPT_NO_TCB] = "no connection",  [TPA_TCP_ESTABLISHED] = "ESTABLISHED",
	        [TPA_TCP_SYN_SENT] = "SYN-SENT",     [TPA_TCP_SYN_RECV] = "SYN-RECEIVED",
	        [TPA_TCP_FIN_WAIT1] = "FIN-WAIT-1",  [TPA_TCP_FIN_WAIT2] = "FIN-WAIT-2",
	        [TPA_TCP_TIME_WAIT] = "TIME-WAIT",   [TPA_TCP_CLOSED] = "CLOSED",
	        [TPA_TCP_CLOSE_WAIT] = "CLOSE-WAIT", [TPA_TCP_LAST_ACK] = "LAST-ACK",
	        [TPA_TCP_LISTEN] = "LISTEN",         [TPA_TCP_CLOSING] = "CLOSING",
	};
	if (state < 0 || (size_t)state >= sizeof(names) / sizeof(names[0]) || !names[state])
		return "?";
	return names[state];
}

/* ---- segments ------------------------------------------------------------------------ */

static uint8_t build_options(const struct tseg *g, uint8_t *o)
{
	if (g->raw_opts) {
		memcpy(o, g->raw_opts, g->raw_optlen);
		return g->raw_optlen;
	}
	uint8_t n = 0;
	if (g->mss) {
		o[n++] = TCP_OPT_MSS;
		o[n++] = TCP_OPT_MSS_LEN;
		wire_store_be16(o + n, g->mss);
		n += 2;
	}
	if (g->sack_perm) {
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_SACK_PERM;
		o[n++] = TCP_OPT_SACK_PERM_LEN;
	}
	if (g->has_ts) {
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_TS;
		o[n++] = TCP_OPT_TS_LEN;
		wire_store_be32(o + n, g->tsval);
		wire_store_be32(o + n + 4, g->tsecr);
		n += 8;
	}
	if (g->has_ws) {
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_WSCALE;
		o[n++] = TCP_OPT_WSCALE_LEN;
		o[n++] = g->ws;
	}
	if (g->nsack) {
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_SACK;
		o[n++] = (uint8_t)(2 + TCP_OPT_SACK_BLOCK_LEN * g->nsack);
		for (uint8_t i = 0; i < g->nsack; i++) {
			wire_store_be32(o + n, g->sack[i][0]);
			wire_store_be32(o + n + TCP_OPT_SACK_OFF_RIGHT, g->sack[i][1]);
			n += TCP_OPT_SACK_BLOCK_LEN;
		}
	}
	return n;
}

size_t tscript_frame(const struct tcp_script *sc, uint8_t *buf, struct tseg g)
{
	static const uint8_t zeros[2048];
	uint8_t opts[TCP_HDR_MAX - TCP_HDR_LEN];
	ck_assert_uint_le(g.nsack, TSEG_MAX_SACK);
	ck_assert_uint_le(g.raw_optlen, sizeof(opts));
	ck_assert_uint_le(g.len, sizeof(zeros));
	uint32_t win = g.window ? g.window : sc->peer_window;
	struct craft_tcp t = {.dst_mac = RIG_MAC,
	                      .src_mac = PEER_MAC,
	                      .src_ip = sim_peer_ip(),
	                      .dst_ip = rig_ip(),
	                      .sport = g.sport ? g.sport : sc->peer_port,
	                      .dport = g.dport ? g.dport : sc->port,
	                      .seq = g.seq,
	                      .ack = g.ack,
	                      .flags = g.flags,
	                      .window = (uint16_t)(win == TSEG_WIN_ZERO ? 0 : win),
	                      .payload = g.data ? g.data : (g.len ? zeros : NULL),
	                      .payload_len = g.len,
	                      .options = opts};
	t.options_len = build_options(&g, opts);
	return craft_tcp_frame(buf, &t);
}

void tscript_send(struct tcp_script *sc, struct tseg g)
{
	uint8_t buf[TSCRIPT_FRAME_ROOM];
	sim_rig_input(&sc->rig, buf, tscript_frame(sc, buf, g), 0);
}

/* Options of a sent segment into g; false if one is malformed or unknown (the stack sends only
 * the ones named in tseg). */
static bool parse_options(const uint8_t *p, uint32_t len, struct tseg *g)
{
	for (uint32_t k = 0; k < len;) {
		uint8_t kind = p[k];
		if (kind == TCP_OPT_EOL)
			break;
		if (kind == TCP_OPT_NOP) {
			k++;
			continue;
		}
		if (k + 1 >= len || p[k + 1] < 2 || k + p[k + 1] > len)
			return false;
		uint8_t olen = p[k + 1];
		const uint8_t *v = p + k + TCP_OPT_OFF_VALUE;
		if (kind == TCP_OPT_MSS && olen == TCP_OPT_MSS_LEN)
			g->mss = wire_load_be16(v);
		else if (kind == TCP_OPT_WSCALE && olen == TCP_OPT_WSCALE_LEN) {
			g->has_ws = true;
			g->ws = v[0];
		} else if (kind == TCP_OPT_SACK_PERM && olen == TCP_OPT_SACK_PERM_LEN)
			g->sack_perm = true;
		else if (kind == TCP_OPT_TS && olen == TCP_OPT_TS_LEN) {
			g->has_ts = true;
			g->tsval = wire_load_be32(p + k + TCP_OPT_TS_OFF_TSVAL);
			g->tsecr = wire_load_be32(p + k + TCP_OPT_TS_OFF_TSECR);
		} else if (kind == TCP_OPT_SACK && (olen - 2) % TCP_OPT_SACK_BLOCK_LEN == 0 &&
		           olen > 2 && (olen - 2) / TCP_OPT_SACK_BLOCK_LEN <= TSEG_MAX_SACK) {
			g->nsack = (uint8_t)((olen - 2) / TCP_OPT_SACK_BLOCK_LEN);
			for (uint8_t i = 0; i < g->nsack; i++) {
				g->sack[i][0] = wire_load_be32(v + i * TCP_OPT_SACK_BLOCK_LEN);
				g->sack[i][1] = wire_load_be32(v + i * TCP_OPT_SACK_BLOCK_LEN +
				                               TCP_OPT_SACK_OFF_RIGHT);
			}
		} else
			return false;
		k += olen;
	}
	return true;
}

/* Captured frame i as a tseg: false (with why) when it is not a well-formed TCP segment of the
 * script's connection. */
static bool frame_seg(const struct tcp_script *sc, uint32_t i, struct tseg *g, const char **why)
{
	const struct captured_frame *f = &sc->rig.cap.frames[i];
	struct parsed_tcp p;
	memset(g, 0, sizeof(*g));
	if (!parse_tcp_frame(f->data, f->len, &p)) {
		*why = "not a TCP/IPv4 frame";
		return false;
	}
	if (p.src_ip != rig_ip() || p.dst_ip != sim_peer_ip()) {
		*why = "addresses are not the rig's and the peer's";
		return false;
	}
	g->sport = p.sport;
	g->dport = p.dport;
	g->flags = p.flags;
	g->seq = p.seq;
	g->ack = p.ack;
	g->window = p.window ? p.window : TSEG_WIN_ZERO;
	g->data = p.payload;
	g->len = (uint16_t)p.payload_len;
	const uint8_t *th = f->data + ETH_HDR_LEN + ipv4_hdr_len(f->data + ETH_HDR_LEN);
	if (!parse_options(th + TCP_HDR_LEN, tcp_hdr_len(th) - TCP_HDR_LEN, g)) {
		*why = "an unknown or malformed option";
		return false;
	}
	return true;
}

void tseg_format(const struct tseg *g, char *buf, size_t n)
{
	static const char *const names[] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG"};
	char ctl[32] = "";
	for (int b = 0; b < 6; b++) {
		if (g->flags & (1u << b)) {
			if (ctl[0])
				strcat(ctl, ",");
			strcat(ctl, names[b]);
		}
	}
	uint32_t win = g->window == TSEG_WIN_ZERO ? 0 : g->window;
	int k = snprintf(buf, n, "<SEQ=%u><ACK=%u><CTL=%s> win %u len %u", g->seq, g->ack, ctl, win,
	                 g->len);
	if (k < 0 || (size_t)k >= n)
		return;
	if (g->mss)
		k += snprintf(buf + k, n - (size_t)k, " mss %u", g->mss);
	if (g->has_ws && (size_t)k < n)
		k += snprintf(buf + k, n - (size_t)k, " ws %u", g->ws);
	if (g->sack_perm && (size_t)k < n)
		k += snprintf(buf + k, n - (size_t)k, " sackOK");
	if (g->has_ts && (size_t)k < n)
		k += snprintf(buf + k, n - (size_t)k, " ts %u/%u", g->tsval, g->tsecr);
	for (uint8_t i = 0; i < g->nsack && (size_t)k < n; i++)
		k += snprintf(buf + k, n - (size_t)k, " sack %u-%u", g->sack[i][0], g->sack[i][1]);
}

/* The window a segment the stack sends must carry when the test did not say: none in a RST
 * (the stack's RSTs carry no window), the unscaled default in a SYN, else what keeps the right
 * edge the stack last advertised (it never moves it back, RFC 9293 3.8.6.2.2). */
static uint32_t default_window(const struct tcp_script *sc, const struct tseg *want)
{
	if (want->flags & TS_RST)
		return TSEG_WIN_ZERO;
	if ((want->flags & TS_SYN) || !(want->flags & TS_ACK) || !sc->rcv_edge_known)
		return sc->stack_window;
	uint32_t w = sc->rcv_edge - want->ack;
	return w ? w : TSEG_WIN_ZERO;
}

static bool same(const struct tcp_script *sc, const struct tseg *want, const struct tseg *got)
{
	if (got->sport != sc->port || got->dport != sc->peer_port || got->flags != want->flags ||
	    got->seq != want->seq || got->ack != want->ack || got->window != want->window ||
	    got->len != want->len || got->mss != want->mss || got->has_ws != want->has_ws ||
	    got->ws != want->ws || got->sack_perm != want->sack_perm ||
	    got->has_ts != want->has_ts || got->tsval != want->tsval || got->tsecr != want->tsecr ||
	    got->nsack != want->nsack)
		return false;
	for (uint8_t i = 0; i < want->nsack; i++)
		if (got->sack[i][0] != want->sack[i][0] || got->sack[i][1] != want->sack[i][1])
			return false;
	return !want->data || memcmp(got->data, want->data, want->len) == 0;
}

void tscript_expect(struct tcp_script *sc, struct tseg want, const char *file, int line)
{
	char w[256], g[256];
	if (!want.window)
		want.window = default_window(sc, &want);
	tseg_format(&want, w, sizeof(w));
	if (sc->seen >= sc->rig.cap.count)
		_ck_assert_failed(file, line, "Failed", "expected %s, the stack sent nothing", w);
	uint32_t i = sc->seen++;
	struct tseg got;
	const char *why = NULL;
	bool ok = frame_seg(sc, i, &got, &why);
	tseg_format(&got, g, sizeof(g));
	if (!ok)
		_ck_assert_failed(file, line, "Failed", "expected %s, frame %u has %s", w, i, why);
	if (!same(sc, &want, &got))
		_ck_assert_failed(file, line, "Failed", "expected %s, got %s (ports %u>%u)", w, g,
		                  got.sport, got.dport);
	if ((got.flags & TS_ACK) && !(got.flags & TS_RST)) {
		sc->rcv_edge = got.ack + (got.window == TSEG_WIN_ZERO ? 0 : got.window);
		sc->rcv_edge_known = true;
	}
}

void tscript_expect_none(struct tcp_script *sc, const char *file, int line)
{
	if (sc->seen >= sc->rig.cap.count)
		return;
	struct tseg got;
	const char *why = NULL;
	char g[256] = "a frame that is not TCP";
	if (frame_seg(sc, sc->seen, &got, &why))
		tseg_format(&got, g, sizeof(g));
	_ck_assert_failed(file, line, "Failed", "expected nothing, the stack sent %s", g);
}

struct tseg tscript_next(struct tcp_script *sc)
{
	ck_assert_msg(sc->seen < sc->rig.cap.count, "the stack sent nothing");
	struct tseg got;
	const char *why = NULL;
	ck_assert_msg(frame_seg(sc, sc->seen, &got, &why), "frame %u: %s", sc->seen, why);
	sc->seen++;
	got.data = NULL;
	return got;
}

/* ---- fixtures ------------------------------------------------------------------------ */

static void check_state(const struct tcp_script *sc, int want)
{
	int got = tscript_state(sc);
	ck_assert_msg(got == want, "fixture: state %s, expected %s", tscript_state_name(got),
	              tscript_state_name(want));
}

void tscript_listen(struct tcp_script *sc)
{
	sc->lsock = tpa_socket(sc->rig.s);
	ck_assert_int_ge(sc->lsock, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(sc->port)};
	ck_assert_int_eq(tpa_bind(sc->rig.s, sc->lsock, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(tpa_listen(sc->rig.s, sc->lsock, 8), 0);
	sc->rcv_nxt = sc->peer_isn;
	SEG_EXPECT_NONE(sc);
}

void tscript_syn_sent(struct tcp_script *sc)
{
	sc->sock = tpa_socket(sc->rig.s);
	ck_assert_int_ge(sc->sock, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(sc->peer_port)};
	a.sin_addr.s_addr = sim_peer_ip();
	ck_assert_int_eq(tpa_connect(sc->rig.s, sc->sock, (struct sockaddr *)&a, sizeof(a)),
	                 -EINPROGRESS);
	tpa_stack_flush(sc->rig.s);
	struct sockaddr_in me;
	socklen_t ml = sizeof(me);
	ck_assert_int_eq(tpa_getsockname(sc->rig.s, sc->sock, (struct sockaddr *)&me, &ml), 0);
	sc->port = ntohs(me.sin_port);
	sc->iss = tscript_iss(sc);
	/* Our SYN offers every option the configuration enables (all by default). */
	SEG_EXPECT(sc, .flags = TS_SYN, .seq = sc->iss, .mss = 1460, .sack_perm = true,
	           .has_ts = true, .tsval = tscript_tsval(sc), .has_ws = true, .ws = 3);
	SEG_EXPECT_NONE(sc);
	sc->snd_nxt = sc->iss + 1;
	sc->rcv_nxt = sc->peer_isn;
	check_state(sc, TPA_TCP_SYN_SENT);
}

void tscript_syn_received(struct tcp_script *sc)
{
	tscript_listen(sc);
	SEG_SEND(sc, .flags = TS_SYN, .seq = sc->peer_isn);
	sc->iss = tscript_iss(sc);
	SEG_EXPECT(sc, .flags = TS_SYN | TS_ACK, .seq = sc->iss, .ack = sc->peer_isn + 1,
	           .mss = 1460);
	SEG_EXPECT_NONE(sc);
	sc->snd_nxt = sc->iss + 1;
	sc->rcv_nxt = sc->peer_isn + 1;
	check_state(sc, TPA_TCP_SYN_RECV);
}

void tscript_established(struct tcp_script *sc)
{
	tscript_syn_received(sc);
	SEG_SEND(sc, .flags = TS_ACK, .seq = sc->rcv_nxt, .ack = sc->snd_nxt);
	SEG_EXPECT_NONE(sc);
	sc->sock = tpa_accept(sc->rig.s, sc->lsock, NULL, NULL);
	ck_assert_int_ge(sc->sock, 0);
	check_state(sc, TPA_TCP_ESTABLISHED);
}

/* Our FIN (shutdown, the handle stays open). */
static void send_our_fin(struct tcp_script *sc)
{
	ck_assert_int_eq(tpa_shutdown(sc->rig.s, sc->sock, SHUT_WR), 0);
	tpa_stack_flush(sc->rig.s);
	SEG_EXPECT(sc, .flags = TS_FIN | TS_ACK, .seq = sc->snd_nxt, .ack = sc->rcv_nxt);
	SEG_EXPECT_NONE(sc);
	sc->snd_nxt++;
}

void tscript_fin_wait_1(struct tcp_script *sc)
{
	tscript_established(sc);
	send_our_fin(sc);
	check_state(sc, TPA_TCP_FIN_WAIT1);
}

void tscript_fin_wait_2(struct tcp_script *sc)
{
	tscript_fin_wait_1(sc);
	SEG_SEND(sc, .flags = TS_ACK, .seq = sc->rcv_nxt, .ack = sc->snd_nxt);
	SEG_EXPECT_NONE(sc);
	check_state(sc, TPA_TCP_FIN_WAIT2);
}

/* The peer's FIN, acknowledging what it has seen of ours. */
static void peer_fin(struct tcp_script *sc, uint32_t ack)
{
	SEG_SEND(sc, .flags = TS_FIN | TS_ACK, .seq = sc->rcv_nxt, .ack = ack);
	sc->rcv_nxt++;
	SEG_EXPECT(sc, .flags = TS_ACK, .seq = sc->snd_nxt, .ack = sc->rcv_nxt);
	SEG_EXPECT_NONE(sc);
}

void tscript_close_wait(struct tcp_script *sc)
{
	tscript_established(sc);
	peer_fin(sc, sc->snd_nxt);
	check_state(sc, TPA_TCP_CLOSE_WAIT);
}

void tscript_closing(struct tcp_script *sc)
{
	tscript_fin_wait_1(sc);
	peer_fin(sc, sc->snd_nxt - 1); /* the FINs crossed */
	check_state(sc, TPA_TCP_CLOSING);
}

void tscript_last_ack(struct tcp_script *sc)
{
	tscript_close_wait(sc);
	send_our_fin(sc);
	check_state(sc, TPA_TCP_LAST_ACK);
}

void tscript_time_wait(struct tcp_script *sc)
{
	tscript_fin_wait_2(sc);
	peer_fin(sc, sc->snd_nxt);
	check_state(sc, TPA_TCP_TIME_WAIT);
}
