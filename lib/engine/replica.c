/* SPDX-License-Identifier: BSD-2-Clause */
/* Backups of encrypted volumes to a ZFS-receiving backup qube (see replica.h). */
#include "replica.h"

#include "digest.h"
#include "engine.h"
#include "error.h"
#include "stream.h"
#include "token.h"
#include "why.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* dom0's records, read once per call. */
typedef struct records {
	qz_backup_rec_t *all;
	size_t n;
	size_t *chain; /* room for n */
} records_t;

static int records_load(const char *state_dir, records_t *r, char *why, size_t whylen)
{
	memset(r, 0, sizeof(*r));
	int err = qz_backup_rec_list(state_dir, &r->all, &r->n);
	if (err == 0 && (r->chain = calloc(r->n + 1, sizeof(size_t))) == NULL)
		err = ENOMEM;
	if (err != 0) {
		free(r->all);
		return qz_why(why, whylen, err, "reading the records in %s: %s", state_dir,
			      strerror(err));
	}
	return 0;
}

static void records_free(records_t *r)
{
	free(r->all);
	free(r->chain);
}

/* The name rec has (or will have) on the target: its chain's key is its own id for a full
 * backup, else that of the chain of the backup whose bookmark is its base. */
static int target_name(const records_t *r, const qz_backup_rec_t *rec, char *name, size_t len,
		       char *key, char *why, size_t whylen)
{
	const char *k = rec->id;
	if (rec->base[0] != 0) {
		size_t len_chain = 0;
		for (size_t j = r->n; j-- > 0 && len_chain == 0;)
			if (r->all[j].complete && strcmp(r->all[j].bookmark, rec->base) == 0)
				len_chain = qz_backup_chain(r->all, r->n, j, r->chain);
		if (len_chain == 0)
			return qz_why(why, whylen, ENOENT,
				      "the chain that backup %s continues is not in dom0's records",
				      rec->id);
		k = r->all[r->chain[0]].id;
	}
	snprintf(key, QZ_BACKUP_ID_HEX + 1, "%.16s", k);
	snprintf(name, len, "%.16s.%.16s", k, rec->id);
	return 0;
}

/* The unfinished backup of vol to resume: the newest of vol's records when it is unfinished
 * and its snapshot is still there. */
static bool unfinished(qz_backend_t *be, const records_t *r, const char *vol, qz_backup_rec_t *rec)
{
	for (size_t i = r->n; i-- > 0;) {
		if (strcmp(r->all[i].volume, vol) != 0)
			continue;
		if (r->all[i].complete || !be->ops->exists(be, r->all[i].snapshot))
			return false;
		*rec = r->all[i];
		return true;
	}
	return false;
}

/* A new backup of vol as planned from the records: its record written. */
static int begin(qz_backend_t *be, const qz_backup_opts_t *o, const char *vol, qz_backup_rec_t *rec,
		 qz_transfer_t *tr, char *why, size_t whylen)
{
	qz_backup_rec_t last;
	bool incremental = false;
	memset(rec, 0, sizeof(*rec));
	int err = qz_backup_plan(be, o, vol, rec, &last, &incremental, tr, why, whylen);
	if (err == EALREADY)
		*rec = last;
	if (err != 0)
		return err;
	if (!tr->raw)
		return qz_why(why, whylen, EPERM,
			      "%s is not encrypted: a backup qube that receives it into its ZFS "
			      "could read it (back it up sealed, to a store target)",
			      vol);
	uint8_t id[QZ_SEAL_ID_BYTES];
	randombytes_buf(id, sizeof(id));
	sodium_bin2hex(rec->id, sizeof(rec->id), id, sizeof(id));
	rec->toguid = tr->toguid;
	rec->fromguid = tr->fromguid;
	rec->raw = true;
	rec->created = (uint64_t)time(NULL);
	if (incremental) {
		snprintf(rec->base, sizeof(rec->base), "%s", last.bookmark);
		tr->from = rec->base; /* not last's, which ends here */
	}
	if ((err = qz_backup_rec_write(o->state_dir, rec)) != 0)
		return qz_why(why, whylen, err, "writing the record: %s", strerror(err));
	return 0;
}

