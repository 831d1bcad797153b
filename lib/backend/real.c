/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The real backend: libzfs_core for every change, send and receive; the `zfs` command (through
 * posix_spawn, never a shell) only for listing and properties, which libzfs_core cannot do.
 */
#include "backend.h"
#include "zcmd.h"
#include "zname.h"
#include "zprop.h"
#include "zvol_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <libzfs_core.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/dsl_crypt.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEY_CHECK_MS 1000  /* no device after this long: is the key loaded at all? */
#define ZVOL_WAIT_MS 60000 /* normally milliseconds; many VMs starting at boot can take long */
#define LINK_WAIT_MS 10000 /* no udev link after this long: look for the kernel's node */

/* Builds the nvlist of props for lzc_create/lzc_clone/lzc_snapshot, typed as the kernel wants. */
static int props_to_nvlist(qz_backend_t *be, const qz_prop_t *props, size_t n, nvlist_t **out)
{
	nvlist_t *nv = fnvlist_alloc();
	for (size_t i = 0; i < n; i++) {
		const char *name = props[i].name, *value = props[i].value;
		if (qz_prop_is_user(name)) {
			fnvlist_add_string(nv, name, value);
			continue;
		}
		const struct qz_pdef *def = qz_prop_lookup(name);
		uint64_t num;
		if (def == NULL || qz_prop_parse(def, value, &num) != 0) {
			fnvlist_free(nv);
			return qz_be_fail(be, EINVAL, "bad property %s=%s", name, value);
		}
		if (def->type == QZ_PT_STRING)
			fnvlist_add_string(nv, name, value);
		else
			fnvlist_add_uint64(nv, name, num);
	}
	*out = nv;
	return 0;
}

/* nvlist of names mapped to booleans, as lzc_snapshot and lzc_destroy_snaps take them. */
static nvlist_t *name_set(const char *const *names, size_t n)
{
	nvlist_t *nv = fnvlist_alloc();
	for (size_t i = 0; i < n; i++)
		fnvlist_add_boolean(nv, names[i]);
	return nv;
}

/*
 * Takes the result of an lzc call with an error list: records which name failed and frees the
 * list. Some calls (lzc_release) return 0 and report a failure only in the list: that counts.
 */
static int errlist_fail(qz_backend_t *be, int err, nvlist_t *errlist)
{
	if (errlist != NULL) {
		nvpair_t *p = nvlist_next_nvpair(errlist, NULL);
		if (p != NULL) {
			int32_t e;
			if (err == 0 && nvpair_value_int32(p, &e) == 0)
				err = e;
			if (err != 0)
				qz_be_fail(be, err, "%s", nvpair_name(p));
		}
		fnvlist_free(errlist);
	}
	return err;
}

/*
 * udev opens a volume's device for a moment after it appears and after a writer closed it
 * (blkid, zvol_id), and ZFS answers EBUSY meanwhile. Calls that ZFS refuses while a volume is
 * open wait until udev has handled its queue, then try again; a few rounds cover events udev
 * makes itself (a close after writing becomes a change event). A volume that a VM really
 * holds open is still reported busy.
 */
#define BUSY_SETTLE_ROUNDS 3

/* After a call answered err: waits for udev and returns true if it should be tried again. */
static bool retry_busy(int err, int *rounds)
{
	if (err != EBUSY || *rounds >= BUSY_SETTLE_ROUNDS)
		return false;
	++*rounds;
	return qz_udev_settle() == 0;
}

/* True if a bookmark "fs#mark" exists (lzc_exists does not see bookmarks). */
static bool bookmark_exists(const char *bookmark)
{
	char fs[QZ_NAME_MAX];
	if (qz_name_dataset(bookmark, fs, sizeof(fs)) != 0)
		return false;
	nvlist_t *props = fnvlist_alloc(), *marks = NULL;
	bool found = false;
	if (lzc_get_bookmarks(fs, props, &marks) == 0) {
		found = nvlist_exists(marks, strchr(bookmark, '#') + 1);
		fnvlist_free(marks);
	}
	fnvlist_free(props);
	return found;
}

/* lzc_exists, bookmarks included. */
static bool exists(const char *name)
{
	return strchr(name, '#') != NULL ? bookmark_exists(name) : lzc_exists(name);
}

static void real_close(qz_backend_t *be)
{
	libzfs_core_fini();
	free(be);
}

