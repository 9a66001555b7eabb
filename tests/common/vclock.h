/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A virtual clock for tests: a struct tpa_clock over a nanosecond counter that only moves when
 * the test (or the simulated network's runner) moves it, so minutes of protocol timeouts take
 * no wall time and every run is reproducible.
 */
#ifndef TPA_TEST_VCLOCK_H
#define TPA_TEST_VCLOCK_H

#include <stdint.h>

#include "tpa/stack.h"

struct vclock {
	uint64_t now_ns;
};

/* The tpa_clock reading c (c must outlive the stacks that use it). */
struct tpa_clock vclock_clock(struct vclock *c);
void vclock_advance(struct vclock *c, uint64_t ns);
/* Time never goes backwards: earlier values are ignored. */
void vclock_set(struct vclock *c, uint64_t ns);

#define VCLOCK_MS(x) ((uint64_t)(x)*1000000ull)
#define VCLOCK_S(x)  ((uint64_t)(x)*1000000000ull)

#endif
