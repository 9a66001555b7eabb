/* SPDX-License-Identifier: BSD-3-Clause */
/* TCP options: strict parsing of received option lists and writing of ours. */
#include <string.h>

#include <rte_byteorder.h>

#include "ipv4.h"
#include "tcp_impl.h"

enum {
	OPT_EOL = 0,
	OPT_NOP = 1,
	OPT_MSS = 2,
	OPT_WSCALE = 3,
	OPT_SACK_OK = 4,
	OPT_SACK = 5,
	OPT_TS = 8,
};

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return rte_be_to_cpu_32(v);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = rte_cpu_to_be_32(v);
	memcpy(p, &v, 4);
}

int tcp_options_parse(const uint8_t *p, uint32_t len, bool syn, struct tcp_opts *o)
{
	memset(o, 0, sizeof(*o));
	uint32_t i = 0;
	while (i < len) {
		uint8_t kind = p[i];
		if (kind == OPT_EOL)
			break;
		if (kind == OPT_NOP) {
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
		const uint8_t *v = p + i + 2;
		switch (kind) {
		case OPT_MSS:
			if (olen != 4)
				return -1;
			if (syn) {
				o->has_mss = true;
				o->mss = (uint16_t)(v[0] << 8 | v[1]);
			}
			break;
		case OPT_WSCALE:
			if (olen != 3)
				return -1;
			if (syn) {
				o->has_wscale = true;
				/* RFC 7323 2.3: a shift above 14 is used as 14. */
				o->wscale = v[0] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : v[0];
			}
			break;
		case OPT_SACK_OK:
			if (olen != 2)
				return -1;
			if (syn)
				o->sack_ok = true;
			break;
		case OPT_SACK:
			if (olen < 10 || (olen - 2) % 8)
				return -1;
			for (uint32_t b = 0; b < (uint32_t)(olen - 2) / 8; b++) {
				if (o->nsack < TCP_MAX_SACK_BLOCKS) {
					o->sack[o->nsack].start = get32(v + b * 8);
					o->sack[o->nsack].end = get32(v + b * 8 + 4);
					o->nsack++;
				}
			}
			break;
		case OPT_TS:
			if (olen != 10)
				return -1;
			o->has_ts = true;
			o->tsval = get32(v);
			o->tsecr = get32(v + 4);
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

uint32_t tcp_options_write_syn(struct tpa_stack *s, const struct tcp_sock *ts, uint8_t *p,
                               bool synack, const struct tcp_opts *peer)
{
	const struct tpa_tcp_params *cfg = &s->cfg.tcp;
	uint32_t n = 0;
	uint16_t mss = (uint16_t)(ipv4_max_l4_len(s) - TCP_HDR_LEN);
	if (ts->user_mss && ts->user_mss < mss)
		mss = (uint16_t)ts->user_mss;
	p[n++] = OPT_MSS;
	p[n++] = 4;
	p[n++] = (uint8_t)(mss >> 8);
	p[n++] = (uint8_t)mss;
	/* A SYN-ACK offers what negotiate() agreed to when the SYN arrived, also when the timer
	 * retransmits it without the SYN at hand: offering less would leave the two ends
	 * disagreeing on window scaling, timestamps and SACK. */
	bool want_ws = cfg->window_scaling && (!synack || (ts->flags & TSF_WS_OK));
	bool want_ts = cfg->timestamps && (!synack || (ts->flags & TSF_TS_OK));
	bool want_sack = cfg->sack && (!synack || (ts->flags & TSF_SACK_OK));
	if (want_sack && !want_ts) {
		p[n++] = OPT_NOP;
		p[n++] = OPT_NOP;
		p[n++] = OPT_SACK_OK;
		p[n++] = 2;
	}
	if (want_ts) {
		if (want_sack) {
			p[n++] = OPT_SACK_OK;
			p[n++] = 2;
		} else {
			p[n++] = OPT_NOP;
			p[n++] = OPT_NOP;
		}
		p[n++] = OPT_TS;
		p[n++] = 10;
		put32(p + n, tcp_ts_now(s, ts));
		put32(p + n + 4, synack ? ts->ts_recent : 0);
		n += 8;
	}
	if (want_ws) {
		p[n++] = OPT_NOP;
		p[n++] = OPT_WSCALE;
		p[n++] = 3;
		p[n++] = ts->rcv_wscale;
	}
	return n;
}

uint32_t tcp_options_write(struct tpa_stack *s, struct tcp_sock *ts, uint8_t *p, bool with_sack,
                           uint32_t room)
{
	uint32_t n = 0;
	if (ts->flags & TSF_TS_OK) {
		p[n++] = OPT_NOP;
		p[n++] = OPT_NOP;
		p[n++] = OPT_TS;
		p[n++] = 10;
		put32(p + n, tcp_ts_now(s, ts));
		put32(p + n + 4, ts->ts_recent);
		n += 8;
	}
	if (with_sack && (ts->flags & TSF_SACK_OK) && (ts->ooo.count || ts->dsack_pending)) {
		struct tcp_sack_block b[TCP_MAX_SACK_BLOCKS];
		int max = (ts->flags & TSF_TS_OK) ? 3 : 4;
		/* Blocks only as far as the segment still fits the MTU. */
		int fit = room > n + 4 ? (int)((room - n - 4) / 8) : 0;
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
			p[n++] = OPT_NOP;
			p[n++] = OPT_NOP;
			p[n++] = OPT_SACK;
			p[n++] = (uint8_t)(2 + 8 * nb);
			for (int i = 0; i < nb; i++) {
				put32(p + n, b[i].start);
				put32(p + n + 4, b[i].end);
				n += 8;
			}
		}
	}
	return n;
}