static int real_create(qz_backend_t *be, const char *name, enum qz_dstype type,
		       const qz_prop_t *props, size_t nprops, const uint8_t *wkey, size_t wkeylen)
{
	if (type != QZ_FILESYSTEM && type != QZ_VOLUME)
		return EINVAL;
	nvlist_t *nv;
	int err = props_to_nvlist(be, props, nprops, &nv);
	if (err != 0)
		return err;
	err = lzc_create(name, type == QZ_VOLUME ? LZC_DATSET_TYPE_ZVOL : LZC_DATSET_TYPE_ZFS, nv,
			 (uint8_t *)wkey, (uint_t)wkeylen);
	fnvlist_free(nv);
	return err;
}

static int real_snapshot(qz_backend_t *be, const char *const *snaps, size_t n,
			 const qz_prop_t *props, size_t nprops)
{
	nvlist_t *pnv;
	int err = props_to_nvlist(be, props, nprops, &pnv);
	if (err != 0)
		return err;
	nvlist_t *snv = name_set(snaps, n), *errlist = NULL;
	err = lzc_snapshot(snv, nprops != 0 ? pnv : NULL, &errlist);
	fnvlist_free(snv);
	fnvlist_free(pnv);
	return errlist_fail(be, err, errlist);
}

static int real_clone(qz_backend_t *be, const char *origin, const char *target,
		      const qz_prop_t *props, size_t nprops)
{
	nvlist_t *nv;
	int err = props_to_nvlist(be, props, nprops, &nv);
	if (err != 0)
		return err;
	err = lzc_clone(target, origin, nv);
	fnvlist_free(nv);
	return err;
}

static int real_promote(qz_backend_t *be, const char *clone, char *conflict, size_t len)
{
	(void)be;
	char buf[QZ_NAME_MAX] = "";
	int err = lzc_promote(clone, buf, sizeof(buf));
	if (conflict != NULL && len > 0)
		snprintf(conflict, len, "%s", err == EEXIST ? buf : "");
	return err;
}

static int real_rename(qz_backend_t *be, const char *from, const char *to)
{
	(void)be;
	return lzc_rename(from, to);
}

static int real_destroy(qz_backend_t *be, const char *name)
{
	(void)be;
	int err, rounds = 0;
	do
		err = lzc_destroy(name);
	while (retry_busy(err, &rounds));
	return err;
}

static int real_destroy_snaps(qz_backend_t *be, const char *const *snaps, size_t n, bool defer)
{
	if (n == 0)
		return 0;
	nvlist_t *nv = name_set(snaps, n), *errlist = NULL;
	int err = lzc_destroy_snaps(nv, defer, &errlist);
	fnvlist_free(nv);
	return errlist_fail(be, err, errlist);
}

/*
 * A channel program that destroys args.names: the snapshots first (args.defer as `zfs destroy
 * -d`), then the filesystems and volumes, again while one going let another go (a clone before
 * the generation it came from). Its destroys run in syncing context, one after another in the
 * same transaction group; each is checked as `zfs destroy` checks it (an open volume is busy)
 * and its volume's device is removed as the ioctl's destroy removes it. Returns each name's
 * outcome.
 */
static const char destroy_program[] =
    "args = ...\n"
    "local names, out, heads = args['names'], {}, {}\n"
    "for i = 1, #names do\n"
    "  local name = names[i]\n"
    "  if string.find(name, '@', 1, true) then\n"
    "    out[name] = zfs.sync.destroy{name, defer = args['defer']}\n"
    "  else\n"
    "    heads[#heads + 1] = name\n"
    "  end\n"
    "end\n"
    "local progress = true\n"
    "while progress do\n"
    "  progress = false\n"
    "  local stay = {}\n"
    "  for i = 1, #heads do\n"
    "    local err = zfs.sync.destroy(heads[i])\n"
    "    out[heads[i]] = err\n"
    "    if err == 0 then progress = true\n"
    "    elseif err == args['EBUSY'] or err == args['EEXIST'] then stay[#stay + 1] = heads[i] end\n"
    "  end\n"
    "  heads = stay\n"
    "end\n"
    "return out\n";

/* Runs destroy_program on the n names (all in zpool pool), storing outcomes in errs; an errno
 * if the program could not run (nothing is known of the names then). */
