/* SPDX-License-Identifier: BSD-2-Clause */
/* Engine: the Qubes volume contract, on whichever backend the harness opened. */
#include "cases.h"
#include "engine.h"
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MiB   (1024ULL * 1024)
#define OK(x) assert_int_equal((x), 0)

static const qz_volcfg_t private_cfg = {
    .save_on_stop = true, .revisions_to_keep = 2, .size = 4 * MiB};
static const qz_volcfg_t template_root = {
    .save_on_stop = true, .revisions_to_keep = 1, .size = 4 * MiB};
static const qz_volcfg_t volatile_cfg = {.size = 4 * MiB};

static const char *root(void)
{
	return N("pool");
}

static const char *V(const char *vm, const char *vol)
{
	return N("pool/%s/%s", vm, vol);
}

static qz_volcfg_t appvm_root(const char *source)
{
	qz_volcfg_t c = {.snap_on_start = true, .source = source, .size = 4 * MiB};
	return c;
}

static int pool_setup(void **s)
{
	(void)s;
	if (case_setup(s) != 0)
		return -1;
	return qz_pool_setup(be, root(), "testpool");
}

#define ECASE(f) cmocka_unit_test_setup_teardown(f, pool_setup, case_teardown)

static qz_volinfo_t *info_of(const char *vol, const qz_volcfg_t *cfg)
{
	static qz_volinfo_t info;
	OK(qz_vol_info(be, vol, cfg, &info));
	return &info;
}

/* Starts vol, writes byte b at its start and stops it: a committed state holding b. */
static void commit_byte(const char *vol, const qz_volcfg_t *cfg, int b)
{
	OK(qz_vol_start(be, vol, cfg));
	fill(vol, 0, 4096, b);
	OK(qz_vol_stop(be, vol, cfg));
}

static void private_volume_lifecycle(void **s)
{
	(void)s;
	const char *p = V("work", "private");
	OK(qz_vol_create(be, p, &private_cfg));
	assert_false(info_of(p, &private_cfg)->dirty);
	assert_int_equal(info_of(p, &private_cfg)->nrevisions, 0);
	OK(qz_vol_start(be, p, &private_cfg));
	assert_true(info_of(p, &private_cfg)->dirty);
	fill(p, 0, MiB, 1);
	OK(qz_vol_stop(be, p, &private_cfg));
	qz_volinfo_t *i = info_of(p, &private_cfg);
	assert_false(i->dirty);
	assert_int_equal(i->nrevisions, 1); /* the empty state it was created with */
	assert_int_equal(i->size, 4 * MiB);
	assert_int_equal(vol_byte(p, 100), 1);
}

static void stop_of_halted_volume_is_a_noop(void **s)
{
	(void)s;
	const char *p = V("work", "private");
	OK(qz_vol_create(be, p, &private_cfg));
	OK(qz_vol_stop(be, p, &private_cfg));
	OK(qz_vol_stop(be, p, &private_cfg));
	assert_int_equal(info_of(p, &private_cfg)->nrevisions, 0);
	assert_false(info_of(p, &private_cfg)->dirty);
}

static void start_again_without_stop_keeps_data(void **s)
{
	(void)s;
	const char *p = V("work", "private");
	OK(qz_vol_create(be, p, &private_cfg));
	OK(qz_vol_start(be, p, &private_cfg));
	fill(p, 0, 4096, 7);
	/* a failed VM start, or power loss: start comes again without stop */
	OK(qz_vol_start(be, p, &private_cfg));
	assert_int_equal(vol_byte(p, 0), 7);
	assert_true(info_of(p, &private_cfg)->dirty);
	OK(qz_vol_stop(be, p, &private_cfg));
	assert_int_equal(vol_byte(p, 0), 7);
	assert_int_equal(info_of(p, &private_cfg)->nrevisions, 1);
}

static void revisions_are_pruned_to_keep(void **s)
{
	(void)s;
	const char *p = V("work", "private");
	OK(qz_vol_create(be, p, &private_cfg));
	for (int i = 1; i <= 5; i++) {
		OK(qz_vol_start(be, p, &private_cfg));
		fill(p, 0, 4096, i);
		OK(qz_vol_stop(be, p, &private_cfg));
	}
	qz_volinfo_t *inf = info_of(p, &private_cfg);
	assert_int_equal(inf->nrevisions, 2);
	assert_string_equal(inf->revisions[0].id, "r4");
	assert_string_equal(inf->revisions[1].id, "r5");
	assert_string_equal(inf->current, "r6");
	qz_volcfg_t none = private_cfg;
	none.revisions_to_keep = 0;
	OK(qz_vol_start(be, p, &none));
	OK(qz_vol_stop(be, p, &none));
	assert_int_equal(info_of(p, &none)->nrevisions, 0);
	assert_int_equal(vol_byte(p, 0), 5);
}

static void revert_destroys_nothing(void **s)
{
	(void)s;
	const char *p = V("work", "private");
	qz_volcfg_t cfg = private_cfg;
	cfg.revisions_to_keep = 5;
	OK(qz_vol_create(be, p, &cfg));
	for (int i = 1; i <= 3; i++) {
		OK(qz_vol_start(be, p, &cfg));
		fill(p, 0, 4096, i);
		OK(qz_vol_stop(be, p, &cfg));
	}
	/* r1 empty, r2 = 1, r3 = 2, current r4 = 3 */
	OK(qz_vol_revert(be, p, &cfg, "r3"));
	assert_int_equal(vol_byte(p, 0), 2);
	qz_volinfo_t *inf = info_of(p, &cfg);
	assert_string_equal(inf->current, "r3");
	assert_int_equal(inf->nrevisions, 3); /* r1, r2 and the replaced r4 */
	/* revert the revert: back to the newest revision, r4 */
	OK(qz_vol_revert(be, p, &cfg, NULL));
	assert_int_equal(vol_byte(p, 0), 3);
	inf = info_of(p, &cfg);
	assert_string_equal(inf->current, "r4");
	assert_int_equal(inf->nrevisions, 3);
	/* and life goes on: a stop after a revert commits on top of it */
	OK(qz_vol_start(be, p, &cfg));
	fill(p, 0, 4096, 9);
	OK(qz_vol_stop(be, p, &cfg));
	assert_int_equal(info_of(p, &cfg)->nrevisions, 4);
	assert_int_equal(vol_byte(p, 0), 9);
	OK(qz_vol_revert(be, p, &cfg, "r1"));
	assert_int_equal(vol_byte(p, 0), 0);
}

