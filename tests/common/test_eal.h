/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test support: start DPDK's EAL once per test process with no hugepages, no PCI and no shared
 * config, so stack tests run anywhere (also under ASan), and make mbuf pools for them.
 */
#ifndef TPA_TEST_EAL_H
#define TPA_TEST_EAL_H

struct rte_mempool;

/* Idempotent; aborts the test process with a message if EAL cannot start. */
void test_eal_init(void);
/* A fresh pktmbuf pool of n mbufs (data room for one 1500-byte frame + headroom). */
struct rte_mempool *test_pool_create(const char *name, unsigned n);

#endif