static int destroy_by_program(const char *pool, const char *const *names, size_t n, bool defer,
			      int *errs)
{
	nvlist_t *args = fnvlist_alloc(), *result = NULL, *ret;
	/* char *const * in OpenZFS 2.1, const char *const * from 2.2 */
	fnvlist_add_string_array(args, "names", (void *)names, (uint_t)n);
	fnvlist_add_boolean_value(args, "defer", defer);
	fnvlist_add_int64(args, "EBUSY", EBUSY); /* what waits for another destroy */
	fnvlist_add_int64(args, "EEXIST", EEXIST);
	int err = lzc_channel_program(pool, destroy_program, 10 * 1000 * 1000, 10 * 1024 * 1024,
				      args, &result);
	fnvlist_free(args);
	if (err == 0 && nvlist_lookup_nvlist(result, "return", &ret) != 0)
		err = EIO;
	for (size_t i = 0; err == 0 && i < n; i++) {
		int64_t e;
		if (nvlist_lookup_int64(ret, names[i], &e) != 0 || e < 0 || e > 4096)
			err = EIO; /* every name has its answer, an errno */
		else
			errs[i] = (int)e;
	}
	if (result != NULL)
		fnvlist_free(result);
	return err;
}

/* Where a filesystem or volume of group (k names in zpool pool, outcomes outs) was busy:
 * destroys again, after udev settled, those that stayed (busy, or the parents of busy ones), for
 * as long as real_destroy would. */
static void destroy_busy_again(const char *pool, const char *const *group, int *outs, size_t k)
{
	const char **again = calloc(k + 1, sizeof(*again));
	size_t *from = calloc(k + 1, sizeof(*from));
	int *aouts = calloc(k + 1, sizeof(*aouts));
	for (int rounds = 0; again != NULL && from != NULL && aouts != NULL;) {
		size_t b = 0;
		bool busy = false;
		for (size_t g = 0; g < k; g++)
			if ((outs[g] == EBUSY || outs[g] == EEXIST) &&
			    strchr(group[g], '@') == NULL) {
				busy |= outs[g] == EBUSY;
				from[b] = g;
				again[b++] = group[g];
			}
		if (!busy || !retry_busy(EBUSY, &rounds) ||
		    destroy_by_program(pool, again, b, false, aouts) != 0)
			break;
		for (size_t a = 0; a < b; a++)
			outs[from[a]] = aouts[a];
	}
	free(again);
	free(from);
	free(aouts);
}

/* One channel program per zpool named; where one cannot run, the names are destroyed one by
 * one. */
static int real_destroy_all(qz_backend_t *be, const char *const *names, size_t n, bool defer,
			    int *errs)
{
	const char **group = calloc(n + 1, sizeof(*group));
	size_t *at = calloc(n + 1, sizeof(*at));
	int *outs = calloc(n + 1, sizeof(*outs));
	bool *done = calloc(n + 1, sizeof(*done));
	int err = group == NULL || at == NULL || outs == NULL || done == NULL ? ENOMEM : 0;
	for (size_t i = 0; err == 0 && i < n; i++) {
		if (done[i])
			continue;
		size_t plen = qz_name_pool_len(names[i]), k = 0;
		for (size_t j = i; j < n; j++) /* this zpool's names */
			if (!done[j] && qz_name_pool_len(names[j]) == plen &&
			    strncmp(names[j], names[i], plen) == 0) {
				group[k] = names[j];
				at[k++] = j;
				done[j] = true;
			}
		char pool[QZ_NAME_MAX];
		snprintf(pool, sizeof(pool), "%.*s", (int)plen, names[i]);
		if (destroy_by_program(pool, group, k, defer, outs) != 0)
			qz_be_destroy_each(be, group, k, defer, outs);
		else
			destroy_busy_again(pool, group, outs, k);
		for (size_t g = 0; g < k; g++)
			errs[at[g]] = outs[g];
	}
	free(group);
	free(at);
	free(outs);
	free(done);
	return err;
}

static int real_rollback(qz_backend_t *be, const char *fs, const char *snap)
{
	(void)be;
	int err, rounds = 0;
	do
		err = lzc_rollback_to(fs, snap);
	while (retry_busy(err, &rounds));
	return err;
}

static int real_bookmark(qz_backend_t *be, const char *snap, const char *bookmark)
{
	nvlist_t *nv = fnvlist_alloc(), *errlist = NULL;
	fnvlist_add_string(nv, bookmark, snap);
	int err = lzc_bookmark(nv, &errlist);
	fnvlist_free(nv);
	return errlist_fail(be, err, errlist);
}

static int real_destroy_bookmark(qz_backend_t *be, const char *bookmark)
{
	if (!bookmark_exists(bookmark))
		return ENOENT;
	nvlist_t *nv = fnvlist_alloc(), *errlist = NULL;
	fnvlist_add_boolean(nv, bookmark);
	int err = lzc_destroy_bookmarks(nv, &errlist);
	fnvlist_free(nv);
	return errlist_fail(be, err, errlist);
}