static void revert_refusals(void **s)
{
	(void)s;
	const char *p = V("work", "private");
	OK(qz_vol_create(be, p, &private_cfg));
	assert_int_equal(qz_vol_revert(be, p, &private_cfg, NULL), ENOENT);
	OK(qz_vol_start(be, p, &private_cfg));
	OK(qz_vol_stop(be, p, &private_cfg));
	assert_int_equal(qz_vol_revert(be, p, &private_cfg, "r99"), ENOENT);
	OK(qz_vol_start(be, p, &private_cfg));
	assert_int_equal(qz_vol_revert(be, p, &private_cfg, "r1"), EBUSY);
}

static void appvm_root_sees_committed_template_state(void **s)
{
	(void)s;
	const char *t = V("tmpl", "root"), *a = V("app", "root");
	qz_volcfg_t acfg = appvm_root(t);
	OK(qz_vol_create(be, t, &template_root));
	OK(qz_vol_start(be, t, &template_root));
	fill(t, 0, MiB, 0x10);
	OK(qz_vol_stop(be, t, &template_root));
	OK(qz_vol_create(be, a, &acfg));
	/* the template runs and changes its root: not committed yet */
	OK(qz_vol_start(be, t, &template_root));
	fill(t, 0, MiB, 0x20);
	OK(qz_vol_start(be, a, &acfg));
	assert_int_equal(vol_byte(a, 10), 0x10);
	assert_false(info_of(a, &acfg)->outdated);
	fill(a, 0, 4096, 0x30); /* the AppVM writes its root: discarded at stop */
	OK(qz_vol_stop(be, t, &template_root));
	assert_true(info_of(a, &acfg)->outdated);
	OK(qz_vol_stop(be, a, &acfg));
	assert_false(be->ops->exists(be, a));
	OK(qz_vol_start(be, a, &acfg));
	assert_int_equal(vol_byte(a, 10), 0x20);
	assert_int_equal(vol_byte(a, 0), 0x20);
	OK(qz_vol_stop(be, a, &acfg));
}

static void dependents_leave_the_source_alone(void **s)
{
	(void)s;
	const char *t = V("tmpl", "root"), *a = V("app", "root");
	qz_volcfg_t acfg = appvm_root(t);
	char tsnap[256], prep[256];
	snprintf(tsnap, sizeof(tsnap), "%s@r1", t);
	snprintf(prep, sizeof(prep), "%s:prep", t);
	OK(qz_vol_create(be, t, &template_root));
	/* the template is in the middle of a revert, under its own lock: not the AppVM's business
	 */
	OK(be->ops->clone(be, tsnap, prep, NULL, 0));
	OK(qz_vol_start(be, a, &acfg));
	assert_true(be->ops->exists(be, prep));
	OK(qz_vol_stop(be, a, &acfg));
	OK(qz_vol_recover(be, t)); /* the template's own next operation cleans up */
	assert_false(be->ops->exists(be, prep));
}

static void volatile_is_fresh_at_each_start(void **s)
{
	(void)s;
	const char *v = V("app", "volatile");
	OK(qz_vol_create(be, v, &volatile_cfg));
	OK(qz_vol_start(be, v, &volatile_cfg));
	fill(v, 0, 4096, 5);
	OK(qz_vol_start(be, v, &volatile_cfg)); /* a failed start, tried again */
	assert_int_equal(vol_byte(v, 0), 0);
	OK(qz_vol_stop(be, v, &volatile_cfg));
	assert_false(be->ops->exists(be, v));
	OK(qz_vol_stop(be, v, &volatile_cfg));
}

/* The value of prop that ds sees ("-" if none). */
static const char *prop_of(const char *ds, const char *prop)
{
	static char buf[64];
	OK(be->ops->get_prop(be, ds, prop, buf, sizeof(buf)));
	return buf;
}

/* Qubes' pool marker on the pool (its volumes inherit it); zfs-auto-snapshot told to skip the
 * volumes made fresh at each start, and only those. */
static void volumes_carry_the_markers_other_tools_read(void **s)
{
	(void)s;
	const char *t = V("tpl", "root"), *a = V("app", "root"), *v = V("app", "volatile");
	qz_volcfg_t ar = appvm_root(t);
	OK(qz_vol_create(be, t, &template_root));
	OK(qz_vol_create(be, a, &ar));
	OK(qz_vol_create(be, v, &volatile_cfg));
	OK(qz_vol_start(be, t, &template_root));
	OK(qz_vol_stop(be, t, &template_root));
	OK(qz_vol_start(be, a, &ar));
	OK(qz_vol_start(be, v, &volatile_cfg));
	assert_string_equal(prop_of(root(), QZ_QUBES_POOL_PROP), "true");
	assert_string_equal(prop_of(t, QZ_QUBES_POOL_PROP), "true");
	assert_string_equal(prop_of(a, "com.sun:auto-snapshot"), "false");
	assert_string_equal(prop_of(v, "com.sun:auto-snapshot"), "false");
	assert_string_equal(prop_of(t, "com.sun:auto-snapshot"), "-");
	OK(qz_vol_stop(be, a, &ar));
	OK(qz_vol_stop(be, v, &volatile_cfg));
}

