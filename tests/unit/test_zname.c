/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: ZFS name rules. */
#include "zname.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void valid_names(void **s)
{
	(void)s;
	const char *ok[] = {"tank", "tank/a", "tank/a b/c-d_e.f:g", "T1/x"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(qz_name_check(ok[i], QZ_NAME_DATASET), 0);
	assert_int_equal(qz_name_check("tank/v@s-1", QZ_NAME_SNAPSHOT), 0);
	assert_int_equal(qz_name_check("tank/v#b", QZ_NAME_BOOKMARK), 0);
}

static void invalid_names(void **s)
{
	(void)s;
	const char *bad[] = {"",       "/tank",	  "tank/",    "tank//a",  "1tank", "tank/a@b",
			     "tank/%", "tank/..", "tank/./a", "tank/a\n", "tank/é"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(qz_name_check(bad[i], QZ_NAME_DATASET), EINVAL);
	assert_int_equal(qz_name_check("tank/v", QZ_NAME_SNAPSHOT), EINVAL);
	assert_int_equal(qz_name_check("tank/v@", QZ_NAME_SNAPSHOT), EINVAL);
	assert_int_equal(qz_name_check("tank/v@a@b", QZ_NAME_SNAPSHOT), EINVAL);
	assert_int_equal(qz_name_check("tank/v@a/b", QZ_NAME_SNAPSHOT), EINVAL);
	assert_int_equal(qz_name_check("tank/v#a", QZ_NAME_SNAPSHOT), EINVAL);
	assert_int_equal(qz_name_check(NULL, QZ_NAME_DATASET), EINVAL);
}

static void length_limit(void **s)
{
	(void)s;
	char name[300] = "tank/";
	memset(name + 5, 'x', 250);
	name[255] = '\0'; /* 255 characters: the longest allowed */
	assert_int_equal(qz_name_check(name, QZ_NAME_DATASET), 0);
	name[255] = 'x';
	name[256] = '\0';
	assert_int_equal(qz_name_check(name, QZ_NAME_DATASET), ENAMETOOLONG);
}

static void parts(void **s)
{
	(void)s;
	char buf[256];
	assert_int_equal(qz_name_dataset("tank/a/b@s", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "tank/a/b");
	assert_int_equal(qz_name_parent("tank/a/b", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "tank/a");
	assert_int_equal(qz_name_parent("tank", buf, sizeof(buf)), ENOENT);
	assert_int_equal(qz_name_parent("tank/a@s", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "tank/a");
	assert_int_equal(qz_name_dataset("tank/a", buf, 4), ENAMETOOLONG);
	assert_true(qz_name_within("tank/a/b", "tank/a"));
	assert_true(qz_name_within("tank/a@s", "tank/a"));
	assert_false(qz_name_within("tank/ab", "tank/a"));
	assert_int_equal(qz_name_pool_len("tank/a@s"), 4);
	assert_int_equal(qz_name_kind_of("tank/a#b"), QZ_NAME_BOOKMARK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(valid_names),
	    cmocka_unit_test(invalid_names),
	    cmocka_unit_test(length_limit),
	    cmocka_unit_test(parts),
	};
	return cmocka_run_group_tests_name("zname", tests, NULL, NULL);
}
