/* SPDX-License-Identifier: BSD-2-Clause */
#include "family.h"

#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a family needs of each dataset; the column numbers (0 is the name) follow. */
static const char *const cols[] = {"type",	 "createtxg",	"creation",
				   "volsize",	 "origin",	"defer_destroy",
				   "referenced", QZ_DIRTY_PROP, QZ_ROLE_PROP};
enum { C_TYPE = 1, C_TXG, C_CREATION, C_VOLSIZE, C_ORIGIN, C_DEFER, C_REFER, C_DIRTY, C_ROLE };

int fam_name(char *buf, const char *a, char sep, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la + 1 + lb >= QZ_NAME_MAX)
		return ENAMETOOLONG;
	memcpy(buf, a, la);
	buf[la] = sep;
	memcpy(buf + la + 1, b, lb + 1);
	return 0;
}

/* The suffix of name if it is vol or "vol:<suffix>", else NULL. */
static const char *member_suffix(const char *vol, const char *name)
{
	size_t n = strlen(vol);
	if (strncmp(name, vol, n) != 0)
		return NULL;
	if (name[n] == '\0')
		return "";
	return name[n] == ':' ? name + n + 1 : NULL;
}

static uint64_t num(const char *s)
{
	return s != NULL ? strtoull(s, NULL, 10) : 0;
}

int fam_list(qz_backend_t *be, const char *dir, int depth, qz_list_t *l)
{
	return be->ops->list(be, dir, depth, QZ_FILESYSTEM | QZ_VOLUME | QZ_SNAPSHOT, cols,
			     sizeof(cols) / sizeof(*cols), l);
}

int fam_load(qz_backend_t *be, const char *vol, family_t *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->vol, sizeof(f->vol), "%s", vol);
	char dir[QZ_NAME_MAX];
	if (qz_name_parent(vol, dir, sizeof(dir)) != 0)
		return EINVAL;
	qz_list_t l;
	int err = fam_list(be, dir, 2, &l);
	if (err == ENOENT)
		return 0;
	if (err != 0)
		return err;
	err = fam_from_list(&l, vol, f);
	f->raw = l; /* the family points into it: it lives as long as the family */
	if (err != 0)
		fam_free(f);
	return err;
}

/* N of a revision's snapshot name "r<N>" (N from 1, no leading 0), else 0. */
static unsigned rev_number(const char *shortname)
{
	char *end;
	if (shortname[0] != 'r' || shortname[1] < '1' || shortname[1] > '9')
		return 0;
	unsigned long v = strtoul(shortname + 1, &end, 10);
	return *end == '\0' && v < 1000000000UL ? (unsigned)v : 0;
}

int fam_from_list(const qz_list_t *l, const char *vol, family_t *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->vol, sizeof(f->vol), "%s", vol);
	char dir[QZ_NAME_MAX];
	qz_name_parent(vol, dir, sizeof(dir));
	f->snaps = calloc(l->nrows + 1, sizeof(*f->snaps));
	if (f->snaps == NULL)
		return ENOMEM;
	/* datasets first, so that snapshots can name theirs */
	for (size_t r = 0; r < l->nrows; r++) {
		const char *name = qz_list_cell(l, r, 0);
		if (strcmp(name, dir) == 0)
			f->dir_role = qz_list_cell(l, r, C_ROLE);
		const char *sfx = member_suffix(vol, name);
		if (sfx == NULL || strcmp(qz_list_cell(l, r, C_TYPE), "volume") != 0)
			continue;
		if (f->nds == sizeof(f->ds) / sizeof(f->ds[0]))
			return E2BIG;
		fam_ds_t *d = &f->ds[f->nds++];
		d->name = name;
		d->suffix = sfx;
		d->origin = qz_list_cell(l, r, C_ORIGIN);
		d->volsize = num(qz_list_cell(l, r, C_VOLSIZE));
		d->referenced = num(qz_list_cell(l, r, C_REFER));
		d->dirty_prop = strcmp(qz_list_cell(l, r, C_DIRTY), "1") == 0;
	}
	for (size_t r = 0; r < l->nrows; r++) {
		const char *name = qz_list_cell(l, r, 0);
		const char *at = strchr(name, '@');
		if (at == NULL)
			continue;
		char head[QZ_NAME_MAX];
		qz_name_dataset(name, head, sizeof(head));
		const char *sfx = member_suffix(vol, head);
		long di = sfx != NULL ? fam_ds(f, sfx) : -1;
		if (di < 0)
			continue;
		fam_snap_t *s = &f->snaps[f->nsnaps++];
		s->name = name;
		s->shortname = at + 1;
		s->ds = (size_t)di;
		s->createtxg = num(qz_list_cell(l, r, C_TXG));
		s->creation = num(qz_list_cell(l, r, C_CREATION));
		s->deferred = strcmp(qz_list_cell(l, r, C_DEFER), "on") == 0;
		s->rev = rev_number(s->shortname);
	}
	return 0;
}