static void ephemeral_volatile_is_encrypted(void **s)
{
	(void)s;
	const char *v = V("app", "volatile");
	qz_volcfg_t cfg = volatile_cfg;
	cfg.ephemeral = true;
	OK(qz_vol_start(be, v, &cfg));
	assert_string_equal(prop(v, "encryptionroot"), v);
	assert_string_equal(prop(v, "keystatus"), "available");
	fill(v, 0, 4096, 5);
	assert_int_equal(vol_byte(v, 0), 5);
	OK(qz_vol_stop(be, v, &cfg));
	assert_false(be->ops->exists(be, v));
}

static void dispvm_private_from_template_private(void **s)
{
	(void)s;
	const char *dvm = V("dvm-tmpl", "private"), *disp = V("disp1", "private");
	qz_volcfg_t dcfg = appvm_root(dvm);
	OK(qz_vol_create(be, dvm, &private_cfg));
	OK(qz_vol_start(be, dvm, &private_cfg));
	fill(dvm, 0, 4096, 0x44);
	OK(qz_vol_stop(be, dvm, &private_cfg));
	OK(qz_vol_create(be, disp, &dcfg));
	OK(qz_vol_start(be, disp, &dcfg));
	assert_int_equal(vol_byte(disp, 0), 0x44);
	OK(qz_vol_stop(be, disp, &dcfg));
	OK(qz_vol_remove(be, disp));
	assert_false(be->ops->exists(be, N("pool/disp1")));
}

static void both_flags_start_from_source_and_commit(void **s)
{
	(void)s;
	const char *t = V("tmpl", "root"), *v = V("both", "root");
	qz_volcfg_t cfg = {.snap_on_start = true,
			   .save_on_stop = true,
			   .source = t,
			   .revisions_to_keep = 1,
			   .size = 4 * MiB};
	OK(qz_vol_create(be, t, &template_root));
	OK(qz_vol_start(be, t, &template_root));
	fill(t, 0, 4096, 0x51);
	OK(qz_vol_stop(be, t, &template_root));
	OK(qz_vol_create(be, v, &cfg));
	OK(qz_vol_start(be, v, &cfg));
	assert_int_equal(vol_byte(v, 0), 0x51);
	assert_true(info_of(v, &cfg)->dirty);
	fill(v, 4096, 4096, 0x52);
	OK(qz_vol_stop(be, v, &cfg));
	assert_false(info_of(v, &cfg)->dirty);
	assert_int_equal(vol_byte(v, 4096), 0x52);
}

static void keep_minus_one_takes_no_snapshots(void **s)
{
	(void)s;
	const char *t = V("tmpl", "root"), *a = V("app", "root");
	qz_volcfg_t cfg = template_root;
	cfg.revisions_to_keep = -1;
	qz_volcfg_t acfg = appvm_root(t);
	OK(qz_vol_create(be, t, &cfg));
	OK(qz_vol_start(be, t, &cfg));
	assert_true(info_of(t, &cfg)->dirty);
	fill(t, 0, 4096, 0x61);
	char path[256];
	assert_int_equal(qz_vol_export(be, t, &cfg, path, sizeof(path)), EBUSY);
	assert_int_equal(qz_vol_start(be, a, &acfg), EBUSY);
	OK(qz_vol_stop(be, t, &cfg));
	assert_false(info_of(t, &cfg)->dirty);
	qz_list_t l;
	const char *cols[] = {"type"};
	OK(be->ops->list(be, t, 1, QZ_SNAPSHOT, cols, 1, &l));
	assert_int_equal(l.nrows, 0);
	qz_list_free(&l);
	/* halted, it lends a snapshot for as long as a dependent needs it */
	OK(qz_vol_start(be, a, &acfg));
	assert_int_equal(vol_byte(a, 0), 0x61);
	OK(qz_vol_stop(be, a, &acfg));
	OK(be->ops->list(be, t, 1, QZ_SNAPSHOT, cols, 1, &l));
	assert_int_equal(l.nrows, 0);
	qz_list_free(&l);
}

static void import_data_round_trip(void **s)
{
	(void)s;
	const char *p = V("work", "private");
	qz_volcfg_t cfg = private_cfg;
	OK(qz_vol_create(be, p, &cfg));
	commit_byte(p, &cfg, 1);
	char path[256];
	OK(qz_vol_import_begin(be, p, &cfg, 8 * MiB, path, sizeof(path)));
	char imp[256];
	snprintf(imp, sizeof(imp), "%s:import", p);
	assert_int_equal(vol_byte(imp, 5 * MiB), 0);
	fill(imp, 0, 8 * MiB, 0x77);
	OK(qz_vol_import_end(be, p, &cfg, true));
	assert_int_equal(vol_byte(p, 7 * MiB), 0x77);
	assert_int_equal(info_of(p, &cfg)->size, 8 * MiB);
	assert_int_equal(info_of(p, &cfg)->nrevisions, 2); /* nothing lost: the old state stays */
	uint64_t h = vol_hash(p);
	OK(qz_vol_import_begin(be, p, &cfg, 4 * MiB, path, sizeof(path)));
	fill(imp, 0, 4096, 0x78);
	OK(qz_vol_import_end(be, p, &cfg, false));
	assert_false(be->ops->exists(be, imp));
	assert_int_equal(vol_hash(p), h);
	/* export: the committed data, not what a running VM writes */
	OK(qz_vol_start(be, p, &cfg));
	fill(p, 0, 4096, 0x79);
	OK(qz_vol_export(be, p, &cfg, path, sizeof(path)));
	char exp[256];
	snprintf(exp, sizeof(exp), "%s:export-1", p);
	assert_int_equal(vol_hash(exp), h);
	OK(qz_vol_export_end(be, p, path));
	assert_false(be->ops->exists(be, exp));
	assert_int_equal(qz_vol_export_end(be, p, "/dev/zvol/elsewhere"), EINVAL);
	/* another name of the export's device (the kernel's /dev/zdN, given when udev's link was
	 * slow to come) ends it too; another name of the volume's own device ends nothing */
	OK(qz_vol_export(be, p, &cfg, path, sizeof(path)));
	char dir[] = "/tmp/qzfs-export.XXXXXX", other[300], own[256];
	assert_non_null(mkdtemp(dir));
	snprintf(other, sizeof(other), "%s/node", dir);
	OK(be->ops->zvol_path(be, p, own, sizeof(own)));
	assert_int_equal(symlink(own, other), 0);
	assert_int_equal(qz_vol_export_end(be, p, other), EINVAL);
	assert_true(be->ops->exists(be, exp));
	assert_int_equal(unlink(other), 0);
	assert_int_equal(symlink(path, other), 0);
	OK(qz_vol_export_end(be, p, other));
	assert_false(be->ops->exists(be, exp));
	unlink(other);
	rmdir(dir);
	OK(qz_vol_stop(be, p, &cfg));
}

