/* SPDX-License-Identifier: BSD-3-Clause */
#include "sim_tap.h"

#include <string.h>

static bool tap_fn(void *ctx, int from, const uint8_t *frame, uint32_t len)
{
	struct sim_tap *t = ctx;
	struct parsed_tcp p;
	if (!parse_tcp_frame(frame, len, &p))
		return true;
	bool drop = t->drop && t->drop(t, from, &p);
	p.payload = NULL;
	t->last[from] = p;
	t->seen[from] = true;
	t->segments[from]++;
	if (p.payload_len)
		t->with_data[from]++;
	return !drop;
}

void sim_tap_attach(struct sim_world *w, struct sim_tap *t)
{
	sim_set_tap(w, tap_fn, t);
}

void sim_tap_forge(struct sim_world *w, const struct sim_tap *t, int victim, uint8_t flags,
                   uint32_t seq, uint32_t ack, const void *payload, uint16_t len)
{
	const struct parsed_tcp *v = &t->last[victim];
	struct craft_tcp c = {.src_ip = sim_ip(w, 1 - victim),
	                      .dst_ip = sim_ip(w, victim),
	                      .sport = v->dport,
	                      .dport = v->sport,
	                      .seq = seq,
	                      .ack = ack,
	                      .flags = flags,
	                      .window = 65535,
	                      .payload = payload,
	                      .payload_len = len};
	memcpy(c.dst_mac, sim_mac(w, victim), 6);
	memcpy(c.src_mac, sim_mac(w, 1 - victim), 6);
	uint8_t f[2048];
	size_t n = craft_tcp_frame(f, &c);
	sim_inject(w, victim, f, (uint32_t)n, 0);
	sim_run_for(w, 1000000);
}

int sim_sock_state(struct sim_world *w, int node, int sock)
{
	int v = -1;
	socklen_t l = sizeof(v);
	if (tpa_getsockopt(sim_stack(w, node), sock, TPA_SO_STATE, &v, &l) != 0)
		return -1;
	return v;
}

int sim_sock_error(struct sim_world *w, int node, int sock)
{
	int v = 0;
	socklen_t l = sizeof(v);
	if (tpa_getsockopt(sim_stack(w, node), sock, TPA_SO_ERROR, &v, &l) != 0)
		return -1;
	return v;
}
