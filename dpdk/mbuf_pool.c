/* SPDX-License-Identifier: BSD-3-Clause */
#include "mbuf_pool.h"

#include <stdlib.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_mbuf.h>

/* The UMEM as the PMD computes it: [base, base + len). */
static void umem_range(const struct rte_mempool *mp, uintptr_t *base, uint64_t *len)
{
	const struct rte_mempool_memhdr *first = STAILQ_FIRST(&mp->mem_list);
	uintptr_t start = (uintptr_t)first->addr;
	uintptr_t page = (uintptr_t)getpagesize();
	*base = start & ~(page - 1);
	uint64_t frame = rte_mempool_calc_obj_size(mp->elt_size, mp->flags, NULL);
	*len = (uint64_t)mp->populated_size * frame + (start - *base);
}

int mbuf_pool_obj_in_umem(const struct rte_mempool *mp, const void *m)
{
	uintptr_t base;
	uint64_t len;
	umem_range(mp, &base, &len);
	uint64_t frame = rte_mempool_calc_obj_size(mp->elt_size, mp->flags, NULL);
	uintptr_t obj = (uintptr_t)m - mp->header_size;
	/* The kernel checks a fill descriptor as [obj, obj + frame) and a Tx descriptor as a part
	 * of it: the whole object must be inside. */
	return obj >= base && obj - base + frame <= len;
}

/* Drain the pool, give back what the UMEM covers, keep the rest. */
static int hold_outside_umem(struct rte_mempool *mp, unsigned n, unsigned *held)
{
	void **objs = malloc(sizeof(*objs) * n);
	if (!objs)
		return -1;
	unsigned got = 0;
	while (got < n && rte_mempool_get(mp, &objs[got]) == 0)
		got++;
	unsigned kept = 0;
	for (unsigned i = 0; i < got; i++) {
		if (mbuf_pool_obj_in_umem(mp, objs[i]))
			rte_mempool_put(mp, objs[i]);
		else
			kept++; /* never returned: the pool's memory goes with the pool */
	}
	free(objs);
	*held = kept;
	return 0;
}

static struct rte_mempool *pool_make(const char *name, unsigned n, int socket, int umem_guard,
                                     unsigned *held)
{
	*held = 0;
	struct rte_mempool *mp =
	        rte_pktmbuf_pool_create(name, n, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (!mp || !umem_guard)
		return mp;
	if (hold_outside_umem(mp, n, held)) {
		rte_mempool_free(mp);
		rte_errno = ENOMEM;
		return NULL;
	}
	return mp;
}

struct rte_mempool *mbuf_pool_create(const char *name, unsigned n, int socket, int umem_guard,
                                     unsigned *held)
{
	struct rte_mempool *mp = pool_make(name, n, socket, umem_guard, held);
	/* On small pages (no hugepages) about 40% of the objects fall outside: make the pool
	 * big enough that n stay usable. */
	if (mp && *held > n / 100 && *held < n) {
		uint64_t bigger = (uint64_t)n * n / (n - *held) + 64;
		rte_mempool_free(mp);
		mp = pool_make(name, (unsigned)bigger, socket, umem_guard, held);
	}
	return mp;
}
