/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: property table, sizes, error words. */
#include "error.h"
#include "zprop.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void sizes(void **s)
{
	(void)s;
	uint64_t v;
	assert_int_equal(qz_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(qz_parse_size("2G", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(qz_parse_size("3m", &v), 0);
	assert_int_equal(v, 3ULL << 20);
	const char *bad[] = {"", "-1", "1X", "1GB", "G", "99999999999999999999", "20000000P", " 1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(qz_parse_size(bad[i], &v), EINVAL);
}

static void index_props(void **s)
{
	(void)s;
	const struct qz_pdef *d = qz_prop_lookup("volmode");
	uint64_t v;
	assert_non_null(d);
	assert_int_equal(qz_prop_parse(d, "dev", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(qz_prop_parse(d, "bogus", &v), EINVAL);
	assert_string_equal(qz_prop_index_name(d, 3), "none");
	d = qz_prop_lookup("encryption");
	assert_int_equal(qz_prop_parse(d, "aes-256-gcm", &v), 0);
	assert_int_equal(v, 8);
	d = qz_prop_lookup("keyformat");
	assert_int_equal(qz_prop_parse(d, "raw", &v), 0);
	assert_int_equal(v, 1);
	assert_null(qz_prop_lookup("nonsense"));
	assert_true(qz_prop_is_user("qubes:pool"));
	assert_false(qz_prop_is_user("volsize"));
}

static void errors_have_words_and_codes(void **s)
{
	(void)s;
	assert_int_equal(qz_exit_code(0), QZ_EXIT_OK);
	assert_int_equal(qz_exit_code(ENOENT), QZ_EXIT_NOENT);
	assert_int_equal(qz_exit_code(EEXIST), QZ_EXIT_EXISTS);
	assert_int_equal(qz_exit_code(EBUSY), QZ_EXIT_BUSY);
	assert_int_equal(qz_exit_code(ENOSPC), QZ_EXIT_NOSPACE);
	assert_int_equal(qz_exit_code(EIO), QZ_EXIT_FAIL);
	assert_string_not_equal(qz_strerror(EXDEV), qz_strerror(EBUSY));
	assert_non_null(strstr(qz_strerror(ENOSPC), "space"));
	assert_non_null(qz_strerror(1030));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(sizes),
	    cmocka_unit_test(index_props),
	    cmocka_unit_test(errors_have_words_and_codes),
	};
	return cmocka_run_group_tests_name("zprop", tests, NULL, NULL);
}