static int real_hold(qz_backend_t *be, const char *snap, const char *tag)
{
	if (!lzc_exists(snap)) /* lzc_hold skips missing snapshots silently */
		return ENOENT;
	nvlist_t *nv = fnvlist_alloc(), *errlist = NULL;
	fnvlist_add_string(nv, snap, tag);
	int err = lzc_hold(nv, -1, &errlist);
	fnvlist_free(nv);
	return errlist_fail(be, err, errlist);
}

static int real_release(qz_backend_t *be, const char *snap, const char *tag)
{
	nvlist_t *nv = fnvlist_alloc(), *tags = fnvlist_alloc(), *errlist = NULL;
	fnvlist_add_boolean(tags, tag);
	fnvlist_add_nvlist(nv, snap, tags);
	int err = lzc_release(nv, &errlist);
	fnvlist_free(tags);
	fnvlist_free(nv);
	return errlist_fail(be, err, errlist);
}

/* Runs `zfs ARGS...`; on success *out holds its output. Failure: EINVAL with zfs's words. */
static int run_zfs(qz_backend_t *be, char *const argv[], struct qz_spawn_out *out)
{
	int err = qz_spawn(argv, out);
	if (err != 0)
		return qz_be_fail(be, err, "cannot run %s", argv[0]);
	if (out->status != 0) {
		char *nl = strchr(out->err, '\n');
		if (nl != NULL)
			*nl = '\0';
		/* a dataset destroyed between our check and the command: gone, not invalid */
		err = strstr(out->err, "dataset does not exist") != NULL ? ENOENT : EINVAL;
		qz_be_fail(be, err, "%s", out->err);
		qz_spawn_free(out);
		return err;
	}
	return 0;
}

/* Runs a `zfs get`-like argv that prints one value and stores that value. */
static int get_value(qz_backend_t *be, char *const argv[], char *buf, size_t len)
{
	struct qz_spawn_out o;
	int err = run_zfs(be, argv, &o);
	if (err != 0)
		return err;
	if (o.outlen > 0 && o.out[o.outlen - 1] == '\n')
		o.out[--o.outlen] = '\0';
	if (o.outlen >= len)
		err = ERANGE;
	else
		memcpy(buf, o.out, o.outlen + 1);
	qz_spawn_free(&o);
	return err;
}

static int real_zpool_get(qz_backend_t *be, const char *zpool, const char *prop, char *buf,
			  size_t len)
{
	if (qz_name_check(zpool, QZ_NAME_DATASET) != 0 || strchr(zpool, '/') != NULL)
		return EINVAL;
	if (!exists(zpool))
		return ENOENT;
	char *argv[] = {"zpool", "get", "-Hp", "-o", "value", (char *)prop, (char *)zpool, NULL};
	return get_value(be, argv, buf, len);
}

static int real_set_prop(qz_backend_t *be, const char *name, const char *prop, const char *value)
{
	if (qz_name_check(name, qz_name_kind_of(name)) != 0)
		return EINVAL;
	if (!lzc_exists(name))
		return ENOENT;
	char assign[1024];
	if ((size_t)snprintf(assign, sizeof(assign), "%s=%s", prop, value) >= sizeof(assign))
		return ENAMETOOLONG;
	char *argv[] = {"zfs", "set", assign, (char *)name, NULL};
	struct qz_spawn_out o;
	int err = run_zfs(be, argv, &o);
	if (err == 0)
		qz_spawn_free(&o);
	return err;
}

/* Splits zfs's tab-separated lines into l (which owns the copies). */
static int parse_listing(char *text, qz_list_t *l)
{
	size_t cap = 0;
	for (char *line = text, *next; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (l->nrows + 1 > cap) {
			cap = cap != 0 ? cap * 2 : 64;
			char **c = realloc(l->cells, cap * l->ncols * sizeof(*c));
			if (c == NULL)
				return ENOMEM;
			l->cells = c;
		}
		char **row = l->cells + l->nrows * l->ncols;
		char *s = line;
		for (size_t c = 0; c < l->ncols; c++) {
			char *tab = s != NULL ? strchr(s, '\t') : NULL;
			if (tab != NULL)
				*tab = '\0';
			row[c] = strdup(s != NULL ? s : "-");
			s = tab != NULL ? tab + 1 : NULL;
		}
		l->nrows++;
	}
	return 0;
}

/*
 * A read-only channel program that lists like `zfs list -Hp -d DEPTH -t TYPES -o PROPS`, but in
 * one ioctl instead of a process (a zfs process costs far more than the listing itself).
 *
 * Each zfs.get_prop of a native property costs ~5 ms in the emulated test VM (a user property
 * ~1 ms), most of a listing: so a row's type is the one the walk already knows, and a property
 * that has no value for a kind of dataset (only_for: defer_destroy of a head, origin of a
 * snapshot) is not asked of it; `zfs list` shows both as "-", as format_value does.
 */
