/* SPDX-License-Identifier: BSD-2-Clause */
/* Backup transfers: what dom0 sends, decided from ZFS and never from the receiving side. */
#include "digest.h"
#include "engine.h"
#include "error.h"
#include "family.h"
#include "fdio.h"
#include "stream.h"
#include "token.h"
#include "why.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int qz_transfer_record(qz_backend_t *be, const char *snap, const char *from, qz_transfer_t *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->snap = snap;
	rec->from = from;
	int err = qz_prop_u64(be, snap, "guid", &rec->toguid);
	if (err == 0 && from != NULL)
		err = qz_prop_u64(be, from, "guid", &rec->fromguid);
	char enc[32] = "";
	if (err == 0)
		err = be->ops->get_prop(be, snap, "encryption", enc, sizeof(enc));
	if (err != 0)
		return err;
	rec->raw = strcmp(enc, "off") != 0;
	/* raw sends carry blocks as stored (compressed, large, embedded); the others ask for it */
	rec->send_flags =
	    rec->raw ? QZ_SEND_RAW : QZ_SEND_EMBED | QZ_SEND_LARGE_BLOCK | QZ_SEND_COMPRESS;
	return 0;
}

int qz_transfer_send(qz_backend_t *be, const qz_transfer_t *rec, const char *token, int fd,
		     char *why, size_t whylen)
{
	if (why != NULL && whylen > 0)
		why[0] = 0;
	if (token == NULL)
		return be->ops->send(be, rec->snap, rec->from, fd, rec->send_flags, 0, 0);
	qz_token_t t;
	int err = qz_token_parse(token, &t, why, whylen);
	if (err != 0)
		return err;
	qz_transfer_t known = *rec;
	if (!known.learned && (err = qz_transfer_learn(be, &known, NULL, NULL, why, whylen)) != 0)
		return err;
	qz_resume_t plan;
	if ((err = qz_token_plan(&t, &known, &plan, why, whylen)) != 0)
		return err;
	return be->ops->send(be, plan.snap, plan.from, fd, plan.send_flags, plan.object,
			     plan.offset);
}

int qz_transfer_wait(int pid)
{
	int status;
	while (waitpid((pid_t)pid, &status, 0) < 0)
		if (errno != EINTR)
			return errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : EIO;
}

static int to_fd(void *ctx, const void *buf, size_t len)
{
	return qz_write_full(*(int *)ctx, buf, len);
}

/* Whether rec's base lives in another dataset than its snapshot: the snapshot's dataset is a
 * clone of it (reverted, restored over), and ZFS marks the stream a clone stream. */
static bool from_a_clones_origin(const qz_transfer_t *rec)
{
	if (rec->from == NULL)
		return false;
	size_t a = strcspn(rec->from, "@#"), b = strcspn(rec->snap, "@");
	return a != b || strncmp(rec->from, rec->snap, a) != 0;
}

typedef int (*sender_fn)(qz_backend_t *be, const qz_transfer_t *rec, const char *token,
			 const char *rename, int out);

/* Runs send(be, rec, token, rename, ...) in a child process writing into a new pipe, whose read
 * end goes to *fd; *pid is the child. */
static int fork_sender(sender_fn send, qz_backend_t *be, const qz_transfer_t *rec,
		       const char *token, const char *rename, int *fd, pid_t *pid)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return errno;
	qz_pipe_grow(fds[0]); /* the sender runs ahead while the receiving side works */
	if ((*pid = fork()) < 0) {
		int err = errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (*pid == 0) {
		close(fds[0]);
		_exit(send(be, rec, token, rename, fds[1]) == 0 ? 0 : 1);
	}
	close(fds[1]);
	*fd = fds[0];
	return 0;
}

static int send_plain(qz_backend_t *be, const qz_transfer_t *rec, const char *token,
		      const char *rename, int out)
{
	(void)rename;
	return qz_transfer_send(be, rec, token, out, NULL, 0);
}

/* Feeds v what comes from in, read into buf[0..cap), until it ends (then ends v), or with
 * begin_only until v has read the BEGIN record whole. 0, or the read's or v's error. */
