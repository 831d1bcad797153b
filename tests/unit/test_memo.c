/* SPDX-License-Identifier: BSD-2-Clause */
/* The listing memo (lib/backend/memo.c) over an in-memory model: a listing asked for again is
 * answered from memory while only reads came between; anything else makes it list again. What
 * is changed behind its back (through the inner backend) shows whether an answer came from
 * memory. */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static qz_backend_t *inner, *memo;
static const char *const cols[] = {"type", "volsize"};

static int setup(void **state)
{
	(void)state;
	if (qz_backend_model_open(&inner, "tank", NULL) != 0 || qz_backend_memo(inner, &memo) != 0)
		return -1;
	return inner->ops->create(inner, "tank/vm", QZ_FILESYSTEM, NULL, 0, NULL, 0);
}

static int teardown(void **state)
{
	(void)state;
	qz_backend_close(memo); /* closes inner too */
	return 0;
}

/* Rows of the listing of tank/vm (depth 1, datasets and snapshots) through the memo. */
static size_t rows(void)
{
	qz_list_t l;
	assert_int_equal(memo->ops->list(memo, "tank/vm", 1,
					 QZ_FILESYSTEM | QZ_VOLUME | QZ_SNAPSHOT, cols, 2, &l),
			 0);
	size_t n = l.nrows;
	assert_int_equal(l.ncols, 3);
	qz_list_free(&l);
	return n;
}

static void make_volume(qz_backend_t *be, const char *name)
{
	qz_prop_t p[] = {{"volsize", "1048576"}};
	assert_int_equal(be->ops->create(be, name, QZ_VOLUME, p, 1, NULL, 0), 0);
}

static void test_a_listing_again_comes_from_memory_until_a_change(void **state)
{
	(void)state;
	assert_int_equal(rows(), 1);
	make_volume(inner, "tank/vm/a"); /* behind the memo's back */
	assert_int_equal(rows(), 1);	 /* remembered */
	char buf[64];			 /* reads keep it */
	assert_int_equal(memo->ops->get_prop(memo, "tank/vm/a", "volsize", buf, sizeof(buf)), 0);
	assert_true(memo->ops->exists(memo, "tank/vm/a"));
	assert_int_equal(rows(), 1);
	const char *snap[] = {"tank/vm/a@s1"};
	assert_int_equal(memo->ops->snapshot(memo, snap, 1, NULL, 0), 0);
	assert_int_equal(rows(), 2); /* a change through it: listed again, the volume seen */
}

static void test_a_failed_change_forgets_too(void **state)
{
	(void)state;
	assert_int_equal(rows(), 1);
	make_volume(inner, "tank/vm/b");
	assert_int_not_equal(memo->ops->destroy(memo, "tank/vm/none"), 0);
	assert_int_equal(rows(), 2);
}

static void test_a_write_open_forgets_a_read_open_does_not(void **state)
{
	(void)state;
	make_volume(inner, "tank/vm/c");
	assert_int_equal(rows(), 2);
	make_volume(inner, "tank/vm/d");
	int fd;
	assert_int_equal(memo->ops->zvol_open(memo, "tank/vm/c", O_RDONLY, &fd), 0);
	close(fd);
	assert_int_equal(rows(), 2);
	assert_int_equal(memo->ops->zvol_open(memo, "tank/vm/c", O_RDWR, &fd), 0);
	close(fd);
	assert_int_equal(rows(), 3);
}

static void test_other_listings_are_told_apart(void **state)
{
	(void)state;
	make_volume(memo, "tank/vm/e");
	assert_int_equal(rows(), 2);
	qz_list_t l;
	assert_int_equal(memo->ops->list(memo, "tank/vm", 1, QZ_VOLUME, cols, 1, &l), 0);
	assert_int_equal(l.ncols, 2); /* not the one remembered with two properties */
	assert_int_equal(l.nrows, 1);
	qz_list_free(&l);
	assert_int_equal(memo->ops->list(memo, "tank/none", 1, QZ_VOLUME, cols, 1, &l), ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_a_listing_again_comes_from_memory_until_a_change,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_failed_change_forgets_too, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_write_open_forgets_a_read_open_does_not, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_other_listings_are_told_apart, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
