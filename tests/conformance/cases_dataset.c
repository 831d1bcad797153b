/* SPDX-License-Identifier: BSD-2-Clause */
/* Conformance: create, names, properties, listing. */
#include "cases.h"
#include "harness.h"

#include <errno.h>
#include <string.h>

#define MiB (1024ULL * 1024)

static void create_fs_and_volume(void **s)
{
	(void)s;
	mkfs(N("fs"));
	mkvol(N("fs/vol"), 4 * MiB);
	assert_true(be->ops->exists(be, N("fs")));
	assert_string_equal(prop(N("fs"), "type"), "filesystem");
	assert_string_equal(prop(N("fs/vol"), "type"), "volume");
	assert_int_equal(prop_u64(N("fs/vol"), "volsize"), 4 * MiB);
	assert_string_equal(prop(N("fs"), "volsize"), "-");
}

static void create_existing_is_eexist(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	qz_prop_t p[] = {{"volsize", "1048576"}};
	assert_int_equal(be->ops->create(be, N("v"), QZ_VOLUME, p, 1, NULL, 0), EEXIST);
	assert_int_equal(be->ops->create(be, N("v"), QZ_FILESYSTEM, NULL, 0, NULL, 0), EEXIST);
}

static void create_without_parent_is_enoent(void **s)
{
	(void)s;
	assert_int_equal(be->ops->create(be, N("no/such"), QZ_FILESYSTEM, NULL, 0, NULL, 0),
			 ENOENT);
	assert_false(be->ops->exists(be, N("no")));
}

static void create_bad_names_are_einval(void **s)
{
	(void)s;
	const char *bad[] = {N("a@b"), N("a#b"),   N("a%%b"),	   N("a//b"),
			     N(".."),  N("a/./b"), N("tab\there"), N("q?")};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(be->ops->create(be, bad[i], QZ_FILESYSTEM, NULL, 0, NULL, 0),
				     0);
	char longname[400];
	memset(longname, 'x', sizeof(longname));
	longname[sizeof(longname) - 1] = '\0';
	const char *ln = N("%s", longname);
	assert_int_equal(be->ops->create(be, ln, QZ_FILESYSTEM, NULL, 0, NULL, 0), EINVAL);
	assert_false(be->ops->exists(be, ln));
}

static void create_volume_needs_valid_volsize(void **s)
{
	(void)s;
	assert_int_equal(be->ops->create(be, N("v"), QZ_VOLUME, NULL, 0, NULL, 0), EINVAL);
	qz_prop_t odd[] = {{"volsize", "1000"}};
	assert_int_equal(be->ops->create(be, N("v"), QZ_VOLUME, odd, 1, NULL, 0), EINVAL);
	qz_prop_t zero[] = {{"volsize", "0"}};
	assert_int_equal(be->ops->create(be, N("v"), QZ_VOLUME, zero, 1, NULL, 0), EINVAL);
	assert_false(be->ops->exists(be, N("v")));
}

static void create_inside_volume_fails(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	assert_int_not_equal(be->ops->create(be, N("v/child"), QZ_FILESYSTEM, NULL, 0, NULL, 0), 0);
	assert_false(be->ops->exists(be, N("v/child")));
}

static void create_sets_native_and_user_props(void **s)
{
	(void)s;
	qz_prop_t p[] = {{"volsize", "8388608"},
			 {"volmode", "dev"},
			 {"compression", "lz4"},
			 {"volblocksize", "8192"},
			 {"qubes:pool", "mine"}};
	assert_int_equal(be->ops->create(be, N("v"), QZ_VOLUME, p, 5, NULL, 0), 0);
	assert_string_equal(prop(N("v"), "volmode"), "dev");
	assert_string_equal(prop(N("v"), "compression"), "lz4");
	assert_int_equal(prop_u64(N("v"), "volblocksize"), 8192);
	assert_string_equal(prop(N("v"), "qubes:pool"), "mine");
}

static void create_volume_is_sparse(void **s)
{
	(void)s;
	mkvol(N("big"), 1024 * MiB);
	assert_true(prop_u64(N("big"), "referenced") < MiB);
	assert_int_equal(vol_byte(N("big"), 1000 * MiB), 0);
}

