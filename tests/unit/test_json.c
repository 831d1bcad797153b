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

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(nested_output)};
	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
