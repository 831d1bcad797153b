/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dom0's records of backups to a ZFS-receiving qube, sealed beside them (replica.h): given a key
 * (--key-file or --passphrase-fd), `backup zfs create` seals each whole backup's record into a
 * sealed store (--sealed-target; for qube:NAME by default that qube's own sealed store), and on
 * a dom0 without them (a fresh one) `backup zfs restore`, `list` and `verify` take them back
 * from there, opened with the key: the records are what dom0 authenticates the qube's streams
 * against, so without them nothing could be restored.
 */
#include "backup_cli.h"
#include "error.h"
#include "replica.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qz_cli_zfs_records_beside(qz_cli_t *cli, const struct opts *o, const char *default_state,
			      struct opts *s, char *base, size_t len)
{
	*s = *o;
	s->target = o->sealed_target;
	if (s->target == NULL && o->target != NULL && strncmp(o->target, "qube:", 5) == 0)
		s->target = o->target; /* the backup qube's own sealed store */
	if (s->target == NULL)
		return qz_cli_usage(cli,
				    "with a key, give --sealed-target T: the sealed store "
				    "(dir:PATH, qube:NAME, exec:CMD) that keeps dom0's records");
	if ((size_t)snprintf(base, len, "%s/sealed", o->state != NULL ? o->state : default_state) >=
	    len)
		return qz_cli_usage(cli, "--state is too long");
	s->state = base;
	return 0;
}

int qz_cli_zfs_records_open(qz_cli_t *cli, const struct opts *o, const char *default_state,
			    struct qz_cli_zfs_records *r)
{
	memset(r, 0, sizeof(*r));
	if (o->key_file == NULL && o->pass_fd < 0)
		return 0; /* the records stay in dom0 alone */
	struct opts s;
	char base[3800], made[3800];
	int rc = qz_cli_zfs_records_beside(cli, o, default_state, &s, base, sizeof(base));
	if (rc == 0)
		rc = qz_cli_state_base(cli, &s, default_state, made, sizeof(made));
	if (rc == 0)
		rc = qz_cli_sealing_key(cli, &s, made, &r->kdf, &r->key);
	if (rc == 0)
		rc = qz_cli_open_target(cli, false, s.target, &r->t);
	if (rc == 0)
		rc = qz_cli_target_state(cli, &s, default_state, false, r->t, r->state,
					 sizeof(r->state));
	r->bo = (qz_backup_opts_t){
	    .state_dir = r->state, .key = r->key, .kdf = o->key_file == NULL ? &r->kdf : NULL};
	if (rc != 0)
		qz_cli_zfs_records_close(r);
	return rc;
}

void qz_cli_zfs_records_close(struct qz_cli_zfs_records *r)
{
	if (r->t != NULL)
		qz_target_close(r->t);
	qz_seal_key_free(r->key);
	memset(r, 0, sizeof(*r));
}

/* Whether records all[0..n) hold a whole document named name. */
static bool has_document(const qz_backup_rec_t *all, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (all[i].document && all[i].complete && strcmp(all[i].volume, name) == 0)
			return true;
	return false;
}

int qz_cli_zfs_records_seal(qz_cli_t *cli, struct qz_cli_zfs_records *r, const char *zstate)
{
	if (r->t == NULL)
		return QZ_EXIT_OK;
	qz_backup_rec_t *recs = NULL, *docs = NULL;
	size_t nrecs = 0, ndocs = 0, sealed = 0;
	char why[300] = "";
	int err = qz_backup_rec_list(zstate, &recs, &nrecs);
	if (err == 0)
		err = qz_backup_rec_list(r->state, &docs, &ndocs);
	if (err != 0)
		snprintf(why, sizeof(why), "dom0's records: %s", strerror(err));
	for (size_t i = 0; err == 0 && i < nrecs; i++) {
		char name[QZ_NAME_MAX];
		qz_replica_doc_name(name, sizeof(name), recs[i].id);
		if (!recs[i].complete || recs[i].document || has_document(docs, ndocs, name))
			continue;
		uint8_t *doc = NULL;
		size_t len = 0;
		qz_backup_rec_t rec;
		err = qz_replica_record_doc(zstate, recs[i].id, &doc, &len, why, sizeof(why));
		if (err == 0)
			err = qz_backup_put_document(r->t, &r->bo, name, doc, len, &rec, why,
						     sizeof(why));
		free(doc);
		sealed += err == 0;
	}
	free(recs);
	free(docs);
	if (err != 0)
		return qz_cli_refused(cli, err, why);
	if (sealed > 0 && !cli->json)
		printf("dom0's records of %zu backups sealed beside them\n", sealed);
	return QZ_EXIT_OK;
}

