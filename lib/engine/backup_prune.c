/* SPDX-License-Identifier: BSD-2-Clause */
/* `backup prune`: which backups retention lets go, and letting them go (see backup.h). */
#include "backup.h"
#include "why.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keeps backup i and, through the bookmarks that link each incremental backup to the one it was
 * made from, every backup of its chain. */
static void keep_chain(const qz_backup_rec_t *all, size_t n, size_t i, bool *drop)
{
	for (;;) {
		drop[i] = false;
		if (all[i].base[0] == 0)
			return;
		size_t j = n;
		for (size_t k = 0; k < n; k++)
			if (strcmp(all[k].bookmark, all[i].base) == 0 &&
			    strcmp(all[k].volume, all[i].volume) == 0)
				j = k;
		if (j == n || !drop[j])
			return; /* its base is gone already, or kept with its own chain */
		i = j;
	}
}

void qz_backup_prune_plan(const qz_backup_rec_t *all, size_t n, const qz_backup_keep_t *k,
			  bool *drop)
{
	uint64_t last = k->last > 0 ? k->last : 1;
	uint64_t since = k->days > 0 && k->now > k->days * 86400 ? k->now - k->days * 86400 : 0;
	for (size_t i = 0; i < n; i++)
		drop[i] = true;
	for (size_t i = n; i-- > 0;) {
		/* the decisions for a volume are made at its newest backup */
		bool newest = true;
		for (size_t j = i + 1; j < n && newest; j++)
			newest = strcmp(all[j].volume, all[i].volume) != 0;
		if (!newest)
			continue;
		if (!all[i].complete)
			keep_chain(all, n, i, drop); /* may be resumed */
		uint64_t whole = 0;
		for (size_t j = i + 1; j-- > 0;) {
			if (!all[j].complete || strcmp(all[j].volume, all[i].volume) != 0)
				continue;
			if (whole++ < last || (since > 0 && all[j].created >= since))
				keep_chain(all, n, j, drop);
		}
	}
}

int qz_backup_remove_sealed(qz_target_t *t, const qz_backup_rec_t *r, const qz_target_entry_t *e,
			    size_t ne, char *why, size_t whylen)
{
	char name[80];
	qz_backup_object(name, sizeof(name), r->id, QZ_BACKUP_HEADER);
	int err = qz_target_delete(t, name, why, whylen);
	size_t idlen = strlen(r->id);
	for (size_t i = 0; i < ne && err == 0; i++)
		if (strncmp(e[i].name, r->id, idlen) == 0 && e[i].name[idlen] == '.')
			err = qz_target_delete(t, e[i].name, why, whylen);
	return err;
}

static bool wanted(const char *vol, const char *const *vols, size_t nvols)
{
	for (size_t i = 0; i < nvols; i++)
		if (strcmp(vols[i], vol) == 0)
			return true;
	return nvols == 0;
}

int qz_backup_prune(qz_backend_t *be, qz_target_t *t, const char *state_dir,
		    const qz_backup_keep_t *k, const char *const *vols, size_t nvols, bool dry_run,
		    qz_backup_remove_fn remove,
		    void (*dropped)(void *ctx, const qz_backup_rec_t *r), void *ctx, char *why,
		    size_t whylen)
{
	qz_backup_rec_t *all = NULL;
	size_t n = 0;
	int err = qz_backup_rec_list(state_dir, &all, &n);
	if (err != 0)
		return qz_why(why, whylen, err, "%s: %s", state_dir, strerror(err));
	bool *drop = calloc(n + 1, sizeof(*drop));
	qz_target_entry_t *e = NULL;
	size_t ne = 0;
	if (drop == NULL)
		err = qz_why(why, whylen, ENOMEM, "out of memory");
	else if (!dry_run)
		err = qz_target_list(t, &e, &ne, why, whylen);
	if (err == 0)
		qz_backup_prune_plan(all, n, k, drop);
	for (size_t i = 0; i < n && err == 0; i++) {
		if (!drop[i] || !wanted(all[i].volume, vols, nvols))
			continue;
		if (!dry_run && (err = remove(t, &all[i], e, ne, why, whylen)) != 0)
			break;
		if (!dry_run) {
			if (!all[i].complete)
				qz_backup_let_go(be, state_dir, &all[i]);
			if (all[i].bookmark[0] != 0 && be->ops->exists(be, all[i].bookmark))
				(void)be->ops->destroy_bookmark(be, all[i].bookmark);
			if ((err = qz_backup_rec_remove(state_dir, all[i].id)) != 0) {
				qz_why(why, whylen, err, "removing the record of %s: %s", all[i].id,
				       strerror(err));
				break;
			}
		}
		if (dropped != NULL)
			dropped(ctx, &all[i]);
	}
	free(e);
	free(drop);
	free(all);
	return err;
}
