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

/* Rows of a listing of root (depth 2, datasets and snapshots) of properties props through the
 * memo. */
static size_t rows_of(const char *root, const char *const *props, size_t nprops)
{
	qz_list_t l;
	assert_int_equal(memo->ops->list(memo, root, 2, QZ_FILESYSTEM | QZ_VOLUME | QZ_SNAPSHOT,
					 props, nprops, &l),
			 0);
	size_t n = l.nrows;
	qz_list_free(&l);
	return n;
}

/* A start's changes (create, snapshot, clone, set_prop) forget only the listings on their
 * datasets' line: a template's listing outlives the changes of its AppVM, even a clone of it. */
static void test_a_start_keeps_the_listing_of_another_line(void **state)
{
	(void)state;
	static const char *const user[] = {"type", "createtxg", "qubes-zfs:role"};
	assert_int_equal(inner->ops->create(inner, "tank/tpl", QZ_FILESYSTEM, NULL, 0, NULL, 0), 0);
	make_volume(inner, "tank/tpl/root");
	const char *s0[] = {"tank/tpl/root@s0"};
	assert_int_equal(inner->ops->snapshot(inner, s0, 1, NULL, 0), 0);
	assert_int_equal(rows_of("tank/tpl", user, 3), 3);
	make_volume(inner, "tank/tpl/hidden"); /* behind the memo's back */
	make_volume(memo, "tank/vm/root");
	const char *m[] = {"tank/vm/root@m"};
	assert_int_equal(memo->ops->snapshot(memo, m, 1, NULL, 0), 0);
	assert_int_equal(memo->ops->clone(memo, s0[0], "tank/vm/copy", NULL, 0), 0);
	assert_int_equal(memo->ops->set_prop(memo, "tank/vm/root", "qubes-zfs:dirty", "1"), 0);
	assert_int_equal(rows_of("tank/tpl", user, 3), 3); /* kept */
	make_volume(memo, "tank/tpl/more");		   /* a change on its line */
	assert_int_equal(rows_of("tank/tpl", user, 3), 5);
}

/* ... but a listing above the changed dataset, below it, or of a property that any change may
 * alter ("used": space) is forgotten. */
static void test_a_start_forgets_what_it_may_alter(void **state)
{
	(void)state;
	static const char *const used[] = {"used"};
	make_volume(inner, "tank/vm/a");
	assert_int_equal(inner->ops->create(inner, "tank/other", QZ_FILESYSTEM, NULL, 0, NULL, 0),
			 0);
	assert_int_equal(rows_of("tank", cols, 2), 4); /* tank, tank/vm, its volume, tank/other */
	assert_int_equal(rows_of("tank/vm/a", cols, 2), 1);
	assert_int_equal(rows_of("tank/other", used, 1), 1);
	make_volume(inner, "tank/other/hidden");
	make_volume(memo, "tank/vm/b");
	assert_int_equal(rows_of("tank", cols, 2), 6);	     /* above: forgotten */
	assert_int_equal(rows_of("tank/other", used, 1), 2); /* space: forgotten */
	const char *snap[] = {"tank/vm/a@hidden"};
	assert_int_equal(inner->ops->snapshot(inner, snap, 1, NULL, 0), 0);
	assert_int_equal(rows_of("tank/vm/a", cols, 2), 1); /* still remembered */
	assert_int_equal(memo->ops->set_prop(memo, "tank/vm", "qubes-zfs:role", "vm"), 0);
	assert_int_equal(rows_of("tank/vm/a", cols, 2), 2); /* below (inherits it): forgotten */
	qz_list_t l; /* a listing of every zpool: forgotten on any change */
	assert_int_equal(memo->ops->list(memo, NULL, -1, QZ_VOLUME, cols, 1, &l), 0);
	assert_int_equal(l.nrows, 3);
	qz_list_free(&l);
	make_volume(inner, "tank/other/again");
	make_volume(memo, "tank/vm/c");
	assert_int_equal(memo->ops->list(memo, NULL, -1, QZ_VOLUME, cols, 1, &l), 0);
	assert_int_equal(l.nrows, 5);
	qz_list_free(&l);
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
	    cmocka_unit_test_setup_teardown(test_a_start_keeps_the_listing_of_another_line, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_a_start_forgets_what_it_may_alter, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
