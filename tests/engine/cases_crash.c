/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The crash matrix: every crash point of every multi-step operation. A dry run counts the
 * points an operation passes; then, for each point k, a fresh pool is set up, the operation is
 * stopped at k (as if qzfs died there), and what follows must recover: the volume's data is one
 * of the states the operation may leave, no revision is lost, and nothing half-made remains.
 */
#include "cases.h"
#include "engine.h"
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MiB   (1024ULL * 1024)
#define OK(x) assert_int_equal((x), 0)

static const qz_volcfg_t priv = {.save_on_stop = true, .revisions_to_keep = 3, .size = MiB};
static char P[256], T[256], A[256];
static qz_volcfg_t app, both;

struct scenario {
	const char *name;
	void (*setup)(void);
	int (*op)(void);
	void (*recover)(void); /* what comes next after a crash */
	int allowed[2];	       /* byte 0 of P (or of the checked volume) after recovery */
	const char *checked;   /* the volume whose byte 0 is checked */
	size_t min_states;     /* revisions + current that must all survive */
	bool one_call;	       /* done in one ZFS call: nothing to crash between */
};

static size_t states(const char *vol, const qz_volcfg_t *cfg)
{
	static qz_volinfo_t in;
	OK(qz_vol_info(be, vol, cfg, &in));
	return in.nrevisions + (in.current[0] != '\0');
}

static void names(void)
{
	snprintf(P, sizeof(P), "%s", N("pool/work/private"));
	snprintf(T, sizeof(T), "%s", N("pool/tmpl/root"));
	snprintf(A, sizeof(A), "%s", N("pool/app/root"));
	app = (qz_volcfg_t){.snap_on_start = true, .source = T, .size = MiB};
	both = (qz_volcfg_t){.snap_on_start = true,
			     .save_on_stop = true,
			     .source = T,
			     .revisions_to_keep = 3,
			     .size = MiB};
}

/* P with revisions holding bytes 1, 2 and current 3; T committed with 0x70. */
static void history(void)
{
	names();
	OK(qz_pool_setup(be, N("pool"), "crash"));
	OK(qz_vol_create(be, P, &priv));
	for (int i = 1; i <= 3; i++) {
		OK(qz_vol_start(be, P, &priv));
		fill(P, 0, 4096, i);
		OK(qz_vol_stop(be, P, &priv));
	}
	OK(qz_vol_create(be, T, &priv));
	OK(qz_vol_start(be, T, &priv));
	fill(T, 0, 4096, 0x70);
	OK(qz_vol_stop(be, T, &priv));
}

static void running(void)
{
	history();
	OK(qz_vol_start(be, P, &priv));
	fill(P, 0, 4096, 9);
}

static void fresh(void)
{
	names();
	OK(qz_pool_setup(be, N("pool"), "crash"));
}

static int op_create(void)
{
	return qz_vol_create(be, P, &priv);
}

static void after_create(void)
{
	OK(qz_vol_start(be, P, &priv));
	fill(P, 0, 4096, 5);
	OK(qz_vol_stop(be, P, &priv));
}

static int op_stop(void)
{
	return qz_vol_stop(be, P, &priv);
}

static void after_stop(void)
{
	OK(qz_vol_stop(be, P, &priv));
	assert_false(states(P, &priv) == 0);
	qz_volinfo_t in;
	OK(qz_vol_info(be, P, &priv, &in));
	assert_false(in.dirty);
}

static int op_revert(void)
{
	return qz_vol_revert(be, P, &priv, "r3");
}

static void after_revert(void)
{
	OK(qz_vol_recover(be, P));
}

static int op_start_app(void)
{
	return qz_vol_start(be, A, &app);
}

static void app_running(void)
{
	history();
	OK(qz_vol_start(be, A, &app));
	fill(A, 0, 4096, 0x11);
}

static void after_start_app(void)
{
	OK(qz_vol_start(be, A, &app));
}

static int op_start_both(void)
{
	return qz_vol_start(be, P, &both);
}

static void after_start_both(void)
{
	OK(qz_vol_start(be, P, &both));
	OK(qz_vol_stop(be, P, &both));
}

static void importing(void)
{
	history();
	char path[256], imp[300];
	OK(qz_vol_import_begin(be, P, &priv, MiB, path, sizeof(path)));
	snprintf(imp, sizeof(imp), "%s:import", P);
	fill(imp, 0, 4096, 0x66);
}

static int op_import_end(void)
{
	return qz_vol_import_end(be, P, &priv, true);
}

static int op_import_volume(void)
{
	return qz_vol_import_volume(be, P, &priv, T);
}

/* A source in another zpool, on the spare disk (skipped on real ZFS without one). */
#define OTHER "otherzpool/qubes/work/private"

