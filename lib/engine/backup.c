/* SPDX-License-Identifier: BSD-2-Clause */
/* Backups of volumes to an untrusted target (see backup.h). */
#include "backup.h"

#include "engine.h"
#include "error.h"
#include "family.h"
#include "fdio.h"
#include "le.h"
#include "seal_pipeline.h"
#include "stream.h"
#include "token.h"
#include "why.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOLD_TAG     "qzfs-backup"
#define BOOKMARK_PFX "qzfs-bk-"

/* The newest whole backup of vol whose bookmark is still in ZFS: the base of the next one; and
 * the next sequence number. */
static bool last_backup(qz_backend_t *be, const char *dir, const char *vol, qz_backup_rec_t *out,
			uint64_t *seq)
{
	qz_backup_rec_t *all = NULL;
	size_t n = 0;
	bool found = false;
	*seq = 1;
	if (qz_backup_rec_list(dir, &all, &n) != 0)
		return false;
	if (n > 0)
		*seq = all[n - 1].seq + 1;
	for (size_t i = n; i-- > 0 && !found;) {
		if (all[i].complete && strcmp(all[i].volume, vol) == 0 && all[i].bookmark[0] &&
		    be->ops->exists(be, all[i].bookmark)) {
			*out = all[i];
			found = true;
		}
	}
	free(all);
	return found;
}

/* Where a backup being made is: what resumes it after an interruption (kept in dom0's state
 * directory, readable by root only: the sealer's state is key material). */
typedef struct progress {
	uint8_t hdr[QZ_SEAL_HEADER_MAX];
	size_t hdrlen;
	uint8_t cp[QZ_SEAL_CHECKPOINT_MAX]; /* the sealer after the chunks stored */
	size_t cplen;
} progress_t;

#define PROGRESS_MAGIC "qzfs-backup-progress 2\n"
#define PROGRESS_HEAD  (sizeof(PROGRESS_MAGIC) - 1 + 8 + 8 + 4 + 4)

static void progress_path(char *buf, size_t len, const char *dir, const char *id)
{
	snprintf(buf, len, "%s/%s.progress", dir, id);
}

