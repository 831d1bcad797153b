/* SPDX-License-Identifier: BSD-2-Clause */
/* The chains that restore backups found on a target: full first, each next one from the one
 * before (by snapshot guids); none when a backup it needs is missing or unfinished. */
#include "backup.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static qz_backup_rec_t recs[16];
static size_t nrecs;

/* Adds a backup of vol of snapshot guid `to`, incremental from guid `from` (0: full). */
static void add(const char *vol, uint64_t to, uint64_t from, bool complete)
{
	qz_backup_rec_t *r = &recs[nrecs];
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%032zx", nrecs + 1);
	snprintf(r->volume, sizeof(r->volume), "%s", vol);
	r->toguid = to;
	r->fromguid = from;
	r->created = 100 + nrecs;
	r->complete = complete;
	nrecs++;
}

/* The chain as the 1-based positions of its backups, e.g. "1 2 4"; "" for none. */
static const char *chain(const char *vol, const char *id)
{
	static char out[64];
	size_t c[16], len = qz_backup_chain_for(recs, nrecs, vol, id, c);
	out[0] = 0;
	for (size_t i = 0; i < len; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), i ? " %zu" : "%zu",
			 c[i] + 1);
	return out;
}

static int reset(void **s)
{
	(void)s;
	nrecs = 0;
	return 0;
}

static void chains_follow_the_guids(void **s)
{
	(void)s;
	add("v", 10, 0, true);
	add("w", 50, 0, true);
	add("v", 11, 10, true);
	add("v", 12, 11, true);
	assert_string_equal(chain("v", NULL), "1 3 4");
	assert_string_equal(chain("w", NULL), "2");
	assert_string_equal(chain(NULL, recs[2].id), "1 3");
	assert_string_equal(chain("x", NULL), "");
}

static void a_missing_or_unfinished_link_breaks_the_chain(void **s)
{
	(void)s;
	add("v", 10, 0, true);
	add("v", 11, 10, false); /* its trailer withheld, or never stored */
	add("v", 12, 11, true);
	assert_string_equal(chain(NULL, recs[2].id), "");
	assert_string_equal(chain("v", NULL), "1"); /* the newest that restores whole */
	add("v", 14, 13, true);			    /* from a backup the target lost */
	assert_string_equal(chain("v", NULL), "1");
}

static void another_volume_is_never_part_of_a_chain(void **s)
{
	(void)s;
	add("w", 10, 0, true);
	add("v", 11, 10, true);
	assert_string_equal(chain("v", NULL), "");
}

static void a_new_chain_after_a_full_backup(void **s)
{
	(void)s;
	add("v", 10, 0, true);
	add("v", 11, 10, true);
	add("v", 11, 0, true); /* --full of the same snapshot */
	add("v", 12, 11, true);
	assert_string_equal(chain("v", NULL), "3 4"); /* the newest full of guid 11 */
}

static void cycles_end(void **s)
{
	(void)s;
	add("v", 10, 11, true);
	add("v", 11, 10, true);
	assert_string_equal(chain("v", NULL), "");
}

/* Backups made in one second, which a header's whole seconds cannot order: a revert, a full
 * backup of the state reverted to and an incremental after it, besides an incremental made just
 * before the revert from the same base. Discovery puts the two incrementals in either order;
 * dom0's records put them as they were made, and the newest chain is the one made last. */
static void one_seconds_backups_in_the_order_dom0_made_them(void **s)
{
	(void)s;
	add("v", 1, 0, true); /* #1: full of state 1, the second before */
	add("v", 1, 0, true); /* #2: full of state 1 again, after the revert */
	add("v", 3, 1, true); /* #3: the incremental after the revert (state 3) */
	add("v", 2, 1, true); /* #4: an incremental made before the revert (state 2) */
	add("w", 9, 0, true); /* #5: another volume's, which dom0 has no record of */
	recs[0].created = 99;
	for (size_t i = 1; i < nrecs; i++)
		recs[i].created = 100;
	/* as dom0 made them: the state-2 incremental (#4), then the full (#2), then #3 */
	qz_backup_rec_t known[4] = {recs[0], recs[3], recs[1], recs[2]};
	for (size_t i = 0; i < 4; i++)
		known[i].seq = i + 1;
	assert_string_equal(chain("v", NULL), "2 4"); /* discovery's order: the wrong state */
	qz_backup_order_known(recs, nrecs, known, 4);
	assert_string_equal(recs[1].id, known[1].id);
	assert_string_equal(recs[2].id, known[2].id);
	assert_string_equal(recs[3].id, known[3].id);
	assert_int_equal(recs[4].toguid, 9); /* unknown to dom0: in its place */
	assert_int_equal(recs[3].toguid, 3);
	assert_int_equal(recs[3].seq, 4);
	assert_string_equal(chain("v", NULL), "3 4"); /* the state made last */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(chains_follow_the_guids, reset),
	    cmocka_unit_test_setup(a_missing_or_unfinished_link_breaks_the_chain, reset),
	    cmocka_unit_test_setup(another_volume_is_never_part_of_a_chain, reset),
	    cmocka_unit_test_setup(a_new_chain_after_a_full_backup, reset),
	    cmocka_unit_test_setup(cycles_end, reset),
	    cmocka_unit_test_setup(one_seconds_backups_in_the_order_dom0_made_them, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