static const char list_program[] =
    "args = ...\n"
    "local out, only = {}, args['only_for']\n"
    "local function describe(name, kind)\n"
    "  local t = {type = kind}\n"
    "  for p, _ in pairs(args['props']) do\n"
    "    if p ~= 'type' and (only[p] == nil or only[p][kind]) then\n"
    "      local v = zfs.get_prop(name, p)\n"
    "      if v ~= nil then t[p] = v end\n"
    "    end\n"
    "  end\n"
    "  out[name] = t\n"
    "end\n"
    "local function walk(name, level)\n"
    "  local kind = zfs.get_prop(name, 'type')\n"
    "  if args['types'][kind] then describe(name, kind) end\n"
    "  if args['depth'] >= 0 and level >= args['depth'] then return end\n"
    "  if args['types']['snapshot'] then\n"
    "    for s in zfs.list.snapshots(name) do describe(s, 'snapshot') end\n"
    "  end\n"
    "  if kind == 'filesystem' then\n"
    "    for c in zfs.list.children(name) do walk(c, level + 1) end\n"
    "  end\n"
    "end\n"
    "walk(args['root'], 0)\n"
    "return out\n";

/* The kinds of dataset a property has a value for, where not every kind: {property, kinds}. */
static const char *const only_for[][3] = {
    {"defer_destroy", "snapshot", NULL},
    {"userrefs", "snapshot", NULL},
    {"origin", "filesystem", "volume"},
};

static int cmp_row_names(const void *a, const void *b)
{
	return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* Formats one value from the channel program as `zfs list -Hp` prints it. */
static char *format_value(nvlist_t *props, const char *prop)
{
	nvpair_t *p;
	char buf[64];
	if (nvlist_lookup_nvpair(props, prop, &p) != 0)
		return strdup("-");
	switch (nvpair_type(p)) {
	case DATA_TYPE_STRING:
		return strdup(fnvpair_value_string(p));
	case DATA_TYPE_INT64:
		snprintf(buf, sizeof(buf), "%llu",
			 (unsigned long long)(uint64_t)fnvpair_value_int64(p));
		return strdup(buf);
	case DATA_TYPE_UINT64:
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)fnvpair_value_uint64(p));
		return strdup(buf);
	case DATA_TYPE_BOOLEAN_VALUE:
		return strdup(fnvpair_value_boolean_value(p) ? "on" : "off");
	default:
		return strdup("-");
	}
}

/* Whether a channel program reads prop as zfs does. The encryption properties it does not (seen
 * on OpenZFS 2.1.11: encryption off and pbkdf2 0 on encrypted datasets, no encryptionroot,
 * keystatus none where zfs says -). */
static bool program_reads(const char *prop)
{
	return strcmp(prop, "encryption") != 0 && strncmp(prop, "key", 3) != 0 &&
	       strncmp(prop, "pbkdf2", 6) != 0 && strcmp(prop, "encryptionroot") != 0;
}

