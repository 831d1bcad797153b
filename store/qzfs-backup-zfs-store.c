/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * qzfs-backup-zfs-store ROOT: keeps dom0's backups of encrypted volumes as ZFS datasets under
 * ROOT, in a backup qube that runs ZFS (the qrexec service qubes-storage-zfs.BackupZfs). It
 * speaks the ZFS-receiving part of the store protocol (store_proto.h) on stdin and stdout.
 *
 * dom0 only sends raw streams: the data stays encrypted with keys this qube never has, so it
 * cannot read it, and ZFS's authentication of every block makes changes show when dom0 reads a
 * restored volume; dom0 also verifies every stream this program sends back. Receives are
 * resumable: a cut one keeps its partial state, whose token dom0 asks for and checks.
 *
 * Names: a dataset is ROOT/<16 hex> (named by dom0 after the first backup of its chain), its
 * snapshots @<16 hex> (the backups). Nothing else under ROOT is touched.
 * Environment: QZFS_BACKEND and QZFS_MODEL_POOL select the ZFS model instead of ZFS (tests).
 */
#include "backend.h"
#include "fdio.h"
#include "reply.h"
#include "zname.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEX_NAME 16

static qz_backend_t *be;
static const char *root;

static bool hex_name(const char *s, size_t n)
{
	if (n != HEX_NAME)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Splits "<ds>[.<snap>[.<base>]]" into full ZFS names; how many parts there were (0: bad). */
static int parse(const char *name, char ds[QZ_NAME_MAX], char snap[QZ_NAME_MAX],
		 char base[QZ_NAME_MAX])
{
	const char *p[3];
	size_t len[3];
	int n = 0;
	for (const char *at = name; n < 3; n++) {
		const char *dot = strchr(at, '.');
		p[n] = at;
		len[n] = dot != NULL ? (size_t)(dot - at) : strlen(at);
		if (!hex_name(p[n], len[n]))
			return 0;
		if (dot == NULL) {
			n++;
			break;
		}
		at = dot + 1;
		if (n == 2)
			return 0;
	}
	snprintf(ds, QZ_NAME_MAX, "%s/%.16s", root, p[0]);
	if (n > 1)
		snprintf(snap, QZ_NAME_MAX, "%s@%.16s", ds, p[1]);
	if (n > 2)
		snprintf(base, QZ_NAME_MAX, "%s@%.16s", ds, p[2]);
	return n;
}

/* Whatever ends this program, ZFS's model (tests) is saved. */
static void close_backend(void)
{
	if (be != NULL)
		qz_backend_close(be);
	be = NULL;
}

static void failed(const char *what, int err)
{
	store_fail(what, err, qz_be_detail(be));
}

/* ---- receive: stdin's pieces go through a pipe into ZFS ---- */

struct pump {
	int fd;	 /* the pipe ZFS reads */
	int err; /* EBADMSG: stdin ended or was malformed */
};

static int to_pipe(void *ctx, const void *buf, size_t len)
{
	return qz_write_full(*(int *)ctx, buf, len);
}

static void *pump(void *arg)
{
	struct pump *p = arg;
	int err = qz_store_pieces_in(STDIN_FILENO, -1, to_pipe, &p->fd);
	p->err = err == EBADMSG ? EBADMSG : 0; /* a refused write: ZFS stopped reading */
	close(p->fd); /* ZFS sees the end (early if stdin was cut: a partial state is kept) */
	return NULL;
}

static void receive(const char *name)
{
	char ds[QZ_NAME_MAX], snap[QZ_NAME_MAX], base[QZ_NAME_MAX];
	int fds[2];
	bool ok = parse(name, ds, snap, base) == 2;
	if (!ok || pipe(fds) != 0) {
		/* the stream must still be read to its end */
		int devnull = -1;
		qz_store_pieces_in(STDIN_FILENO, -1, to_pipe, &devnull);
		store_fail("receive", ok ? errno : EINVAL, NULL);
		return;
	}
	qz_pipe_grow(fds[0]);
	struct pump p = {fds[1], 0};
	pthread_t th;
	if (pthread_create(&th, NULL, pump, &p) != 0) {
		close(fds[0]);
		close(fds[1]);
		exit(1);
	}
	int err = be->ops->receive(be, snap, fds[0], true, true, false);
	close(fds[0]); /* the pump's writes now fail: it reads stdin to the stream's end */
	pthread_join(th, NULL);
	if (p.err != 0)
		exit(1); /* dom0 went away mid-stream: ZFS kept what it received */
	if (err != 0)
		failed("receive", err);
	else
		store_reply(QZ_STORE_OK, NULL, 0);
}

/* ---- send back: ZFS writes into a pipe, read as pieces to stdout ---- */

struct sender {
	const char *snap, *base;
	int fd, err;
};

static void *send_thread(void *arg)
{
	struct sender *s = arg;
	s->err = be->ops->send(be, s->snap, s->base, s->fd, QZ_SEND_RAW, 0, 0);
	close(s->fd);
	return NULL;
}

static void send_back(const char *name)
{
	char ds[QZ_NAME_MAX], snap[QZ_NAME_MAX], base[QZ_NAME_MAX];
	int n = parse(name, ds, snap, base), fds[2];
	if (n < 2) {
		store_fail("send", EINVAL, NULL);
		return;
	}
	if (!be->ops->exists(be, snap)) {
		store_reply(QZ_STORE_NOENT, NULL, 0);
		return;
	}
	if (pipe(fds) != 0) {
		store_fail("send", errno, NULL);
		return;
	}
	struct sender s = {snap, n == 3 ? base : NULL, fds[1], 0};
	pthread_t th;
	if (pthread_create(&th, NULL, send_thread, &s) != 0)
		exit(1);
	store_reply(QZ_STORE_OK, NULL, 0);
	uint64_t bytes = 0;
	char which = 0;
	int err = qz_store_pieces_out(fds[0], STDOUT_FILENO, -1, &bytes, &which, NULL);
	close(fds[0]);
	pthread_join(th, NULL);
	if (err != 0)
		exit(1);
	if (s.err != 0)
		failed("send", s.err);
	else
		store_reply(QZ_STORE_OK, NULL, 0);
}

/* ---- the rest ---- */

static void token(const char *name)
{
	char ds[QZ_NAME_MAX], snap[QZ_NAME_MAX], base[QZ_NAME_MAX];
	static char tok[16384];
	if (parse(name, ds, snap, base) != 1) {
		store_fail("token", EINVAL, NULL);
		return;
	}
	int err = be->ops->exists(be, ds)
		      ? be->ops->get_prop(be, ds, "receive_resume_token", tok, sizeof(tok))
		      : ENOENT;
	if (err == 0 && strcmp(tok, "-") == 0)
		err = ENOENT;
	if (err == ENOENT)
		store_reply(QZ_STORE_NOENT, NULL, 0);
	else if (err != 0)
		failed("token", err);
	else
		store_reply(QZ_STORE_OK, tok, strlen(tok));
}

/* How many snapshots ds has (-1 if it cannot be listed). */
static long snapshots(const char *ds)
{
	qz_list_t l;
	if (be->ops->list(be, ds, 1, QZ_SNAPSHOT, NULL, 0, &l) != 0)
		return -1;
	long n = (long)l.nrows;
	qz_list_free(&l);
	return n;
}

static void abort_partial(const char *name)
{
	char ds[QZ_NAME_MAX], snap[QZ_NAME_MAX], base[QZ_NAME_MAX], part[QZ_NAME_MAX + 8];
	char tok[64] = "-";
	if (parse(name, ds, snap, base) != 1) {
		store_fail("abort", EINVAL, NULL);
		return;
	}
	/* an incremental's partial state is a hidden child; a full one's is the dataset itself */
	snprintf(part, sizeof(part), "%s/%%recv", ds);
	int err = be->ops->exists(be, part) ? be->ops->destroy(be, part) : 0;
	if (err == 0 && be->ops->exists(be, ds) &&
	    be->ops->get_prop(be, ds, "receive_resume_token", tok, sizeof(tok)) != ENOENT &&
	    strcmp(tok, "-") != 0 && snapshots(ds) == 0)
		err = be->ops->destroy(be, ds);
	if (err != 0)
		failed("abort", err);
	else
		store_reply(QZ_STORE_OK, NULL, 0);
}

static void destroy(const char *name)
{
	char ds[QZ_NAME_MAX], snap[QZ_NAME_MAX], base[QZ_NAME_MAX];
	if (parse(name, ds, snap, base) != 2) {
		store_fail("delete", EINVAL, NULL);
		return;
	}
	const char *snaps[] = {snap};
	int err = be->ops->exists(be, snap) ? be->ops->destroy_snaps(be, snaps, 1, false) : 0;
	if (err == 0 && be->ops->exists(be, ds) && snapshots(ds) == 0)
		err = be->ops->destroy(be, ds);
	if (err != 0)
		failed("delete", err);
	else
		store_reply(QZ_STORE_OK, NULL, 0);
}

static void list(void)
{
	static const char *const props[] = {"guid"};
	qz_list_t l;
	int err = be->ops->exists(be, root) ? be->ops->list(be, root, 2, QZ_SNAPSHOT, props, 1, &l)
					    : ENOENT;
	if (err != 0) {
		failed("listing", err);
		return;
	}
	store_listing_t out = {0};
	size_t rootlen = strlen(root);
	for (size_t r = 0; r < l.nrows; r++) {
		const char *n = qz_list_cell(&l, r, 0), *at = strchr(n, '@');
		char name[2 * HEX_NAME + 2];
		/* ROOT/<hex>@<hex>: anything else under ROOT is not ours */
		if (strncmp(n, root, rootlen) != 0 || n[rootlen] != '/' || at == NULL ||
		    !hex_name(n + rootlen + 1, (size_t)(at - n - rootlen - 1)) ||
		    !hex_name(at + 1, strlen(at + 1)))
			continue;
		snprintf(name, sizeof(name), "%.16s.%.16s", n + rootlen + 1, at + 1);
		store_listing_add(&out, name, strtoull(qz_list_cell(&l, r, 1), NULL, 10));
	}
	qz_list_free(&l);
	store_listing_reply(&out);
}

int main(int argc, char **argv)
{
	if (argc != 2 || qz_name_check(argv[1], QZ_NAME_DATASET) != 0) {
		fprintf(stderr, "usage: qzfs-backup-zfs-store ROOT   (a dataset; speaks the backup "
				"store protocol on stdin/stdout)\n");
		return 2;
	}
	root = argv[1];
	signal(SIGPIPE, SIG_IGN);
	const char *kind = getenv("QZFS_BACKEND");
	int err = qz_backend_open(kind != NULL ? kind : "real", getenv("QZFS_MODEL_POOL"), &be);
	if (err != 0) {
		fprintf(stderr, "qzfs-backup-zfs-store: cannot reach ZFS: %s\n", strerror(err));
		return 1;
	}
	if (!be->ops->exists(be, root)) {
		fprintf(stderr, "qzfs-backup-zfs-store: %s does not exist\n", root);
		close_backend();
		return 1;
	}
	atexit(close_backend);
	int rc = 0;
	for (store_request_t r; rc == 0;) {
		int got = store_read_request(&r);
		if (got <= 0) {
			rc = got == 0 ? 0 : 1;
			break;
		}
		switch (r.op) {
		case QZ_STORE_RECV:
			receive(r.name);
			break;
		case QZ_STORE_SEND:
			send_back(r.name);
			break;
		case QZ_STORE_TOKEN:
			token(r.name);
			break;
		case QZ_STORE_ABORT:
			abort_partial(r.name);
			break;
		case QZ_STORE_DEL:
			destroy(r.name);
			break;
		case QZ_STORE_LIST:
			list();
			break;
		default: /* objects (P, G) are the other store's */
			rc = 1;
		}
	}
	close_backend();
	return rc;
}