static int pump(int in, qz_verifier_t *v, uint8_t *buf, size_t cap, bool begin_only)
{
	for (;;) {
		ssize_t n = read(in, buf, cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : qz_verifier_end(v);
		uint64_t bytes = 0, records = 0;
		int err = qz_verifier_feed(v, buf, (size_t)n);
		qz_verifier_counts(v, &bytes, &records);
		if (err != 0 || (begin_only && records > 0))
			return err;
	}
}

/* qz_transfer_send in a process of its own, its stream rewritten (and verified) on the way to
 * out: renamed if rename is not NULL, its clone flag cleared; 0, or the verifier's or the
 * sender's error. */
static int send_rewritten(qz_backend_t *be, const qz_transfer_t *rec, const char *token,
			  const char *rename, int out)
{
	int in = -1;
	pid_t pid = -1;
	int err = fork_sender(send_plain, be, rec, token, NULL, &in, &pid);
	if (err != 0)
		return err;
	/* a whole stream's digest is what it passed on; a resumed one's is made apart */
	qz_digest_t digest = {0};
	bool digesting = rec->digest_path != NULL && token == NULL;
	qz_stream_expect_t e = {.toguid = rec->toguid,
				.fromguid = rec->fromguid,
				.raw = rec->raw,
				.resumed = token != NULL,
				.rename = rename,
				.unclone = true,
				.digest_out = digesting ? &digest : NULL};
	qz_verifier_t *v = NULL;
	size_t cap = 1u << 20;
	uint8_t *buf = malloc(cap);
	err = buf == NULL ? ENOMEM : qz_verifier_new(&e, to_fd, &out, &v);
	if (err == 0)
		err = pump(in, v, buf, cap, false);
	close(in); /* a sender still writing stops */
	int sent = qz_transfer_wait(pid);
	qz_verifier_free(v);
	free(buf);
	if (err == 0 && sent == 0 && digesting)
		err = qz_digest_write(rec->digest_path, &digest);
	qz_digest_free(&digest);
	return err != 0 ? err : sent;
}

int qz_transfer_digest(qz_backend_t *be, const qz_transfer_t *rec, const char *rename, char *why,
		       size_t whylen)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null < 0)
		return qz_why(why, whylen, errno, "/dev/null: %s", strerror(errno));
	int err = send_rewritten(be, rec, NULL, rename, null);
	close(null);
	if (err != 0)
		qz_why(why, whylen, err, "digesting the stream of %s: %s", rec->snap,
		       qz_strerror(err));
	return err;
}

int qz_transfer_start(qz_backend_t *be, const qz_transfer_t *rec, const char *token,
		      const char *rename, int *fd, int *pid, char *why, size_t whylen)
{
	bool rewrite = rename != NULL || from_a_clones_origin(rec);
	pid_t child = -1;
	int err =
	    fork_sender(rewrite ? send_rewritten : send_plain, be, rec, token, rename, fd, &child);
	if (err != 0)
		return qz_why(why, whylen, err, "starting the sender: %s", strerror(err));
	*pid = (int)child;
	return 0;
}

static int discard(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return 0;
}

int qz_transfer_learn(qz_backend_t *be, qz_transfer_t *rec, uint8_t *mac, bool *has_mac, char *why,
		      size_t whylen)
{
	if (has_mac != NULL)
		*has_mac = false;
	int in = -1;
	pid_t pid = -1;
	int err = fork_sender(send_plain, be, rec, NULL, NULL, &in, &pid);
	if (err != 0)
		return qz_why(why, whylen, err, "starting the sender: %s", strerror(err));
	qz_stream_expect_t e = {.toguid = rec->toguid, .fromguid = rec->fromguid, .raw = rec->raw};
	qz_verifier_t *v = NULL;
	uint8_t buf[64 << 10];
	err = qz_verifier_new(&e, discard, NULL, &v);
	if (err == 0)
		err = pump(in, v, buf, sizeof(buf), true);
	if (err == 0) {
		rec->features = qz_verifier_features(v);
		if (mac != NULL && has_mac != NULL)
			*has_mac = qz_verifier_objset_mac(v, mac);
	} else if (v != NULL && qz_verifier_why(v)[0] != 0) {
		qz_why(why, whylen, err, "sending %s: %s", rec->snap, qz_verifier_why(v));
	} else {
		qz_why(why, whylen, err, "sending %s: %s", rec->snap, strerror(err));
	}
	close(in); /* the sender stops */
	(void)qz_transfer_wait(pid);
	qz_verifier_free(v);
	/* the volume's block size, which cannot change, and the snapshot's size */
	char head[QZ_NAME_MAX];
	if (err == 0 && ((err = qz_name_dataset(rec->snap, head, sizeof(head))) != 0 ||
			 (err = qz_prop_u64(be, rec->snap, "volsize", &rec->volsize)) != 0 ||
			 (err = qz_prop_u64(be, head, "volblocksize", &rec->blocksize)) != 0))
		qz_why(why, whylen, err, "%s: %s", rec->snap, qz_strerror(err));
	rec->learned = err == 0;
	return err;
}