/* Lists through list_program; ENOTSUP when it cannot (the caller then runs zfs list). */
static int list_by_program(const char *root, int depth, unsigned types, const char *const *props,
			   size_t nprops, qz_list_t *out)
{
	static const char *const tnames[] = {"filesystem", "volume", "snapshot"};
	if (types & QZ_BOOKMARK)
		return ENOTSUP;
	for (size_t i = 0; i < nprops; i++)
		if (!program_reads(props[i]))
			return ENOTSUP;
	char pool[QZ_NAME_MAX];
	snprintf(pool, sizeof(pool), "%.*s", (int)qz_name_pool_len(root), root);
	nvlist_t *args = fnvlist_alloc(), *pnv = fnvlist_alloc(), *tnv = fnvlist_alloc();
	for (size_t i = 0; i < nprops; i++)
		fnvlist_add_boolean_value(pnv, props[i], B_TRUE);
	fnvlist_add_boolean_value(pnv, "type", B_TRUE);
	for (int i = 0; i < 3; i++)
		if (types & (1u << i))
			fnvlist_add_boolean_value(tnv, tnames[i], B_TRUE);
	nvlist_t *onv = fnvlist_alloc();
	for (size_t i = 0; i < sizeof(only_for) / sizeof(*only_for); i++) {
		nvlist_t *kinds = fnvlist_alloc();
		for (int k = 1; k < 3 && only_for[i][k] != NULL; k++)
			fnvlist_add_boolean_value(kinds, only_for[i][k], B_TRUE);
		fnvlist_add_nvlist(onv, only_for[i][0], kinds);
		fnvlist_free(kinds);
	}
	fnvlist_add_string(args, "root", root);
	fnvlist_add_int64(args, "depth", depth);
	fnvlist_add_nvlist(args, "props", pnv);
	fnvlist_add_nvlist(args, "types", tnv);
	fnvlist_add_nvlist(args, "only_for", onv);
	fnvlist_free(onv);
	nvlist_t *result = NULL, *ret;
	int err = lzc_channel_program_nosync(pool, list_program, 50 * 1000 * 1000, 64 * 1024 * 1024,
					     args, &result);
	fnvlist_free(tnv);
	fnvlist_free(pnv);
	fnvlist_free(args);
	if (err != 0 || nvlist_lookup_nvlist(result, "return", &ret) != 0) {
		if (result != NULL)
			fnvlist_free(result);
		return err == ENOENT ? ENOENT : ENOTSUP;
	}
	size_t n = 0, k = 0;
	for (nvpair_t *p = nvlist_next_nvpair(ret, NULL); p != NULL; p = nvlist_next_nvpair(ret, p))
		n++;
	char ***rows = calloc(n + 1, sizeof(*rows));
	out->cells = calloc(n * out->ncols + 1, sizeof(char *));
	err = rows == NULL || out->cells == NULL ? ENOMEM : 0;
	for (nvpair_t *p = nvlist_next_nvpair(ret, NULL); err == 0 && p != NULL;
	     p = nvlist_next_nvpair(ret, p), k++) {
		nvlist_t *pv = fnvpair_value_nvlist(p);
		if ((rows[k] = calloc(out->ncols, sizeof(char *))) == NULL) {
			err = ENOMEM;
			break;
		}
		rows[k][0] = strdup(nvpair_name(p));
		for (size_t c = 0; c < nprops; c++)
			rows[k][c + 1] = format_value(pv, props[c]);
	}
	qsort(rows, k, sizeof(*rows), cmp_row_names);
	for (size_t r = 0; r < k; r++) {
		memcpy(out->cells + r * out->ncols, rows[r], out->ncols * sizeof(char *));
		free(rows[r]);
	}
	out->nrows = k;
	free(rows);
	fnvlist_free(result);
	return err;
}

/* One property of a dataset or snapshot through list_program, as `zfs get -Hp` prints it;
 * ENOTSUP when the program cannot tell (the caller then runs zfs get). */
static int get_by_program(const char *name, const char *prop, char *buf, size_t len)
{
	qz_list_t l = {.ncols = 2};
	int err = list_by_program(name, 0, QZ_FILESYSTEM | QZ_VOLUME | QZ_SNAPSHOT, &prop, 1, &l);
	if (err == 0 && (l.nrows != 1 || strcmp(qz_list_cell(&l, 0, 0), name) != 0))
		err = ENOTSUP;
	if (err == 0 && (size_t)snprintf(buf, len, "%s", qz_list_cell(&l, 0, 1)) >= len)
		err = ERANGE;
	qz_list_free(&l);
	return err;
}

/* A property: in one ioctl where a channel program reads it as zfs does (not of bookmarks),
 * else by zfs get, a process that costs far more. */
static int real_get_prop(qz_backend_t *be, const char *name, const char *prop, char *buf,
			 size_t len)
{
	if (qz_name_check(name, qz_name_kind_of(name)) != 0)
		return EINVAL;
	if (!exists(name))
		return ENOENT;
	if (strchr(name, '#') == NULL && program_reads(prop)) {
		int err = get_by_program(name, prop, buf, len);
		if (err != ENOTSUP)
			return err;
	}
	char *argv[] = {"zfs", "get", "-Hp", "-o", "value", (char *)prop, (char *)name, NULL};
	return get_value(be, argv, buf, len);
}

