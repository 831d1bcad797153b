/* SPDX-License-Identifier: BSD-2-Clause */
/* dom0's record of a ZFS-qube backup as the document sealed beside it: what a fresh dom0 takes
 * back is the record and digest dom0 had, byte for byte; a malformed document leaves nothing. */
#include "digest.h"
#include "replica.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define ID "0123456789abcdef0123456789abcdef"

static char made[64], fresh[64];

static int dirs(void **state)
{
	(void)state;
	snprintf(made, sizeof(made), "/tmp/qzfs-rr-made.XXXXXX");
	snprintf(fresh, sizeof(fresh), "/tmp/qzfs-rr-fresh.XXXXXX");
	return mkdtemp(made) == NULL || mkdtemp(fresh) == NULL;
}

static int gone(void **state)
{
	(void)state;
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", made, fresh);
	return system(cmd) != 0;
}

/* A whole backup's record and a digest of three runs, in made. */
static void a_backup(void)
{
	qz_backup_rec_t r = {.id = ID,
			     .toguid = 42,
			     .created = 1700000000,
			     .bytes = 3 << 20,
			     .raw = true,
			     .complete = true,
			     .has_mac = true,
			     .seq = 1};
	snprintf(r.volume, sizeof(r.volume), "tank/encryption/sec/work/private");
	snprintf(r.snapshot, sizeof(r.snapshot), "tank/encryption/sec/work/private@qzfs-bk");
	memset(r.objset_mac, 0x5a, sizeof(r.objset_mac));
	assert_int_equal(qz_backup_rec_write(made, &r), 0);
	qz_digest_t d = {0};
	uint8_t h[QZ_DIGEST_HASH];
	for (int i = 0; i < 3; i++) {
		memset(h, i + 1, sizeof(h));
		assert_int_equal(qz_digest_append(&d, h), 0);
	}
	char path[200];
	qz_backup_digest_path(made, ID, path, sizeof(path));
	assert_int_equal(qz_digest_write(path, &d), 0);
	qz_digest_free(&d);
}

static void same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	assert_non_null(fa);
	assert_non_null(fb);
	int ca, cb;
	do {
		ca = fgetc(fa), cb = fgetc(fb);
		assert_int_equal(ca, cb);
	} while (ca != EOF);
	fclose(fa);
	fclose(fb);
}

static void taken_back_as_dom0_had_it(void **state)
{
	(void)state;
	a_backup();
	uint8_t *doc = NULL;
	size_t len = 0;
	char why[300] = "", a[200], b[200];
	assert_int_equal(qz_replica_record_doc(made, ID, &doc, &len, why, sizeof(why)), 0);
	assert_int_equal(qz_replica_record_adopt(fresh, ID, doc, len, why, sizeof(why)), 0);
	snprintf(a, sizeof(a), "%s/%s.rec", made, ID);
	snprintf(b, sizeof(b), "%s/%s.rec", fresh, ID);
	same_file(a, b);
	qz_backup_digest_path(made, ID, a, sizeof(a));
	qz_backup_digest_path(fresh, ID, b, sizeof(b));
	same_file(a, b);
	/* a record dom0 has already is never replaced */
	assert_int_equal(qz_replica_record_adopt(fresh, ID, doc, len, why, sizeof(why)), EEXIST);
	free(doc);
}

/* Adopting doc (len bytes) fails and leaves fresh without a record or digest. */
static void refused(const uint8_t *doc, size_t len, const char *id)
{
	char why[300] = "", path[200];
	assert_int_not_equal(qz_replica_record_adopt(fresh, id, doc, len, why, sizeof(why)), 0);
	assert_true(why[0] != 0);
	snprintf(path, sizeof(path), "%s/%s.rec", fresh, ID);
	assert_int_not_equal(access(path, F_OK), 0);
	qz_backup_digest_path(fresh, ID, path, sizeof(path));
	assert_int_not_equal(access(path, F_OK), 0);
}

static void malformed_ones_leave_nothing(void **state)
{
	(void)state;
	a_backup();
	uint8_t *doc = NULL;
	size_t len = 0;
	char why[300] = "";
	assert_int_equal(qz_replica_record_doc(made, ID, &doc, &len, why, sizeof(why)), 0);
	refused(doc, len - 1, ID);			       /* cut short */
	refused(doc, 10, ID);				       /* its head alone */
	refused(doc, len, "../../etc/passwd0123456789abcdef"); /* not an id */
	uint8_t *bad = malloc(len + 1);
	assert_non_null(bad);
	memcpy(bad, doc, len);
	bad[len] = 'x';
	refused(bad, len + 1, ID); /* a byte more than its head says */
	memcpy(bad, doc, len);
	char *rec = strstr((char *)bad, "qzfs-backup-record 1");
	assert_non_null(rec);
	memcpy(strstr(rec, "complete 1"), "complete 0", 10); /* a backup that is not whole */
	refused(bad, len, ID);
	free(bad);
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(taken_back_as_dom0_had_it, dirs, gone),
	    cmocka_unit_test_setup_teardown(malformed_ones_leave_nothing, dirs, gone),
	};
	return cmocka_run_group_tests_name("replica_records", tests, NULL, NULL);
}