static void import_volume_clones_in_the_same_pool(void **s)
{
	(void)s;
	const char *src = V("work", "private"), *dst = V("work-clone", "private");
	OK(qz_vol_create(be, src, &private_cfg));
	OK(qz_vol_start(be, src, &private_cfg));
	fill(src, 0, MiB, 0x42);
	OK(qz_vol_stop(be, src, &private_cfg));
	OK(qz_vol_create(be, dst, &private_cfg));
	OK(qz_vol_import_volume(be, dst, &private_cfg, src));
	assert_int_equal(vol_hash(dst), vol_hash(src));
	/* the source may go while the copy lives */
	OK(qz_vol_remove(be, src));
	assert_false(be->ops->exists(be, src));
	assert_int_equal(vol_byte(dst, 100), 0x42);
	OK(qz_vol_remove(be, dst));
	qz_list_t l;
	const char *cols[] = {"type"};
	OK(be->ops->list(be, root(), -1, QZ_VOLUME | QZ_SNAPSHOT, cols, 1, &l));
	assert_int_equal(l.nrows, 0); /* the trash was emptied too */
	qz_list_free(&l);
}

static void remove_template_while_appvm_runs(void **s)
{
	(void)s;
	const char *t = V("tmpl", "root"), *a = V("app", "root");
	qz_volcfg_t acfg = appvm_root(t);
	OK(qz_vol_create(be, t, &template_root));
	OK(qz_vol_start(be, t, &template_root));
	fill(t, 0, 4096, 0x12);
	OK(qz_vol_stop(be, t, &template_root));
	OK(qz_vol_start(be, a, &acfg));
	OK(qz_vol_remove(be, t));
	assert_false(be->ops->exists(be, t));
	assert_int_equal(vol_byte(a, 0), 0x12);
	OK(qz_vol_stop(be, a, &acfg));
}

/* Names a template's volumes (t: root, private) and an AppVM's (a: root, private, volatile), and
 * creates the template's and the AppVM's private (the AppVM's root and volatile volumes are made
 * at its start). */
static void template_and_appvm(char t[2][128], char a[3][128])
{
	snprintf(t[0], 128, "%s", V("tmpl", "root"));
	snprintf(t[1], 128, "%s", V("tmpl", "private"));
	snprintf(a[0], 128, "%s", V("app", "root"));
	snprintf(a[1], 128, "%s", V("app", "private"));
	snprintf(a[2], 128, "%s", V("app", "volatile"));
	OK(qz_vol_create(be, t[0], &template_root));
	OK(qz_vol_create(be, t[1], &private_cfg));
	OK(qz_vol_create(be, a[1], &private_cfg));
}

/* A VM's volumes removed together: the one still started is refused with its own reason, the
 * others go; a template's root that a running AppVM was cloned from is parked until it stops. */
static void remove_many_together(void **s)
{
	(void)s;
	char t[2][128], a[3][128];
	template_and_appvm(t, a);
	qz_volcfg_t acfg = appvm_root(t[0]);
	commit_byte(t[0], &template_root, 0x21);
	OK(qz_vol_start(be, a[0], &acfg));
	OK(qz_vol_start(be, a[1], &private_cfg));
	OK(qz_vol_start(be, a[2], &volatile_cfg));
	const char *tv[] = {t[0], t[1]}, *av[] = {a[0], a[1], a[2]};
	int errs[3];
	char details[3][QZ_DETAIL_MAX];
	qz_crash_arm(1, 0); /* t[0]'s parking fails: that is t[0]'s outcome alone */
	assert_int_equal(qz_vol_remove_many(be, 2, tv, NULL, errs, details, NULL), ECANCELED);
	qz_crash_arm(0, 0);
	assert_int_equal(errs[0], ECANCELED);
	assert_int_equal(errs[1], 0);
	assert_false(be->ops->exists(be, t[1]));
	OK(qz_vol_remove_many(be, 2, tv, NULL, errs, details, NULL));
	assert_false(be->ops->exists(be, t[0]));
	assert_false(be->ops->exists(be, t[1]));
	assert_int_equal(vol_byte(a[0], 0), 0x21); /* its clone's origin parked, not lost */
	OK(qz_vol_stop(be, a[0], &acfg));
	OK(qz_vol_stop(be, a[2], &volatile_cfg));
	assert_int_equal(qz_vol_remove_many(be, 3, av, NULL, errs, details, NULL), EBUSY);
	assert_int_equal(errs[0], 0);
	assert_int_equal(errs[1], EBUSY);
	assert_non_null(strstr(details[1], a[1]));
	assert_int_equal(errs[2], 0);
	assert_true(be->ops->exists(be, a[1]));
	OK(qz_vol_stop(be, a[1], &private_cfg));
	OK(qz_vol_remove_many(be, 1, &av[1], NULL, errs, details, NULL));
	qz_list_t l;
	const char *cols[] = {"type"};
	OK(be->ops->list(be, root(), -1, QZ_VOLUME | QZ_SNAPSHOT, cols, 1, &l));
	assert_int_equal(l.nrows, 0); /* nothing left, the trash emptied too */
	qz_list_free(&l);
}