static int real_list(qz_backend_t *be, const char *root, int depth, unsigned types,
		     const char *const *props, size_t nprops, qz_list_t *out)
{
	memset(out, 0, sizeof(*out));
	out->ncols = nprops + 1;
	if (root == NULL ? depth >= 0 : qz_name_check(root, QZ_NAME_DATASET) != 0)
		return EINVAL;
	if (root != NULL && !lzc_exists(root))
		return ENOENT;
	if (depth >= 0) { /* bounded listings, the engine's per-volume ones: one ioctl */
		int err = list_by_program(root, depth, types, props, nprops, out);
		if (err != ENOTSUP)
			return err;
		qz_list_free(out);
		out->ncols = nprops + 1;
	}
	char cols[2048] = "name", typ[64] = "", dep[32];
	for (size_t i = 0; i < nprops; i++) {
		size_t n = strlen(cols);
		if ((size_t)snprintf(cols + n, sizeof(cols) - n, ",%s", props[i]) >=
		    sizeof(cols) - n)
			return E2BIG;
	}
	static const char *const tnames[] = {"filesystem", "volume", "snapshot", "bookmark"};
	for (int i = 0; i < 4; i++)
		if (types & (1u << i))
			snprintf(typ + strlen(typ), sizeof(typ) - strlen(typ), "%s%s",
				 typ[0] != '\0' ? "," : "", tnames[i]);
	snprintf(dep, sizeof(dep), "%d", depth);
	char *argv[12];
	int a = 0;
	argv[a++] = "zfs";
	argv[a++] = "list";
	argv[a++] = "-Hp";
	argv[a++] = "-o";
	argv[a++] = cols;
	argv[a++] = "-t";
	argv[a++] = typ;
	if (depth < 0) {
		argv[a++] = "-r";
	} else {
		argv[a++] = "-d";
		argv[a++] = dep;
	}
	if (root != NULL)
		argv[a++] = (char *)root;
	argv[a] = NULL;
	struct qz_spawn_out o;
	int err = run_zfs(be, argv, &o);
	if (err != 0)
		return err;
	err = parse_listing(o.out, out);
	qz_spawn_free(&o);
	if (err != 0)
		qz_list_free(out);
	return err;
}

static bool real_exists(qz_backend_t *be, const char *name)
{
	(void)be;
	return exists(name);
}

static int real_load_key(qz_backend_t *be, const char *root, const uint8_t *wkey, size_t wkeylen,
			 bool noop)
{
	(void)be;
	return lzc_load_key(root, noop, (uint8_t *)wkey, (uint_t)wkeylen);
}

static int real_unload_key(qz_backend_t *be, const char *root)
{
	(void)be;
	int err, rounds = 0;
	do
		err = lzc_unload_key(root);
	while (retry_busy(err, &rounds));
	return err;
}

static int real_inherit_key(qz_backend_t *be, const char *root)
{
	(void)be;
	return lzc_change_key(root, DCP_CMD_INHERIT, NULL, NULL, 0);
}

static int real_change_key(qz_backend_t *be, const char *root, const qz_prop_t *props,
			   size_t nprops, const uint8_t *wkey, size_t wkeylen)
{
	nvlist_t *nv;
	int err = props_to_nvlist(be, props, nprops, &nv);
	if (err != 0)
		return err;
	err = lzc_change_key(root, DCP_CMD_NEW_KEY, nv, (uint8_t *)wkey, (uint_t)wkeylen);
	fnvlist_free(nv);
	return err;
}

static int real_send(qz_backend_t *be, const char *snap, const char *from, int fd, unsigned flags,
		     uint64_t resume_obj, uint64_t resume_off)
{
	(void)be;
	if (resume_obj != 0 || resume_off != 0)
		return lzc_send_resume(snap, from, fd, (enum lzc_send_flags)flags, resume_obj,
				       resume_off);
	return lzc_send(snap, from, fd, (enum lzc_send_flags)flags);
}

static int real_send_space(qz_backend_t *be, const char *snap, const char *from, unsigned flags,
			   uint64_t *bytes)
{
	(void)be;
	return lzc_send_space(snap, from, (enum lzc_send_flags)flags, bytes);
}

static int real_receive(qz_backend_t *be, const char *snap, int fd, bool resumable, bool raw,
			bool force)
{
	(void)be;
	if (resumable)
		return lzc_receive_resumable(snap, NULL, NULL, force, raw, fd);
	return lzc_receive(snap, NULL, NULL, force, raw, fd);
}

/*
 * Opens vol's device once it is there and really is vol, and stores its path: udev's link
 * /dev/zvol/<vol> normally. If no device shows up at once, a missing key is the likely reason
 * (said at once); if udev's link is still missing after a while (udev overwhelmed, or a link
 * lost between the removal and the re-creation of a volume of the same name), the kernel's
 * own node /dev/zdN, found and checked by the zvol's ioctl, is used.
 */