/* A backup's progress as its stream goes to the qube: told at every step, a 200th of ZFS's
 * estimate of the stream and at least a MiB. */
struct sending {
	const qz_backup_opts_t *o;
	qz_backup_rec_t *rec;
	uint64_t received, told; /* before this run (resumed after), and when last told */
	uint64_t step;
};

static void sent_so_far(void *ctx, uint64_t bytes)
{
	struct sending *s = ctx;
	s->rec->bytes = s->received + bytes;
	if (s->o->progress != NULL && s->rec->bytes - s->told >= s->step) {
		s->told = s->rec->bytes;
		s->o->progress(s->o->ctx, s->rec);
	}
}

int qz_replica_create(qz_backend_t *be, qz_target_t *t, const qz_backup_opts_t *o, const char *vol,
		      qz_backup_rec_t *rec, char *why, size_t whylen)
{
	const char *state_dir = o->state_dir;
	records_t r;
	int err = records_load(state_dir, &r, why, whylen);
	if (err != 0)
		return err;
	qz_transfer_t tr;
	qz_backup_rec_t old;
	bool resuming = !o->full && unfinished(be, &r, vol, &old);
	if (resuming) {
		*rec = old;
		err = qz_transfer_record(be, rec->snapshot, rec->base[0] ? rec->base : NULL, &tr);
		resuming = err == 0 && tr.toguid == rec->toguid && tr.fromguid == rec->fromguid;
	}
	if (!resuming) {
		err = begin(be, o, vol, rec, &tr, why, whylen);
		if (err == 0 && unfinished(be, &r, vol, &old))
			qz_backup_let_go(be, state_dir, &old); /* it will not be resumed */
	}
	/* what the qube sends back must be of this very state (see read_back) */
	if (err == 0 && !rec->has_mac)
		err = qz_transfer_learn(be, &tr, rec->objset_mac, &rec->has_mac, why, whylen);
	char name[64], key[QZ_BACKUP_ID_HEX + 1], tag[64], rename[64];
	if (err == 0)
		err = target_name(&r, rec, name, sizeof(name), key, why, whylen);
	records_free(&r);
	if (err != 0)
		return err;
	/* the stream names the snapshot as the qube does, not by its VM's dataset */
	snprintf(rename, sizeof(rename), "backup/%s@%s", key, strchr(name, '.') + 1);
	tr.toname = rename;
	/* what the qube sends back is authenticated against what dom0 sent (read_back) */
	char digest[4096];
	qz_backup_digest_path(state_dir, rec->id, digest, sizeof(digest));
	tr.digest_path = digest;
	/* the snapshot stays, whatever prunes revisions, until the backup is whole */
	qz_backup_hold_tag(tag, sizeof(tag), rec->id);
	if ((err = be->ops->hold(be, rec->snapshot, tag)) != 0 && err != EEXIST)
		return qz_why(why, whylen, err, "%s: %s", rec->snapshot, qz_strerror(err));
	static char token[QZ_TOKEN_MAX_TEXT];
	uint64_t received = 0, sent = 0;
	err = tr.learned ? 0 : qz_transfer_learn(be, &tr, NULL, NULL, why, whylen);
	if (err == 0)
		err = qz_replica_partial(t, key, &tr, token, sizeof(token), &received, why, whylen);
	rec->resumed_from = received;
	if (err == 0 && (token[0] != 0 || !qz_replica_holds(t, name, rec->toguid))) {
		int fd, pid;
		if (be->ops->send_space(be, tr.snap, tr.from, tr.send_flags, &rec->total) != 0)
			rec->total = 0; /* for progress only */
		uint64_t step = rec->total / 200 > (1u << 20) ? rec->total / 200 : 1u << 20;
		struct sending sending = {o, rec, received, received, step};
		qz_store_sent_t told = {sent_so_far, &sending};
		rec->bytes = received;
		if (o->progress != NULL)
			o->progress(o->ctx, rec); /* it begins */
		err = qz_transfer_start(be, &tr, token[0] ? token : NULL, rename, &fd, &pid, why,
					whylen);
		if (err == 0) {
			err = qz_target_receive(t, name, fd, &sent, &told, why, whylen);
			close(fd);
			if (qz_transfer_wait(pid) != 0 && err == 0)
				err = qz_why(why, whylen, EIO, "sending %s failed", rec->snapshot);
		}
	}
	rec->bytes = received + sent;
	if (err == 0 && (err = qz_crash_point("replica.received")) != 0)
		qz_why(why, whylen, err, "stopped at a crash point");
	if (err == 0 && !qz_replica_holds(t, name, rec->toguid))
		err =
		    qz_why(why, whylen, EBADMSG,
			   "the backup target does not list backup %s after receiving it", rec->id);
	/* a stream sent in parts (resumed) has no digest yet: it is made here, whole */
	if (err == 0 && access(digest, F_OK) != 0)
		err = qz_transfer_digest(be, &tr, rename, why, whylen);
	if (err == 0)
		err = qz_backup_complete(be, state_dir, rec, why, whylen);
	if (err == 0)
		(void)be->ops->release(be, rec->snapshot, tag);
	return err;
}

