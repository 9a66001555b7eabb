/* SPDX-License-Identifier: BSD-3-Clause */
/* A hand-driven TCP peer for the capture rig: see sim_peer.h. */
#include <check.h>
#include <string.h>

#include "sim_peer.h"
#include "wire.h"

uint32_t sim_peer_ip(void)
{
	return ip4(10, 0, 0, 2);
}

void sim_peer_send(struct sim_rig *r, const struct sim_peer_seg *g)
{
	static const uint8_t rig_mac[6] = RIG_MAC;
	static const uint8_t peer_mac[6] = PEER_MAC;
	static const uint8_t zeros[2048];
	struct craft_tcp t;
	memset(&t, 0, sizeof(t));
	memcpy(t.dst_mac, rig_mac, 6);
	memcpy(t.src_mac, peer_mac, 6);
	t.src_ip = sim_peer_ip();
	t.dst_ip = rig_ip();
	t.sport = g->sport;
	t.dport = g->dport;
	t.seq = g->seq;
	t.ack = g->ack;
	t.flags = g->flags;
	t.window = g->window ? g->window : 65535;
	t.options = g->opts;
	t.options_len = g->optlen;
	t.payload = g->payload ? g->payload : (g->len ? zeros : NULL);
	t.payload_len = g->len;
	ck_assert_uint_le(g->len, sizeof(zeros));
	uint8_t buf[4096];
	sim_rig_input(r, buf, craft_tcp_frame(buf, &t), 0);
}

struct parsed_tcp sim_frame_tcp(const struct sim_rig *r, uint32_t i)
{
	struct parsed_tcp p;
	ck_assert_uint_lt(i, r->cap.count);
	ck_assert(parse_tcp_frame(r->cap.frames[i].data, r->cap.frames[i].len, &p));
	return p;
}

const uint8_t *sim_frame_tcp_opt(const struct sim_rig *r, uint32_t i, uint8_t kind)
{
	ck_assert_uint_lt(i, r->cap.count);
	const uint8_t *f = r->cap.frames[i].data;
	const uint8_t *tcp = f + ETH_HDR_LEN + ipv4_hdr_len(f + ETH_HDR_LEN);
	uint32_t len = tcp_hdr_len(tcp) - TCP_HDR_LEN;
	const uint8_t *p = tcp + TCP_HDR_LEN;
	for (uint32_t k = 0; k < len;) {
		if (p[k] == TCP_OPT_EOL)
			break;
		if (p[k] == TCP_OPT_NOP) {
			k++;
			continue;
		}
		if (p[k] == kind)
			return p + k;
		if (k + 1 >= len || p[k + 1] < 2)
			break;
		k += p[k + 1];
	}
	return NULL;
}

uint32_t sim_be32(const uint8_t *p)
{
	return wire_load_be32(p);
}
