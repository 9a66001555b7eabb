/* SPDX-License-Identifier: BSD-3-Clause */
/* Running a Check suite to the end of main(): see check_run.h. */
#include <stdlib.h>

#include "check_run.h"

int check_run(Suite *s, enum fork_status mode)
{
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, mode);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
