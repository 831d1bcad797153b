/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: the JSON writer. */
#include "json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

static void nested_output(void **s)
{
	(void)s;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	qz_json_t j;
	qz_json_init(&j, f);
	qz_json_object(&j, NULL);
	qz_json_string(&j, "name", "a\"b\\c\n\x01");
	qz_json_uint(&j, "size", 18446744073709551615ULL);
	qz_json_int(&j, "neg", -5);
	qz_json_array(&j, "list");
	qz_json_bool(&j, NULL, true);
	qz_json_null(&j, NULL);
	qz_json_object(&j, NULL);
	qz_json_end(&j, '}');
	qz_json_end(&j, ']');
	qz_json_end(&j, '}');
	fclose(f);
	assert_string_equal(buf,
			    "{\"name\":\"a\\\"b\\\\c\\n\\u0001\",\"size\":18446744073709551615,"
			    "\"neg\":-5,\"list\":[true,null,{}]}\n");
	free(buf);
}

static void top_level_values_are_lines(void **s)
{
	(void)s;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	qz_json_t j;
	qz_json_init(&j, f);
	for (int i = 0; i < 2; i++) {
		qz_json_object(&j, NULL);
		qz_json_int(&j, "n", i);
		qz_json_end(&j, '}');
	}
	fclose(f);
	assert_string_equal(buf, "{\"n\":0}\n{\"n\":1}\n");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(nested_output),
					   cmocka_unit_test(top_level_values_are_lines)};
	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
