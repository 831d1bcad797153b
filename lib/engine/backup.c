/* Backups of volumes to an untrusted target (see backup.h). */
#include "backup.h"

#include "engine.h"
#include "error.h"
#include "family.h"
#include "le.h"
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

static void object_name(char *buf, size_t len, const char *id, long chunk)
{
	if (chunk < 0)
		snprintf(buf, len, "%s.h", id);
	else
		snprintf(buf, len, "%s.c%08lx", id, (unsigned long)chunk & 0xffffffffUL);
}

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

/* Waits for child pid: 0 if it exited 0. */
static int wait_child(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : EIO;
}

struct chunk_put {
	qz_target_t *t;
	qz_backup_rec_t *rec;
	const qz_backup_opts_t *o;
	char *why;
	size_t whylen;
};

/* Stores a sealed chunk as the backup's next object. */
static int put_chunk(void *ctx, const uint8_t *framed, size_t len, size_t plain)
{
	struct chunk_put *c = ctx;
	char name[80];
	object_name(name, sizeof(name), c->rec->id, (long)c->rec->chunks);
	int err = qz_target_put(c->t, name, framed, len, c->why, c->whylen);
	if (err != 0)
		return err;
	c->rec->chunks++;
	c->rec->bytes += plain;
	if (c->o->progress != NULL)
		c->o->progress(c->o->ctx, c->rec->volume, c->rec->bytes);
	return 0;
}

int qz_backup_create(qz_backend_t *be, qz_target_t *t, const qz_backup_opts_t *o, const char *vol,
		     qz_backup_rec_t *rec, char *why, size_t whylen)
{
	family_t f;
	memset(rec, 0, sizeof(*rec));
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

	qz_backup_rec_t last;
	bool incremental = last_backup(be, o->state_dir, vol, &last, &rec->seq);
	qz_transfer_t tr;
	err = qz_transfer_record(be, rec->snapshot, incremental ? last.bookmark : NULL, &tr);
	if (err == 0 && incremental && tr.fromguid != last.toguid)
		incremental = false; /* a bookmark of that name, not of that snapshot: start over */
	if (err == 0 && !incremental)
		err = qz_transfer_record(be, rec->snapshot, NULL, &tr);
	if (err != 0)
		return qz_why(why, whylen, err, "%s: %s", rec->snapshot, qz_strerror(err));
	if (incremental && tr.toguid == last.toguid) {
		*rec = last;
		return qz_why(why, whylen, EALREADY, "%s is unchanged since backup %s", vol,
			      last.id);
	}

	qz_seal_info_t info;
	qz_seal_info_init(&info, o->kdf != NULL ? o->kdf->kdf : QZ_KDF_KEYFILE);
	if (o->kdf != NULL && o->kdf->kdf == QZ_KDF_ARGON2ID) {
		memcpy(info.salt, o->kdf->salt, sizeof(info.salt));
		info.opslimit = o->kdf->opslimit;
		info.memlimit = o->kdf->memlimit;
	}
	snprintf(info.dataset, sizeof(info.dataset), "%s", vol);
	info.toguid = tr.toguid;
	info.fromguid = tr.fromguid;
	info.raw = tr.raw;
	if (o->chunk_size != 0)
		info.chunk_size = o->chunk_size;
	sodium_bin2hex(rec->id, sizeof(rec->id), info.id, sizeof(info.id));
	rec->toguid = tr.toguid;
	rec->fromguid = tr.fromguid;
	rec->raw = tr.raw;
	rec->chunk_size = info.chunk_size;
	rec->created = info.created;
	if (incremental)
		snprintf(rec->base, sizeof(rec->base), "%s", last.bookmark);

	uint8_t hdr[QZ_SEAL_HEADER_MAX];
	size_t hdrlen = 0;
	char name[80];
	qz_sealer_t *s = NULL;
	if ((err = qz_sealer_new(&info, o->key, hdr, &hdrlen, &s, why, whylen)) != 0)
		return err;
	/* the snapshot stays while it is sent, whatever prunes revisions meanwhile */
	err = be->ops->hold(be, rec->snapshot, HOLD_TAG);
	bool held = err == 0;
	if (err == EEXIST)
		err = 0; /* another backup holds it */
	object_name(name, sizeof(name), rec->id, -1);
	if (err == 0)
		err = qz_backup_rec_write(o->state_dir, rec);
	if (err != 0)
		qz_why(why, whylen, err, "%s", qz_strerror(err));
	if (err == 0)
		err = qz_target_put(t, name, hdr, hdrlen, why, whylen);
	int fds[2] = {-1, -1};
	pid_t pid = -1;
	if (err == 0 && pipe2(fds, O_CLOEXEC) != 0)
		err = qz_why(why, whylen, errno, "pipe: %s", strerror(errno));
	if (err == 0 && (pid = fork()) < 0)
		err = qz_why(why, whylen, errno, "fork: %s", strerror(errno));
	if (pid == 0) { /* the sender */
		close(fds[0]);
		_exit(qz_transfer_send(be, &tr, NULL, fds[1], NULL, 0) == 0 ? 0 : 1);
	}
	if (err == 0) {
		close(fds[1]);
		struct chunk_put c = {t, rec, o, why, whylen};
		err = qz_seal_chunks(fds[0], s, rec->chunk_size, put_chunk, &c, why, whylen);
		close(fds[0]);
		int sent = wait_child(pid);
		if (err == 0 && sent != 0)
			err = qz_why(why, whylen, EIO, "sending %s failed", rec->snapshot);
	}
	qz_sealer_free(s);
	if (err == 0) {
		/* the next backup starts from here, even once the snapshot is pruned */
		char ds[QZ_NAME_MAX], bm[QZ_NAME_MAX + 32];
		qz_name_dataset(rec->snapshot, ds, sizeof(ds));
		snprintf(bm, sizeof(bm), "%s#" BOOKMARK_PFX "%.16s", ds, rec->id);
		err = strlen(bm) < sizeof(rec->bookmark) ? 0 : ENAMETOOLONG;
		if (err == 0) {
			strcpy(rec->bookmark, bm);
			err = be->ops->bookmark(be, rec->snapshot, rec->bookmark);
		}
		if (err != 0)
			rec->bookmark[0] = 0; /* whole, but the next backup is a full one */
		rec->complete = true;
		err = qz_backup_rec_write(o->state_dir, rec);
		if (err != 0)
			qz_why(why, whylen, err, "writing the record: %s", strerror(err));
	}
	if (err == 0 && incremental && strstr(last.base, "#" BOOKMARK_PFX) != NULL)
		(void)be->ops->destroy_bookmark(be, last.base); /* two back: no longer a base */
	if (held)
		(void)be->ops->release(be, rec->snapshot, HOLD_TAG);
	return err;
}