void fam_note_taken(family_t *f, const char *snap)
{
	long live = fam_ds(f, "");
	const char *at = strchr(snap, '@');
	if (live < 0 || at == NULL)
		return;
	uint64_t newest = 0;
	for (size_t i = 0; i < f->nsnaps; i++)
		newest = f->snaps[i].createtxg > newest ? f->snaps[i].createtxg : newest;
	/* the room: fam_from_list made one slot per row, and the live dataset's row is no
	 * snapshot; its creation time is left 0 (a current state's time is never told) */
	f->snaps[f->nsnaps++] =
	    (fam_snap_t){snap, at + 1, (size_t)live, newest + 1, 0, false, rev_number(at + 1)};
}

void fam_just_made(family_t *f, const char *vol, const char *origin, uint64_t volsize,
		   uint64_t referenced)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->vol, sizeof(f->vol), "%s", vol);
	f->ds[0] = (fam_ds_t){f->vol, "", origin, volsize, referenced, false};
	f->nds = 1;
}

void fam_note_gone(family_t *f, const char *snap)
{
	for (size_t i = 0; i < f->nsnaps; i++)
		if (strcmp(f->snaps[i].name, snap) == 0) {
			memmove(&f->snaps[i], &f->snaps[i + 1],
				(f->nsnaps - i - 1) * sizeof(f->snaps[0]));
			f->nsnaps--;
			return;
		}
}

void fam_free(family_t *f)
{
	free(f->snaps);
	f->snaps = NULL;
	qz_list_free(&f->raw);
}

long fam_ds(const family_t *f, const char *suffix)
{
	for (size_t i = 0; i < f->nds; i++)
		if (strcmp(f->ds[i].suffix, suffix) == 0)
			return (long)i;
	return -1;
}

const fam_snap_t *fam_snap(const family_t *f, const char *name)
{
	for (size_t i = 0; i < f->nsnaps; i++)
		if (strcmp(f->snaps[i].name, name) == 0)
			return &f->snaps[i];
	return NULL;
}

const fam_snap_t *fam_current(const family_t *f)
{
	long live = fam_ds(f, "");
	if (live < 0)
		return NULL;
	const fam_snap_t *best = NULL;
	for (size_t i = 0; i < f->nsnaps; i++) {
		const fam_snap_t *s = &f->snaps[i];
		if (s->ds == (size_t)live && s->rev != 0 && !s->deferred &&
		    (best == NULL || s->createtxg > best->createtxg))
			best = s;
	}
	if (best != NULL)
		return best;
	const fam_snap_t *o = fam_snap(f, f->ds[live].origin);
	return o != NULL && o->rev != 0 ? o : NULL;
}

bool fam_running(const family_t *f)
{
	long live = fam_ds(f, "");
	if (live < 0)
		return false;
	if (f->ds[live].dirty_prop)
		return true;
	const fam_snap_t *cur = fam_current(f);
	for (size_t i = 0; i < f->nsnaps; i++) {
		const fam_snap_t *s = &f->snaps[i];
		if (s->ds == (size_t)live && strcmp(s->shortname, QZ_RUNNING_SNAP) == 0)
			return cur == NULL || s->createtxg > cur->createtxg;
	}
	return false;
}

unsigned fam_next_rev(const family_t *f)
{
	unsigned max = 0;
	for (size_t i = 0; i < f->nsnaps; i++)
		if (f->snaps[i].rev > max)
			max = f->snaps[i].rev;
	return max + 1;
}

unsigned fam_next_gen(const family_t *f)
{
	unsigned max = 0;
	for (size_t i = 0; i < f->nds; i++) {
		const char *s = f->ds[i].suffix;
		if (s[0] == 'g') {
			unsigned long v = strtoul(s + 1, NULL, 10);
			if (v > max && v < 1000000000UL)
				max = (unsigned)v;
		}
	}
	return max + 1;
}

int qz_prop_u64(qz_backend_t *be, const char *name, const char *prop, uint64_t *v)
{
	char buf[64];
	int err = be->ops->get_prop(be, name, prop, buf, sizeof(buf));
	if (err != 0)
		return err;
	char *end;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	return errno == 0 && *end == '\0' && end != buf ? 0 : EINVAL;
}