int qz_cli_zfs_records_fetch(qz_cli_t *cli, const struct opts *o, const char *default_state,
			     const char *zstate)
{
	if (o->key_file == NULL && o->pass_fd < 0)
		return QZ_EXIT_OK;
	struct opts s;
	char base[3800];
	int rc = qz_cli_zfs_records_beside(cli, o, default_state, &s, base, sizeof(base));
	struct qz_cli_session ss;
	if (rc != 0 || (rc = qz_cli_session_open(cli, &s, &ss)) != 0)
		return rc;
	rc = qz_cli_zfs_records_take(cli, &s, &ss, zstate);
	qz_cli_session_close(&ss);
	return rc;
}

int qz_cli_zfs_records_take(qz_cli_t *cli, const struct opts *s, struct qz_cli_session *ss,
			    const char *zstate)
{
	qz_backup_rec_t *all = NULL;
	size_t n = 0, unopened = 0, adopted = 0;
	char dir[4096] = "";
	if (qz_cli_target_state(cli, s, s->state, false, NULL, dir, sizeof(dir)) != 0)
		dir[0] = 0;
	char why[300] = "";
	int err =
	    qz_cli_discover(s, s->state, ss->t, &ss->secret, &all, &n, &unopened, why, sizeof(why));
	size_t plen = strlen(QZ_REPLICA_DOC_PREFIX);
	for (size_t i = 0; err == 0 && i < n; i++) {
		const char *id = all[i].volume + plen;
		qz_backup_rec_t mine;
		if (!all[i].document || !all[i].complete ||
		    strncmp(all[i].volume, QZ_REPLICA_DOC_PREFIX, plen) != 0 ||
		    qz_backup_rec_read(zstate, id, &mine) != ENOENT)
			continue; /* another document, or a backup dom0 knows */
		void *doc = NULL;
		size_t len = 0;
		err = qz_backup_get_document(ss->t, &ss->secret, &all[i], &doc, &len, why,
					     sizeof(why));
		if (err == 0)
			err = qz_replica_record_adopt(zstate, id, doc, len, why, sizeof(why));
		free(doc);
		/* and this dom0's record of the sealed one (a prune deletes it with the backup) */
		if (err == 0 && dir[0] != 0 && qz_backup_rec_write(dir, &all[i]) != 0)
			dir[0] = 0;
		adopted += err == 0;
	}
	free(all);
	if (err != 0)
		return qz_cli_refused(cli, err, why);
	if (adopted > 0)
		qz_cli_say(cli, "dom0's records of %zu backups taken back from %s", adopted,
			   s->target);
	return QZ_EXIT_OK;
}

/* Whether id is among ids[0..n). */
static bool among(const char *id, const char (*ids)[QZ_BACKUP_ID_HEX + 1], size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

int qz_cli_zfs_records_forget(qz_cli_t *cli, const struct opts *o, const char *default_state,
			      const char (*ids)[QZ_BACKUP_ID_HEX + 1], size_t n)
{
	struct opts s;
	char base[3800], dir[4096];
	if (o->sealed_target == NULL && strncmp(o->target, "qube:", 5) != 0)
		return QZ_EXIT_OK; /* none was named: nothing sealed is known */
	int rc = qz_cli_zfs_records_beside(cli, o, default_state, &s, base, sizeof(base));
	if (rc != 0 || !qz_cli_target_state_known(base, s.target, dir, sizeof(dir)))
		return rc;
	qz_backup_rec_t *docs = NULL;
	qz_target_entry_t *e = NULL;
	size_t ndocs = 0, ne = 0, plen = strlen(QZ_REPLICA_DOC_PREFIX);
	qz_target_t *t = NULL;
	char why[300] = "";
	int err = qz_backup_rec_list(dir, &docs, &ndocs);
	if (err != 0)
		snprintf(why, sizeof(why), "%.200s: %s", dir, strerror(err));
	for (size_t i = 0; err == 0 && i < ndocs; i++) {
		if (!docs[i].document ||
		    strncmp(docs[i].volume, QZ_REPLICA_DOC_PREFIX, plen) != 0 ||
		    !among(docs[i].volume + plen, ids, n))
			continue;
		if (t == NULL && (rc = qz_cli_open_target(cli, false, s.target, &t)) != 0)
			break;
		if (e == NULL && (err = qz_target_list(t, &e, &ne, why, sizeof(why))) != 0)
			break;
		err = qz_backup_remove_sealed(t, &docs[i], e, ne, why, sizeof(why));
		if (err == 0 && (err = qz_backup_rec_remove(dir, docs[i].id)) != 0)
			snprintf(why, sizeof(why), "%.200s: %s", dir, strerror(err));
	}
	if (t != NULL)
		qz_target_close(t);
	free(e);
	free(docs);
	return rc != 0 ? rc : err != 0 ? qz_cli_refused(cli, err, why) : QZ_EXIT_OK;
}
