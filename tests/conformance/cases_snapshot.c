/* SPDX-License-Identifier: BSD-2-Clause */
/* Conformance: snapshots, clones, promote, rename, rollback, destroy, bookmarks, holds. */
#include "cases.h"
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define MiB (1024ULL * 1024)

static void snapshot_keeps_content(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	fill(N("v"), 0, MiB, 1);
	uint64_t h1 = vol_hash(N("v"));
	snap(N("v@a"));
	fill(N("v"), 0, 4096, 2);
	assert_int_equal(be->ops->clone(be, N("v@a"), N("c"), NULL, 0), 0);
	assert_int_equal(vol_hash(N("c")), h1);
	assert_int_equal(vol_byte(N("v"), 0), 2);
	assert_string_equal(prop(N("v@a"), "type"), "snapshot");
	assert_int_not_equal(prop_u64(N("v@a"), "guid"), prop_u64(N("v"), "guid"));
}

static void snapshot_many_is_one_transaction(void **s)
{
	(void)s;
	mkvol(N("a"), MiB);
	mkvol(N("b"), MiB);
	mkfs(N("f"));
	const char *snaps[] = {N("a@x"), N("b@x"), N("f@x")};
	assert_int_equal(be->ops->snapshot(be, snaps, 3, NULL, 0), 0);
	uint64_t t = prop_u64(N("a@x"), "createtxg");
	assert_int_equal(prop_u64(N("b@x"), "createtxg"), t);
	assert_int_equal(prop_u64(N("f@x"), "createtxg"), t);
}

static void snapshot_all_or_nothing(void **s)
{
	(void)s;
	mkvol(N("a"), MiB);
	const char *snaps[] = {N("a@x"), N("missing@x")};
	assert_int_equal(be->ops->snapshot(be, snaps, 2, NULL, 0), ENOENT);
	assert_false(be->ops->exists(be, N("a@x")));
	snap(N("a@y"));
	const char *other[] = {N("a@y")};
	assert_int_equal(be->ops->snapshot(be, other, 1, NULL, 0), EEXIST);
}

static void snapshot_same_dataset_twice_is_exdev(void **s)
{
	(void)s;
	mkvol(N("a"), MiB);
	const char *snaps[] = {N("a@x"), N("a@y")};
	assert_int_equal(be->ops->snapshot(be, snaps, 2, NULL, 0), EXDEV);
	assert_false(be->ops->exists(be, N("a@x")));
}

static void snapshot_with_user_props(void **s)
{
	(void)s;
	mkvol(N("a"), MiB);
	const char *sn = N("a@r1");
	qz_prop_t p[] = {{"qubes:revision", "r1"}};
	assert_int_equal(be->ops->snapshot(be, &sn, 1, p, 1), 0);
	assert_string_equal(prop(sn, "qubes:revision"), "r1");
	qz_prop_t bad[] = {{"volmode", "dev"}};
	const char *sn2 = N("a@r2");
	assert_int_not_equal(be->ops->snapshot(be, &sn2, 1, bad, 1), 0);
	assert_false(be->ops->exists(be, sn2));
}

static void clone_is_independent(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	fill(N("v"), 0, MiB, 3);
	snap(N("v@s"));
	assert_int_equal(be->ops->clone(be, N("v@s"), N("c"), NULL, 0), 0);
	assert_string_equal(prop(N("c"), "origin"), N("v@s"));
	assert_string_equal(prop(N("c"), "type"), "volume");
	fill(N("c"), 0, 4096, 4);
	fill(N("v"), 8192, 4096, 5);
	assert_int_equal(vol_byte(N("c"), 0), 4);
	assert_int_equal(vol_byte(N("c"), 8192), 3);
	assert_int_equal(vol_byte(N("v"), 0), 3);
	assert_int_equal(vol_byte(N("v"), 8192), 5);
}

static void clone_errors(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	snap(N("v@s"));
	mkvol(N("taken"), MiB);
	assert_int_equal(be->ops->clone(be, N("v@nope"), N("c"), NULL, 0), ENOENT);
	assert_int_equal(be->ops->clone(be, N("v@s"), N("taken"), NULL, 0), EEXIST);
	assert_int_equal(be->ops->clone(be, N("v"), N("c"), NULL, 0), EINVAL);
	assert_int_equal(be->ops->clone(be, N("v@s"), N("no/c"), NULL, 0), ENOENT);
	assert_false(be->ops->exists(be, N("c")));
}