int qz_transfer_receive_fed(qz_backend_t *be, const char *snap, bool raw, qz_feed_fn feed,
			    void *ctx, const char *label, char *why, size_t whylen)
{
	int fds[2], errp[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return qz_why(why, whylen, errno, "pipe: %s", strerror(errno));
	if (pipe2(errp, O_CLOEXEC) != 0) {
		int err = errno;
		close(fds[0]);
		close(fds[1]);
		return qz_why(why, whylen, err, "pipe: %s", strerror(err));
	}
	pid_t pid = fork();
	if (pid == 0) { /* the feeder: only verified bytes go on */
		close(fds[0]);
		close(errp[0]);
		char childwhy[300] = "";
		int err = feed(ctx, fds[1], childwhy, sizeof(childwhy));
		if (err != 0)
			(void)!write(errp[1], childwhy, strlen(childwhy));
		_exit(err == 0 ? 0 : 1);
	}
	close(fds[1]);
	close(errp[1]);
	int err = pid < 0 ? errno : be->ops->receive(be, snap, fds[0], false, raw, false);
	close(fds[0]);
	int fed = pid < 0 ? 0 : qz_transfer_wait(pid);
	char childwhy[300] = "";
	ssize_t got = read(errp[0], childwhy, sizeof(childwhy) - 1);
	childwhy[got > 0 ? got : 0] = 0;
	close(errp[0]);
	if (fed != 0 && (childwhy[0] != 0 || err == 0))
		return qz_why(why, whylen, EBADMSG, "%s refused: %s", label,
			      childwhy[0] ? childwhy : "the target failed");
	if (err != 0)
		return qz_why(why, whylen, err, "receiving %s: %s", label, qz_strerror(err));
	return 0;
}

/* Destroys restored dataset with its snapshots, if it is there. */
static void drop_restored(qz_backend_t *be, const char *dataset)
{
	if (!be->ops->exists(be, dataset))
		return;
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

/* Makes restored dataset, when a raw stream made it an encryption root of its own, part of its
 * parent's: its key loaded with pass (the passphrase its pool had), then inherited. */
static int join_encryption(qz_backend_t *be, const char *dataset, const qz_secret_t *pass,
			   char *why, size_t whylen)
{
	char root[QZ_NAME_MAX] = "";
	if (be->ops->get_prop(be, dataset, "encryptionroot", root, sizeof(root)) != 0 ||
	    strcmp(root, dataset) != 0)
		return 0;
	if (pass == NULL)
		return qz_why(why, whylen, EACCES,
			      "the backup is encrypted: the passphrase of its pool is needed");
	int err = qz_key_load(be, dataset, pass);
	if (err == EACCES)
		return qz_why(why, whylen, err,
			      "the passphrase given does not open the backup's key (the passphrase "
			      "its pool had when the backup was made is needed)");
	if (err == 0 && (err = be->ops->inherit_key(be, dataset)) == EINVAL)
		return qz_why(why, whylen, err,
			      "an encrypted backup goes only over a volume of an "
			      "encrypted pool");
	if (err == EACCES)
		return qz_why(why, whylen, err, "the pool's key must be loaded");
	if (err != 0)
		return qz_why(why, whylen, err, "%s: %s", dataset,
			      qz_be_detail(be)[0] ? qz_be_detail(be) : qz_strerror(err));
	return 0;
}

int qz_transfer_restore_new(qz_backend_t *be, const char *dataset, size_t n,
			    int (*restore)(void *ctx, size_t i, const char *snap, char *why,
					   size_t whylen),
			    void *ctx, char *why, size_t whylen)
{
	if (be->ops->exists(be, dataset))
		return qz_why(why, whylen, EEXIST, "%s exists: restore into a new volume", dataset);
	char parent[QZ_NAME_MAX];
	qz_name_parent(dataset, parent, sizeof(parent));
	if (!be->ops->exists(be, parent) && qz_vol_ensure_dir(be, dataset) != 0)
		return qz_why(why, whylen, ENOENT, "cannot restore into %s: %s", dataset,
			      qz_be_detail(be)[0] ? qz_be_detail(be) : "its parent does not exist");
	int err = 0;
	for (size_t i = 0; err == 0 && i < n; i++) {
		char snap[QZ_NAME_MAX + 32];
		snprintf(snap, sizeof(snap), "%s@r%zu", dataset, i + 1);
		err = restore(ctx, i, snap, why, whylen);
	}
	if (err != 0) /* a later stream of the chain was refused: what came before it goes too */
		drop_restored(be, dataset);
	return err;
}

int qz_transfer_restore_over(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg,
			     const qz_secret_t *pool_pass,
			     int (*restore_new)(void *ctx, const char *dataset, char *why,
						size_t whylen),
			     void *ctx, char *why, size_t whylen)
{
	char vmdir[QZ_NAME_MAX], root[QZ_NAME_MAX];
	const char *leaf = strrchr(vol, '/');
	if (leaf == NULL || qz_name_parent(vol, vmdir, sizeof(vmdir)) != 0 ||
	    qz_name_parent(vmdir, root, sizeof(root)) != 0)
		return qz_why(why, whylen, EINVAL, "%s is not a pool's volume", vol);
	int err = qz_vol_recover(be, vol); /* what a crash left there, restore or not */
	if (err != 0)
		return qz_why(why, whylen, err, "%s: %s", vol,
			      qz_be_detail(be)[0] ? qz_be_detail(be) : qz_strerror(err));
	if (!be->ops->exists(be, vol))
		return qz_why(why, whylen, ENOENT,
			      "%s does not exist: restore into a new volume with --to", vol);
	/* Beside the VMs, under a name no VM can have (a dot first), one per volume: the volume's
	 * lock, which the caller holds, makes it ours, so what an interrupted restore left there
	 * (received data, or the origin of the volume it was put into) is cleared first. */
	char tmpdir[QZ_NAME_MAX], tmp[QZ_NAME_MAX];
	if ((size_t)snprintf(tmpdir, sizeof(tmpdir), "%s/.restore-%s", root,
			     strrchr(vmdir, '/') + 1) >= sizeof(tmpdir) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s%s", tmpdir, leaf) >= sizeof(tmp))
		return qz_why(why, whylen, ENAMETOOLONG, "%s: name too long to restore over", vol);
	if (be->ops->exists(be, tmp) && (err = qz_vol_remove(be, tmp)) != 0)
		return qz_why(why, whylen, err,
			      "clearing what an interrupted restore left in %s: %s", tmp,
			      qz_be_detail(be)[0] ? qz_be_detail(be) : qz_strerror(err));
	err = restore_new(ctx, tmp, why, whylen);
	if (err == 0 && (err = join_encryption(be, tmp, pool_pass, why, whylen)) != 0)
		drop_restored(be, tmp);
	if (err != 0) {
		(void)be->ops->destroy(be, tmpdir); /* nothing is left inside it */
		return err;
	}
	if ((err = qz_crash_point("restore-over.received")) == 0 &&
	    (err = qz_vol_import_volume(be, vol, cfg, tmp)) != 0)
		qz_why(why, whylen, err, "putting the restored data in %s: %s", vol,
		       qz_be_detail(be)[0] ? qz_be_detail(be) : qz_strerror(err));
	(void)qz_vol_remove(be, tmp); /* what the volume was cloned from is kept as the engine
				       * keeps a removed volume's dependents' data */
	return err;
}