static void other_zpool(void)
{
	history();
	const char *devs[] = {spare_disk("otherzpool")};
	OK(qz_pool_setup_devices(be, "otherzpool/qubes", "other", devs, 1));
	OK(qz_vol_create(be, OTHER, &priv));
	OK(qz_vol_start(be, OTHER, &priv));
	fill(OTHER, 0, 4096, 0x5e);
	OK(qz_vol_stop(be, OTHER, &priv));
}

static int op_import_across(void)
{
	return qz_vol_import_volume(be, P, &priv, OTHER);
}

static int op_resize(void)
{
	return qz_vol_resize(be, P, &priv, 2 * MiB, false);
}

static int op_remove(void)
{
	return qz_vol_remove(be, P);
}

static void after_remove(void)
{
	OK(qz_vol_remove(be, P));
	assert_false(be->ops->exists(be, P));
	assert_false(be->ops->exists(be, N("pool/work")));
}

static int op_remove_source(void)
{
	return qz_vol_remove(be, T);
}

/* T's revision is A's origin: T's dataset is parked in the trash while A needs it. */
static void after_remove_source(void)
{
	OK(qz_vol_remove(be, T));
	assert_false(be->ops->exists(be, T));
	assert_false(be->ops->exists(be, N("pool/tmpl")));
}

static const struct scenario scenarios[] = {
    {"create", fresh, op_create, after_create, {5, 5}, P, 1, false},
    {"stop (commit)", running, op_stop, after_stop, {9, 9}, P, 4, false},
    {"revert", history, op_revert, after_revert, {3, 2}, P, 4, false},
    {"start snap_on_start", app_running, op_start_app, after_start_app, {0x70, 0x70}, A, 0, false},
    {"start both flags", history, op_start_both, after_start_both, {0x70, 0x70}, P, 4, false},
    {"import-data-end", importing, op_import_end, after_revert, {3, 0x66}, P, 4, false},
    {"import-volume", history, op_import_volume, after_revert, {3, 0x70}, P, 4, false},
    {"resize (halted: committed)", history, op_resize, after_revert, {3, 3}, P, 4, false},
    {"remove (one transaction group)", history, op_remove, after_remove, {-1, -1}, NULL, 0, true},
    {"remove a source its clone needs",
     app_running,
     op_remove_source,
     after_remove_source,
     {0x11, 0x11},
     A,
     0,
     false},
    {"import-volume from another zpool",
     other_zpool,
     op_import_across,
     after_revert,
     {3, 0x5e},
     P,
     4,
     false},
};

static void no_leftovers(void)
{
	char prep[300], nw[300];
	snprintf(prep, sizeof(prep), "%s:prep", P);
	snprintf(nw, sizeof(nw), "%s:new", P);
	assert_false(be->ops->exists(be, prep));
	assert_false(be->ops->exists(be, nw));
}

static void crash_matrix(void **s)
{
	size_t total = 0;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		const struct scenario *sc = &scenarios[i];
		if (sc->setup == other_zpool && spare_disk("otherzpool") == NULL)
			continue;
		sc->setup();
		qz_crash_arm(0, 0);
		OK(sc->op());
		unsigned points = qz_crash_arm(0, 0);
		if ((points > 0) == sc->one_call) /* a multi-step operation has crash points */
			fail_msg("%s: %u crash points", sc->name, points);
		if (sc->one_call)
			sc->recover(); /* what it did is complete */
		for (unsigned k = 1; k <= points; k++) {
			OK(case_teardown(s));
			OK(case_setup(s));
			sc->setup();
			qz_crash_arm(k, 0);
			int rc = sc->op();
			qz_crash_arm(0, 0);
			if (rc != ECANCELED)
				fail_msg("%s: crash point %u of %u: returned %d", sc->name, k,
					 points, rc);
			sc->recover();
			no_leftovers();
			if (sc->checked != NULL) {
				int b = vol_byte(sc->checked, 0);
				if (b != sc->allowed[0] && b != sc->allowed[1])
					fail_msg("%s: crash point %u: data is %d", sc->name, k, b);
				if (sc->min_states > 0 && states(P, &priv) < sc->min_states)
					fail_msg("%s: crash point %u: a revision was lost",
						 sc->name, k);
			}
			total++;
		}
		OK(case_teardown(s));
		OK(case_setup(s));
	}
	print_message("# crash matrix: %zu crash points recovered\n", total);
}

const struct CMUnitTest crash_cases[] = {
    cmocka_unit_test_setup_teardown(crash_matrix, case_setup, case_teardown),
};
const size_t crash_ncases = sizeof(crash_cases) / sizeof(crash_cases[0]);