static void resize_rules(void **s)
{
	(void)s;
	const char *p = V("work", "private");
	OK(qz_vol_create(be, p, &private_cfg));
	OK(qz_vol_start(be, p, &private_cfg));
	fill(p, 0, 4096, 3);
	OK(qz_vol_resize(be, p, &private_cfg, 8 * MiB, false)); /* live */
	assert_int_equal(info_of(p, &private_cfg)->size, 8 * MiB);
	assert_int_equal(qz_vol_resize(be, p, &private_cfg, 4 * MiB, false), EINVAL);
	assert_int_equal(qz_vol_resize(be, p, &private_cfg, 1000, false), EINVAL);
	assert_int_equal(info_of(p, &private_cfg)->size, 8 * MiB);
	OK(qz_vol_stop(be, p, &private_cfg));
	OK(qz_vol_resize(be, p, &private_cfg, 4 * MiB, true));
	assert_int_equal(vol_byte(p, 0), 3);
	/* a volume made at start takes the new size then */
	OK(qz_vol_resize(be, V("app", "volatile"), &volatile_cfg, 8 * MiB, false));
}

static void bad_input_changes_nothing(void **s)
{
	(void)s;
	qz_volcfg_t bad = private_cfg;
	bad.size = 0;
	assert_int_equal(qz_vol_create(be, V("work", "private"), &bad), EINVAL);
	bad.size = UINT64_MAX;
	assert_int_equal(qz_vol_create(be, V("work", "private"), &bad), EINVAL);
	assert_false(be->ops->exists(be, N("pool/work")));
	assert_int_equal(qz_vol_create(be, N("pool/vm@x/private"), &private_cfg), EINVAL);
	assert_int_equal(qz_vol_create(be, N("pool/only-vm"), &private_cfg), EINVAL);
	assert_int_equal(qz_vol_create(be, N("pool/vm/a:b"), &private_cfg), EINVAL);
	assert_int_equal(qz_vol_create(be, N("nopool/vm/private"), &private_cfg), ENOENT);
	OK(qz_vol_create(be, V("work", "private"), &private_cfg));
	assert_int_equal(qz_vol_create(be, V("work", "private"), &private_cfg), EEXIST);
	assert_int_equal(qz_vol_start(be, V("none", "private"), &private_cfg), ENOENT);
	qz_volcfg_t nosrc = appvm_root(V("none", "root"));
	assert_int_equal(qz_vol_start(be, V("app", "root"), &nosrc), ENOENT);
	assert_int_equal(qz_vol_verify(be, V("app", "root"), &nosrc), ENOENT);
	OK(qz_vol_verify(be, V("work", "private"), &private_cfg));
}

/* How many snapshots vol has (revisions, the current state, markers). */
static size_t snapshot_count(const char *vol)
{
	qz_list_t l;
	const char *cols[] = {"type"};
	OK(be->ops->list(be, vol, 1, QZ_SNAPSHOT, cols, 1, &l));
	size_t n = l.nrows;
	qz_list_free(&l);
	return n;
}

static uint64_t export_size(const char *vol, const qz_volcfg_t *cfg)
{
	char path[256];
	OK(qz_vol_export(be, vol, cfg, path, sizeof(path)));
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	off_t end = lseek(fd, 0, SEEK_END);
	close(fd);
	OK(qz_vol_export_end(be, vol, path));
	return (uint64_t)end;
}

static void sizes_round_up_to_the_volume_block(void **s)
{
	(void)s;
	const char *p = V("work", "private");
	qz_volcfg_t cfg = private_cfg;
	cfg.size = 1000000; /* an image of 1,000,000 bytes, as Qubes' ImportWithSize gives it */
	OK(qz_vol_create(be, p, &cfg));
	assert_int_equal(prop_u64(p, "volsize"), 1015808);    /* 62 blocks of 16 KiB */
	OK(qz_vol_resize(be, p, &cfg, 4000000000ULL, false)); /* "4G" as the client reads it */
	assert_int_equal(prop_u64(p, "volsize"), 4000006144ULL);
	char path[256];
	OK(qz_vol_import_begin(be, p, &cfg, 1000000, path, sizeof(path)));
	OK(qz_vol_import_end(be, p, &cfg, true));
	assert_int_equal(prop_u64(p, "volsize"), 1015808);
	qz_volcfg_t vol = {.size = 13 * MiB + 1}; /* volatile: made at start */
	OK(qz_vol_start(be, V("work", "volatile"), &vol));
	assert_int_equal(prop_u64(V("work", "volatile"), "volsize"), 13 * MiB + 16384);
}

static void resize_of_a_halted_volume_is_committed(void **s)
{
	(void)s;
	const char *t = V("tmpl", "root"), *a = V("app", "root");
	qz_volcfg_t cfg = template_root, acfg = appvm_root(t);
	OK(qz_vol_create(be, t, &cfg));
	commit_byte(t, &cfg, 0x42);
	OK(qz_vol_resize(be, t, &cfg, 6 * MiB, false));
	assert_int_equal(export_size(t, &cfg), 6 * MiB); /* what clones and backups get */
	acfg.size = 0;
	OK(qz_vol_start(be, a, &acfg));
	assert_int_equal(prop_u64(a, "volsize"), 6 * MiB);
	assert_int_equal(vol_byte(a, 0), 0x42);
	OK(qz_vol_stop(be, a, &acfg));
	assert_int_equal(info_of(t, &cfg)->nrevisions, 1); /* pruned to revisions_to_keep */
	/* a snap_on_start volume resized in its config gets the size at its next start */
	acfg.size = 7 * MiB;
	OK(qz_vol_resize(be, a, &acfg, acfg.size, false));
	OK(qz_vol_start(be, a, &acfg));
	assert_int_equal(prop_u64(a, "volsize"), 7 * MiB);
	OK(qz_vol_stop(be, a, &acfg));
}

