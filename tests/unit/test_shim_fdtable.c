/* SPDX-License-Identifier: BSD-3-Clause */
/* The shim's fd table: lookups, the per-fd FD_CLOEXEC bit, removal, out-of-range fds. */
#include <check.h>
#include <stdlib.h>

/* Part of libtpa_shim.so (which exports only libc symbols): build it in. */
#include "shim.h"

static struct shim_sock a, b;

START_TEST(set_get_take)
{
	ck_assert_int_eq(shim_fdt_init(), 0);
	ck_assert_int_eq(shim_fdt_init(), 0); /* idempotent */
	ck_assert_int_ge(shim_fdt_size(), 1024);
	ck_assert_ptr_null(shim_fdt_get(5));
	shim_fdt_set(5, &a, false);
	shim_fdt_set(6, &a, true); /* a dup: same socket, own FD_CLOEXEC */
	shim_fdt_set(7, &b, false);
	ck_assert_ptr_eq(shim_fdt_get(5), &a);
	ck_assert_ptr_eq(shim_fdt_get(6), &a);
	ck_assert_ptr_eq(shim_fdt_get(7), &b);
	ck_assert(!shim_fdt_cloexec(5));
	ck_assert(shim_fdt_cloexec(6));
	shim_fdt_set_cloexec(5, true);
	shim_fdt_set_cloexec(6, false);
	ck_assert(shim_fdt_cloexec(5));
	ck_assert(!shim_fdt_cloexec(6));
	ck_assert_ptr_eq(shim_fdt_get(5), &a); /* the bit never leaks into the pointer */
	ck_assert_ptr_eq(shim_fdt_take(5), &a);
	ck_assert_ptr_null(shim_fdt_get(5));
	ck_assert(!shim_fdt_cloexec(5));
	ck_assert_ptr_null(shim_fdt_take(5));
	ck_assert_ptr_eq(shim_fdt_get(6), &a);
	shim_fdt_set_cloexec(5, true); /* no entry: nothing to mark */
	ck_assert_ptr_null(shim_fdt_get(5));
}
END_TEST

START_TEST(out_of_range)
{
	ck_assert_int_eq(shim_fdt_init(), 0);
	int top = shim_fdt_size() - 1;
	shim_fdt_set(top, &b, true);
	ck_assert_ptr_eq(shim_fdt_get(top), &b);
	ck_assert_ptr_eq(shim_fdt_take(top), &b);
	/* Beyond the table or negative: never accelerated, never a crash. */
	shim_fdt_set(-1, &a, false);
	shim_fdt_set(shim_fdt_size(), &a, false);
	shim_fdt_set(1 << 30, &a, false);
	ck_assert_ptr_null(shim_fdt_get(-1));
	ck_assert_ptr_null(shim_fdt_get(shim_fdt_size()));
	ck_assert_ptr_null(shim_fdt_get(1 << 30));
	ck_assert_ptr_null(shim_fdt_take(-7));
	ck_assert(!shim_fdt_cloexec(-7));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("shim_fdtable");
	TCase *t = tcase_create("table");
	tcase_add_test(t, set_get_take);
	tcase_add_test(t, out_of_range);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
