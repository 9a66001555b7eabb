/* SPDX-License-Identifier: BSD-3-Clause */
/* TCP options: strict parsing of received option lists and writing of ours. */
#include <string.h>

#include "ipv4.h"
#include "tcp_impl.h"
#include "wire.h"

/* NOP, NOP, timestamps: the layout every established segment of Linux, BSD and tpa carries. */
#define TS_ONLY_LAYOUT                                                                             \
	((uint32_t)TCP_OPT_NOP << 24 | (uint32_t)TCP_OPT_NOP << 16 | TCP_OPT_TS << 8 |             \
	 TCP_OPT_TS_LEN)

int tcp_options_parse(const uint8_t *p, uint32_t len, bool syn, struct tcp_opts *o)
{
	/* The common list read at once (the loop below costs ~60 instructions a segment); the
	 * result is the loop's, sack[] left unwritten as nsack is 0. */
	if (len == TCP_OPT_TS_LEN + 2 && wire_load_be32(p) == TS_ONLY_LAYOUT) {
		o->mss = 0;
		o->wscale = 0;
		o->has_mss = o->has_wscale = o->sack_ok = false;
		o->has_ts = true;
		o->tsval = wire_load_be32(p + 2 + TCP_OPT_TS_OFF_TSVAL);
		o->tsecr = wire_load_be32(p + 2 + TCP_OPT_TS_OFF_TSECR);
		o->nsack = 0;
		return 0;
	}
	memset(o, 0, sizeof(*o));
	uint32_t i = 0;
	while (i < len) {
		uint8_t kind = p[i];
		if (kind == TCP_OPT_EOL)
			break;
		if (kind == TCP_OPT_NOP) {
			i++;
			continue;
		}
		/* Every other option has a length byte covering kind and length, inside the
		 * header. */
		if (i + 1 >= len)
			return -1;
		uint8_t olen = p[i + 1];
		if (olen < 2 || i + olen > len)
			return -1;
		const uint8_t *v = p + i + TCP_OPT_OFF_VALUE;
		switch (kind) {
		case TCP_OPT_MSS:
			if (olen != TCP_OPT_MSS_LEN)
				return -1;
			if (syn) {
				o->has_mss = true;
				o->mss = wire_load_be16(v);
			}
			break;
		case TCP_OPT_WSCALE:
			if (olen != TCP_OPT_WSCALE_LEN)
				return -1;
			if (syn) {
				o->has_wscale = true;
				/* RFC 7323 2.3: a shift above 14 is used as 14. */
				o->wscale = v[0] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : v[0];
			}
			break;
		case TCP_OPT_SACK_PERM:
			if (olen != TCP_OPT_SACK_PERM_LEN)
				return -1;
			if (syn)
				o->sack_ok = true;
			break;
		case TCP_OPT_SACK:
			if (olen < TCP_OPT_OFF_VALUE + TCP_OPT_SACK_BLOCK_LEN ||
			    (olen - TCP_OPT_OFF_VALUE) % TCP_OPT_SACK_BLOCK_LEN)
				return -1;
			for (uint32_t b = 0;
			     b < (uint32_t)(olen - TCP_OPT_OFF_VALUE) / TCP_OPT_SACK_BLOCK_LEN;
			     b++) {
				if (o->nsack < TCP_MAX_SACK_BLOCKS) {
					const uint8_t *e = v + b * TCP_OPT_SACK_BLOCK_LEN;
					o->sack[o->nsack].start = wire_load_be32(e);
					o->sack[o->nsack].end =
					        wire_load_be32(e + TCP_OPT_SACK_OFF_RIGHT);
					o->nsack++;
				}
			}
			break;
		case TCP_OPT_TS:
			if (olen != TCP_OPT_TS_LEN)
				return -1;
			o->has_ts = true;
			o->tsval = wire_load_be32(p + i + TCP_OPT_TS_OFF_TSVAL);
			o->tsecr = wire_load_be32(p + i + TCP_OPT_TS_OFF_TSECR);
			break;
		default:
			break; /* unknown options are skipped by their length */
		}
		i += olen;
	}
	return 0;
}

uint32_t tcp_ts_now(const struct tpa_stack *s, const struct tcp_sock *ts)
{
	return tcp_now_ms(s) + ts->ts_offset;
}

