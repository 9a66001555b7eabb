/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mbuf_pool.c: the engine's mbuf pool.
 *
 * On an AF_XDP port the pool's memory is the UMEM. The 22.11 PMD registers as UMEM the range
 * that starts at the pool's first memory chunk (page-aligned down) and is populated_size object
 * sizes long. Pool objects never cross a page, so every hugepage ends in a gap and the last
 * objects of the pool lie past that range: the kernel rejects each descriptor naming one, a frame
 * sent from it is dropped without a trace and the mbuf never returns (fill ring: the buffer is
 * lost). mbuf_pool_create() takes such objects out of circulation for the pool's lifetime.
 */
#ifndef TPA_DPDK_MBUF_POOL_H
#define TPA_DPDK_MBUF_POOL_H

#include <rte_mempool.h>

/* An mbuf pool with n usable mbufs on socket. For an AF_XDP port (umem_guard), objects outside
 * the PMD's UMEM are held back (the pool is made larger to make up for them); *held tells how
 * many (0 for other ports). NULL + rte_errno on failure. */
struct rte_mempool *mbuf_pool_create(const char *name, unsigned n, int socket, int umem_guard,
                                     unsigned *held);

/* 1 if the whole object behind mbuf m lies in the UMEM the 22.11 AF_XDP PMD registers for pool
 * mp. */
int mbuf_pool_obj_in_umem(const struct rte_mempool *mp, const void *m);

#endif