static void clone_with_props(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	snap(N("v@s"));
	qz_prop_t p[] = {{"qubes:vm", "work"}, {"volmode", "none"}};
	assert_int_equal(be->ops->clone(be, N("v@s"), N("c"), p, 2), 0);
	assert_string_equal(prop(N("c"), "qubes:vm"), "work");
	assert_string_equal(prop(N("c"), "volmode"), "none");
}

static void destroy_rules(void **s)
{
	(void)s;
	mkfs(N("f"));
	mkvol(N("f/v"), MiB);
	snap(N("f/v@s"));
	assert_int_equal(be->ops->destroy(be, N("f")), EEXIST);
	assert_int_equal(be->ops->destroy(be, N("f/v")), EBUSY);
	assert_int_equal(be->ops->destroy(be, N("f/none")), ENOENT);
	const char *sn = N("f/v@s");
	assert_int_equal(be->ops->destroy_snaps(be, &sn, 1, false), 0);
	assert_int_equal(be->ops->destroy(be, N("f/v")), 0);
	assert_int_equal(be->ops->destroy(be, N("f")), 0);
	assert_false(be->ops->exists(be, N("f")));
}

static void destroy_open_volume_is_ebusy(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	int fd;
	assert_int_equal(be->ops->zvol_open(be, N("v"), O_RDONLY, &fd), 0);
	assert_int_equal(be->ops->destroy(be, N("v")), EBUSY);
	close(fd);
	assert_int_equal(be->ops->destroy(be, N("v")), 0);
}

static void destroy_snapshot_with_clone(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	snap(N("v@s"));
	assert_int_equal(be->ops->clone(be, N("v@s"), N("c"), NULL, 0), 0);
	const char *sn = N("v@s");
	assert_int_equal(be->ops->destroy_snaps(be, &sn, 1, false), EEXIST);
	assert_int_equal(be->ops->destroy_snaps(be, &sn, 1, true), 0);
	assert_true(be->ops->exists(be, sn));
	assert_string_equal(prop(sn, "defer_destroy"), "on");
	assert_int_equal(be->ops->destroy(be, N("c")), 0);
	assert_false(be->ops->exists(be, sn));
}

static void destroy_snaps_atomic_and_ignores_missing(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	snap(N("v@a"));
	snap(N("v@b"));
	assert_int_equal(be->ops->clone(be, N("v@b"), N("c"), NULL, 0), 0);
	const char *both[] = {N("v@a"), N("v@b")};
	assert_int_equal(be->ops->destroy_snaps(be, both, 2, false), EEXIST);
	assert_true(be->ops->exists(be, N("v@a")));
	const char *some[] = {N("v@a"), N("v@gone")};
	assert_int_equal(be->ops->destroy_snaps(be, some, 2, false), 0);
	assert_false(be->ops->exists(be, N("v@a")));
}

/* destroy_all destroys in whatever order it is given: snapshots first (a clone's origin marked
 * to go with it), then a clone before its origin's dataset, children before their parent. */
static void destroy_all_in_any_order(void **s)
{
	(void)s;
	mkfs(N("f"));
	mkvol(N("f/v"), MiB);
	snap(N("f/v@a"));
	assert_int_equal(be->ops->clone(be, N("f/v@a"), N("f/c"), NULL, 0), 0);
	snap(N("f/c@b"));
	const char *names[] = {N("f"),	   N("f/v"),	N("f/c"),     N("f/v@a"),
			       N("f/c@b"), N("f/none"), N("f/v@none")};
	int errs[7];
	assert_int_equal(be->ops->destroy_all(be, names, 7, true, errs), 0);
	const int want[] = {0, 0, 0, 0, 0, ENOENT, 0};
	for (int i = 0; i < 7; i++)
		assert_int_equal(errs[i], want[i]);
	assert_false(be->ops->exists(be, N("f")));
}

/* What cannot go stays, with its reason; the rest goes. */
static void destroy_all_keeps_what_cannot_go(void **s)
{
	(void)s;
	mkfs(N("f"));
	mkvol(N("f/v"), MiB);
	mkvol(N("f/open"), MiB);
	mkvol(N("f/w"), MiB);
	snap(N("f/w@s"));
	assert_int_equal(be->ops->clone(be, N("f/w@s"), N("c"), NULL, 0), 0);
	int fd;
	assert_int_equal(be->ops->zvol_open(be, N("f/open"), O_RDONLY, &fd), 0);
	const char *names[] = {N("f"), N("f/v"), N("f/open"), N("f/w@s"), N("f/w")};
	int errs[5];
	assert_int_equal(be->ops->destroy_all(be, names, 5, false, errs), 0);
	const int want[] = {EEXIST, 0, EBUSY, EEXIST, EBUSY};
	for (int i = 0; i < 5; i++)
		assert_int_equal(errs[i], want[i]);
	assert_false(be->ops->exists(be, N("f/v")));
	assert_true(be->ops->exists(be, N("f/w@s")));
	close(fd);
	assert_int_equal(be->ops->destroy_all(be, names + 1, 2, false, errs), 0);
	assert_int_equal(errs[0], ENOENT);
	assert_int_equal(errs[1], 0);
}

