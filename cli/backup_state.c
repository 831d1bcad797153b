/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Where dom0 keeps its records of backups (backup_cli.h): one folder per target under the state
 * directory, so that every target has a chain of its own. A backup is incremental only from a
 * backup the same target holds, and "unchanged" only when that target has the state already.
 */
#include "backup_cli.h"
#include "replica.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TARGETS "targets"

/* Makes path and any missing parents, each new one with mode 0700. */
static int make_dirs(const char *path)
{
	char buf[4096];
	if (strlen(path) >= sizeof(buf))
		return ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != 0)
			continue;
		char c = *p;
		*p = 0;
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return errno;
		*p = c;
		if (c == 0)
			return 0;
	}
}

/* The folder name of target spec: the spec with every byte but [A-Za-z0-9_-] as %XX (a
 * dir: target's trailing slashes dropped, as they name the same folder). */
static int target_key(const char *spec, char *key, size_t len)
{
	size_t n = strlen(spec), k = 0;
	if (strncmp(spec, "dir:", 4) == 0)
		while (n > 5 && spec[n - 1] == '/')
			n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)spec[i];
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '_' || c == '-';
		if (k + 4 > len || k + 4 > NAME_MAX)
			return ENAMETOOLONG;
		k += (size_t)snprintf(key + k, len - k, plain ? "%c" : "%%%02X", c);
	}
	return k > 0 ? 0 : EINVAL;
}

/* Undoes target_key. */
static void target_unkey(const char *key, char *spec, size_t len)
{
	size_t k = 0;
	for (const char *p = key; *p != 0 && k + 1 < len; p++) {
		unsigned v;
		if (*p == '%' && sscanf(p + 1, "%2X", &v) == 1) {
			spec[k++] = (char)v;
			p += 2;
		} else {
			spec[k++] = *p;
		}
	}
	spec[k] = 0;
}

/* Whether target listing e[0..n) holds an object of backup id. */
static bool holds(bool zfs, const qz_target_entry_t *e, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (zfs ? qz_replica_names(e[i].name, id)
			: strncmp(e[i].name, id, QZ_BACKUP_ID_HEX) == 0 &&
			      e[i].name[QZ_BACKUP_ID_HEX] == '.')
			return true;
	return false;
}

/* Moves the records an earlier version kept in base, for all targets at once, whose backups t
 * holds into dir (with their progress files and digests). Records of backups t does not hold stay
 * for the target that does. */
static int adopt_shared_records(const char *base, const char *dir, bool zfs, qz_target_t *t,
				char *why, size_t whylen)
{
	qz_backup_rec_t *old = NULL;
	qz_target_entry_t *e = NULL;
	size_t nold = 0, n = 0;
	int err = qz_backup_rec_list(base, &old, &nold);
	if (err == 0 && nold > 0)
		err = qz_target_list(t, &e, &n, why, whylen);
	for (size_t i = 0; err == 0 && i < nold; i++) {
		if (!holds(zfs, e, n, old[i].id))
			continue;
		/* the record last */
		static const char *const kinds[] = {"progress", "digest", "rec"};
		for (size_t k = 0; err == 0 && k < 3; k++) {
			char from[4096], to[4096];
			snprintf(from, sizeof(from), "%s/%s.%s", base, old[i].id, kinds[k]);
			snprintf(to, sizeof(to), "%s/%s.%s", dir, old[i].id, kinds[k]);
			if (rename(from, to) != 0 && errno != ENOENT) {
				err = errno;
				snprintf(why, whylen, "moving %.120s to %.120s: %s", from, to,
					 strerror(err));
			}
		}
	}
	free(old);
	free(e);
	return err;
}

int qz_cli_state_base(qz_cli_t *cli, const struct opts *o, const char *default_state, char *buf,
		      size_t len)
{
	const char *base = o->state != NULL ? o->state : default_state;
	if ((size_t)snprintf(buf, len, "%s", base) >= len)
		return qz_cli_fail(cli, base, ENAMETOOLONG);
	int err = make_dirs(buf);
	return err != 0 ? qz_cli_fail(cli, buf, err) : 0;
}

