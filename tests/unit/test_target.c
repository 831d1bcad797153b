/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: a backup target through qzfs-backup-store (the real store program, in a temporary
 * directory), and stores that lie: answers too long, malformed listings, a store that dies. */
#include "store_proto.h"
#include "target.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/qzfs-store-XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int remove_dir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static qz_target_t *store(void)
{
	char *argv[] = {QZ_STORE_BIN, dir, NULL};
	qz_target_t *t = NULL;
	char why[256];
	assert_int_equal(qz_target_open(argv, &t, why, sizeof(why)), 0);
	return t;
}

static void objects_round_trip(void **state)
{
	(void)state;
	qz_target_t *t = store();
	char why[256];
	static uint8_t big[3 << 20], back[3 << 20];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(qz_target_put(t, "b-1.c00000000", big, sizeof(big), why, sizeof(why)), 0);
	assert_int_equal(qz_target_put(t, "a-empty", big, 0, why, sizeof(why)), 0);
	size_t len = 0;
	assert_int_equal(
	    qz_target_get(t, "b-1.c00000000", back, sizeof(back), &len, why, sizeof(why)), 0);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(back, big, len);
	qz_target_entry_t *e = NULL;
	size_t n = 0;
	assert_int_equal(qz_target_list(t, &e, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(e[0].name, "a-empty");
	assert_int_equal(e[1].size, sizeof(big));
	free(e);
	/* listed again in the same session: the same objects (not what is left of a directory
	 * read to its end) */
	assert_int_equal(qz_target_list(t, &e, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 2);
	free(e);
	/* an answer bigger than asked for is refused, and ends the connection */
	assert_int_equal(qz_target_get(t, "b-1.c00000000", back, 100, &len, why, sizeof(why)),
			 EBADMSG);
	assert_int_equal(qz_target_list(t, &e, &n, why, sizeof(why)), EBADMSG);
	qz_target_close(t);
	t = store();
	assert_int_equal(qz_target_get(t, "nothing", back, 10, &len, why, sizeof(why)), ENOENT);
	assert_int_equal(qz_target_delete(t, "b-1.c00000000", why, sizeof(why)), 0);
	assert_int_equal(qz_target_delete(t, "b-1.c00000000", why, sizeof(why)), 0);
	assert_int_equal(qz_target_get(t, "b-1.c00000000", back, 10, &len, why, sizeof(why)),
			 ENOENT);
	/* names that could escape the directory are refused before anything is sent */
	assert_int_equal(qz_target_put(t, "../x", big, 1, why, sizeof(why)), EINVAL);
	assert_int_equal(qz_target_put(t, ".hidden", big, 1, why, sizeof(why)), EINVAL);
	assert_int_equal(qz_target_get(t, "a/b", back, 10, &len, why, sizeof(why)), EINVAL);
	/* the connection still works */
	assert_int_equal(qz_target_get(t, "a-empty", back, 10, &len, why, sizeof(why)), 0);
	qz_target_close(t);
}

/* A store that answers a fixed byte string to whatever it is asked. */
static qz_target_t *liar(const char *printf_format)
{
	static char script[256];
	snprintf(script, sizeof(script), "head -c 2 >/dev/null; printf '%s'; cat >/dev/null",
		 printf_format);
	char *argv[] = {"sh", "-c", script, NULL};
	qz_target_t *t = NULL;
	assert_int_equal(qz_target_open(argv, &t, NULL, 0), 0);
	qz_target_set_timeout(t, 2000);
	return t;
}

static void lying_stores_are_refused(void **state)
{
	(void)state;
	char why[256];
	qz_target_entry_t *e = NULL;
	size_t n = 0, len = 0;
	uint8_t buf[64];
	/* a listing whose length is huge */
	qz_target_t *t = liar("\\000\\377\\377\\377\\377\\377\\377\\377\\377");
	assert_int_equal(qz_target_list(t, &e, &n, why, sizeof(why)), EBADMSG);
	qz_target_close(t);
	/* a listing naming an object twice */
	t = liar("\\000\\024\\000\\000\\000\\000\\000\\000\\000"
		 "\\001a\\001\\000\\000\\000\\000\\000\\000\\000"
		 "\\001a\\002\\000\\000\\000\\000\\000\\000\\000");
	assert_int_equal(qz_target_list(t, &e, &n, why, sizeof(why)), EBADMSG);
	assert_non_null(strstr(why, "twice"));
	qz_target_close(t);
	/* a listing with a name that escapes */
	t = liar("\\000\\013\\000\\000\\000\\000\\000\\000\\000\\002.."
		 "\\000\\000\\000\\000\\000\\000\\000\\000");
	assert_int_equal(qz_target_list(t, &e, &n, why, sizeof(why)), EBADMSG);
	qz_target_close(t);
	/* a listing of more objects than dom0 takes (each as small as an entry can be) */
	char big[] = "/tmp/qzfs-big-listing.XXXXXX";
	int fd = mkstemp(big);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	uint64_t entries = QZ_STORE_LIST_ENTRIES_MAX + 1ull, bytes = entries * 10;
	uint8_t head[9] = {0};
	for (int i = 0; i < 8; i++)
		head[1 + i] = (uint8_t)(bytes >> (8 * i));
	fwrite(head, 1, sizeof(head), f);
	static const uint8_t entry[10] = {1, 'a'};
	for (uint64_t i = 0; i < entries; i++)
		fwrite(entry, 1, sizeof(entry), f);
	fclose(f);
	char script[256];
	snprintf(script, sizeof(script), "head -c 2 >/dev/null; cat %s; cat >/dev/null", big);
	char *sh[] = {"sh", "-c", script, NULL};
	assert_int_equal(qz_target_open(sh, &t, NULL, 0), 0);
	assert_int_equal(qz_target_list(t, &e, &n, why, sizeof(why)), EBADMSG);
	assert_non_null(strstr(why, "more objects"));
	qz_target_close(t);
	unlink(big);
	/* an unknown status */
	t = liar("\\007\\000\\000\\000\\000\\000\\000\\000\\000");
	assert_int_equal(qz_target_get(t, "x", buf, sizeof(buf), &len, why, sizeof(why)), EBADMSG);
	qz_target_close(t);
	/* a store that answers part of a listing, then stalls */
	t = liar("\\000\\100\\000\\000\\000\\000\\000\\000\\000\\001a");
	assert_int_equal(qz_target_list(t, &e, &n, why, sizeof(why)), EBADMSG);
	qz_target_close(t);
	/* a store that stops reading a put */
	char *deaf[] = {"sleep", "30", NULL};
	assert_int_equal(qz_target_open(deaf, &t, NULL, 0), 0);
	qz_target_set_timeout(t, 1000);
	static uint8_t chunk[1 << 20];
	assert_int_equal(qz_target_put(t, "x", chunk, sizeof(chunk), why, sizeof(why)), ETIMEDOUT);
	qz_target_close(t);
	/* a store that is gone */
	char *argv[] = {"true", NULL};
	assert_int_equal(qz_target_open(argv, &t, NULL, 0), 0);
	assert_int_not_equal(qz_target_put(t, "x", buf, sizeof(buf), why, sizeof(why)), 0);
	qz_target_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(objects_round_trip, make_dir, remove_dir),
	    cmocka_unit_test(lying_stores_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