static void promote_moves_snapshots(void **s)
{
	(void)s;
	mkvol(N("t"), MiB);
	fill(N("t"), 0, MiB, 6);
	snap(N("t@old"));
	snap(N("t@base"));
	snap(N("t@new"));
	assert_int_equal(be->ops->clone(be, N("t@base"), N("c"), NULL, 0), 0);
	uint64_t guid = prop_u64(N("t@base"), "guid");
	char conflict[256];
	assert_int_equal(be->ops->promote(be, N("c"), conflict, sizeof(conflict)), 0);
	assert_true(be->ops->exists(be, N("c@base")));
	assert_true(be->ops->exists(be, N("c@old")));
	assert_true(be->ops->exists(be, N("t@new")));
	assert_false(be->ops->exists(be, N("t@base")));
	assert_int_equal(prop_u64(N("c@base"), "guid"), guid);
	assert_string_equal(prop(N("t"), "origin"), N("c@base"));
	assert_string_equal(prop(N("c"), "origin"), "-");
	assert_int_equal(vol_byte(N("t"), 0), 6);
	/* the former head can now go, with its own snapshot */
	const char *sn = N("t@new");
	assert_int_equal(be->ops->destroy_snaps(be, &sn, 1, false), 0);
	assert_int_equal(be->ops->destroy(be, N("t")), 0);
	assert_int_equal(vol_byte(N("c"), 0), 6);
}

static void promote_errors(void **s)
{
	(void)s;
	mkvol(N("t"), MiB);
	snap(N("t@s"));
	assert_int_equal(be->ops->promote(be, N("t"), NULL, 0), EINVAL);
	assert_int_equal(be->ops->promote(be, N("x"), NULL, 0), ENOENT);
	assert_int_equal(be->ops->clone(be, N("t@s"), N("c"), NULL, 0), 0);
	snap(N("c@s"));
	char conflict[256] = "";
	assert_int_equal(be->ops->promote(be, N("c"), conflict, sizeof(conflict)), EEXIST);
	assert_string_equal(conflict, "s");
	assert_true(be->ops->exists(be, N("t@s")));
}

static void rename_moves_descendants(void **s)
{
	(void)s;
	mkfs(N("a"));
	mkvol(N("a/v"), MiB);
	snap(N("a/v@s"));
	mkfs(N("b"));
	assert_int_equal(be->ops->rename(be, N("a/v"), N("b/w")), 0);
	assert_false(be->ops->exists(be, N("a/v")));
	assert_true(be->ops->exists(be, N("b/w")));
	assert_true(be->ops->exists(be, N("b/w@s")));
	assert_int_equal(be->ops->rename(be, N("a"), N("c")), 0);
	assert_true(be->ops->exists(be, N("c")));
}

static void rename_errors(void **s)
{
	(void)s;
	mkfs(N("a"));
	mkvol(N("v"), MiB);
	assert_int_equal(be->ops->rename(be, N("v"), N("a")), EEXIST);
	assert_int_equal(be->ops->rename(be, N("q"), N("r")), ENOENT);
	assert_int_equal(be->ops->rename(be, N("v"), N("no/v")), ENOENT);
	assert_int_not_equal(be->ops->rename(be, N("a"), N("a/inner")), 0);
	assert_true(be->ops->exists(be, N("v")));
	assert_true(be->ops->exists(be, N("a")));
}

static void rename_snapshot(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	mkvol(N("w"), MiB);
	snap(N("v@a"));
	uint64_t guid = prop_u64(N("v@a"), "guid");
	assert_int_equal(be->ops->rename(be, N("v@a"), N("v@b")), 0);
	assert_int_equal(prop_u64(N("v@b"), "guid"), guid);
	assert_false(be->ops->exists(be, N("v@a")));
	assert_int_not_equal(be->ops->rename(be, N("v@b"), N("w@b")), 0);
	assert_true(be->ops->exists(be, N("v@b")));
}

