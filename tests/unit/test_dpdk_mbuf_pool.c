/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's mbuf pool on an AF_XDP port: every mbuf handed out lies inside the UMEM the
 * 22.11 PMD registers. Objects past it made the kernel reject their descriptors: each frame
 * sent from one vanished (a retransmission for TCP, seconds with a large RTO) and the mbuf
 * never came back (xsk tx_invalid_descs in the engine's counters).
 */
#include <check.h>
#include <stdlib.h>

#include <rte_mbuf.h>

#include "check_run.h"
#include "../../dpdk/mbuf_pool.h"
#include "test_eal.h"

#define N   4096
#define MAX (4 * N)

/* Take every mbuf the pool gives, count those outside the UMEM, give them back. */
static unsigned outside_umem(struct rte_mempool *mp, unsigned *total)
{
	struct rte_mbuf **all = calloc(MAX, sizeof(*all));
	unsigned n = 0, out = 0;
	while (n < MAX && (all[n] = rte_pktmbuf_alloc(mp)) != NULL)
		n++;
	for (unsigned i = 0; i < n; i++)
		out += !mbuf_pool_obj_in_umem(mp, all[i]);
	for (unsigned i = 0; i < n; i++)
		rte_pktmbuf_free(all[i]);
	free(all);
	*total = n;
	return out;
}

START_TEST(plain_pool_has_objects_past_the_umem)
{
	test_eal_init();
	unsigned held, total;
	struct rte_mempool *mp = mbuf_pool_create("plain", N, SOCKET_ID_ANY, 0, &held);
	ck_assert_ptr_nonnull(mp);
	ck_assert_uint_eq(held, 0);
	/* Without hugepages every 4 KiB page ends in a gap: the PMD's UMEM misses a lot. */
	ck_assert_uint_gt(outside_umem(mp, &total), 0);
	ck_assert_uint_eq(total, N);
	rte_mempool_free(mp);
}
END_TEST

START_TEST(guarded_pool_hands_out_only_umem_objects)
{
	test_eal_init();
	unsigned held, total;
	struct rte_mempool *mp = mbuf_pool_create("guarded", N, SOCKET_ID_ANY, 1, &held);
	ck_assert_ptr_nonnull(mp);
	ck_assert_uint_gt(held, 0);
	ck_assert_uint_eq(outside_umem(mp, &total), 0);
	/* Made bigger so that N stay usable. */
	ck_assert_uint_ge(total, N);
	ck_assert_uint_eq(total + held, mp->size);
	rte_mempool_free(mp);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dpdk_mbuf_pool");
	TCase *t = tcase_create("umem");
	tcase_add_test(t, plain_pool_has_objects_past_the_umem);
	tcase_add_test(t, guarded_pool_hands_out_only_umem_objects);
	suite_add_tcase(s, t);
	return check_run(s, CK_NOFORK);
}