/* ---- reading backups back ---- */

/* Opens the backup's header: the opener, and the header's fields in *info. */
static int open_header(qz_target_t *t, const qz_open_secret_t *secret, const char *id,
		       qz_opener_t **o, qz_seal_info_t *info, char *why, size_t whylen)
{
	uint8_t hdr[QZ_SEAL_HEADER_MAX];
	size_t len = 0;
	char name[80];
	object_name(name, sizeof(name), id, -1);
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
	return err;
}

/* Reads every chunk of the backup in order, passing the plaintext to emit; 0 once the final
 * chunk was opened. */
static int read_chunks(qz_target_t *t, qz_opener_t *o, const char *id, qz_stream_emit_fn emit,
		       void *ctx, uint64_t *chunks, char *why, size_t whylen)
{
	size_t cs = qz_opener_info(o)->chunk_size;
	uint8_t *sealed = malloc(cs + QZ_SEAL_ABYTES + 4), *plain = malloc(cs);
	int err = sealed == NULL || plain == NULL ? ENOMEM : 0;
	bool final = false;
	for (*chunks = 0; err == 0 && !final; (*chunks)++) {
		char name[80];
		object_name(name, sizeof(name), id, (long)*chunks);
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

static int to_verifier(void *ctx, const void *buf, size_t len)
{
	return qz_verifier_feed(ctx, buf, len);
}

int qz_backup_verify(qz_target_t *t, const qz_open_secret_t *secret, const qz_backup_rec_t *r,
		     char *why, size_t whylen)
{
	qz_opener_t *o = NULL;
	qz_seal_info_t info;
	int err = open_header(t, secret, r->id, &o, &info, why, whylen);
	if (err != 0)
		return err;
	if (info.toguid != r->toguid || info.fromguid != r->fromguid || info.raw != r->raw ||
	    strcmp(info.dataset, r->volume) != 0) {
		qz_opener_free(o);
		return qz_why(why, whylen, EBADMSG, "backup %s is not the one dom0 made", r->id);
	}
	qz_stream_expect_t e = {r->toguid, r->fromguid, r->raw, false};
	uint64_t bytes = 0, chunks = 0;
	qz_verifier_t *v = NULL;
	if ((err = qz_verifier_new(&e, count_only, &bytes, &v)) != 0) {
		qz_opener_free(o);
		return err;
	}
	err = read_chunks(t, o, r->id, to_verifier, v, &chunks, why, whylen);
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

/* The child of a restore: reads backup id from t, verifies it, writes it to fd; the reason of
 * a refusal goes to errfd. */
static int feed(qz_target_t *t, qz_opener_t *o, const qz_seal_info_t *info, const char *id, int fd,
		int errfd)
{
	char why[300] = "";
	qz_stream_expect_t e = {info->toguid, info->fromguid, info->raw, false};
	qz_verifier_t *v = NULL;
	int err = qz_verifier_new(&e, to_fd, &fd, &v);
	uint64_t chunks = 0;
	if (err == 0)
		err = read_chunks(t, o, id, to_verifier, v, &chunks, why, sizeof(why));
	if (err == 0)
		err = qz_verifier_end(v);
	if (v != NULL && qz_verifier_why(v)[0] != 0)
		snprintf(why, sizeof(why), "%s", qz_verifier_why(v));
	if (err != 0)
		(void)!write(errfd, why, strlen(why));
	qz_verifier_free(v);
	return err;
}

static int restore_chain(qz_backend_t *be, qz_target_t *t, const qz_open_secret_t *secret,
			 const char *const *ids, size_t n, const char *dataset, char *why,
			 size_t whylen);

int qz_backup_restore(qz_backend_t *be, qz_target_t *t, const qz_open_secret_t *secret,
		      const char *const *ids, size_t n, const char *dataset, char *why,
		      size_t whylen)
{
	if (be->ops->exists(be, dataset))
		return qz_why(why, whylen, EEXIST, "%s exists: restore into a new volume", dataset);
	char parent[QZ_NAME_MAX];
	qz_name_parent(dataset, parent, sizeof(parent));
	if (!be->ops->exists(be, parent) && qz_vol_ensure_dir(be, dataset) != 0)
		return qz_why(why, whylen, ENOENT, "cannot restore into %s: %s", dataset,
			      qz_be_detail(be)[0] ? qz_be_detail(be) : "its parent does not exist");
	int err = restore_chain(be, t, secret, ids, n, dataset, why, whylen);
	if (err != 0 && be->ops->exists(be, dataset)) {
		/* a later backup of the chain was refused: what came before it goes too */
		qz_list_t l;
		if (be->ops->list(be, dataset, 1, QZ_SNAPSHOT, NULL, 0, &l) == 0) {
			for (size_t r = 0; r < l.nrows; r++) {
				const char *snap = qz_list_cell(&l, r, 0);
				(void)be->ops->destroy_snaps(be, &snap, 1, false);
			}
			qz_list_free(&l);
		}
		(void)be->ops->destroy(be, dataset);
	}
	return err;
}

static int restore_chain(qz_backend_t *be, qz_target_t *t, const qz_open_secret_t *secret,
			 const char *const *ids, size_t n, const char *dataset, char *why,
			 size_t whylen)
{
	uint64_t prev = 0;
	for (size_t i = 0; i < n; i++) {
		qz_opener_t *o = NULL;
		qz_seal_info_t info;
		int err = open_header(t, secret, ids[i], &o, &info, why, whylen);
		if (err != 0)
			return err;
		if (info.fromguid != prev) {
			qz_opener_free(o);
			return qz_why(why, whylen, EBADMSG,
				      i == 0
					  ? "backup %s is incremental: restore its chain from the "
					    "full backup"
					  : "backup %s does not follow the one before it",
				      ids[i]);
		}
		char snap[QZ_NAME_MAX + 32];
		snprintf(snap, sizeof(snap), "%s@r%zu", dataset, i + 1);
		int fds[2], errp[2];
		if (pipe2(fds, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
			qz_opener_free(o);
			return qz_why(why, whylen, errno, "pipe: %s", strerror(errno));
		}
		pid_t pid = fork();
		if (pid == 0) { /* the feeder: every byte opened and verified before it goes on */
			close(fds[0]);
			close(errp[0]);
			_exit(feed(t, o, &info, ids[i], fds[1], errp[1]) == 0 ? 0 : 1);
		}
		close(fds[1]);
		close(errp[1]);
		err = pid < 0 ? errno : be->ops->receive(be, snap, fds[0], false, info.raw, false);
		close(fds[0]);
		int fed = pid < 0 ? 0 : wait_child(pid);
		char childwhy[300] = "";
		ssize_t got = read(errp[0], childwhy, sizeof(childwhy) - 1);
		childwhy[got > 0 ? got : 0] = 0;
		close(errp[0]);
		qz_opener_free(o);
		if (fed != 0 && (childwhy[0] != 0 || err == 0))
			return qz_why(why, whylen, EBADMSG, "backup %s refused: %s", ids[i],
				      childwhy[0] ? childwhy : "the target failed");
		if (err != 0)
			return qz_why(why, whylen, err, "receiving backup %s: %s", ids[i],
				      qz_strerror(err));
		prev = info.toguid;
	}
	return 0;
}
