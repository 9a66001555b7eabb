/* SPDX-License-Identifier: BSD-3-Clause */
#include "vclock.h"

static uint64_t vclock_now(void *ctx)
{
	return ((const struct vclock *)ctx)->now_ns;
}

struct tpa_clock vclock_clock(struct vclock *c)
{
	struct tpa_clock k = {.now_ns = vclock_now, .ctx = c};
	return k;
}

void vclock_advance(struct vclock *c, uint64_t ns)
{
	c->now_ns += ns;
}

void vclock_set(struct vclock *c, uint64_t ns)
{
	if (ns > c->now_ns)
		c->now_ns = ns;
}
