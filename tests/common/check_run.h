/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The end of a Check suite's main(): run every test of the suite with the given fork mode
 * (CK_NOFORK: all in this process, so ASan and valgrind reports stay in one process and a
 * fixture's static state is shared as written; CK_FORK: a process per test), free the runner
 * and the suite, and return main's exit status: EXIT_SUCCESS when no test failed, else
 * EXIT_FAILURE. CK_FORK_GETENV leaves the choice to CK_FORK in the environment.
 */
#ifndef TPA_TEST_CHECK_RUN_H
#define TPA_TEST_CHECK_RUN_H

#include <check.h>

int check_run(Suite *s, enum fork_status mode);

#endif