static void user_props_inherit_to_children_and_snapshots(void **s)
{
	(void)s;
	mkfs(N("fs"));
	assert_int_equal(be->ops->set_prop(be, N("fs"), "qubes:pool", "p1"), 0);
	mkvol(N("fs/v"), MiB);
	snap(N("fs/v@s"));
	assert_string_equal(prop(N("fs/v"), "qubes:pool"), "p1");
	assert_string_equal(prop(N("fs/v@s"), "qubes:pool"), "p1");
	assert_string_equal(prop(N("fs/v"), "qubes:other"), "-");
	assert_int_equal(be->ops->set_prop(be, N("fs/v@s"), "qubes:rev", "7"), 0);
	assert_string_equal(prop(N("fs/v@s"), "qubes:rev"), "7");
	assert_string_equal(prop(N("fs/v"), "qubes:rev"), "-");
}

static void get_prop_errors(void **s)
{
	(void)s;
	char buf[64];
	mkvol(N("v"), MiB);
	assert_int_equal(be->ops->get_prop(be, N("nope"), "type", buf, sizeof(buf)), ENOENT);
	assert_int_equal(be->ops->get_prop(be, N("v"), "nosuchprop", buf, sizeof(buf)), EINVAL);
	assert_int_equal(be->ops->get_prop(be, N("v@@"), "type", buf, sizeof(buf)), EINVAL);
}

static void set_prop_rules(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	assert_int_equal(be->ops->set_prop(be, N("v"), "guid", "5"), EINVAL);
	assert_int_equal(be->ops->set_prop(be, N("v"), "volblocksize", "4096"), EINVAL);
	assert_int_equal(be->ops->set_prop(be, N("v"), "volsize", "1000"), EINVAL);
	assert_int_equal(be->ops->set_prop(be, N("none"), "qubes:x", "1"), ENOENT);
	assert_int_equal(prop_u64(N("v"), "volsize"), MiB);
}

static void volsize_grows_and_keeps_data(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	fill(N("v"), 0, MiB, 0x5a);
	assert_int_equal(be->ops->set_prop(be, N("v"), "volsize", "4194304"), 0);
	assert_int_equal(prop_u64(N("v"), "volsize"), 4 * MiB);
	assert_int_equal(vol_byte(N("v"), MiB - 1), 0x5a);
	assert_int_equal(vol_byte(N("v"), 3 * MiB), 0);
}

static void list_recursive_depth_and_types(void **s)
{
	(void)s;
	mkfs(N("a"));
	mkvol(N("a/v"), MiB);
	mkfs(N("a/b"));
	mkvol(N("a/b/w"), MiB);
	snap(N("a/v@s1"));
	const char *cols[] = {"type"};
	qz_list_t l;
	assert_int_equal(
	    be->ops->list(be, N("a"), -1, QZ_FILESYSTEM | QZ_VOLUME | QZ_SNAPSHOT, cols, 1, &l), 0);
	assert_int_equal(l.nrows, 5);
	long iv = qz_list_find(&l, N("a/v")), is = qz_list_find(&l, N("a/v@s1"));
	assert_true(iv >= 0 && is >= 0);
	assert_string_equal(qz_list_cell(&l, (size_t)is, 1), "snapshot");
	assert_string_equal(qz_list_cell(&l, 0, 0), N("a"));
	qz_list_free(&l);
	assert_int_equal(be->ops->list(be, N("a"), 1, QZ_VOLUME, cols, 1, &l), 0);
	assert_int_equal(l.nrows, 1);
	assert_string_equal(qz_list_cell(&l, 0, 0), N("a/v"));
	qz_list_free(&l);
	assert_int_equal(be->ops->list(be, N("zz"), -1, QZ_VOLUME, cols, 1, &l), ENOENT);
}

