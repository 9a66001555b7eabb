/* SPDX-License-Identifier: BSD-3-Clause */
/* tpad's flow table: see tpad_flows.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tpad_flows.h"

#define PROBES 8

int tpad_flows_init(struct tpad_flows *f, uint32_t n)
{
	uint32_t p = 8;
	while (p < n && p < (1u << 30))
		p <<= 1;
	f->t = calloc(p, sizeof(*f->t));
	f->n = f->t ? p : 0;
	f->dropped = 0;
	return f->t ? 0 : -ENOMEM;
}

void tpad_flows_free(struct tpad_flows *f)
{
	free(f->t);
	f->t = NULL;
	f->n = 0;
}

static uint32_t hash(uint32_t raddr, uint16_t rport, uint16_t lport)
{
	uint64_t k = ((uint64_t)raddr << 32) ^ ((uint64_t)rport << 16) ^ lport;
	k *= 0x9e3779b97f4a7c15ull;
	return (uint32_t)(k >> 32);
}

static struct tpad_flow *find(struct tpad_flows *f, const struct tpad_seg *s,
                              struct tpad_flow **free_one)
{
	uint32_t h = hash(s->raddr, s->rport, s->lport);
	for (unsigned i = 0; i < PROBES; i++) {
		struct tpad_flow *x = &f->t[(h + i) & (f->n - 1)];
		if (x->raddr == s->raddr && x->rport == s->rport && x->lport == s->lport)
			return x;
		if (free_one && !x->raddr && !*free_one)
			*free_one = x;
	}
	if (free_one && !*free_one) { /* full here: the newest connection wins the place */
		*free_one = &f->t[h & (f->n - 1)];
		f->dropped++;
	}
	return NULL;
}

void tpad_flows_tx(struct tpad_flows *f, unsigned slot, const struct tpad_seg *s)
{
	if (!s->raddr)
		return;
	uint32_t end =
	        s->seq + s->payload + !!(s->flags & TPAD_TCP_SYN) + !!(s->flags & TPAD_TCP_FIN);
	int starts = (s->flags & TPAD_TCP_SYN) || s->payload;
	struct tpad_flow *free_one = NULL;
	struct tpad_flow *x = find(f, s, starts && !(s->flags & TPAD_TCP_RST) ? &free_one : NULL);
	if (x) {
		if (s->flags & TPAD_TCP_RST) {
			x->raddr = 0;
			return;
		}
		if ((int32_t)(end - x->snd_next) > 0 || x->slot != slot)
			x->snd_next = end;
		x->slot = (uint8_t)slot;
		x->fins |= (s->flags & TPAD_TCP_FIN) ? 1 : 0;
		if (x->fins == 3)
			x->raddr = 0; /* closed both ways */
		return;
	}
	if (!free_one)
		return;
	*free_one = (struct tpad_flow){.raddr = s->raddr,
	                               .rport = s->rport,
	                               .lport = s->lport,
	                               .snd_next = end,
	                               .slot = (uint8_t)slot,
	                               .fins = (s->flags & TPAD_TCP_FIN) ? 1 : 0};
	memcpy(free_one->peer_mac, s->peer_mac, 6);
}

void tpad_flows_rx(struct tpad_flows *f, const struct tpad_seg *s)
{
	if (!(s->flags & (TPAD_TCP_FIN | TPAD_TCP_RST)))
		return;
	struct tpad_flow *x = find(f, s, NULL);
	if (!x)
		return;
	x->fins |= 2;
	if ((s->flags & TPAD_TCP_RST) || x->fins == 3)
		x->raddr = 0;
}

unsigned tpad_flows_take_slot(struct tpad_flows *f, unsigned slot,
                              void (*fn)(void *arg, const struct tpad_flow *x), void *arg)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < f->n; i++) {
		struct tpad_flow *x = &f->t[i];
		if (x->raddr && x->slot == slot) {
			if (fn)
				fn(arg, x);
			x->raddr = 0;
			n++;
		}
	}
	return n;
}

unsigned tpad_flows_count(const struct tpad_flows *f)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < f->n; i++)
		n += f->t[i].raddr != 0;
	return n;
}