/* Writes the progress of backup rec (atomically, mode 0600). */
static int progress_write(const char *dir, const qz_backup_rec_t *rec, const progress_t *p)
{
	char path[4096], tmp[4100];
	progress_path(path, sizeof(path), dir, rec->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	uint8_t head[PROGRESS_HEAD];
	size_t o = sizeof(PROGRESS_MAGIC) - 1;
	memcpy(head, PROGRESS_MAGIC, o);
	qz_put_le(head + o, rec->chunks, 8);
	qz_put_le(head + o + 8, rec->bytes, 8);
	qz_put_le(head + o + 16, p->cplen, 4);
	qz_put_le(head + o + 20, p->hdrlen, 4);
	int err = qz_write_full(fd, head, sizeof(head));
	if (err == 0)
		err = qz_write_full(fd, p->cp, p->cplen);
	if (err == 0)
		err = qz_write_full(fd, p->hdr, p->hdrlen);
	return qz_file_commit(fd, err, tmp, path);
}

/* Reads the progress of backup rec: its chunk and byte counts into rec. */
static int progress_read(const char *dir, qz_backup_rec_t *rec, progress_t *p)
{
	char path[4096];
	progress_path(path, sizeof(path), dir, rec->id);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	uint8_t head[PROGRESS_HEAD];
	size_t o = sizeof(PROGRESS_MAGIC) - 1;
	int err = qz_read_full(fd, head, sizeof(head)) == (ssize_t)sizeof(head) &&
			  memcmp(head, PROGRESS_MAGIC, o) == 0
		      ? 0
		      : EINVAL;
	if (err == 0) {
		rec->chunks = qz_get_le(head + o, 8);
		rec->bytes = qz_get_le(head + o + 8, 8);
		p->cplen = (size_t)qz_get_le(head + o + 16, 4);
		p->hdrlen = (size_t)qz_get_le(head + o + 20, 4);
		if (p->cplen > sizeof(p->cp) || p->hdrlen > sizeof(p->hdr) ||
		    qz_read_full(fd, p->cp, p->cplen) != (ssize_t)p->cplen ||
		    qz_read_full(fd, p->hdr, p->hdrlen) != (ssize_t)p->hdrlen)
			err = EINVAL;
	}
	close(fd);
	return err;
}

static void progress_drop(const char *dir, const char *id)
{
	char path[4096];
	progress_path(path, sizeof(path), dir, id);
	unlink(path);
}

struct chunk_put {
	qz_target_t *t;
	qz_sealer_t *s;
	qz_backup_rec_t *rec;
	const qz_backup_opts_t *o;
	progress_t *p;
	char *why;
	size_t whylen;
};

/* Stores a sealed chunk as the backup's next object, then the progress that resumes after it. */
static int put_chunk(void *ctx, const uint8_t *framed, size_t len, size_t plainlen)
{
	struct chunk_put *c = ctx;
	char name[80];
	qz_backup_object(name, sizeof(name), c->rec->id, (long)c->rec->chunks);
	int err = qz_target_put(c->t, name, framed, len, c->why, c->whylen);
	if (err != 0)
		return err;
	c->rec->chunks++;
	c->rec->bytes += plainlen;
	qz_sealer_checkpoint(c->s, c->p->cp, &c->p->cplen);
	if ((err = progress_write(c->o->state_dir, c->rec, c->p)) != 0)
		return qz_why(c->why, c->whylen, err, "writing the progress: %s", strerror(err));
	if (c->o->progress != NULL)
		c->o->progress(c->o->ctx, c->rec);
	return 0;
}

/* Sends transfer tr through the sealer into the target, from chunk rec->chunks on: a resumed
 * backup's stream is made again, and the part already stored is checked against the sealer's
 * chain of prints (ESTALE if it differs) and skipped. */
static int send_sealed(qz_backend_t *be, qz_target_t *t, const qz_backup_opts_t *o,
		       qz_backup_rec_t *rec, const qz_transfer_t *tr, qz_sealer_t *s, progress_t *p,
		       char *why, size_t whylen)
{
	int fd, pid;
	int err = qz_transfer_start(be, tr, NULL, NULL, &fd, &pid, why, whylen);
	if (err != 0)
		return err;
	struct chunk_put c = {t, s, rec, o, p, why, whylen};
	err = qz_seal_chunks(fd, s, o->threads, put_chunk, &c, why, whylen);
	close(fd);
	int sent = qz_transfer_wait(pid);
	if (err == 0 && sent != 0)
		err = qz_why(why, whylen, EIO, "sending %s failed", rec->snapshot);
	return err;
}

/* The unfinished backup of vol that can be resumed: its record, progress and sealer, if dom0
 * has one whose snapshot is still there and the target still holds every chunk stored. */
static bool resumable(qz_backend_t *be, qz_target_t *t, const qz_backup_opts_t *o, const char *vol,
		      qz_backup_rec_t *rec, progress_t *p, qz_sealer_t **s)
{
	qz_backup_rec_t *all = NULL;
	size_t n = 0;
	bool found = false;
	if (qz_backup_rec_list(o->state_dir, &all, &n) != 0)
		return false;
	for (size_t i = n; i-- > 0 && !found;)
		if (strcmp(all[i].volume, vol) == 0) {
			found = !all[i].complete;
			*rec = all[i];
			break; /* only the newest backup of vol can be resumed */
		}
	free(all);
	uint64_t guid = 0;
	if (!found || progress_read(o->state_dir, rec, p) != 0 ||
	    qz_prop_u64(be, rec->snapshot, "guid", &guid) != 0 || guid != rec->toguid ||
	    (rec->base[0] && !be->ops->exists(be, rec->base)))
		return false;
	qz_target_entry_t *e = NULL;
	size_t ne = 0;
	if (qz_target_list(t, &e, &ne, NULL, 0) != 0)
		return false;
	/* the header and every chunk stored, each whole (the final one, if sealed, may be
	 * shorter) */
	bool finished = qz_sealer_resume(p->hdr, p->hdrlen, p->cp, p->cplen, s, NULL, 0) == 0 &&
			qz_sealer_finished(*s);
	bool there = *s != NULL && qz_sealer_index(*s) == rec->chunks &&
		     qz_backup_listed_whole(e, ne, rec->id, rec->chunks, rec->chunk_size, finished);
	free(e);
	if (there)
		return true;
	qz_sealer_free(*s);
	*s = NULL;
	return false;
}

/* Whether the chain that backup last ends began (its full backup was made) age seconds ago or
 * more; also when that full backup is not in dir's records. */
static bool chain_began_before(const char *dir, const qz_backup_rec_t *last, uint64_t age)
{
	qz_backup_rec_t *all = NULL;
	size_t n = 0, *chain = NULL, len = 0;
	if (qz_backup_rec_list(dir, &all, &n) == 0 && n > 0 &&
	    (chain = malloc(n * sizeof(*chain))) != NULL)
		len = qz_backup_chain_for(all, n, NULL, last->id, chain);
	uint64_t now = (uint64_t)time(NULL);
	bool old = len == 0 || (now >= all[chain[0]].created && now - all[chain[0]].created >= age);
	free(chain);
	free(all);
	return old;
}

/* What the backup of vol is to be: the committed snapshot, full or incremental from the last
 * whole backup; EALREADY if that one is of the same snapshot. */
int qz_backup_plan(qz_backend_t *be, const qz_backup_opts_t *o, const char *vol,
		   qz_backup_rec_t *rec, qz_backup_rec_t *last, bool *incremental,
		   qz_transfer_t *tr, char *why, size_t whylen)
{
	family_t f;
	int err = fam_load(be, vol, &f);
	if (err != 0)
		return qz_why(why, whylen, err, "%s: %s", vol, qz_strerror(err));
	const fam_snap_t *cur = fam_current(&f);
	if (cur != NULL)
		snprintf(rec->snapshot, sizeof(rec->snapshot), "%s", cur->name);
	fam_free(&f);
	if (rec->snapshot[0] == 0)
		return qz_why(why, whylen, ENOENT,
			      "%s has no committed state to back up (not a volume of a pool, "
			      "never stopped, or revisions_to_keep -1)",
			      vol);
	snprintf(rec->volume, sizeof(rec->volume), "%s", vol);
	*incremental =
	    last_backup(be, o->state_dir, vol, last, &rec->seq) && !o->full &&
	    !(o->full_every != 0 && chain_began_before(o->state_dir, last, o->full_every));
	err = qz_transfer_record(be, rec->snapshot, *incremental ? last->bookmark : NULL, tr);
	if (err == 0 && *incremental && tr->fromguid != last->toguid) {
		*incremental = false; /* a bookmark of that name, not of that snapshot */
		err = qz_transfer_record(be, rec->snapshot, NULL, tr);
	}
	if (err != 0)
		return qz_why(why, whylen, err, "%s: %s", rec->snapshot, qz_strerror(err));
	if (*incremental && tr->toguid == last->toguid)
		return qz_why(why, whylen, EALREADY, "%s is unchanged since backup %s", vol,
			      last->id);
	return 0;
}

void qz_backup_seal_info(const qz_backup_opts_t *o, qz_seal_info_t *info)
{
	qz_seal_info_init(info, o->kdf != NULL ? o->kdf->kdf : QZ_KDF_KEYFILE);
	if (o->kdf != NULL && o->kdf->kdf == QZ_KDF_ARGON2ID) {
		memcpy(info->salt, o->kdf->salt, sizeof(info->salt));
		info->opslimit = o->kdf->opslimit;
		info->memlimit = o->kdf->memlimit;
	}
	if (o->chunk_size != 0)
		info->chunk_size = o->chunk_size;
}

/* Starts a new backup as planned in rec and tr: its header stored, its record written. */
static int begin(qz_target_t *t, const qz_backup_opts_t *o, qz_backup_rec_t *rec,
		 const qz_transfer_t *tr, const qz_backup_rec_t *last, bool incremental,
		 progress_t *p, qz_sealer_t **s, char *why, size_t whylen)
{
	qz_seal_info_t info;
	qz_backup_seal_info(o, &info);
	snprintf(info.dataset, sizeof(info.dataset), "%s", rec->volume);
	info.toguid = tr->toguid;
	info.fromguid = tr->fromguid;
	info.raw = tr->raw;
	sodium_bin2hex(rec->id, sizeof(rec->id), info.id, sizeof(info.id));
	rec->toguid = tr->toguid;
	rec->fromguid = tr->fromguid;
	rec->raw = tr->raw;
	rec->chunk_size = info.chunk_size;
	rec->created = info.created;
	if (incremental)
		snprintf(rec->base, sizeof(rec->base), "%s", last->bookmark);
	int err = qz_sealer_new(&info, o->key, p->hdr, &p->hdrlen, s, why, whylen);
	if (err != 0)
		return err;
	char name[80];
	qz_backup_object(name, sizeof(name), rec->id, QZ_BACKUP_HEADER);
	qz_sealer_checkpoint(*s, p->cp, &p->cplen);
	if ((err = qz_backup_rec_write(o->state_dir, rec)) != 0 ||
	    (err = progress_write(o->state_dir, rec, p)) != 0)
		return qz_why(why, whylen, err, "writing the record: %s", strerror(err));
	return qz_target_put(t, name, p->hdr, p->hdrlen, why, whylen);
}

void qz_backup_hold_tag(char *buf, size_t len, const char *id)
{
	snprintf(buf, len, "%s-%.16s", HOLD_TAG, id);
}

void qz_backup_let_go(qz_backend_t *be, const char *state_dir, const qz_backup_rec_t *r)
{
	char tag[64];
	qz_backup_hold_tag(tag, sizeof(tag), r->id);
	(void)be->ops->release(be, r->snapshot, tag);
	progress_drop(state_dir, r->id);
}

/* A new backup of vol has begun, so its unfinished ones will not be resumed: their snapshots
 * are let go (a hold would keep a pruned revision forever) and their progress dropped. Their
 * records stay, marked unfinished. */
static void abandon_unfinished(qz_backend_t *be, const qz_backup_opts_t *o,
			       const qz_backup_rec_t *rec)
{
	qz_backup_rec_t *all = NULL;
	size_t n = 0;
	if (qz_backup_rec_list(o->state_dir, &all, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (!all[i].complete && strcmp(all[i].volume, rec->volume) == 0 &&
		    strcmp(all[i].id, rec->id) != 0)
			qz_backup_let_go(be, o->state_dir, &all[i]);
	free(all);
}

/* A backup is whole: its trailer stored, the snapshot bookmarked for the next one, the record
 * completed. */
static int finish(qz_backend_t *be, qz_target_t *t, const qz_backup_opts_t *o, qz_backup_rec_t *rec,
		  const progress_t *p, char *why, size_t whylen)
{
	uint8_t trailer[QZ_SEAL_TRAILER_BYTES];
	char name[80];
	qz_backup_object(name, sizeof(name), rec->id, QZ_BACKUP_TRAILER);
	int err = qz_seal_trailer(p->hdr, p->hdrlen, o->key, rec->chunks, rec->bytes, trailer);
	if (err != 0)
		return qz_why(why, whylen, err, "sealing the trailer: %s", strerror(err));
	if ((err = qz_target_put(t, name, trailer, sizeof(trailer), why, whylen)) != 0)
		return err;
	return qz_backup_complete(be, o->state_dir, rec, why, whylen);
}

int qz_backup_complete(qz_backend_t *be, const char *state_dir, qz_backup_rec_t *rec, char *why,
		       size_t whylen)
{
	char ds[QZ_NAME_MAX], bm[QZ_NAME_MAX + 32];
	qz_name_dataset(rec->snapshot, ds, sizeof(ds));
	snprintf(bm, sizeof(bm), "%s#" BOOKMARK_PFX "%.16s", ds, rec->id);
	int err = strlen(bm) < sizeof(rec->bookmark) ? 0 : ENAMETOOLONG;
	if (err == 0) {
		strcpy(rec->bookmark, bm);
		err = be->ops->bookmark(be, rec->snapshot, rec->bookmark);
		if (err == EEXIST) /* made before an interruption */
			err = 0;
	}
	if (err != 0)
		rec->bookmark[0] = 0; /* whole, but the next backup is a full one */
	rec->complete = true;
	if ((err = qz_backup_rec_write(state_dir, rec)) != 0)
		return qz_why(why, whylen, err, "writing the record: %s", strerror(err));
	progress_drop(state_dir, rec->id);
	if (rec->base[0] != 0) { /* the base's own base is no longer needed */
		qz_backup_rec_t *all = NULL;
		size_t n = 0;
		if (qz_backup_rec_list(state_dir, &all, &n) == 0)
			for (size_t i = 0; i < n; i++)
				if (strcmp(all[i].bookmark, rec->base) == 0 &&
				    strstr(all[i].base, "#" BOOKMARK_PFX) != NULL)
					(void)be->ops->destroy_bookmark(be, all[i].base);
		free(all);
	}
	return 0;
}

/* One try at backing vol up: resumed if allowed and possible (*resumed says), else begun. */
static int create_once(qz_backend_t *be, qz_target_t *t, const qz_backup_opts_t *o, const char *vol,
		       bool may_resume, bool *resumed, qz_backup_rec_t *rec, progress_t *p,
		       char *why, size_t whylen)
{
	memset(rec, 0, sizeof(*rec));
	qz_sealer_t *s = NULL;
	qz_transfer_t tr; /* its names point into rec and last */
	qz_backup_rec_t last;
	int err = 0;
	*resumed = may_resume && resumable(be, t, o, vol, rec, p, &s);
	if (*resumed) {
		err = qz_transfer_record(be, rec->snapshot, rec->base[0] ? rec->base : NULL, &tr);
		if (err != 0)
			qz_why(why, whylen, err, "%s: %s", rec->snapshot, qz_strerror(err));
	} else {
		bool incremental = false;
		memset(rec, 0, sizeof(*rec));
		err = qz_backup_plan(be, o, vol, rec, &last, &incremental, &tr, why, whylen);
		if (err == EALREADY)
			*rec = last;
		if (err == 0)
			err = begin(t, o, rec, &tr, &last, incremental, p, &s, why, whylen);
		if (err == 0)
			abandon_unfinished(be, o, rec);
	}
	/* the snapshot stays while it is sent (whatever prunes revisions meanwhile), and across an
	 * interruption, until the backup is whole */
	char tag[64];
	qz_backup_hold_tag(tag, sizeof(tag), rec->id);
	if (err == 0 && (err = be->ops->hold(be, rec->snapshot, tag)) == EEXIST)
		err = 0; /* held since before an interruption */
	else if (err != 0 && why != NULL && why[0] == 0)
		qz_why(why, whylen, err, "%s: %s", rec->snapshot, qz_strerror(err));
	uint64_t stored = rec->bytes;
	rec->resumed_from = stored;
	if (err == 0 && o->progress != NULL &&
	    be->ops->send_space(be, tr.snap, tr.from, tr.send_flags, &rec->total) != 0)
		rec->total = 0; /* unknown: the progress shows bytes alone */
	if (err == 0 && o->progress != NULL)
		o->progress(o->ctx, rec);
	if (err == 0 && !qz_sealer_finished(s)) /* else all was stored before an interruption */
		err = send_sealed(be, t, o, rec, &tr, s, p, why, whylen);
	if (err == 0 && (err = qz_crash_point("backup.sealed")) != 0)
		qz_why(why, whylen, err, "stopped at a crash point");
	if (err == 0)
		err = finish(be, t, o, rec, p, why, whylen);
	if (err == 0)
		(void)be->ops->release(be, rec->snapshot, tag);
	qz_sealer_free(s);
	return err;
}

int qz_backup_create(qz_backend_t *be, qz_target_t *t, const qz_backup_opts_t *o, const char *vol,
		     qz_backup_rec_t *rec, char *why, size_t whylen)
{
	progress_t *p = sodium_malloc(sizeof(*p));
	if (p == NULL)
		return qz_why(why, whylen, ENOMEM, "out of memory");
	bool resumed = false;
	int err = create_once(be, t, o, vol, true, &resumed, rec, p, why, whylen);
	if (err == ESTALE && resumed) {
		/* the stream made again is not the one stored (ZFS changed since?): the backup
		 * is begun anew, the unfinished one let go */
		qz_backup_let_go(be, o->state_dir, rec);
		if (why != NULL)
			why[0] = 0;
		err = create_once(be, t, o, vol, false, &resumed, rec, p, why, whylen);
		rec->begun_anew = true;
	}
	sodium_free(p);
	return err;
}

/* ---- reading backups back ---- */

int qz_backup_open_header(qz_target_t *t, const qz_open_secret_t *secret, const char *id,
			  qz_opener_t **o, qz_seal_info_t *info, char *why, size_t whylen)
{
	uint8_t hdr[QZ_SEAL_HEADER_MAX];
	size_t len = 0;
	char name[80];
	qz_backup_object(name, sizeof(name), id, QZ_BACKUP_HEADER);
	int err = qz_target_get(t, name, hdr, sizeof(hdr), &len, why, whylen);
	if (err == ENOENT)
		return qz_why(why, whylen, ENOENT, "the target has no backup %s", id);
	if (err == 0)
		err = qz_seal_header_parse(hdr, len, info, why, whylen);
	if (err != 0)
		return err;
	char hex[QZ_BACKUP_ID_HEX + 1];
	sodium_bin2hex(hex, sizeof(hex), info->id, sizeof(info->id));
	if (strcmp(hex, id) != 0)
		return qz_why(why, whylen, EBADMSG, "the target's backup %s is backup %s", id, hex);
	qz_seal_key_t *derived = NULL;
	const qz_seal_key_t *key = secret->key;
	if (key == NULL) {
		if ((err = qz_seal_key_derive(secret->pass, secret->passlen, info, &derived, why,
					      whylen)) != 0)
			return err;
		key = derived;
	}
	err = qz_opener_new(hdr, len, key, o, why, whylen);
	qz_seal_key_free(derived);
	if (err == 0)
		*info = *qz_opener_info(*o); /* with the name, opened */
	return err;
}

int qz_backup_read_chunks(qz_target_t *t, qz_opener_t *o, const char *id, qz_stream_emit_fn emit,
			  void *ctx, uint64_t *chunks, char *why, size_t whylen)
{
	size_t cs = qz_opener_info(o)->chunk_size;
	uint8_t *sealed = malloc(cs + QZ_SEAL_ABYTES + 4), *plain = malloc(cs);
	int err = sealed == NULL || plain == NULL ? ENOMEM : 0;
	bool final = false;
	for (*chunks = 0; err == 0 && !final; (*chunks)++) {
		char name[80];
		qz_backup_object(name, sizeof(name), id, (long)*chunks);
		size_t len = 0, plen = 0;
		err = qz_target_get(t, name, sealed, cs + QZ_SEAL_ABYTES + 4, &len, why, whylen);
		if (err == ENOENT)
			err = qz_why(why, whylen, EBADMSG,
				     "the backup is cut short: the target has no chunk %" PRIu64,
				     *chunks);
		if (err != 0)
			break;
		uint64_t framed = len >= 4 ? qz_get_le(sealed, 4) : 0;
		if (len < 4 || framed != len - 4)
			err =
			    qz_why(why, whylen, EBADMSG, "chunk %" PRIu64 " is malformed", *chunks);
		else
			err = qz_opener_chunk(o, sealed + 4, len - 4, plain, &plen, &final, why,
					      whylen);
		if (err == 0 && plen > 0)
			err = emit(ctx, plain, plen);
	}
	if (plain != NULL)
		sodium_memzero(plain, cs);
	free(sealed);
	free(plain);
	return err;
}

static int count_only(void *ctx, const void *buf, size_t len)
{
	(void)buf;
	*(uint64_t *)ctx += len;
	return 0;
}

/* Feeds what qz_backup_read_chunks opens to a verifier, reporting the progress of backup i after
 * each chunk. */
struct verifying {
	qz_verifier_t *v;
	const qz_read_progress_t *progress;
	size_t i;
	uint64_t bytes;
};

static int verifying(void *ctx, const void *buf, size_t len)
{
	struct verifying *r = ctx;
	int err = qz_verifier_feed(r->v, buf, len);
	r->bytes += len;
	if (err == 0 && r->progress != NULL && r->progress->fn != NULL)
		r->progress->fn(r->progress->ctx, r->i, r->bytes);
	return err;
}

int qz_backup_verify(qz_target_t *t, const qz_open_secret_t *secret, const qz_backup_rec_t *r,
		     const qz_read_progress_t *progress, char *why, size_t whylen)
{
	if (r->document) {
		void *doc = NULL;
		size_t len = 0;
		int err = qz_backup_get_document(t, secret, r, &doc, &len, why, whylen);
		if (doc != NULL)
			sodium_memzero(doc, len);
		free(doc);
		return err;
	}
	qz_opener_t *o = NULL;
	qz_seal_info_t info;
	int err = qz_backup_open_header(t, secret, r->id, &o, &info, why, whylen);
	if (err != 0)
		return err;
	if (info.document || info.toguid != r->toguid || info.fromguid != r->fromguid ||
	    info.raw != r->raw || strcmp(info.dataset, r->volume) != 0) {
		qz_opener_free(o);
		return qz_why(why, whylen, EBADMSG, "backup %s is not the one dom0 made", r->id);
	}
	qz_stream_expect_t e = {
	    .toguid = r->toguid, .fromguid = r->fromguid, .raw = r->raw, .resumed = false};
	uint64_t bytes = 0, chunks = 0;
	qz_verifier_t *v = NULL;
	if ((err = qz_verifier_new(&e, count_only, &bytes, &v)) != 0) {
		qz_opener_free(o);
		return err;
	}
	struct verifying fed = {v, progress, 0, 0};
	err = qz_backup_read_chunks(t, o, r->id, verifying, &fed, &chunks, why, whylen);
	if (err == 0)
		err = qz_verifier_end(v);
	if (err == EBADMSG && qz_verifier_why(v)[0] != 0)
		qz_why(why, whylen, err, "%s", qz_verifier_why(v));
	if (err == 0 && (chunks != r->chunks || bytes != r->bytes))
		err = qz_why(why, whylen, EBADMSG,
			     "backup %s holds %" PRIu64 " bytes in %" PRIu64 " chunks, not %" PRIu64
			     " in %" PRIu64,
			     r->id, bytes, chunks, r->bytes, r->chunks);
	qz_verifier_free(v);
	qz_opener_free(o);
	return err;
}

static int to_fd(void *ctx, const void *buf, size_t len)
{
	return qz_write_full(*(int *)ctx, buf, len);
}

/* One backup of a chain being restored: read from the target, opened, verified. */
struct restore_one {
	qz_target_t *t;
	const qz_open_secret_t *secret;
	const char *const *ids;
	qz_opener_t *o;
	qz_seal_info_t info;
	size_t i;
	qz_backend_t *be;
	const qz_read_progress_t *progress;
};

/* The feeder of a restore (in a child): backup ids[i] read, opened, verified, written to fd. */
static int feed(void *ctx, int fd, char *why, size_t whylen)
{
	struct restore_one *r = ctx;
	qz_stream_expect_t e = {.toguid = r->info.toguid,
				.fromguid = r->info.fromguid,
				.raw = r->info.raw,
				.unclone = true}; /* backups made before streams were uncloned */
	qz_verifier_t *v = NULL;
	int err = qz_verifier_new(&e, to_fd, &fd, &v);
	uint64_t chunks = 0;
	struct verifying fed = {v, r->progress, r->i, 0};
	if (err == 0)
		err = qz_backup_read_chunks(r->t, r->o, r->ids[r->i], verifying, &fed, &chunks, why,
					    whylen);
	if (err == 0)
		err = qz_verifier_end(v);
	if (v != NULL && qz_verifier_why(v)[0] != 0)
		snprintf(why, whylen, "%s", qz_verifier_why(v));
	qz_verifier_free(v);
	return err;
}

/* Restores backup ids[i] of the chain as snap: its header opened, checked to follow the one
 * before, its stream fed through the verifier. */
static int restore_one(void *ctx, size_t i, const char *snap, char *why, size_t whylen)
{
	struct restore_one *r = ctx;
	uint64_t prev = i > 0 ? r->info.toguid : 0;
	qz_opener_free(r->o);
	r->o = NULL;
	r->i = i;
	int err = qz_backup_open_header(r->t, r->secret, r->ids[i], &r->o, &r->info, why, whylen);
	if (err != 0)
		return err;
	if (r->info.document)
		return qz_why(why, whylen, EINVAL,
			      "backup %s holds a qube's settings, not a volume's data", r->ids[i]);
	if (r->info.fromguid != prev)
		return qz_why(why, whylen, EBADMSG,
			      i == 0 ? "backup %s is incremental: restore its chain from the "
				       "full backup"
				     : "backup %s does not follow the one before it",
			      r->ids[i]);
	char label[64];
	snprintf(label, sizeof(label), "backup %s", r->ids[i]);
	return qz_transfer_receive_fed(r->be, snap, r->info.raw, feed, r, label, why, whylen);
}

int qz_backup_restore(qz_backend_t *be, qz_target_t *t, const qz_open_secret_t *secret,
		      const char *const *ids, size_t n, const char *dataset,
		      const qz_read_progress_t *progress, char *why, size_t whylen)
{
	struct restore_one r = {
	    .t = t, .secret = secret, .ids = ids, .be = be, .progress = progress};
	int err = qz_transfer_restore_new(be, dataset, n, restore_one, &r, why, whylen);
	qz_opener_free(r.o);
	return err;
}

struct sealed_restore {
	qz_backend_t *be;
	qz_target_t *t;
	const qz_open_secret_t *secret;
	const char *const *ids;
	size_t n;
	const qz_read_progress_t *progress;
};

static int sealed_restore_new(void *ctx, const char *dataset, char *why, size_t whylen)
{
	struct sealed_restore *s = ctx;
	return qz_backup_restore(s->be, s->t, s->secret, s->ids, s->n, dataset, s->progress, why,
				 whylen);
}

int qz_backup_restore_over(qz_backend_t *be, qz_target_t *t, const qz_open_secret_t *secret,
			   const char *const *ids, size_t n, const char *vol,
			   const qz_volcfg_t *cfg, const qz_secret_t *pool_pass,
			   const qz_read_progress_t *progress, char *why, size_t whylen)
{
	if (n == 0)
		return qz_why(why, whylen, EINVAL, "no backups to restore");
	struct sealed_restore s = {be, t, secret, ids, n, progress};
	return qz_transfer_restore_over(be, vol, cfg, pool_pass, sealed_restore_new, &s, why,
					whylen);
}
