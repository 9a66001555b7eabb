/* SPDX-License-Identifier: BSD-3-Clause */
#include "test_eal.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <stdio.h>
#include <stdlib.h>

void test_eal_init(void)
{
	static int started;
	if (started)
		return;
	/* 1 GiB of plain (non-huge) memory: enough for the 10k-connection and bulk tests. */
	char *argv[] = {"tpa-test", "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry", "-l",
	                "0",        "-m",        "1024",     "--log-level", "error",          NULL};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "test_eal_init: rte_eal_init failed: %s\n",
		        rte_strerror(rte_errno));
		exit(2);
	}
	started = 1;
}

struct rte_mempool *test_pool_create(const char *name, unsigned n)
{
	test_eal_init();
	struct rte_mempool *mp =
	        rte_pktmbuf_pool_create(name, n, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (!mp) {
		fprintf(stderr, "test_pool_create(%s, %u): %s\n", name, n, rte_strerror(rte_errno));
		exit(2);
	}
	return mp;
}