static void rollback_to_latest(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	fill(N("v"), 0, MiB, 7);
	snap(N("v@s"));
	fill(N("v"), 0, MiB, 8);
	assert_int_equal(be->ops->rollback(be, N("v"), N("v@s")), 0);
	assert_int_equal(vol_byte(N("v"), 100), 7);
	assert_true(be->ops->exists(be, N("v@s")));
}

static void rollback_rules(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	assert_int_equal(be->ops->rollback(be, N("v"), N("v@none")), ESRCH);
	fill(N("v"), 0, 4096, 1);
	snap(N("v@a"));
	fill(N("v"), 0, 4096, 2);
	snap(N("v@b"));
	fill(N("v"), 0, 4096, 3);
	assert_int_equal(be->ops->rollback(be, N("v"), N("v@a")), EEXIST);
	assert_int_equal(vol_byte(N("v"), 0), 3);
	const char *sn = N("v@b");
	assert_int_equal(be->ops->destroy_snaps(be, &sn, 1, false), 0);
	assert_int_equal(be->ops->rollback(be, N("v"), N("v@a")), 0);
	assert_int_equal(vol_byte(N("v"), 0), 1);
}

static void bookmarks(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	snap(N("v@s"));
	assert_int_equal(be->ops->bookmark(be, N("v@s"), N("v#b")), 0);
	assert_int_equal(be->ops->bookmark(be, N("v@s"), N("v#b")), EEXIST);
	assert_int_equal(be->ops->bookmark(be, N("v@none"), N("v#c")), ENOENT);
	assert_int_equal(prop_u64(N("v#b"), "guid"), prop_u64(N("v@s"), "guid"));
	const char *sn = N("v@s");
	assert_int_equal(be->ops->destroy_snaps(be, &sn, 1, false), 0);
	assert_true(be->ops->exists(be, N("v#b")));
	assert_string_equal(prop(N("v#b"), "type"), "bookmark");
	assert_int_equal(be->ops->destroy_bookmark(be, N("v#b")), 0);
	assert_false(be->ops->exists(be, N("v#b")));
	assert_int_equal(be->ops->destroy_bookmark(be, N("v#b")), ENOENT);
}

static void holds(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	snap(N("v@s"));
	const char *sn = N("v@s");
	assert_int_equal(be->ops->hold(be, sn, "conformance"), 0);
	assert_int_equal(be->ops->hold(be, sn, "conformance"), EEXIST);
	assert_int_equal(be->ops->hold(be, N("v@none"), "conformance"), ENOENT);
	assert_int_equal(prop_u64(sn, "userrefs"), 1);
	assert_int_equal(be->ops->destroy_snaps(be, &sn, 1, false), EBUSY);
	assert_int_equal(be->ops->release(be, sn, "other"), ENOENT);
	assert_int_equal(be->ops->release(be, sn, "conformance"), 0);
	assert_int_equal(prop_u64(sn, "userrefs"), 0);
	assert_int_equal(be->ops->destroy_snaps(be, &sn, 1, false), 0);
}

static void deferred_destroy_waits_for_release(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	snap(N("v@s"));
	const char *sn = N("v@s");
	assert_int_equal(be->ops->hold(be, sn, "conformance"), 0);
	assert_int_equal(be->ops->destroy_snaps(be, &sn, 1, true), 0);
	assert_true(be->ops->exists(be, sn));
	assert_int_equal(be->ops->release(be, sn, "conformance"), 0);
	assert_false(be->ops->exists(be, sn));
}

const struct CMUnitTest snapshot_cases[] = {
    CASE(snapshot_keeps_content),
    CASE(snapshot_many_is_one_transaction),
    CASE(snapshot_all_or_nothing),
    CASE(snapshot_same_dataset_twice_is_exdev),
    CASE(snapshot_with_user_props),
    CASE(clone_is_independent),
    CASE(clone_errors),
    CASE(clone_with_props),
    CASE(destroy_rules),
    CASE(destroy_open_volume_is_ebusy),
    CASE(destroy_snapshot_with_clone),
    CASE(destroy_snaps_atomic_and_ignores_missing),
    CASE(destroy_all_in_any_order),
    CASE(destroy_all_keeps_what_cannot_go),
    CASE(promote_moves_snapshots),
    CASE(promote_errors),
    CASE(rename_moves_descendants),
    CASE(rename_errors),
    CASE(rename_snapshot),
    CASE(rollback_to_latest),
    CASE(rollback_rules),
    CASE(bookmarks),
    CASE(holds),
    CASE(deferred_destroy_waits_for_release),
};
const size_t snapshot_ncases = sizeof(snapshot_cases) / sizeof(snapshot_cases[0]);