static void switching_to_minus_one_keeps_no_old_state(void **s)
{
	(void)s;
	const char *t = V("tmpl", "root"), *a = V("app", "root");
	qz_volcfg_t cfg = template_root, acfg = appvm_root(t);
	OK(qz_vol_create(be, t, &cfg));
	for (int b = 1; b <= 2; b++)
		commit_byte(t, &cfg, b);
	assert_int_equal(info_of(t, &cfg)->nrevisions, 1);
	cfg.revisions_to_keep = -1; /* qvm-volume config tmpl:root revisions_to_keep -1 */
	OK(qz_vol_prune(be, t, &cfg));
	assert_int_equal(info_of(t, &cfg)->nrevisions, 0);
	assert_string_equal(info_of(t, &cfg)->current, "");
	assert_int_equal(snapshot_count(t), 0);
	OK(qz_vol_start(be, t, &cfg));
	fill(t, 0, 4096, 0x31); /* M1, written while it runs */
	char path[256];
	assert_int_equal(qz_vol_export(be, t, &cfg, path, sizeof(path)), EBUSY);
	assert_int_equal(qz_vol_prune(be, t, &cfg), 0); /* nothing left to drop */
	OK(qz_vol_stop(be, t, &cfg));
	OK(qz_vol_start(be, a, &acfg));
	assert_int_equal(vol_byte(a, 0), 0x31); /* the live volume is the committed state */
	OK(qz_vol_stop(be, a, &acfg));
	OK(qz_vol_export(be, t, &cfg, path, sizeof(path)));
	OK(qz_vol_export_end(be, t, path));
	assert_int_equal(snapshot_count(t), 0);
}

static void a_stop_with_minus_one_drops_what_an_earlier_setting_kept(void **s)
{
	(void)s;
	const char *p = V("work", "private");
	qz_volcfg_t cfg = private_cfg;
	OK(qz_vol_create(be, p, &cfg));
	commit_byte(p, &cfg, 7);
	cfg.revisions_to_keep = -1;
	OK(qz_vol_stop(be, p, &cfg)); /* qubesd's start-up stop of every halted VM */
	assert_int_equal(snapshot_count(p), 0);
	assert_int_equal(vol_byte(p, 0), 7);
}

static size_t generation_count(const char *vol)
{
	qz_list_t l;
	const char *cols[] = {"type"};
	char dir[QZ_NAME_MAX], prefix[QZ_NAME_MAX + 4];
	OK(qz_name_parent(vol, dir, sizeof(dir)));
	snprintf(prefix, sizeof(prefix), "%s:g", vol);
	OK(be->ops->list(be, dir, -1, QZ_VOLUME, cols, 1, &l));
	size_t n = 0;
	for (size_t r = 0; r < l.nrows; r++)
		n += strncmp(qz_list_cell(&l, r, 0), prefix, strlen(prefix)) == 0;
	qz_list_free(&l);
	return n;
}

static void import_into(const char *vol, const qz_volcfg_t *cfg, int b)
{
	char path[256], imp[QZ_NAME_MAX + 8];
	OK(qz_vol_import_begin(be, vol, cfg, MiB, path, sizeof(path)));
	snprintf(imp, sizeof(imp), "%s:import", vol);
	fill(imp, 0, 4096, b);
	OK(qz_vol_import_end(be, vol, cfg, true));
}

static void generations_go_with_their_last_revision(void **s)
{
	(void)s;
	const char *p = V("work", "private");
	qz_volcfg_t cfg = template_root; /* revisions_to_keep 1 */
	OK(qz_vol_create(be, p, &cfg));
	import_into(p, &cfg, 1);
	import_into(p, &cfg, 2);
	assert_int_equal(info_of(p, &cfg)->nrevisions, 1);
	assert_int_equal(generation_count(p), 1); /* the one that holds that revision */
	OK(qz_vol_revert(be, p, &cfg, NULL));	  /* the live volume is now a clone of it */
	assert_int_equal(vol_byte(p, 0), 1);
	cfg.revisions_to_keep = 0;
	import_into(p, &cfg, 3);
	assert_int_equal(info_of(p, &cfg)->nrevisions, 0);
	assert_int_equal(generation_count(p), 0); /* the clone's origin went after it */
	cfg.revisions_to_keep = -1;
	OK(qz_vol_prune(be, p, &cfg));
	import_into(p, &cfg, 4);
	assert_int_equal(generation_count(p), 0);
	assert_int_equal(snapshot_count(p), 0);
	assert_int_equal(vol_byte(p, 0), 4);
}

static void started_clones_name_their_source_state(void **s)
{
	(void)s;
	const char *t = V("tmpl", "root"), *a = V("app", "root");
	qz_volcfg_t cfg = template_root, acfg = appvm_root(t);
	OK(qz_vol_create(be, t, &cfg));
	OK(qz_vol_start(be, a, &acfg));
	char state[32];
	memcpy(state, info_of(a, &acfg)->source_state, sizeof(state));
	assert_string_equal(info_of(a, &acfg)->source, t);
	assert_string_equal(state, info_of(t, &cfg)->current);
	assert_string_equal(state, "r1");
	assert_string_equal(info_of(t, &cfg)->source, "");
}

typedef int (*many_fn)(qz_backend_t *, size_t, const char *const *, const qz_volcfg_t *, int *,
		       char (*)[QZ_DETAIL_MAX], qz_after_t *);

/* Starts or stops (many) the n volumes vols (configured as cfgs) together, as a VM's start or
 * stop does, and checks that each state it knows after is the one a listing finds: all of it,
 * but for the usage of a stopped volume on real ZFS (read before the commit, where ZFS may count
 * the last writes a moment later). The number of states it knew. */