/* The timestamps option at p; returns its length. */
static uint32_t put_ts(uint8_t *p, uint32_t tsval, uint32_t tsecr)
{
	p[0] = TCP_OPT_TS;
	p[1] = TCP_OPT_TS_LEN;
	wire_store_be32(p + TCP_OPT_TS_OFF_TSVAL, tsval);
	wire_store_be32(p + TCP_OPT_TS_OFF_TSECR, tsecr);
	return TCP_OPT_TS_LEN;
}

uint32_t tcp_options_write_syn(struct tpa_stack *s, const struct tcp_sock *ts, uint8_t *p,
                               bool synack, const struct tcp_opts *peer)
{
	const struct tpa_tcp_params *cfg = &s->cfg.tcp;
	uint32_t n = 0;
	uint16_t mss = (uint16_t)(ipv4_max_l4_len(s) - TCP_HDR_LEN);
	if (ts->user_mss && ts->user_mss < mss)
		mss = (uint16_t)ts->user_mss;
	p[n++] = TCP_OPT_MSS;
	p[n++] = TCP_OPT_MSS_LEN;
	wire_store_be16(p + n, mss);
	n += 2;
	/* A SYN-ACK offers what negotiate() agreed to when the SYN arrived, also when the timer
	 * retransmits it without the SYN at hand: offering less would leave the two ends
	 * disagreeing on window scaling, timestamps and SACK. */
	bool want_ws = cfg->window_scaling && (!synack || (ts->flags & TSF_WS_OK));
	bool want_ts = cfg->timestamps && (!synack || (ts->flags & TSF_TS_OK));
	bool want_sack = cfg->sack && (!synack || (ts->flags & TSF_SACK_OK));
	if (want_sack && !want_ts) {
		p[n++] = TCP_OPT_NOP;
		p[n++] = TCP_OPT_NOP;
		p[n++] = TCP_OPT_SACK_PERM;
		p[n++] = TCP_OPT_SACK_PERM_LEN;
	}
	if (want_ts) {
		if (want_sack) {
			p[n++] = TCP_OPT_SACK_PERM;
			p[n++] = TCP_OPT_SACK_PERM_LEN;
		} else {
			p[n++] = TCP_OPT_NOP;
			p[n++] = TCP_OPT_NOP;
		}
		n += put_ts(p + n, tcp_ts_now(s, ts), synack ? ts->ts_recent : 0);
	}
	if (want_ws) {
		p[n++] = TCP_OPT_NOP;
		p[n++] = TCP_OPT_WSCALE;
		p[n++] = TCP_OPT_WSCALE_LEN;
		p[n++] = ts->rcv_wscale;
	}
	return n;
}

uint32_t tcp_options_write(struct tpa_stack *s, struct tcp_sock *ts, uint8_t *p, bool with_sack,
                           uint32_t room)
{
	uint32_t n = 0;
	if (ts->flags & TSF_TS_OK) {
		p[n++] = TCP_OPT_NOP;
		p[n++] = TCP_OPT_NOP;
		n += put_ts(p + n, tcp_ts_now(s, ts), ts->ts_recent);
	}
	if (with_sack && (ts->flags & TSF_SACK_OK) && (ts->ooo.count || ts->dsack_pending)) {
		struct tcp_sack_block b[TCP_MAX_SACK_BLOCKS];
		int max = (ts->flags & TSF_TS_OK) ? 3 : 4;
		/* Blocks only as far as the segment still fits the MTU. */
		uint32_t head = 4; /* NOP, NOP, kind, length */
		int fit = room > n + head ? (int)((room - n - head) / TCP_OPT_SACK_BLOCK_LEN) : 0;
		if (max > fit)
			max = fit;
		int nb = 0;
		/* RFC 2883: the duplicate first, reported once. */
		if (ts->dsack_pending && max > 0) {
			b[nb].start = ts->dsack_start;
			b[nb].end = ts->dsack_end;
			nb++;
			ts->dsack_pending = false;
		}
		if (max > nb && ts->ooo.count)
			nb += tcp_ooo_sack_blocks(ts, b + nb, max - nb);
		if (nb) {
			p[n++] = TCP_OPT_NOP;
			p[n++] = TCP_OPT_NOP;
			p[n++] = TCP_OPT_SACK;
			p[n++] = (uint8_t)(TCP_OPT_OFF_VALUE + TCP_OPT_SACK_BLOCK_LEN * nb);
			for (int i = 0; i < nb; i++) {
				wire_store_be32(p + n, b[i].start);
				wire_store_be32(p + n + TCP_OPT_SACK_OFF_RIGHT, b[i].end);
				n += TCP_OPT_SACK_BLOCK_LEN;
			}
		}
	}
	return n;
}