static void list_without_root_spans_every_zpool(void **s)
{
	(void)s;
	mkfs(N("a"));
	mkvol(N("a/v"), MiB);
	assert_int_equal(be->ops->set_prop(be, N("a"), "qubes:rev", "mark"), 0);
	const char *cols[] = {"qubes:rev"};
	qz_list_t l;
	assert_int_equal(be->ops->list(be, NULL, -1, QZ_FILESYSTEM, cols, 1, &l), 0);
	long ia = qz_list_find(&l, N("a"));
	assert_true(ia >= 0);
	assert_string_equal(qz_list_cell(&l, (size_t)ia, 1), "mark");
	assert_true(qz_list_find(&l, N("a/v")) < 0); /* a volume, not asked for */
	size_t zpools = 0;
	for (size_t r = 0; r < l.nrows; r++)
		zpools += strchr(qz_list_cell(&l, r, 0), '/') == NULL;
	assert_true(zpools >= 1);
	qz_list_free(&l);
	assert_int_equal(be->ops->list(be, NULL, 1, QZ_FILESYSTEM, cols, 1, &l), EINVAL);
}

/* Each kind of row has the values `zfs list` shows it: a property a kind has no value for
 * (defer_destroy and userrefs of a head, origin of a snapshot, volsize of a filesystem) is "-". */
static void list_shows_per_kind_what_zfs_list_shows(void **s)
{
	(void)s;
	mkfs(N("a"));
	mkvol(N("a/v"), MiB);
	snap(N("a/v@s"));
	assert_int_equal(be->ops->clone(be, N("a/v@s"), N("a/c"), NULL, 0), 0);
	const char *doomed = N("a/v@s");
	assert_int_equal(be->ops->destroy_snaps(be, &doomed, 1, true), 0); /* its clone keeps it */
	const char *cols[] = {"type", "origin", "defer_destroy", "userrefs", "volsize"};
	static const char *const want[][6] = {
	    {"a", "filesystem", "-", "-", "-", "-"},
	    {"a/c", "volume", "@a/v@s", "-", "-", "1048576"},
	    {"a/v", "volume", "-", "-", "-", "1048576"},
	    {"a/v@s", "snapshot", "-", "on", "0", "1048576"},
	};
	qz_list_t l;
	assert_int_equal(
	    be->ops->list(be, N("a"), -1, QZ_FILESYSTEM | QZ_VOLUME | QZ_SNAPSHOT, cols, 5, &l), 0);
	assert_int_equal(l.nrows, 4);
	for (size_t r = 0; r < 4; r++) {
		assert_string_equal(qz_list_cell(&l, r, 0), N("%s", want[r][0]));
		for (size_t c = 1; c < 6; c++) {
			const char *w = want[r][c][0] == '@' ? N("%s", want[r][c] + 1) : want[r][c];
			assert_string_equal(qz_list_cell(&l, r, c), w);
		}
	}
	qz_list_free(&l);
}

static void list_reads_many_props_in_one_call(void **s)
{
	(void)s;
	mkvol(N("v"), 2 * MiB);
	assert_int_equal(be->ops->set_prop(be, N("v"), "qubes:rev", "x y"), 0);
	const char *cols[] = {"volsize", "qubes:rev", "origin", "qubes:none"};
	qz_list_t l;
	assert_int_equal(be->ops->list(be, N("v"), 0, QZ_VOLUME, cols, 4, &l), 0);
	assert_int_equal(l.nrows, 1);
	assert_string_equal(qz_list_cell(&l, 0, 1), "2097152");
	assert_string_equal(qz_list_cell(&l, 0, 2), "x y");
	assert_string_equal(qz_list_cell(&l, 0, 3), "-");
	assert_string_equal(qz_list_cell(&l, 0, 4), "-");
	qz_list_free(&l);
}

const struct CMUnitTest dataset_cases[] = {
    CASE(create_fs_and_volume),
    CASE(create_existing_is_eexist),
    CASE(create_without_parent_is_enoent),
    CASE(create_bad_names_are_einval),
    CASE(create_volume_needs_valid_volsize),
    CASE(create_inside_volume_fails),
    CASE(create_sets_native_and_user_props),
    CASE(create_volume_is_sparse),
    CASE(user_props_inherit_to_children_and_snapshots),
    CASE(get_prop_errors),
    CASE(set_prop_rules),
    CASE(volsize_grows_and_keeps_data),
    CASE(list_recursive_depth_and_types),
    CASE(list_without_root_spans_every_zpool),
    CASE(list_shows_per_kind_what_zfs_list_shows),
    CASE(list_reads_many_props_in_one_call),
};
const size_t dataset_ncases = sizeof(dataset_cases) / sizeof(dataset_cases[0]);