/* The folder of records of target spec under base, into dir: 0, EINVAL if spec is too long to
 * name one, ENAMETOOLONG if it does not fit. */
static int target_dir(const char *base, const char *spec, char *dir, size_t len)
{
	char key[NAME_MAX + 1];
	if (target_key(spec, key, sizeof(key)) != 0)
		return EINVAL;
	return (size_t)snprintf(dir, len, "%s/" TARGETS "/%s", base, key) < len ? 0 : ENAMETOOLONG;
}

bool qz_cli_target_state_known(const char *base, const char *target, char *dir, size_t len)
{
	struct stat st;
	return target != NULL && target_dir(base, target, dir, len) == 0 && stat(dir, &st) == 0 &&
	       S_ISDIR(st.st_mode);
}

int qz_cli_discover(const struct opts *o, const char *default_state, qz_target_t *t,
		    const qz_open_secret_t *secret, qz_backup_rec_t **all, size_t *n,
		    size_t *unopened, char *why, size_t whylen)
{
	int err = qz_backup_discover(t, secret, all, n, unopened, why, whylen);
	char dir[4096];
	qz_backup_rec_t *known = NULL;
	size_t nknown = 0;
	if (err == 0 &&
	    qz_cli_target_state_known(o->state != NULL ? o->state : default_state, o->target, dir,
				      sizeof(dir)) &&
	    qz_backup_rec_list(dir, &known, &nknown) == 0) {
		qz_backup_order_known(*all, *n, known, nknown);
		free(known);
	}
	return err;
}

int qz_cli_target_state(qz_cli_t *cli, const struct opts *o, const char *default_state, bool zfs,
			qz_target_t *t, char *dir, size_t len)
{
	char base[3800], why[300] = "";
	int rc = qz_cli_state_base(cli, o, default_state, base, sizeof(base));
	if (rc != 0)
		return rc;
	if (o->target == NULL)
		return qz_cli_usage(cli, "give --target");
	int err = target_dir(base, o->target, dir, len);
	if (err == EINVAL)
		return qz_cli_usage(cli, "the --target is too long to name a folder of records");
	if (err != 0)
		return qz_cli_fail(cli, base, err);
	err = make_dirs(dir);
	if (err != 0)
		return qz_cli_fail(cli, dir, err);
	if (t != NULL && (err = adopt_shared_records(base, dir, zfs, t, why, sizeof(why))) != 0)
		return qz_cli_refused(cli, err, why);
	return 0;
}

/* Appends the records in dir to *all (*n of them), each with target. */
static int append_records(const char *dir, const char *target, qz_backup_rec_t **all, size_t *n)
{
	qz_backup_rec_t *some = NULL;
	size_t k = 0;
	int err = qz_backup_rec_list(dir, &some, &k);
	if (err != 0 || k == 0)
		return err;
	qz_backup_rec_t *more = realloc(*all, (*n + k) * sizeof(**all));
	if (more == NULL) {
		free(some);
		return ENOMEM;
	}
	for (size_t i = 0; i < k; i++)
		snprintf(some[i].target, sizeof(some[i].target), "%s", target);
	memcpy(more + *n, some, k * sizeof(*some));
	*all = more;
	*n += k;
	free(some);
	return 0;
}

int qz_cli_all_records(const char *base, qz_backup_rec_t **all, size_t *n)
{
	*all = NULL;
	*n = 0;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/" TARGETS, base);
	int err = append_records(base, "", all, n); /* an earlier version's, target unknown */
	DIR *d = opendir(dir);
	if (d == NULL && errno != ENOENT && err == 0)
		err = errno;
	for (struct dirent *de; err == 0 && d != NULL && (de = readdir(d)) != NULL;) {
		if (de->d_name[0] == '.')
			continue;
		char sub[4096 + NAME_MAX + 2], spec[NAME_MAX + 1];
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		target_unkey(de->d_name, spec, sizeof(spec));
		err = append_records(sub, spec, all, n);
	}
	if (d != NULL)
		closedir(d);
	if (err != 0) {
		free(*all);
		*all = NULL;
		*n = 0;
	}
	return err;
}
