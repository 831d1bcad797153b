/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The backend conformance suite: the same cases on the model (QZFS_TEST_BACKEND=model, the
 * default) and on real ZFS (QZFS_TEST_BACKEND=real, QZFS_TEST_POOL=<an imported pool>).
 * A case that passes on real ZFS and fails on the model is a bug in the model.
 */
#include "cases.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	const struct {
		const struct CMUnitTest *cases;
		const size_t *n;
	} groups[] = {{dataset_cases, &dataset_ncases},
		      {snapshot_cases, &snapshot_ncases},
		      {crypt_send_cases, &crypt_send_ncases}};
	size_t total = 0;
	for (size_t g = 0; g < 3; g++)
		total += *groups[g].n;
	struct CMUnitTest *all = calloc(total, sizeof(*all));
	if (all == NULL)
		return 1;
	size_t k = 0;
	for (size_t g = 0; g < 3; g++)
		for (size_t i = 0; i < *groups[g].n; i++)
			all[k++] = groups[g].cases[i];
	const char *kind = getenv("QZFS_TEST_BACKEND");
	const char *only = getenv("QZFS_TEST_FILTER"); /* e.g. "destroy*": those cases alone */
	if (only != NULL && *only != '\0')
		cmocka_set_test_filter(only);
	char name[64];
	snprintf(name, sizeof(name), "conformance-%s", kind != NULL ? kind : "model");
	int failed = _cmocka_run_group_tests(name, all, total, suite_setup, suite_teardown);
	free(all);
	return failed;
}