static size_t as_listed(many_fn many, size_t n, const char *const *vols, const qz_volcfg_t *cfgs)
{
	int errs[4];
	char details[4][QZ_DETAIL_MAX];
	qz_after_t *after = calloc(n, sizeof(*after));
	assert_non_null(after);
	OK(many(be, n, vols, cfgs, errs, details, after));
	const char *kind = getenv("QZFS_TEST_BACKEND");
	size_t known = 0;
	for (size_t i = 0; i < n; i++) {
		if (!after[i].known)
			continue;
		known++;
		const qz_volinfo_t *a = &after[i].info, *l = info_of(vols[i], &cfgs[i]);
		assert_int_equal(a->exists, l->exists);
		assert_int_equal(a->dirty, l->dirty);
		assert_int_equal(a->outdated, l->outdated);
		assert_int_equal(a->size, l->size);
		if (kind == NULL || strcmp(kind, "real") != 0 || many != qz_vol_stop_many)
			assert_int_equal(a->usage, l->usage);
		assert_string_equal(a->current, l->current);
		assert_string_equal(a->source, l->source);
		assert_string_equal(a->source_state, l->source_state);
		assert_int_equal(a->nrevisions, l->nrevisions);
		for (size_t r = 0; r < l->nrevisions; r++) {
			assert_string_equal(a->revisions[r].id, l->revisions[r].id);
			assert_int_equal(a->revisions[r].created, l->revisions[r].created);
		}
	}
	free(after);
	return known;
}

/* A start's and a stop's answers are the listing after them, without that listing. Stops:
 * first commits, revisions let go (one a running clone still needs, its destruction deferred),
 * nothing to commit, no revisions kept; with the volumes thrown away beside them. Starts: the
 * marker taken, a root cloned from its template's state, a volatile volume made, a volume
 * started again without a stop, one grown. */
static void answers_are_what_a_listing_finds(void **s)
{
	(void)s;
	char t[2][128], a[3][128];
	template_and_appvm(t, a);
	const char *tv[] = {t[0], t[1]}, *av[] = {a[0], a[1], a[2]};
	qz_volcfg_t tcfg[] = {template_root, private_cfg};
	qz_volcfg_t acfg[] = {appvm_root(t[0]), private_cfg, volatile_cfg};
	for (int round = 1; round <= 4; round++) {
		assert_int_equal(as_listed(qz_vol_start_many, 2, tv, tcfg), 2);
		fill(t[0], 0, 4096 * (uint64_t)round, round);
		fill(t[1], 4096, 8192, round);
		assert_int_equal(as_listed(qz_vol_stop_many, 2, tv, tcfg), 2);
		if (round == 2) /* the AppVM's root now holds the template root's current state */
			assert_int_equal(as_listed(qz_vol_start_many, 3, av, acfg), 3);
	}
	fill(a[1], 0, 4096, 9);
	assert_int_equal(as_listed(qz_vol_stop_many, 3, av, acfg), 1); /* its private */
	assert_int_equal(as_listed(qz_vol_stop_many, 3, av, acfg), 1); /* nothing to commit */
	assert_int_equal(as_listed(qz_vol_start_many, 3, av, acfg), 3);
	assert_int_equal(as_listed(qz_vol_start_many, 3, av, acfg), 3); /* again, no stop */
	assert_int_equal(as_listed(qz_vol_stop_many, 3, av, acfg), 1);
	acfg[1].size = 8 * MiB; /* a private grown while halted: listed */
	assert_int_equal(as_listed(qz_vol_start_many, 3, av, acfg), 2);
	assert_int_equal(info_of(a[1], &acfg[1])->size, 8 * MiB);
	assert_int_equal(as_listed(qz_vol_stop_many, 3, av, acfg), 1);
	tcfg[1].revisions_to_keep = 0;
	OK(qz_vol_start(be, t[1], &tcfg[1]));
	assert_int_equal(as_listed(qz_vol_stop_many, 1, tv + 1, tcfg + 1), 1);
	assert_int_equal(info_of(t[1], &tcfg[1])->nrevisions, 0);
	assert_int_equal(info_of(t[0], &tcfg[0])->nrevisions, 1);
}

static void pool_setup_makes_missing_parents(void **s)
{
	(void)s;
	const char *deep = N("pool2/a/b/qubes");
	OK(qz_pool_setup(be, deep, "deep"));
	assert_string_equal(prop(N("pool2/a/b"), QZ_ROLE_PROP), "parent");
	assert_string_equal(prop(N("pool2/a/b"), "mountpoint"), "none");
	assert_string_equal(prop(N("pool2"), QZ_ROLE_PROP), "parent");
	assert_string_equal(prop(deep, QZ_ROLE_PROP), "pool");
	assert_int_equal(qz_pool_setup(be, "nosuchzpool/a/qubes", "x"), ENOENT);
	assert_false(be->ops->exists(be, "nosuchzpool/a"));
}

static void pool_setup_and_destroy(void **s)
{
	(void)s;
	OK(qz_pool_setup(be, root(), "testpool")); /* again: fine */
	assert_int_equal(qz_pool_setup(be, root(), "otherpool"), EEXIST);
	assert_string_equal(prop(root(), "volmode"), "dev");
	assert_string_equal(prop(root(), "mountpoint"), "none");
	mkfs(N("foreign"));
	mkfs(N("foreign/child"));
	assert_int_equal(qz_pool_setup(be, N("foreign"), "x"), EEXIST);
	OK(qz_vol_create(be, V("work", "private"), &private_cfg));
	assert_int_equal(qz_pool_destroy(be, root()), EBUSY);
	OK(qz_vol_remove(be, V("work", "private")));
	mkfs(N("pool/somebody-elses"));
	assert_int_not_equal(qz_pool_destroy(be, root()), 0);
	assert_true(be->ops->exists(be, root()));
	OK(be->ops->destroy(be, N("pool/somebody-elses")));
	OK(qz_pool_destroy(be, root()));
	assert_false(be->ops->exists(be, root()));
	assert_int_equal(qz_pool_destroy(be, "tank"), EINVAL);
}

