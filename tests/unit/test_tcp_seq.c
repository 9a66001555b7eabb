/* SPDX-License-Identifier: BSD-3-Clause */
/* Sequence-number comparisons across the 2^32 wrap. */
#include <check.h>
#include <stdlib.h>

#include "tcp_seq.h"

START_TEST(ordinary)
{
	ck_assert(seq_lt(1, 2));
	ck_assert(!seq_lt(2, 2));
	ck_assert(seq_leq(2, 2));
	ck_assert(seq_gt(3, 2));
	ck_assert(seq_geq(3, 3));
}
END_TEST

START_TEST(wrap_around)
{
	ck_assert(seq_lt(0xfffffff0u, 0x10u));
	ck_assert(seq_gt(0x10u, 0xfffffff0u));
	ck_assert(seq_lt(0xffffffffu, 0));
	ck_assert(seq_leq(0xffffffffu, 0xffffffffu));
	ck_assert_uint_eq(seq_max(0xfffffff0u, 5), 5);
	ck_assert_uint_eq(seq_min(0xfffffff0u, 5), 0xfffffff0u);
	/* Half the space apart: a < a + 2^31 - 1 still holds. */
	ck_assert(seq_lt(100, 100 + 0x7fffffffu));
}
END_TEST

START_TEST(ranges)
{
	ck_assert(seq_in_range(5, 5, 6));
	ck_assert(!seq_in_range(6, 5, 6));
	ck_assert(!seq_in_range(4, 5, 6));
	/* Window straddling the wrap. */
	ck_assert(seq_in_range(0x2, 0xfffffff0u, 0x100));
	ck_assert(seq_in_range(0xfffffff0u, 0xfffffff0u, 0x100));
	ck_assert(!seq_in_range(0x100, 0xfffffff0u, 0x100));
	ck_assert(!seq_in_range(0xffffffe0u, 0xfffffff0u, 0x100));
	/* Empty range holds nothing. */
	ck_assert(!seq_in_range(7, 7, 7));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_seq");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, ordinary);
	tcase_add_test(tc, wrap_around);
	tcase_add_test(tc, ranges);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
