/* SPDX-License-Identifier: BSD-2-Clause */
/* What dom0 makes of a ZFS-receiving backup qube's answers (see replica.h): the names it lists,
 * the partial receive it reports, what it is asked to delete. Nothing here reaches ZFS. */
#include "replica.h"
#include "token.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool qz_replica_names(const char *name, const char *id)
{
	return strlen(name) == 2 * QZ_REPLICA_ID_LEN + 1 && name[QZ_REPLICA_ID_LEN] == '.' &&
	       strncmp(name + QZ_REPLICA_ID_LEN + 1, id, QZ_REPLICA_ID_LEN) == 0;
}

void qz_replica_name(char *buf, size_t len, const qz_backup_rec_t *all, const size_t *chain,
		     size_t k, bool with_base)
{
	const char *key = all[chain[0]].id, *id = all[chain[k]].id;
	if (with_base && k > 0)
		snprintf(buf, len, "%.16s.%.16s.%.16s", key, id, all[chain[k - 1]].id);
	else
		snprintf(buf, len, "%.16s.%.16s", key, id);
}

int qz_replica_partial(qz_target_t *t, const char *key, const qz_transfer_t *tr, char *token,
		       size_t tokenlen, uint64_t *received, char *why, size_t whylen)
{
	*received = 0;
	int err = qz_target_token(t, key, token, tokenlen, why, whylen);
	if (err == ENOENT) {
		token[0] = 0;
		return 0;
	}
	if (err != 0)
		return err;
	qz_token_t tk;
	qz_resume_t plan;
	char ignored[200];
	if (qz_token_parse(token, &tk, ignored, sizeof(ignored)) == 0 &&
	    qz_token_plan(&tk, tr, &plan, ignored, sizeof(ignored)) == 0) {
		*received = tk.bytes;
		return 0;
	}
	token[0] = 0; /* not ours, or malformed: whatever it is goes */
	return qz_target_abort(t, key, why, whylen);
}

bool qz_replica_holds(qz_target_t *t, const char *name, uint64_t guid)
{
	qz_target_entry_t *e = NULL;
	size_t n = 0;
	char why[200];
	bool found = false;
	if (qz_target_list(t, &e, &n, why, sizeof(why)) != 0)
		return false;
	for (size_t i = 0; i < n && !found; i++)
		found = strcmp(e[i].name, name) == 0 && e[i].size == guid;
	free(e);
	return found;
}

int qz_replica_remove(qz_target_t *t, const qz_backup_rec_t *r, const qz_target_entry_t *e,
		      size_t ne, char *why, size_t whylen)
{
	/* found by its id, whichever chain it is in: the records that name the chain may be
	 * gone already (a prune interrupted after the full backup's) */
	int err = 0;
	for (size_t i = 0; i < ne && err == 0; i++)
		if (qz_replica_names(e[i].name, r->id))
			err = qz_target_delete(t, e[i].name, why, whylen);
	return err;
}