static void pool_on_block_devices(void **s)
{
	(void)s;
	const char *bad[] = {"sdx"};
	char zpool[64], proot[96];
	snprintf(zpool, sizeof(zpool), "%s", N("x")); /* a unique name: tank/cN/x */
	for (char *c = zpool; *c != '\0'; c++)
		if (*c == '/')
			*c = 'z';
	snprintf(proot, sizeof(proot), "%s/qubes", zpool);
	const char *devs[] = {spare_disk(zpool)};
	if (devs[0] == NULL)
		skip(); /* real ZFS without a spare disk */
	assert_int_equal(qz_pool_setup_devices(be, zpool, "p", devs, 1), EINVAL); /* no dataset */
	assert_int_equal(qz_pool_setup_devices(be, proot, "p", bad, 1), EINVAL);
	assert_false(be->ops->exists(be, zpool));
	OK(qz_pool_setup_devices(be, proot, "p", devs, 1));
	assert_string_equal(prop(zpool, "compression"), "lz4");
	assert_string_equal(prop(proot, "qubes-zfs:pool"), "p");
	assert_int_equal(qz_pool_setup_devices(be, proot, "p", devs, 1), EEXIST);
	OK(qz_pool_destroy(be, proot));
	assert_true(be->ops->exists(be, zpool)); /* never the zpool */
}

struct seen {
	int volumes, outdated, dirty;
	size_t revisions;
};

static void count_volume(void *arg, const char *vol, const qz_volinfo_t *in)
{
	struct seen *s = arg;
	(void)vol;
	s->volumes++;
	s->outdated += in->outdated;
	s->dirty += in->dirty;
	s->revisions += in->nrevisions;
}

static void pool_volumes_in_one_listing(void **s)
{
	(void)s;
	const char *t = V("tmpl", "root"), *a = V("app", "root"), *p = V("app", "private");
	qz_volcfg_t acfg = appvm_root(t);
	OK(qz_vol_create(be, t, &template_root));
	OK(qz_vol_create(be, p, &private_cfg));
	OK(qz_vol_start(be, a, &acfg));
	OK(qz_vol_start(be, p, &private_cfg));
	OK(qz_vol_start(be, t, &template_root));
	OK(qz_vol_stop(be, t, &template_root)); /* the template committed: the AppVM is outdated */
	struct seen seen = {0};
	OK(qz_pool_volumes(be, root(), count_volume, &seen));
	assert_int_equal(seen.volumes, 3);
	assert_int_equal(seen.outdated, 1);
	assert_int_equal(seen.dirty, 1);
	assert_int_equal(seen.revisions, 1);
	assert_int_equal(qz_pool_volumes(be, N("nothing"), count_volume, &seen), ENOENT);
}

static void import_volume_from_another_zpool(void **s)
{
	(void)s;
	const char *devs[] = {spare_disk("otherzpool")};
	if (devs[0] == NULL)
		skip(); /* real ZFS without a spare disk */
	OK(qz_pool_setup_devices(be, "otherzpool/qubes", "other", devs, 1));
	const char *src = "otherzpool/qubes/work/private", *dst = V("work", "private");
	OK(qz_vol_create(be, src, &private_cfg));
	OK(qz_vol_start(be, src, &private_cfg));
	fill(src, 0, MiB, 0x5e);
	OK(qz_vol_stop(be, src, &private_cfg));
	OK(qz_vol_create(be, dst, &private_cfg));
	OK(qz_vol_import_volume(be, dst, &private_cfg, src));
	assert_int_equal(vol_hash(dst), vol_hash(src));
	assert_string_equal(prop(dst, "origin"), "-"); /* a copy, not a clone */
	assert_int_equal(info_of(dst, &private_cfg)->nrevisions, 1);
	OK(qz_vol_remove(be, src)); /* the copy does not depend on it */
	assert_int_equal(vol_byte(dst, 100), 0x5e);
}

const struct CMUnitTest volume_cases[] = {
    ECASE(private_volume_lifecycle),
    ECASE(stop_of_halted_volume_is_a_noop),
    ECASE(start_again_without_stop_keeps_data),
    ECASE(revisions_are_pruned_to_keep),
    ECASE(revert_destroys_nothing),
    ECASE(revert_refusals),
    ECASE(appvm_root_sees_committed_template_state),
    ECASE(dependents_leave_the_source_alone),
    ECASE(volatile_is_fresh_at_each_start),
    ECASE(ephemeral_volatile_is_encrypted),
    ECASE(dispvm_private_from_template_private),
    ECASE(both_flags_start_from_source_and_commit),
    ECASE(keep_minus_one_takes_no_snapshots),
    ECASE(import_data_round_trip),
    ECASE(import_volume_clones_in_the_same_pool),
    ECASE(remove_template_while_appvm_runs),
    ECASE(remove_many_together),
    ECASE(resize_rules),
    ECASE(bad_input_changes_nothing),
    ECASE(sizes_round_up_to_the_volume_block),
    ECASE(resize_of_a_halted_volume_is_committed),
    ECASE(switching_to_minus_one_keeps_no_old_state),
    ECASE(a_stop_with_minus_one_drops_what_an_earlier_setting_kept),
    ECASE(generations_go_with_their_last_revision),
    ECASE(started_clones_name_their_source_state),
    ECASE(answers_are_what_a_listing_finds),
    ECASE(volumes_carry_the_markers_other_tools_read),
    ECASE(pool_setup_makes_missing_parents),
    ECASE(pool_setup_and_destroy),
    ECASE(pool_volumes_in_one_listing),
    ECASE(pool_on_block_devices),
    ECASE(import_volume_from_another_zpool),
};
const size_t volume_ncases = sizeof(volume_cases) / sizeof(volume_cases[0]);