/* ---- reading back ---- */

struct reading {
	qz_target_t *t;
	const char *state_dir; /* where the digest of what dom0 sent is */
	const qz_backup_rec_t *rec;
	char name[64];
	int fd;				    /* where verified bytes go; -1: nowhere */
	uint64_t bytes;			    /* verified */
	const qz_read_progress_t *progress; /* told of every MiB (may be NULL) */
	size_t index;			    /* of the backup in its chain */
	uint64_t told;
};

static int to_fd(void *ctx, const void *buf, size_t len)
{
	struct reading *rd = ctx;
	rd->bytes += len;
	if (rd->progress != NULL && rd->bytes - rd->told >= (1u << 20)) {
		rd->told = rd->bytes;
		rd->progress->fn(rd->progress->ctx, rd->index, rd->bytes);
	}
	return rd->fd < 0 ? 0 : qz_write_full(rd->fd, buf, len);
}

static int to_verifier(void *ctx, const void *buf, size_t len)
{
	return qz_verifier_feed(ctx, buf, len);
}

/* Has the target send rd's backup back, through the verifier, into rd->fd. */
static int read_back(struct reading *rd, char *why, size_t whylen)
{
	char path[4096];
	qz_digest_t digest;
	qz_backup_digest_path(rd->state_dir, rd->rec->id, path, sizeof(path));
	int err = qz_digest_read(path, &digest);
	if (err == ENOENT)
		return qz_why(
		    why, whylen, EPERM,
		    "backup %s cannot be authenticated: dom0 has no digest of what it sent "
		    "(backups made before qzfs kept them; make a new full backup)",
		    rd->rec->id);
	if (err != 0)
		return qz_why(why, whylen, err, "%s: %s", path,
			      err == EBADMSG ? "a malformed digest" : strerror(err));
	qz_stream_expect_t e = {.toguid = rd->rec->toguid,
				.fromguid = rd->rec->fromguid,
				.raw = true,
				.objset_mac = rd->rec->has_mac ? rd->rec->objset_mac : NULL,
				.digest = &digest};
	qz_verifier_t *v = NULL;
	err = qz_verifier_new(&e, to_fd, rd, &v);
	if (err == 0)
		err = qz_target_send_back(rd->t, rd->name, to_verifier, v, why, whylen);
	if (err == 0)
		err = qz_verifier_end(v);
	if (v != NULL && qz_verifier_why(v)[0] != 0)
		qz_why(why, whylen, EBADMSG, "backup %s: %s", rd->rec->id, qz_verifier_why(v));
	else if (err == ENOENT)
		qz_why(why, whylen, ENOENT, "the backup target no longer holds backup %s",
		       rd->rec->id);
	qz_verifier_free(v);
	qz_digest_free(&digest);
	return err;
}

