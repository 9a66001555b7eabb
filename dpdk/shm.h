/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A heap in memory that stays shared across fork: the engine and its stack live here, so a
 * fork child sees (and may drive) the very same state as its parent, as it already does for
 * DPDK's packet memory (memfd segments mapped MAP_SHARED, hugepages or not).
 *
 * Contract:
 * - One anonymous MAP_SHARED | MAP_NORESERVE mapping of a fixed virtual size, made before any
 *   fork: every process of the family has it at the same address, so pointers into it are
 *   valid everywhere. Pages cost memory only once touched; freed blocks are reused, not
 *   returned to the kernel.
 * - Not thread- or process-safe: callers serialise (the engine's users hold the lock that
 *   guards the stack). The heap's own bookkeeping is in the mapping, so whichever process
 *   allocates, the others see it.
 * - Blocks are 16-byte aligned; sizes are rounded up to a power of two (at most 2x waste,
 *   O(1) allocation and free).
 */
#ifndef TPA_DPDK_SHM_H
#define TPA_DPDK_SHM_H

#include <stddef.h>

struct shm_heap;

/* NULL with errno set when the mapping fails. Where virt_size of address space is not to be
 * had (ulimit -v, valgrind), the largest power-of-two fraction of it that is, down to 64 MiB. */
struct shm_heap *shm_heap_create(size_t virt_size);
/* The heap's virtual size. */
size_t shm_heap_size(const struct shm_heap *h);
void shm_heap_destroy(struct shm_heap *h);
void *shm_alloc(struct shm_heap *h, size_t size);
void shm_free(struct shm_heap *h, void *p);
/* Bytes handed out and not freed (block sizes, headers included). */
size_t shm_heap_in_use(const struct shm_heap *h);

#endif
