/* SPDX-License-Identifier: BSD-2-Clause */
/* Which backups `backup prune` lets go: retention by count and age, never a backup that a kept
 * one's chain needs, never the newest of a volume when it is unfinished. */
#include "backup.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define DAY 86400ULL
#define NOW (1000 * DAY)

static qz_backup_rec_t recs[32];
static size_t nrecs;

/* Adds a backup of vol made `age` days ago: full, or incremental from backup `base` (an index). */
static size_t add(const char *vol, int base, uint64_t age, bool complete)
{
	qz_backup_rec_t *r = &recs[nrecs];
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%032zx", nrecs + 1);
	snprintf(r->volume, sizeof(r->volume), "%s", vol);
	if (base >= 0)
		memcpy(r->base, recs[base].bookmark, sizeof(r->base));
	if (complete)
		snprintf(r->bookmark, sizeof(r->bookmark), "%s#qzfs-bk-%zu", vol, nrecs + 1);
	r->seq = nrecs + 1;
	r->created = NOW - age * DAY;
	r->complete = complete;
	return nrecs++;
}

/* The plan as a string: one letter per backup, K kept, d dropped. */
static const char *plan(uint64_t last, uint64_t days)
{
	static char out[33];
	bool drop[32];
	qz_backup_keep_t k = {last, days, NOW};
	qz_backup_prune_plan(recs, nrecs, &k, drop);
	for (size_t i = 0; i < nrecs; i++)
		out[i] = drop[i] ? 'd' : 'K';
	out[nrecs] = 0;
	return out;
}

static int reset(void **s)
{
	(void)s;
	nrecs = 0;
	return 0;
}

static void one_chain_is_kept_whole(void **s)
{
	(void)s;
	size_t a = add("v", -1, 9, true);
	size_t b = add("v", (int)a, 8, true);
	add("v", (int)b, 7, true);
	assert_string_equal(plan(1, 0), "KKK"); /* the newest needs the two before it */
}

static void older_chains_go_by_count(void **s)
{
	(void)s;
	size_t a = add("v", -1, 9, true);
	add("v", (int)a, 8, true);
	size_t c = add("v", -1, 7, true); /* --full: a new chain */
	add("v", (int)c, 6, true);
	size_t e = add("v", -1, 5, true);
	assert_string_equal(plan(1, 0), "ddddK");
	assert_string_equal(plan(2, 0), "ddKKK"); /* the 2nd newest needs its full backup */
	add("v", (int)e, 4, true);
	assert_string_equal(plan(1, 0), "ddddKK");
	assert_string_equal(plan(0, 0), "ddddKK"); /* the newest whole one is always kept */
}

static void age_keeps_chains_too(void **s)
{
	(void)s;
	size_t a = add("v", -1, 40, true);
	size_t b = add("v", (int)a, 20, true);
	add("v", -1, 10, true);
	(void)b;
	assert_string_equal(plan(1, 30), "KKK"); /* b is 20 days old: kept, with a */
	assert_string_equal(plan(1, 15), "ddK");
	assert_string_equal(plan(3, 0), "KKK");
}

static void volumes_are_judged_apart(void **s)
{
	(void)s;
	add("v", -1, 9, true);
	add("w", -1, 8, true);
	add("v", -1, 7, true);
	add("w", -1, 6, true);
	add("x", -1, 5, true);
	assert_string_equal(plan(1, 0), "ddKKK");
}

static void unfinished_backups(void **s)
{
	(void)s;
	size_t a = add("v", -1, 9, true);
	add("v", (int)a, 8, false); /* abandoned: a newer one began */
	size_t c = add("v", -1, 7, true);
	add("v", (int)c, 6, false); /* the newest: it may still be resumed */
	assert_string_equal(plan(1, 0), "ddKK");
	add("v", -1, 5, false); /* a new full one began: the one before is abandoned */
	assert_string_equal(plan(1, 0), "ddKdK");
}

static void an_unfinished_newest_keeps_its_base(void **s)
{
	(void)s;
	size_t a = add("v", -1, 9, true);
	size_t b = add("v", (int)a, 8, true);
	size_t c = add("v", -1, 7, true);
	add("v", (int)b, 6, false); /* began from b before c was made (records by hand) */
	(void)c;
	assert_string_equal(plan(1, 0), "KKKK");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(one_chain_is_kept_whole, reset),
	    cmocka_unit_test_setup(older_chains_go_by_count, reset),
	    cmocka_unit_test_setup(age_keeps_chains_too, reset),
	    cmocka_unit_test_setup(volumes_are_judged_apart, reset),
	    cmocka_unit_test_setup(unfinished_backups, reset),
	    cmocka_unit_test_setup(an_unfinished_newest_keeps_its_base, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