static int feed(void *ctx, int fd, char *why, size_t whylen)
{
	struct reading *rd = ctx;
	rd->fd = fd;
	return read_back(rd, why, whylen);
}

struct restoring {
	qz_backend_t *be;
	qz_target_t *t;
	const char *state_dir;
	records_t r;
	size_t len; /* of the chain in r.chain */
	const qz_read_progress_t *progress;
};

static int restore_one(void *ctx, size_t i, const char *snap, char *why, size_t whylen)
{
	struct restoring *rs = ctx;
	struct reading rd = {.t = rs->t,
			     .state_dir = rs->state_dir,
			     .rec = &rs->r.all[rs->r.chain[i]],
			     .fd = -1,
			     .progress = rs->progress,
			     .index = i};
	qz_replica_name(rd.name, sizeof(rd.name), rs->r.all, rs->r.chain, i, true);
	char label[64];
	snprintf(label, sizeof(label), "backup %s", rd.rec->id);
	return qz_transfer_receive_fed(rs->be, snap, true, feed, &rd, label, why, whylen);
}

static int restore_chain(void *ctx, const char *dataset, char *why, size_t whylen)
{
	struct restoring *rs = ctx;
	return qz_transfer_restore_new(rs->be, dataset, rs->len, restore_one, rs, why, whylen);
}

/* The chain of id (or of volume's newest whole backup) in r->chain; its length, 0 with the
 * reason in why if there is none. */
static size_t chain_of(records_t *r, const char *volume, const char *id, char *why, size_t whylen)
{
	size_t len = qz_backup_chain_for(r->all, r->n, volume, id, r->chain);
	if (len == 0)
		qz_why(why, whylen, ENOENT, "dom0's records have no whole chain of backups for %s",
		       id != NULL ? id : volume);
	return len;
}

int qz_replica_restore(qz_backend_t *be, qz_target_t *t, const char *state_dir, const char *volume,
		       const char *id, const char *dataset, const char *over,
		       const qz_volcfg_t *cfg, const qz_secret_t *pool_pass,
		       const qz_read_progress_t *progress, char *why, size_t whylen)
{
	struct restoring rs = {.be = be, .t = t, .state_dir = state_dir, .progress = progress};
	int err = records_load(state_dir, &rs.r, why, whylen);
	if (err != 0)
		return err;
	rs.len = chain_of(&rs.r, volume, id, why, whylen);
	if (rs.len == 0)
		err = ENOENT;
	else if (over != NULL)
		err = qz_transfer_restore_over(be, over, cfg, pool_pass, restore_chain, &rs, why,
					       whylen);
	else
		err = restore_chain(&rs, dataset, why, whylen);
	records_free(&rs.r);
	return err;
}

int qz_replica_verify(qz_target_t *t, const char *state_dir, const char *id, char *why,
		      size_t whylen)
{
	records_t r;
	int err = records_load(state_dir, &r, why, whylen);
	if (err != 0)
		return err;
	size_t len = chain_of(&r, NULL, id, why, whylen);
	err = len == 0 ? ENOENT : 0;
	for (size_t i = 0; err == 0 && i < len; i++) {
		struct reading rd = {
		    .t = t, .state_dir = state_dir, .rec = &r.all[r.chain[i]], .fd = -1};
		qz_replica_name(rd.name, sizeof(rd.name), r.all, r.chain, i, true);
		err = read_back(&rd, why, whylen);
	}
	records_free(&r);
	return err;
}
