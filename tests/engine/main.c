/* SPDX-License-Identifier: BSD-2-Clause */
/* The engine suite: the Qubes volume contract on the model (default) or on real ZFS. */
#include "cases.h"

#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	const char *kind = getenv("QZFS_TEST_BACKEND");
	const char *only = getenv("QZFS_TEST_FILTER"); /* e.g. "revert*": those cases alone */
	if (only != NULL && *only != '\0')
		cmocka_set_test_filter(only);
	char name[64];
	snprintf(name, sizeof(name), "engine-%s", kind != NULL ? kind : "model");
	struct CMUnitTest all[64];
	size_t n = 0;
	for (size_t i = 0; i < volume_ncases && n < 64; i++)
		all[n++] = volume_cases[i];
	for (size_t i = 0; i < key_ncases && n < 64; i++)
		all[n++] = key_cases[i];
	for (size_t i = 0; i < crash_ncases && n < 64; i++)
		all[n++] = crash_cases[i];
	return _cmocka_run_group_tests(name, all, n, suite_setup, suite_teardown);
}
