/* The engine suite: the Qubes volume contract on the model (default) or on real ZFS. */
#include "cases.h"

#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	const char *kind = getenv("QZFS_TEST_BACKEND");
	char name[64];
	snprintf(name, sizeof(name), "engine-%s", kind != NULL ? kind : "model");
	return _cmocka_run_group_tests(name, volume_cases, volume_ncases, suite_setup,
				       suite_teardown);
}