static int open_checked(qz_backend_t *be, const char *vol, int oflags, int *fdp, char *path,
			size_t len)
{
	char link[QZ_NAME_MAX + 16];
	if (qz_name_check(vol, QZ_NAME_DATASET) != 0)
		return EINVAL;
	if ((size_t)snprintf(link, sizeof(link), "/dev/zvol/%s", vol) >= sizeof(link))
		return ENAMETOOLONG;
	if (!lzc_exists(vol))
		return ENOENT;
	int err = qz_zvol_wait_open(link, vol, oflags, KEY_CHECK_MS, fdp);
	if (err == ETIMEDOUT) {
		char status[32] = "";
		if (real_get_prop(be, vol, "keystatus", status, sizeof(status)) == 0 &&
		    strcmp(status, "unavailable") == 0)
			return qz_be_fail(be, EACCES, "the encryption key of %s is not loaded",
					  vol);
	}
	if (err == ETIMEDOUT || err == EBUSY)
		err = qz_zvol_wait_open(link, vol, oflags, LINK_WAIT_MS - KEY_CHECK_MS, fdp);
	if (err == EBUSY)
		return qz_be_fail(be, EBUSY, "the device of %s stayed busy for %d s", vol,
				  LINK_WAIT_MS / 1000);
	if (err == ETIMEDOUT) {
		for (int waited = LINK_WAIT_MS; waited < ZVOL_WAIT_MS; waited += 100) {
			if ((err = qz_zvol_find_node(vol, oflags, path, len, fdp)) != ENOENT)
				return err;
			struct timespec nap = {0, 100 * 1000 * 1000};
			nanosleep(&nap, NULL);
		}
		return qz_be_fail(be, ETIMEDOUT, "no device for %s within %d s", vol,
				  ZVOL_WAIT_MS / 1000);
	}
	if (err == 0 && (size_t)snprintf(path, len, "%s", link) >= len) {
		close(*fdp);
		err = ENAMETOOLONG;
	}
	return err;
}

static int real_zvol_path(qz_backend_t *be, const char *vol, char *buf, size_t len)
{
	int fd, err = open_checked(be, vol, O_RDONLY, &fd, buf, len);
	if (err == 0)
		close(fd);
	return err;
}

static int real_zvol_open(qz_backend_t *be, const char *vol, int oflags, int *fdp)
{
	char path[QZ_NAME_MAX + 16];
	int err = open_checked(be, vol, oflags, fdp, path, sizeof(path));
	if (err == 0)
		(void)ioctl(*fdp, BLKFLSBUF, 0); /* never read a cached view of an older state */
	return err;
}

static int real_pool_create(qz_backend_t *be, const char *pool, const char *const *devices,
			    size_t n)
{
	char *argv[64];
	size_t a = 0;
	const char *fixed[] = {"zpool", "create",
			       "-o",	"ashift=12",
			       "-o",	"autotrim=on",
			       "-O",	"compression=lz4",
			       "-O",	"mountpoint=none",
			       "-O",	"volmode=dev",
			       "-O",	"qubes-zfs:role=zpool"};
	if (n == 0 || n > 40)
		return qz_be_fail(be, EINVAL, "give between 1 and 40 block devices");
	for (size_t i = 0; i < sizeof(fixed) / sizeof(*fixed); i++)
		argv[a++] = (char *)fixed[i];
	argv[a++] = (char *)pool;
	for (size_t i = 0; i < n; i++)
		argv[a++] = (char *)devices[i];
	argv[a] = NULL;
	struct qz_spawn_out o;
	int err = run_zfs(be, argv, &o);
	if (err == 0)
		qz_spawn_free(&o);
	return err;
}

static const struct qz_backend_ops real_ops = {
    .name = "real",
    .close = real_close,
    .create = real_create,
    .snapshot = real_snapshot,
    .clone = real_clone,
    .promote = real_promote,
    .rename = real_rename,
    .destroy = real_destroy,
    .destroy_snaps = real_destroy_snaps,
    .destroy_all = real_destroy_all,
    .rollback = real_rollback,
    .bookmark = real_bookmark,
    .destroy_bookmark = real_destroy_bookmark,
    .hold = real_hold,
    .release = real_release,
    .get_prop = real_get_prop,
    .zpool_get = real_zpool_get,
    .set_prop = real_set_prop,
    .list = real_list,
    .exists = real_exists,
    .load_key = real_load_key,
    .unload_key = real_unload_key,
    .change_key = real_change_key,
    .inherit_key = real_inherit_key,
    .send = real_send,
    .send_space = real_send_space,
    .receive = real_receive,
    .zvol_open = real_zvol_open,
    .zvol_path = real_zvol_path,
    .pool_create = real_pool_create,
};

int qz_backend_real_open(qz_backend_t **bep)
{
	int err = libzfs_core_init();
	if (err != 0)
		return err;
	qz_backend_t *be = calloc(1, sizeof(*be));
	if (be == NULL) {
		libzfs_core_fini();
		return ENOMEM;
	}
	be->ops = &real_ops;
	*bep = be;
	return 0;
}
