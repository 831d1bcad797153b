/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The model backend: ZFS semantics in memory, for fast tests. Volume contents live in memfds
 * (sparse, so a 10 GiB volume costs only what is written). Wherever it and real ZFS disagree,
 * the model is wrong: the conformance suite runs on both.
 */
#include "model.h"

#include "drr.h"
#include "fdio.h"
#include "nvlist.h"
#include "stream.h"
#include "token.h"
#include "zname.h"
#include "zprop.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ZVOL_DATA_OBJECT 1	      /* where a volume's data is: what resume tokens name */
#define SEND_BLOCK_MAX	 (128u << 10) /* the largest block a stream of the model's carries */

static model_t *M(qz_backend_t *be)
{
	return (model_t *)be;
}

static uint64_t next_guid(model_t *m)
{
	uint64_t z = (m->seed += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct mds *mdl_find(model_t *m, const char *name)
{
	for (struct mds *d = m->all; d != NULL; d = d->next)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

/* Like qz_name_check(), but as the kernel answers: EINVAL for every bad name, too long included. */
static int name_check(const char *name, enum qz_name_kind kind)
{
	return qz_name_check(name, kind) != 0 ? EINVAL : 0;
}

/* Stores a, sep and b in buf (QZ_NAME_MAX bytes); ENAMETOOLONG if that is too long a name. */
static int name_join(char *buf, const char *a, const char *sep, const char *b)
{
	size_t la = strlen(a), ls = strlen(sep), lb = strlen(b);
	if (la + ls + lb >= QZ_NAME_MAX)
		return ENAMETOOLONG;
	memcpy(buf, a, la);
	memcpy(buf + la, sep, ls);
	memcpy(buf + la + ls, b, lb + 1);
	return 0;
}

/* Finds name, which must be a valid name of kind: 0, EINVAL or ENOENT as ZFS answers. */
static int lookup(model_t *m, const char *name, enum qz_name_kind kind, struct mds **dp)
{
	if (name_check(name, kind) != 0)
		return EINVAL;
	*dp = mdl_find(m, name);
	return *dp != NULL ? 0 : ENOENT;
}

static const char *short_name(const struct mds *d)
{
	const char *t = strpbrk(d->name, "@#");
	return t != NULL ? t + 1 : d->name;
}

/* The head dataset of a snapshot or bookmark. */
static struct mds *head_of(model_t *m, const struct mds *d)
{
	char buf[QZ_NAME_MAX];
	qz_name_dataset(d->name, buf, sizeof(buf));
	return mdl_find(m, buf);
}

static bool is_snapshot_of(const struct mds *s, const struct mds *head)
{
	size_t n = strlen(head->name);
	return s->type == QZ_SNAPSHOT && strncmp(s->name, head->name, n) == 0 && s->name[n] == '@';
}

/* The newest snapshot of head, or NULL. */
static struct mds *latest_snapshot(model_t *m, const struct mds *head)
{
	struct mds *best = NULL;
	for (struct mds *d = m->all; d != NULL; d = d->next)
		if (is_snapshot_of(d, head) && (best == NULL || d->createtxg > best->createtxg))
			best = d;
	return best;
}

static size_t count_clones(model_t *m, const struct mds *snap)
{
	size_t n = 0;
	for (struct mds *d = m->all; d != NULL; d = d->next)
		if (d->origin == snap)
			n++;
	return n;
}

static size_t count_holds(const struct mds *d)
{
	size_t n = 0;
	for (struct mhold *h = d->holds; h != NULL; h = h->next)
		n++;
	return n;
}

/* True while a descriptor from zvol_open onto d's contents is still open. */
static bool in_use(model_t *m, const struct mds *d)
{
	struct stat st;
	if (d->data < 0 || fstat(d->data, &st) != 0)
		return false;
	for (struct mopen *o = m->opens; o != NULL; o = o->next) {
		struct stat os;
		if (fstat(o->fd, &os) == 0 && os.st_dev == st.st_dev && os.st_ino == st.st_ino &&
		    os.st_dev == o->dev && os.st_ino == o->ino)
			return true;
	}
	/* a stored model's volumes are files that other processes (a test's "VM") may hold open */
	return m->dir[0] != '\0' && mdl_store_open_elsewhere(&st);
}

static bool key_available(const struct mds *d)
{
	return d->encroot == NULL || d->encroot->key_loaded;
}

/* ---- properties ---- */

/* The hidden child "<d>/%recv" that holds the partial state of an incremental receive into d. */
static struct mds *recv_child(model_t *m, const struct mds *d)
{
	char name[QZ_NAME_MAX + 8];
	snprintf(name, sizeof(name), "%s/%%recv", d->name);
	return mdl_find(m, name);
}

static bool is_recv_child(const char *name)
{
	const char *slash = strrchr(name, '/');
	return slash != NULL && strcmp(slash, "/%recv") == 0;
}

static const char *local_prop(const struct mds *d, const char *name)
{
	for (struct mprop *p = d->props; p != NULL; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p->value;
	return NULL;
}

int mdl_put_prop(struct mds *d, const char *name, const char *value)
{
	for (struct mprop *p = d->props; p != NULL; p = p->next) {
		if (strcmp(p->name, name) == 0) {
			char *v = strdup(value);
			if (v == NULL)
				return ENOMEM;
			free(p->value);
			p->value = v;
			return 0;
		}
	}
	struct mprop *p = calloc(1, sizeof(*p));
	if (p == NULL || (p->name = strdup(name)) == NULL || (p->value = strdup(value)) == NULL) {
		if (p != NULL)
			free(p->name);
		free(p);
		return ENOMEM;
	}
	p->next = d->props;
	d->props = p;
	return 0;
}

/* The value a dataset sees for an inheritable property: its own, else its ancestors'. */
static const char *inherited_prop(model_t *m, const struct mds *d, const char *name)
{
	char buf[QZ_NAME_MAX];
	snprintf(buf, sizeof(buf), "%s", d->name);
	const struct mds *cur = d;
	for (;;) {
		if (cur != NULL) {
			const char *v = local_prop(cur, name);
			if (v != NULL)
				return v;
		}
		char parent[QZ_NAME_MAX];
		if (qz_name_parent(buf, parent, sizeof(parent)) != 0)
			return NULL;
		snprintf(buf, sizeof(buf), "%s", parent);
		cur = mdl_find(m, buf);
	}
}

/* Checks that props may be given to a new dataset of type (or set on one, when !create). */
static int check_props(qz_backend_t *be, enum qz_dstype type, const qz_prop_t *props, size_t n,
		       bool create)
{
	for (size_t i = 0; i < n; i++) {
		if (qz_prop_is_user(props[i].name))
			continue;
		const struct qz_pdef *def = qz_prop_lookup(props[i].name);
		uint64_t num;
		if (def == NULL || !(def->applies & type) || (def->create_only && !create) ||
		    qz_prop_parse(def, props[i].value, &num) != 0)
			return qz_be_fail(be, EINVAL, "bad property %s=%s", props[i].name,
					  props[i].value);
	}
	return 0;
}

static const char *find_prop(const qz_prop_t *props, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(props[i].name, name) == 0)
			return props[i].value;
	return NULL;
}

/* ---- volume contents ---- */

int mdl_new_data(model_t *m, uint64_t size, int *fdp)
{
	int fd = -1;
	if (m->dir[0] == '\0') {
		fd = memfd_create("qzfs-model", MFD_CLOEXEC);
	} else {
		for (int tries = 0; fd < 0 && tries < 100; tries++) {
			char path[600];
			snprintf(path, sizeof(path), "%s/data/%016" PRIx64, m->dir, next_guid(m));
			fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			if (fd < 0 && errno != EEXIST)
				break;
		}
	}
	if (fd < 0)
		return errno;
	if (ftruncate(fd, (off_t)size) != 0) {
		int e = errno;
		close(fd);
		return e;
	}
	*fdp = fd;
	return 0;
}

/* Makes dst an exact (sparse) copy of src. */
static int copy_data(int src, int dst)
{
	struct stat st;
	if (fstat(src, &st) != 0 || ftruncate(dst, 0) != 0 || ftruncate(dst, st.st_size) != 0)
		return errno;
	off_t pos = 0;
	while (pos < st.st_size) {
		off_t data = lseek(src, pos, SEEK_DATA);
		if (data < 0)
			break; /* the rest is a hole */
		off_t hole = lseek(src, data, SEEK_HOLE);
		off_t in = data, out = data;
		while (in < hole) {
			ssize_t n = copy_file_range(src, &in, dst, &out, (size_t)(hole - in), 0);
			if (n <= 0)
				return n < 0 ? errno : EIO;
		}
		pos = hole;
	}
	return 0;
}

static int clone_data(model_t *m, int src, int *dstp)
{
	struct stat st;
	if (fstat(src, &st) != 0)
		return errno;
	int err = mdl_new_data(m, (uint64_t)st.st_size, dstp);
	if (err == 0 && (err = copy_data(src, *dstp)) != 0)
		close(*dstp);
	return err;
}

/* ---- dataset records ---- */

struct mds *mdl_new_ds(model_t *m, const char *name, enum qz_dstype type)
{
	struct mds *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->type = type;
	d->guid = next_guid(m);
	d->createtxg = ++m->txg;
	d->creation = (uint64_t)time(NULL);
	d->data = -1;
	d->next = m->all;
	m->all = d;
	return d;
}

static void free_ds(model_t *m, struct mds *d)
{
	for (struct mds **pp = &m->all; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	while (d->props != NULL) {
		struct mprop *p = d->props;
		d->props = p->next;
		free(p->name);
		free(p->value);
		free(p);
	}
	while (d->holds != NULL) {
		struct mhold *h = d->holds;
		d->holds = h->next;
		free(h->tag);
		free(h);
	}
	if (d->data >= 0)
		close(d->data);
	free(d);
}

/* Destroys a snapshot whose destruction was deferred once nothing keeps it any more. */
static void reap_deferred(model_t *m, struct mds *snap)
{
	if (snap != NULL && snap->defer_destroy && count_clones(m, snap) == 0 &&
	    snap->holds == NULL)
		free_ds(m, snap);
}

/* ---- operations ---- */

static void model_close(qz_backend_t *be)
{
	model_t *m = M(be);
	if (m->dir[0] != '\0' && mdl_store_save(m) != 0)
		fprintf(stderr, "qzfs: the model in %s could not be saved\n", m->dir);
	while (m->all != NULL)
		free_ds(m, m->all);
	while (m->opens != NULL) {
		struct mopen *o = m->opens;
		m->opens = o->next;
		free(o);
	}
	/* the lock goes last: the next process scans /proc for volume files held open
	 * (mdl_store_open_elsewhere), and must not find this one's */
	if (m->lockfd >= 0)
		close(m->lockfd);
	free(m);
}

/* Checks that a new dataset may be created at name: valid, free, parent present. */
static int check_new_dataset(model_t *m, const char *name, struct mds **parentp)
{
	int err = name_check(name, QZ_NAME_DATASET);
	if (err != 0)
		return err;
	if (mdl_find(m, name) != NULL)
		return EEXIST;
	char pname[QZ_NAME_MAX];
	if (qz_name_parent(name, pname, sizeof(pname)) != 0)
		return EEXIST; /* a pool root */
	struct mds *parent = mdl_find(m, pname);
	if (parent == NULL)
		return ENOENT;
	if (parent->type != QZ_FILESYSTEM)
		return EINVAL;
	*parentp = parent;
	return 0;
}

/* What ZFS asks of a new wrapping key: keyformat raw, or passphrase with its salt and at least
 * 100000 PBKDF2 iterations; the (derived) key itself. */
static int check_key_props(qz_backend_t *be, const qz_prop_t *props, size_t nprops,
			   const uint8_t *wkey, size_t wkeylen)
{
	const char *fmt = find_prop(props, nprops, "keyformat");
	const char *iters = find_prop(props, nprops, "pbkdf2iters");
	uint64_t n = 0;
	if (wkey == NULL || wkeylen != QZ_WKEY_LEN || fmt == NULL)
		return qz_be_fail(be, EINVAL, "a wrapping key needs a keyformat and a key");
	if (strcmp(fmt, "raw") == 0)
		return 0;
	if (strcmp(fmt, "passphrase") != 0 || find_prop(props, nprops, "pbkdf2salt") == NULL ||
	    iters == NULL || qz_parse_size(iters, &n) != 0 || n < 100000)
		return qz_be_fail(be, EINVAL,
				  "a passphrase needs pbkdf2salt and pbkdf2iters >= 100000");
	return 0;
}

static int model_create(qz_backend_t *be, const char *name, enum qz_dstype type,
			const qz_prop_t *props, size_t nprops, const uint8_t *wkey, size_t wkeylen)
{
	model_t *m = M(be);
	struct mds *parent;
	if (type != QZ_FILESYSTEM && type != QZ_VOLUME)
		return EINVAL;
	int err = check_new_dataset(m, name, &parent);
	if (err == 0)
		err = check_props(be, type, props, nprops, true);
	if (err != 0)
		return err;
	uint64_t volsize = 0, vbs = 16384;
	const char *v;
	if (type == QZ_VOLUME) {
		if ((v = find_prop(props, nprops, "volsize")) == NULL ||
		    qz_parse_size(v, &volsize) != 0)
			return qz_be_fail(be, EINVAL, "a volume needs volsize");
		if ((v = find_prop(props, nprops, "volblocksize")) != NULL &&
		    (qz_parse_size(v, &vbs) != 0 || vbs < 512 || vbs > 131072 || (vbs & (vbs - 1))))
			return qz_be_fail(be, EINVAL, "bad volblocksize");
		if (volsize == 0 || volsize % vbs != 0)
			return qz_be_fail(be, EINVAL, "volsize must be a multiple of volblocksize");
	}
	/* encryption: a new root needs a key; a child of an encrypted parent inherits it */
	const char *enc = find_prop(props, nprops, "encryption");
	const char *fmt = find_prop(props, nprops, "keyformat");
	bool new_root = (enc != NULL && strcmp(enc, "off") != 0) || fmt != NULL;
	if (!key_available(parent))
		return EACCES;
	if (new_root) {
		if ((err = check_key_props(be, props, nprops, wkey, wkeylen)) != 0)
			return err;
	} else if (wkey != NULL) {
		return EINVAL;
	}
	int data = -1;
	if (type == QZ_VOLUME && (err = mdl_new_data(m, volsize, &data)) != 0)
		return err;
	struct mds *d = mdl_new_ds(m, name, type);
	if (d == NULL) {
		if (data >= 0)
			close(data);
		return ENOMEM;
	}
	d->data = data;
	d->volsize = volsize;
	for (size_t i = 0; i < nprops && err == 0; i++) {
		const char *pv = props[i].value;
		if (strcmp(props[i].name, "encryption") == 0 && strcmp(pv, "on") == 0)
			pv = "aes-256-gcm";
		if (strcmp(props[i].name, "volsize") != 0)
			err = mdl_put_prop(d, props[i].name, pv);
	}
	if (err == 0 && type == QZ_VOLUME && find_prop(props, nprops, "volblocksize") == NULL)
		err = mdl_put_prop(d, "volblocksize", "16384");
	if (err == 0 && new_root) {
		d->encroot = d;
		d->key_loaded = true;
		memcpy(d->key, wkey, QZ_WKEY_LEN);
		if (enc == NULL)
			err = mdl_put_prop(d, "encryption", "aes-256-gcm");
	} else if (enc == NULL || strcmp(enc, "off") != 0) {
		d->encroot = parent->encroot; /* explicit encryption=off makes it unencrypted */
	}
	if (err != 0)
		free_ds(m, d);
	return err;
}

static int model_snapshot(qz_backend_t *be, const char *const *snaps, size_t n,
			  const qz_prop_t *props, size_t nprops)
{
	model_t *m = M(be);
	if (n == 0)
		return 0;
	for (size_t i = 0; i < nprops; i++)
		if (!qz_prop_is_user(props[i].name))
			return qz_be_fail(be, EINVAL, "only user properties on snapshots");
	size_t plen = qz_name_pool_len(snaps[0]);
	for (size_t i = 0; i < n; i++) { /* check everything first: all or nothing */
		int err = name_check(snaps[i], QZ_NAME_SNAPSHOT);
		if (err != 0)
			return qz_be_fail(be, err, "%s", snaps[i]);
		if (qz_name_pool_len(snaps[i]) != plen || strncmp(snaps[i], snaps[0], plen) != 0)
			return qz_be_fail(be, EXDEV, "%s", snaps[i]);
		char head[QZ_NAME_MAX];
		qz_name_dataset(snaps[i], head, sizeof(head));
		struct mds *h = mdl_find(m, head);
		if (h == NULL || h->partial)
			return qz_be_fail(be, ENOENT, "%s", snaps[i]);
		if (mdl_find(m, snaps[i]) != NULL)
			return qz_be_fail(be, EEXIST, "%s", snaps[i]);
		for (size_t j = 0; j < i; j++) {
			char hj[QZ_NAME_MAX];
			qz_name_dataset(snaps[j], hj, sizeof(hj));
			if (strcmp(hj, head) == 0)
				return qz_be_fail(be, EXDEV, "%s", snaps[i]);
		}
	}
	uint64_t txg = ++m->txg;
	for (size_t i = 0; i < n; i++) {
		char head[QZ_NAME_MAX];
		qz_name_dataset(snaps[i], head, sizeof(head));
		struct mds *h = mdl_find(m, head);
		int data = -1, err = 0;
		if (h->data >= 0 && (err = clone_data(m, h->data, &data)) != 0)
			return err;
		struct mds *s = mdl_new_ds(m, snaps[i], QZ_SNAPSHOT);
		if (s == NULL) {
			if (data >= 0)
				close(data);
			return ENOMEM;
		}
		s->createtxg = txg;
		s->data = data;
		s->volsize = h->volsize;
		s->encroot = h->encroot;
		for (size_t k = 0; k < nprops; k++)
			mdl_put_prop(s, props[k].name, props[k].value);
	}
	return 0;
}

static int model_clone(qz_backend_t *be, const char *origin, const char *target,
		       const qz_prop_t *props, size_t nprops)
{
	model_t *m = M(be);
	if (name_check(origin, QZ_NAME_SNAPSHOT) != 0)
		return EINVAL;
	struct mds *o = mdl_find(m, origin), *parent;
	int err = check_new_dataset(m, target, &parent);
	if (err != 0)
		return err;
	if (o == NULL)
		return ENOENT;
	if (qz_name_pool_len(origin) != qz_name_pool_len(target) ||
	    strncmp(origin, target, qz_name_pool_len(origin)) != 0)
		return EXDEV;
	struct mds *h = head_of(m, o);
	enum qz_dstype type = h->type;
	if ((err = check_props(be, type, props, nprops, false)) != 0)
		return err;
	if (!key_available(o))
		return EACCES;
	int data = -1;
	if (o->data >= 0 && (err = clone_data(m, o->data, &data)) != 0)
		return err;
	struct mds *d = mdl_new_ds(m, target, type);
	if (d == NULL) {
		if (data >= 0)
			close(data);
		return ENOMEM;
	}
	d->data = data;
	d->volsize = o->volsize;
	d->origin = o;
	d->encroot = o->encroot;
	const char *vbs = local_prop(h, "volblocksize");
	if (vbs != NULL)
		mdl_put_prop(d, "volblocksize", vbs);
	for (size_t i = 0; i < nprops; i++)
		mdl_put_prop(d, props[i].name, props[i].value);
	return 0;
}

static int model_promote(qz_backend_t *be, const char *clone, char *conflict, size_t len)
{
	model_t *m = M(be);
	if (conflict != NULL && len > 0)
		conflict[0] = '\0';
	struct mds *c;
	int err = lookup(m, clone, QZ_NAME_DATASET, &c);
	if (err != 0)
		return err;
	if (c->origin == NULL)
		return EINVAL;
	struct mds *o = c->origin, *h = head_of(m, o);
	/* the origin's head gives up the origin and every older snapshot to the clone */
	for (struct mds *s = m->all; s != NULL; s = s->next) {
		if (!is_snapshot_of(s, h) || s->createtxg > o->createtxg)
			continue;
		char nn[QZ_NAME_MAX];
		if (name_join(nn, c->name, "@", short_name(s)) != 0)
			return ENAMETOOLONG;
		if (mdl_find(m, nn) != NULL) {
			if (conflict != NULL)
				snprintf(conflict, len, "%s", short_name(s));
			return EEXIST;
		}
	}
	for (struct mds *s = m->all; s != NULL; s = s->next) {
		if (!is_snapshot_of(s, h) || s->createtxg > o->createtxg)
			continue;
		char nn[QZ_NAME_MAX];
		name_join(nn, c->name, "@", short_name(s)); /* checked above */
		memcpy(s->name, nn, sizeof(nn));
	}
	struct mds *old_origin = h->origin;
	h->origin = o;
	c->origin = old_origin;
	return 0;
}

/* Renames from and everything within it to to; nothing changes if a new name is too long. */
static int rename_prefix(model_t *m, const char *from, const char *to)
{
	size_t n = strlen(from);
	char nn[QZ_NAME_MAX];
	for (struct mds *d = m->all; d != NULL; d = d->next)
		if (qz_name_within(d->name, from) && name_join(nn, to, "", d->name + n) != 0)
			return ENAMETOOLONG;
	for (struct mds *d = m->all; d != NULL; d = d->next) {
		if (!qz_name_within(d->name, from))
			continue;
		name_join(nn, to, "", d->name + n);
		memcpy(d->name, nn, sizeof(nn));
	}
	return 0;
}

static int model_rename(qz_backend_t *be, const char *from, const char *to)
{
	model_t *m = M(be);
	enum qz_name_kind kind = qz_name_kind_of(from);
	if (kind == QZ_NAME_BOOKMARK || name_check(from, kind) != 0 || name_check(to, kind) != 0)
		return EINVAL;
	struct mds *d = mdl_find(m, from);
	if (d == NULL)
		return ENOENT;
	if (kind == QZ_NAME_SNAPSHOT) {
		char hf[QZ_NAME_MAX], ht[QZ_NAME_MAX];
		qz_name_dataset(from, hf, sizeof(hf));
		qz_name_dataset(to, ht, sizeof(ht));
		if (strcmp(hf, ht) != 0)
			return EXDEV;
		if (mdl_find(m, to) != NULL)
			return EEXIST;
		snprintf(d->name, sizeof(d->name), "%s", to);
		return 0;
	}
	if (qz_name_pool_len(from) != qz_name_pool_len(to) ||
	    strncmp(from, to, qz_name_pool_len(from)) != 0)
		return EXDEV;
	if (strchr(from, '/') == NULL)
		return EINVAL; /* a pool root */
	if (mdl_find(m, to) != NULL)
		return EEXIST;
	if (qz_name_within(to, from))
		return EINVAL;
	char pname[QZ_NAME_MAX];
	if (qz_name_parent(to, pname, sizeof(pname)) != 0)
		return EINVAL;
	struct mds *parent = mdl_find(m, pname);
	if (parent == NULL)
		return ENOENT;
	if (parent->type != QZ_FILESYSTEM)
		return EINVAL;
	return rename_prefix(m, from, to);
}

static int model_destroy(qz_backend_t *be, const char *name)
{
	model_t *m = M(be);
	char parent[QZ_NAME_MAX];
	bool recv = is_recv_child(name) && qz_name_parent(name, parent, sizeof(parent)) == 0;
	if (qz_name_kind_of(name) != QZ_NAME_DATASET ||
	    name_check(recv ? parent : name, QZ_NAME_DATASET) != 0)
		return EINVAL;
	struct mds *d = mdl_find(m, name);
	if (d == NULL)
		return ENOENT;
	if (strchr(name, '/') == NULL)
		return EINVAL; /* a pool root */
	for (struct mds *s = m->all; s != NULL; s = s->next)
		if (is_snapshot_of(s, d))
			return EBUSY;
	for (struct mds *c = m->all; c != NULL; c = c->next)
		if (c != d && c->type != QZ_BOOKMARK &&
		    qz_name_kind_of(c->name) == QZ_NAME_DATASET && qz_name_within(c->name, name))
			return EEXIST;
	if (in_use(m, d))
		return EBUSY;
	struct mds *origin = d->origin;
	/* bookmarks of the dataset go with it */
	for (struct mds *b = m->all, *nb; b != NULL; b = nb) {
		nb = b->next;
		if (b->type == QZ_BOOKMARK && head_of(m, b) == d)
			free_ds(m, b);
	}
	free_ds(m, d);
	reap_deferred(m, origin);
	return 0;
}

static int model_destroy_snaps(qz_backend_t *be, const char *const *snaps, size_t n, bool defer)
{
	model_t *m = M(be);
	for (size_t i = 0; i < n; i++) { /* all or nothing */
		if (name_check(snaps[i], QZ_NAME_SNAPSHOT) != 0)
			return qz_be_fail(be, EINVAL, "%s", snaps[i]);
		struct mds *s = mdl_find(m, snaps[i]);
		if (s == NULL || defer)
			continue;
		if (count_clones(m, s) != 0)
			return qz_be_fail(be, EEXIST, "%s", snaps[i]);
		if (s->holds != NULL)
			return qz_be_fail(be, EBUSY, "%s", snaps[i]);
	}
	for (size_t i = 0; i < n; i++) {
		struct mds *s = mdl_find(m, snaps[i]);
		if (s == NULL)
			continue;
		s->defer_destroy = true;
		reap_deferred(m, s);
	}
	return 0;
}

static int model_rollback(qz_backend_t *be, const char *fs, const char *snap)
{
	model_t *m = M(be);
	if (name_check(fs, QZ_NAME_DATASET) != 0 || name_check(snap, QZ_NAME_SNAPSHOT) != 0)
		return EINVAL;
	struct mds *h = mdl_find(m, fs);
	if (h == NULL)
		return ENOENT;
	struct mds *latest = latest_snapshot(m, h), *s = mdl_find(m, snap);
	if (latest == NULL || s == NULL)
		return ESRCH;
	if (s != latest)
		return is_snapshot_of(s, h) ? EEXIST : ESRCH; /* newer snapshots exist */
	if (in_use(m, h))
		return EBUSY;
	if (h->data >= 0) {
		int err = copy_data(s->data, h->data);
		if (err != 0)
			return err;
		h->volsize = s->volsize;
	}
	return 0;
}

static int model_bookmark(qz_backend_t *be, const char *snap, const char *bookmark)
{
	model_t *m = M(be);
	if (name_check(snap, QZ_NAME_SNAPSHOT) != 0 || name_check(bookmark, QZ_NAME_BOOKMARK) != 0)
		return EINVAL;
	char hs[QZ_NAME_MAX], hb[QZ_NAME_MAX];
	qz_name_dataset(snap, hs, sizeof(hs));
	qz_name_dataset(bookmark, hb, sizeof(hb));
	if (strcmp(hs, hb) != 0)
		return EINVAL;
	struct mds *s = mdl_find(m, snap);
	if (s == NULL)
		return ENOENT;
	if (mdl_find(m, bookmark) != NULL)
		return EEXIST;
	struct mds *b = mdl_new_ds(m, bookmark, QZ_BOOKMARK);
	if (b == NULL)
		return ENOMEM;
	b->guid = s->guid;
	b->createtxg = s->createtxg;
	b->creation = s->creation;
	/* a bookmark keeps no data in ZFS, only enough to send from it; the model keeps a copy */
	int err = s->data >= 0 ? clone_data(m, s->data, &b->data) : 0;
	if (err == 0)
		b->volsize = s->volsize;
	else
		free_ds(m, b);
	return err;
}

static int model_destroy_bookmark(qz_backend_t *be, const char *bookmark)
{
	model_t *m = M(be);
	struct mds *b;
	int err = lookup(m, bookmark, QZ_NAME_BOOKMARK, &b);
	if (err != 0)
		return err;
	free_ds(m, b);
	return 0;
}

static int model_hold(qz_backend_t *be, const char *snap, const char *tag)
{
	model_t *m = M(be);
	if (name_check(snap, QZ_NAME_SNAPSHOT) != 0 || tag[0] == '\0')
		return EINVAL;
	struct mds *s = mdl_find(m, snap);
	if (s == NULL)
		return ENOENT;
	for (struct mhold *h = s->holds; h != NULL; h = h->next)
		if (strcmp(h->tag, tag) == 0)
			return EEXIST;
	struct mhold *h = calloc(1, sizeof(*h));
	if (h == NULL || (h->tag = strdup(tag)) == NULL) {
		free(h);
		return ENOMEM;
	}
	h->next = s->holds;
	s->holds = h;
	return 0;
}

static int model_release(qz_backend_t *be, const char *snap, const char *tag)
{
	model_t *m = M(be);
	struct mds *s;
	int err = lookup(m, snap, QZ_NAME_SNAPSHOT, &s);
	if (err != 0)
		return err;
	for (struct mhold **pp = &s->holds; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->tag, tag) == 0) {
			struct mhold *h = *pp;
			*pp = h->next;
			free(h->tag);
			free(h);
			reap_deferred(m, s);
			return 0;
		}
	}
	return ENOENT; /* ZFS: no hold with that tag */
}

static uint64_t allocated(const struct mds *d)
{
	struct stat st;
	if (d->data < 0 || fstat(d->data, &st) != 0)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

static uint64_t total_used(model_t *m)
{
	uint64_t sum = 0;
	for (struct mds *d = m->all; d != NULL; d = d->next)
		sum += allocated(d);
	return sum;
}

static const char *type_name(enum qz_dstype t)
{
	switch (t) {
	case QZ_FILESYSTEM:
		return "filesystem";
	case QZ_VOLUME:
		return "volume";
	case QZ_SNAPSHOT:
		return "snapshot";
	case QZ_BOOKMARK:
		return "bookmark";
	}
	return "-";
}

#define OUT(...) ((size_t)snprintf(buf, len, __VA_ARGS__) < len ? 0 : ERANGE)

/* Formats property prop of d as `zfs get -Hp` prints it. */
static int format_prop(model_t *m, const struct mds *d, const char *prop, char *buf, size_t len)
{
	const struct mds *h = d->type == QZ_SNAPSHOT || d->type == QZ_BOOKMARK ? head_of(m, d) : d;
	bool vol = h != NULL && h->type == QZ_VOLUME;
	if (strcmp(prop, "name") == 0)
		return OUT("%s", d->name);
	if (strcmp(prop, "type") == 0)
		return OUT("%s", type_name(d->type));
	if (strcmp(prop, "guid") == 0)
		return OUT("%" PRIu64, d->guid);
	if (strcmp(prop, "createtxg") == 0)
		return OUT("%" PRIu64, d->createtxg);
	if (strcmp(prop, "creation") == 0)
		return OUT("%" PRIu64, d->creation);
	if (qz_prop_is_user(prop)) {
		const char *v = d->type == QZ_SNAPSHOT ? local_prop(d, prop) : NULL;
		if (v == NULL && h != NULL && d->type != QZ_BOOKMARK)
			v = inherited_prop(m, h, prop);
		return OUT("%s", v != NULL ? v : "-");
	}
	if (d->type == QZ_BOOKMARK)
		return EINVAL;
	if (strcmp(prop, "volsize") == 0)
		return vol ? OUT("%" PRIu64, d->volsize) : OUT("-");
	if (strcmp(prop, "used") == 0 || strcmp(prop, "referenced") == 0 ||
	    strcmp(prop, "logicalreferenced") == 0 || strcmp(prop, "logicalused") == 0) {
		uint64_t sum = allocated(d);
		if (strcmp(prop, "used") == 0 && d->type != QZ_SNAPSHOT)
			for (struct mds *c = m->all; c != NULL; c = c->next)
				if (c != d && qz_name_within(c->name, d->name))
					sum += allocated(c);
		return OUT("%" PRIu64, sum);
	}
	if (strcmp(prop, "available") == 0)
		return d->type == QZ_SNAPSHOT
			   ? OUT("-")
			   : OUT("%" PRIu64, (uint64_t)MODEL_POOL_SIZE - total_used(m));
	if (strcmp(prop, "origin") == 0)
		return OUT("%s", d->origin != NULL ? d->origin->name : "-");
	if (strcmp(prop, "defer_destroy") == 0)
		return d->type == QZ_SNAPSHOT ? OUT("%s", d->defer_destroy ? "on" : "off")
					      : OUT("-");
	if (strcmp(prop, "userrefs") == 0)
		return d->type == QZ_SNAPSHOT ? OUT("%zu", count_holds(d)) : OUT("-");
	if (strcmp(prop, "encryptionroot") == 0)
		return OUT("%s", d->encroot != NULL ? d->encroot->name : "-");
	if (strcmp(prop, "keystatus") == 0)
		return OUT("%s", d->encroot == NULL	  ? "-"
				 : d->encroot->key_loaded ? "available"
							  : "unavailable");
	if (strcmp(prop, "encryption") == 0)
		return OUT("%s", d->encroot == NULL ? "off" : local_prop(d->encroot, "encryption"));
	if (strcmp(prop, "keyformat") == 0 || strcmp(prop, "keylocation") == 0) {
		const char *v = d->encroot != NULL ? local_prop(d->encroot, prop) : NULL;
		return OUT("%s", v != NULL ? v : "none");
	}
	if (strcmp(prop, "receive_resume_token") == 0) {
		const struct mds *r = recv_child(m, d);
		if (!d->partial && r != NULL && r->partial)
			d = r; /* an incremental's partial state */
		if (!d->partial)
			return OUT("-");
		/* as ZFS: where the last WRITE received was (object 0 before any), the stream's
		 * features as flags */
		uint64_t f = d->part.features;
		qz_token_t t = {.object = d->part.bytes != 0 ? ZVOL_DATA_OBJECT : 0,
				.fromguid = d->part.fromguid,
				.has_fromguid = d->part.fromguid != 0,
				.offset = d->part.offset,
				.bytes = d->part.bytes,
				.toguid = d->part.toguid,
				.embedok = (f & QZ_FEATURE_EMBED_DATA) != 0,
				.largeblockok = (f & QZ_FEATURE_LARGE_BLOCKS) != 0,
				.compressok = (f & QZ_FEATURE_COMPRESSED) != 0,
				.rawok = (f & QZ_FEATURE_RAW) != 0};
		memcpy(t.toname, d->part.toname, sizeof(t.toname));
		char text[QZ_TOKEN_MAX_TEXT];
		return qz_token_format(&t, text, sizeof(text)) == 0 ? OUT("%s", text) : EIO;
	}
	if (strcmp(prop, "mountpoint") == 0) {
		if (vol || d->type == QZ_SNAPSHOT)
			return OUT("-");
		/* the nearest ancestor's setting, with the path below it appended */
		for (const struct mds *a = d; a != NULL;) {
			const char *v = local_prop(a, "mountpoint");
			if (v != NULL) {
				if (strcmp(v, "none") == 0 || strcmp(v, "legacy") == 0)
					return OUT("%s", v);
				return OUT("%s%s", strcmp(v, "/") == 0 ? "" : v,
					   d->name + strlen(a->name));
			}
			char pn[QZ_NAME_MAX];
			if (qz_name_parent(a->name, pn, sizeof(pn)) != 0)
				break;
			a = mdl_find(m, pn);
		}
		return OUT("/%s", d->name);
	}
	const struct qz_pdef *def = qz_prop_lookup(prop);
	if (def == NULL)
		return EINVAL;
	if (!(def->applies & (h != NULL ? h->type : d->type)))
		return OUT("-");
	const char *v = local_prop(h, prop);
	if (v == NULL && def->inherits)
		v = inherited_prop(m, h, prop);
	return OUT("%s", v != NULL ? v : def->dflt);
}

static int model_get_prop(qz_backend_t *be, const char *name, const char *prop, char *buf,
			  size_t len)
{
	model_t *m = M(be);
	struct mds *d;
	int err = lookup(m, name, qz_name_kind_of(name), &d);
	if (err != 0)
		return err;
	return format_prop(m, d, prop, buf, len);
}

static int model_zpool_get(qz_backend_t *be, const char *zpool, const char *prop, char *buf,
			   size_t len)
{
	model_t *m = M(be);
	struct mds *d;
	int err = lookup(m, zpool, QZ_NAME_DATASET, &d);
	if (err != 0 || strchr(zpool, '/') != NULL)
		return err != 0 ? err : EINVAL;
	if (strcmp(prop, "health") != 0)
		return qz_be_fail(be, EINVAL, "the model knows only a zpool's health");
	return (size_t)snprintf(buf, len, "ONLINE") < len ? 0 : ERANGE;
}

static int model_set_prop(qz_backend_t *be, const char *name, const char *prop, const char *value)
{
	model_t *m = M(be);
	struct mds *d;
	int err = lookup(m, name, qz_name_kind_of(name), &d);
	if (err != 0)
		return err;
	if (qz_prop_is_user(prop)) {
		if (d->type == QZ_BOOKMARK)
			return EINVAL;
		return mdl_put_prop(d, prop, value);
	}
	if (d->type == QZ_SNAPSHOT || d->type == QZ_BOOKMARK)
		return qz_be_fail(be, EINVAL, "this property cannot be set on a snapshot");
	qz_prop_t p = {prop, value};
	err = check_props(be, d->type, &p, 1, false);
	if (err != 0)
		return err;
	if (strcmp(prop, "keylocation") == 0 && d->encroot != d)
		return EINVAL;
	if (strcmp(prop, "volsize") == 0) {
		uint64_t sz, vbs = 16384;
		qz_parse_size(value, &sz);
		qz_parse_size(local_prop(d, "volblocksize"), &vbs);
		if (sz == 0 || sz % vbs != 0)
			return qz_be_fail(be, EINVAL, "volsize must be a multiple of volblocksize");
		if (ftruncate(d->data, (off_t)sz) != 0)
			return errno;
		d->volsize = sz;
		return 0;
	}
	return mdl_put_prop(d, prop, value);
}

static unsigned level(const char *name)
{
	unsigned n = 0;
	for (const char *p = name; *p != '\0'; p++)
		n += *p == '/' || *p == '@' || *p == '#';
	return n;
}

static int cmp_rows(const void *a, const void *b)
{
	return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

static int model_list(qz_backend_t *be, const char *root, int depth, unsigned types,
		      const char *const *props, size_t nprops, qz_list_t *out)
{
	model_t *m = M(be);
	memset(out, 0, sizeof(*out));
	out->ncols = nprops + 1;
	if (root == NULL ? depth >= 0 : name_check(root, QZ_NAME_DATASET) != 0)
		return EINVAL;
	if (root != NULL && mdl_find(m, root) == NULL)
		return ENOENT;
	size_t n = 0;
	for (struct mds *d = m->all; d != NULL; d = d->next)
		n++;
	char ***rows = calloc(n + 1, sizeof(*rows));
	if (rows == NULL)
		return ENOMEM;
	size_t k = 0;
	int err = 0;
	unsigned base = root != NULL ? level(root) : 0;
	for (struct mds *d = m->all; d != NULL && err == 0; d = d->next) {
		if (!(d->type & types) || (root != NULL && !qz_name_within(d->name, root)) ||
		    (depth >= 0 && level(d->name) > base + (unsigned)depth) ||
		    is_recv_child(d->name))
			continue;
		char **row = calloc(out->ncols, sizeof(*row));
		if (row == NULL) {
			err = ENOMEM;
			break;
		}
		rows[k++] = row;
		row[0] = strdup(d->name);
		for (size_t c = 0; c < nprops && err == 0; c++) {
			char buf[1024];
			err = format_prop(m, d, props[c], buf, sizeof(buf));
			row[c + 1] = strdup(buf);
		}
	}
	/* like `zfs list`: a dataset, then its snapshots, then its children, sorted by name */
	qsort(rows, k, sizeof(*rows), cmp_rows);
	if (err == 0 && (out->cells = calloc(k * out->ncols + 1, sizeof(char *))) == NULL)
		err = ENOMEM;
	for (size_t r = 0; r < k; r++) {
		if (err == 0)
			memcpy(out->cells + r * out->ncols, rows[r], out->ncols * sizeof(char *));
		else
			for (size_t c = 0; c < out->ncols; c++)
				free(rows[r][c]);
		free(rows[r]);
	}
	free(rows);
	out->nrows = err == 0 ? k : 0;
	return err;
}

static bool model_exists(qz_backend_t *be, const char *name)
{
	return mdl_find(M(be), name) != NULL;
}

/* Finds root, which must be an encryption root: 0, EINVAL or ENOENT as ZFS answers. */
static int lookup_enc_root(model_t *m, const char *root, struct mds **dp)
{
	int err = lookup(m, root, QZ_NAME_DATASET, dp);
	return err != 0 ? err : (*dp)->encroot != *dp ? EINVAL : 0;
}

static int model_load_key(qz_backend_t *be, const char *root, const uint8_t *wkey, size_t wkeylen,
			  bool noop)
{
	model_t *m = M(be);
	struct mds *d;
	int err = lookup_enc_root(m, root, &d);
	if (err != 0)
		return err;
	if (d->key_loaded)
		return EEXIST;
	if (wkeylen != QZ_WKEY_LEN || memcmp(wkey, d->key, QZ_WKEY_LEN) != 0)
		return EACCES;
	if (!noop)
		d->key_loaded = true;
	return 0;
}

static int model_change_key(qz_backend_t *be, const char *root, const qz_prop_t *props,
			    size_t nprops, const uint8_t *wkey, size_t wkeylen)
{
	model_t *m = M(be);
	struct mds *d;
	int err = lookup_enc_root(m, root, &d);
	if (err != 0)
		return err;
	if (!d->key_loaded)
		return EACCES;
	if ((err = check_key_props(be, props, nprops, wkey, wkeylen)) != 0)
		return err;
	for (size_t i = 0; i < nprops && err == 0; i++)
		err = mdl_put_prop(d, props[i].name, props[i].value);
	if (err == 0)
		memcpy(d->key, wkey, QZ_WKEY_LEN);
	return err;
}

static int model_inherit_key(qz_backend_t *be, const char *root)
{
	model_t *m = M(be);
	struct mds *d, *parent;
	int err = lookup_enc_root(m, root, &d);
	if (err != 0)
		return err;
	char pname[QZ_NAME_MAX];
	if (qz_name_parent(root, pname, sizeof(pname)) != 0 ||
	    (parent = mdl_find(m, pname)) == NULL || parent->encroot == NULL)
		return EINVAL; /* the top of a zpool, or an unencrypted parent: nothing to inherit
				*/
	if (!d->key_loaded || !parent->encroot->key_loaded)
		return EACCES;
	for (struct mds *c = m->all; c != NULL; c = c->next)
		if (c->encroot == d)
			c->encroot = parent->encroot;
	return 0;
}

static int model_unload_key(qz_backend_t *be, const char *root)
{
	model_t *m = M(be);
	struct mds *d;
	int err = lookup_enc_root(m, root, &d);
	if (err != 0)
		return err;
	if (!d->key_loaded)
		return EACCES;
	for (struct mds *c = m->all; c != NULL; c = c->next)
		if (c->encroot == d && c->type != QZ_SNAPSHOT && in_use(m, c))
			return EBUSY;
	d->key_loaded = false;
	return 0;
}

/* ---- send and receive: ZFS's record format (BEGIN, OBJECT, WRITE..., END, with the running
 * fletcher-4), so the stream verifier and the backup code see the model's streams as real ones.
 * BEGIN's payload is a packed nvlist as in real streams: "qzfs_model", what the model needs,
 * and for a raw stream crypt_keydata/portable_mac, the snapshot's objset MAC. ---- */

struct mstream_begin {
	uint64_t magic, volsize, resume_off;
	/* raw streams carry what restores the encryption: here the wrapping key itself, and how
	 * a passphrase derives it (ZFS carries the wrapped keys and the same parameters) */
	uint8_t key[QZ_WKEY_LEN];
	char keyformat[16];
	char pbkdf2salt[24], pbkdf2iters[24];
};

#define COMPRESS_OFF	  2 /* what raw streams put in a WRITE record of uncompressed data */
#define MODEL_PAYLOAD_MAX 512

/* The model's portable objset MAC of a snapshot: one per state (its guid), the same after a
 * raw send and receive, as ZFS's is; not a MAC, since the model authenticates nothing. */
static void objset_mac(uint64_t guid, uint8_t mac[QZ_OBJSET_MAC_LEN])
{
	uint64_t x = guid ^ 0x6f626a7365746d61ULL;
	for (size_t i = 0; i < QZ_OBJSET_MAC_LEN; i += 8) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		memcpy(mac + i, &z, 8);
	}
}

static int out_fd(void *ctx, const void *buf, size_t len)
{
	return qz_write_full(*(int *)ctx, buf, len);
}

/* Reads exactly n bytes; EPIPE if the stream ends first. */
static int read_all(int fd, void *buf, size_t n)
{
	ssize_t got = qz_read_full(fd, buf, n);
	return got < 0 ? errno : (size_t)got < n ? EPIPE : 0;
}

/* Writes the stream of snap (see model_send) through out(ctx, ...). */
static int send_stream(qz_backend_t *be, const char *snap, const char *from, unsigned flags,
		       uint64_t resume_obj, uint64_t resume_off,
		       int (*out)(void *ctx, const void *buf, size_t len), void *ctx)
{
	model_t *m = M(be);
	if (name_check(snap, QZ_NAME_SNAPSHOT) != 0)
		return EINVAL;
	struct mds *s = mdl_find(m, snap), *f = NULL;
	if (s == NULL)
		return ENOENT;
	if (from != NULL) {
		f = mdl_find(m, from);
		if (f == NULL)
			return ENOENT;
		if (f->createtxg >= s->createtxg)
			return EXDEV;
	}
	bool raw = (flags & QZ_SEND_RAW) != 0 && s->encroot != NULL;
	if (s->encroot != NULL && !raw && !s->encroot->key_loaded)
		return EACCES;
	if (s->data < 0)
		return qz_be_fail(be, ENOTSUP, "the model sends volumes only");
	struct mds *fdata = f != NULL && (f->type == QZ_SNAPSHOT || f->data >= 0) ? f : NULL;
	if (f != NULL && f->type == QZ_BOOKMARK)
		for (struct mds *d = m->all; d != NULL; d = d->next)
			if (d->type == QZ_SNAPSHOT && d->guid == f->guid)
				fdata = d;
	if (f != NULL && fdata == NULL)
		return qz_be_fail(be, ENOTSUP, "the model needs the bookmark's snapshot");
	/* a WRITE per block of the volume, as ZFS sends it */
	const char *vbs = local_prop(head_of(m, s), "volblocksize");
	uint64_t bs = 0;
	if (vbs == NULL || qz_parse_size(vbs, &bs) != 0 || bs < 512 || bs > SEND_BLOCK_MAX)
		bs = SEND_BLOCK_MAX;
	struct mstream_begin mb;
	memset(&mb, 0, sizeof(mb));
	mb.magic = STREAM_MAGIC;
	mb.volsize = s->volsize;
	mb.resume_off = resume_obj != 0 ? resume_off : 0;
	if (raw) {
		memcpy(mb.key, s->encroot->key, QZ_WKEY_LEN);
		const char *fmt = local_prop(s->encroot, "keyformat"),
			   *salt = local_prop(s->encroot, "pbkdf2salt"),
			   *iters = local_prop(s->encroot, "pbkdf2iters");
		snprintf(mb.keyformat, sizeof(mb.keyformat), "%s", fmt != NULL ? fmt : "raw");
		snprintf(mb.pbkdf2salt, sizeof(mb.pbkdf2salt), "%s", salt != NULL ? salt : "");
		snprintf(mb.pbkdf2iters, sizeof(mb.pbkdf2iters), "%s", iters != NULL ? iters : "");
	}
	qz_drr_writer_t w = {{{0}}, out, ctx};
	qz_drr_t r;
	memset(&r, 0, sizeof(r));
	r.type = QZ_DRR_BEGIN;
	uint8_t payload[MODEL_PAYLOAD_MAX];
	qz_nvl_writer_t nv;
	qz_nvl_begin(&nv, payload, sizeof(payload));
	qz_nvl_add_bytes(&nv, "qzfs_model", &mb, sizeof(mb));
	if (raw) {
		uint8_t mac[QZ_OBJSET_MAC_LEN];
		objset_mac(s->guid, mac);
		qz_nvl_add_list(&nv, "crypt_keydata");
		qz_nvl_add_bytes(&nv, "portable_mac", mac, sizeof(mac));
		qz_nvl_end(&nv);
	}
	r.payloadlen = (uint32_t)qz_nvl_end(&nv);
	/* the features ZFS announces for these flags, on a pool with lz4 and embedded_data
	 * active and volumes whose blocks are not large */
	bool embed = (flags & (QZ_SEND_EMBED | QZ_SEND_RAW)) && s->encroot == NULL,
	     compress = (flags & (QZ_SEND_COMPRESS | QZ_SEND_RAW)) != 0;
	uint64_t features = (embed ? QZ_FEATURE_EMBED_DATA : 0) |
			    (compress ? QZ_FEATURE_COMPRESSED : 0) | (raw ? QZ_FEATURE_RAW : 0) |
			    (embed || compress ? QZ_FEATURE_LZ4 : 0) |
			    (resume_obj != 0 ? QZ_FEATURE_RESUMING : 0);
	r.u.begin.magic = QZ_DRR_MAGIC;
	r.u.begin.versioninfo = features << 2 | QZ_DRR_SUBSTREAM;
	r.u.begin.creation_time = s->creation;
	r.u.begin.objset_type = QZ_OBJSET_ZVOL;
	r.u.begin.flags = QZ_DRR_FLAG_FREERECORDS;
	if (f != NULL && head_of(m, f) != head_of(m, s))
		r.u.begin.flags |= QZ_DRR_FLAG_CLONE; /* from a clone's origin: a clone stream */
	r.u.begin.toguid = s->guid;
	r.u.begin.fromguid = f != NULL ? f->guid : 0;
	snprintf(r.u.begin.toname, sizeof(r.u.begin.toname), "%s", snap);
	int err = qz_drr_write(&w, &r, payload, r.payloadlen);
	if (err == 0 && raw) {
		memset(&r, 0, sizeof(r));
		r.type = QZ_DRR_OBJECT_RANGE;
		r.u.object_range.numslots = 32;
		r.u.object_range.toguid = s->guid;
		err = qz_drr_write(&w, &r, NULL, 0);
	}
	if (err == 0) {
		memset(&r, 0, sizeof(r));
		r.type = QZ_DRR_OBJECT;
		r.u.object.object = ZVOL_DATA_OBJECT;
		r.u.object.blksz = (uint32_t)bs;
		r.u.object.toguid = s->guid;
		err = qz_drr_write(&w, &r, NULL, 0);
	}
	static char a[SEND_BLOCK_MAX], b[SEND_BLOCK_MAX];
	for (uint64_t off = mb.resume_off; err == 0 && off < s->volsize; off += bs) {
		size_t n = s->volsize - off < bs ? (size_t)(s->volsize - off) : (size_t)bs;
		if (pread(s->data, a, n, (off_t)off) != (ssize_t)n)
			return errno != 0 ? errno : EIO;
		if (fdata != NULL) {
			memset(b, 0, n);
			if (off < fdata->volsize && pread(fdata->data, b, n, (off_t)off) < 0)
				return errno;
			if (memcmp(a, b, n) == 0)
				continue;
		} else {
			static const char zero[SEND_BLOCK_MAX];
			if (memcmp(a, zero, n) == 0)
				continue;
		}
		memset(&r, 0, sizeof(r));
		r.type = QZ_DRR_WRITE;
		r.u.write.object = ZVOL_DATA_OBJECT;
		r.u.write.offset = off;
		r.u.write.logical_size = n;
		r.u.write.toguid = s->guid;
		if (raw) {
			r.u.write.compressiontype = COMPRESS_OFF;
			r.u.write.compressed_size = n;
		}
		err = qz_drr_write(&w, &r, a, n);
	}
	return err != 0 ? err : qz_drr_write_end(&w, s->guid);
}

static int model_send(qz_backend_t *be, const char *snap, const char *from, int fd, unsigned flags,
		      uint64_t resume_obj, uint64_t resume_off)
{
	return send_stream(be, snap, from, flags, resume_obj, resume_off, out_fd, &fd);
}

static int count_out(void *ctx, const void *buf, size_t len)
{
	(void)buf;
	*(uint64_t *)ctx += len;
	return 0;
}

/* The model's estimate is exact: the length of the stream it would send. */
static int model_send_space(qz_backend_t *be, const char *snap, const char *from, unsigned flags,
			    uint64_t *bytes)
{
	*bytes = 0;
	return send_stream(be, snap, from, flags, 0, 0, count_out, bytes);
}

/* Reads the next record of a stream, checking its checksum as ZFS's receiver does; its payload
 * (up to max bytes) goes to payload. EBADE (ZFS's ECKSUM) for a damaged or cut stream. */
static int read_record(int fd, qz_cksum_t *ck, qz_drr_t *r, void *payload, size_t max, size_t *plen)
{
	int err = read_all(fd, r, sizeof(*r));
	if (err != 0)
		return err == EPIPE ? EBADE : err;
	qz_cksum_t before = *ck;
	qz_fletcher4_fold(ck, r, QZ_DRR_CKSUM_OFFSET);
	if (r->type != QZ_DRR_BEGIN && memcmp(&r->u.tail.checksum, ck, sizeof(*ck)) != 0)
		return EBADE;
	if (r->type == QZ_DRR_END && memcmp(&r->u.end.checksum, &before, sizeof(before)) != 0)
		return EBADE;
	qz_fletcher4_fold(ck, &r->u.tail.checksum, sizeof(qz_cksum_t));
	uint64_t n = qz_drr_payload_size(r);
	if (n > max)
		return EINVAL;
	if (n > 0 && (err = read_all(fd, payload, (size_t)n)) != 0)
		return err == EPIPE ? EBADE : err;
	qz_fletcher4_fold(ck, payload, (size_t)n);
	*plen = (size_t)n;
	return 0;
}

static int model_receive(qz_backend_t *be, const char *snap, int fd, bool resumable, bool raw,
			 bool force)
{
	model_t *m = M(be);
	if (name_check(snap, QZ_NAME_SNAPSHOT) != 0)
		return EINVAL;
	char head[QZ_NAME_MAX];
	qz_name_dataset(snap, head, sizeof(head));
	qz_cksum_t ck = {{0, 0, 0, 0}};
	qz_drr_t rec;
	struct mstream_begin mb;
	uint8_t payload[MODEL_PAYLOAD_MAX];
	size_t plen = 0;
	int err = read_record(fd, &ck, &rec, payload, sizeof(payload), &plen);
	if (err != 0)
		return err;
	if (rec.type != QZ_DRR_BEGIN || rec.u.begin.magic != QZ_DRR_MAGIC)
		return EINVAL;
	static const char *const model_key[] = {"qzfs_model"};
	qz_nvpair_t p;
	if (qz_nvl_find(payload, plen, model_key, 1, &p) != 0 || p.type != QZ_NV_UINT8_ARRAY ||
	    p.nelem != sizeof(mb) || p.vlen < sizeof(mb))
		return qz_be_fail(be, ENOTSUP, "not a stream the model made");
	memcpy(&mb, p.val, sizeof(mb));
	if (mb.magic != STREAM_MAGIC)
		return qz_be_fail(be, ENOTSUP, "not a stream the model made");
	uint64_t features = QZ_DRR_FEATURES(rec.u.begin.versioninfo);
	struct {
		uint64_t toguid, fromguid, volsize, creation;
		bool raw;
		const uint8_t *key;
	} hd = {rec.u.begin.toguid, rec.u.begin.fromguid, mb.volsize, rec.u.begin.creation_time,
		(features & QZ_FEATURE_RAW) != 0, mb.key};
	if (hd.raw && !raw)
		raw = true; /* a raw stream is received raw */
	char toname[sizeof(rec.u.begin.toname) + 1];
	snprintf(toname, sizeof(toname), "%.*s", (int)sizeof(rec.u.begin.toname),
		 rec.u.begin.toname);
	struct mds *h = mdl_find(m, head), *parent = NULL;
	struct mds *into = NULL; /* where the data goes: h, or for an incremental its %recv */
	bool created = false;
	if (hd.fromguid == 0) {
		if (h != NULL && !h->partial)
			return EEXIST;
		if (h == NULL) {
			if ((err = check_new_dataset(m, head, &parent)) != 0)
				return err;
			if (!hd.raw && !key_available(parent))
				return EACCES;
			int data;
			if ((err = mdl_new_data(m, hd.volsize, &data)) != 0)
				return err;
			h = mdl_new_ds(m, head, QZ_VOLUME);
			if (h == NULL) {
				close(data);
				return ENOMEM;
			}
			h->data = data;
			h->volsize = hd.volsize;
			mdl_put_prop(h, "volblocksize", "16384");
			if (hd.raw) {
				h->encroot = h;
				memcpy(h->key, hd.key, QZ_WKEY_LEN);
				mdl_put_prop(h, "encryption", "aes-256-gcm");
				mb.keyformat[sizeof(mb.keyformat) - 1] = 0;
				mb.pbkdf2salt[sizeof(mb.pbkdf2salt) - 1] = 0;
				mb.pbkdf2iters[sizeof(mb.pbkdf2iters) - 1] = 0;
				bool pass = strcmp(mb.keyformat, "passphrase") == 0;
				mdl_put_prop(h, "keyformat", pass ? "passphrase" : "raw");
				mdl_put_prop(h, "keylocation", "prompt");
				if (pass) {
					mdl_put_prop(h, "pbkdf2salt", mb.pbkdf2salt);
					mdl_put_prop(h, "pbkdf2iters", mb.pbkdf2iters);
				}
			} else {
				h->encroot = parent->encroot;
			}
			created = true;
		}
		into = h;
	} else {
		/* into a hidden clone "<head>/%recv", swapped in when whole (as ZFS does) */
		if (h == NULL)
			return ENOENT;
		if (rec.u.begin.flags & QZ_DRR_FLAG_CLONE)
			return EINVAL; /* ZFS receives a clone stream into a new dataset only */
		into = recv_child(m, h);
		bool resume = (features & QZ_FEATURE_RESUMING) != 0;
		if (into != NULL && (!resume || into->part.fromguid != hd.fromguid))
			return EBUSY; /* a partial receive is in the way: resume or abort it */
		if (into == NULL && resume)
			return EINVAL;
		struct mds *latest = latest_snapshot(m, h);
		if (latest == NULL || latest->guid != hd.fromguid)
			return ENODEV;
		if (mdl_find(m, snap) != NULL)
			return EEXIST;
		if (!force) {
			char cur[BLOCK], old[BLOCK];
			for (uint64_t off = 0; off < h->volsize; off += BLOCK) {
				memset(old, 0, sizeof(old));
				ssize_t n = pread(h->data, cur, BLOCK, (off_t)off);
				if (n < 0 || pread(latest->data, old, (size_t)n, (off_t)off) < 0)
					return errno;
				if (memcmp(cur, old, (size_t)n) != 0)
					return ETXTBSY; /* changed since its latest snapshot */
			}
		}
		if (into == NULL) {
			char name[QZ_NAME_MAX + 8];
			snprintf(name, sizeof(name), "%s/%%recv", head);
			int data;
			if ((err = mdl_new_data(m, hd.volsize, &data)) != 0)
				return err;
			if ((into = mdl_new_ds(m, name, QZ_VOLUME)) == NULL) {
				close(data);
				return ENOMEM;
			}
			into->data = data;
			into->encroot = h->encroot;
			into->volsize = hd.volsize;
			created = true;
			if ((err = copy_data(latest->data, data)) != 0 ||
			    (err = ftruncate(data, (off_t)hd.volsize) != 0 ? errno : 0) != 0) {
				free_ds(m, into);
				return err;
			}
		}
	}
	static char buf[SEND_BLOCK_MAX];
	bool resuming = into->partial; /* a receive stopped before */
	uint64_t done = resuming ? into->part.offset : 0, bytes = resuming ? into->part.bytes : 0;
	for (;;) {
		if ((err = read_record(fd, &ck, &rec, buf, sizeof(buf), &plen)) != 0)
			break;
		if (rec.type == QZ_DRR_END)
			break;
		if (rec.type != QZ_DRR_WRITE)
			continue;
		uint64_t off = rec.u.write.offset;
		if (rec.u.write.object != ZVOL_DATA_OBJECT || off > hd.volsize ||
		    plen > hd.volsize - off) {
			err = EINVAL;
			break;
		}
		if (pwrite(into->data, buf, plen, (off_t)off) != (ssize_t)plen) {
			err = errno != 0 ? errno : EIO;
			break;
		}
		done = off; /* a token resumes at the last block written (sent again) */
		bytes += plen + sizeof(qz_drr_t);
	}
	if (err != 0) {
		if ((created || resuming) && resumable) {
			into->partial = true;
			into->part.toguid = hd.toguid;
			into->part.fromguid = hd.fromguid;
			into->part.offset = done;
			into->part.bytes = bytes;
			into->part.features = features & ~(uint64_t)QZ_FEATURE_RESUMING;
			snprintf(into->part.toname, sizeof(into->part.toname), "%.255s", toname);
		} else if (!resuming) { /* else it stays: the partial state of the receive before */
			free_ds(m, into);
		}
		return err;
	}
	if (into != h) { /* the incremental, whole: it becomes the dataset's data */
		if ((err = copy_data(into->data, h->data)) != 0)
			return err;
		h->volsize = hd.volsize;
		free_ds(m, into);
	}
	h->partial = false;
	const char *snapname = snap;
	if ((err = model_snapshot(be, &snapname, 1, NULL, 0)) != 0)
		return err;
	/* as ZFS: the snapshot received is the one sent, its guid and creation time */
	mdl_find(m, snap)->guid = hd.toguid;
	mdl_find(m, snap)->creation = hd.creation;
	return 0;
}

static int model_zvol_path(qz_backend_t *be, const char *vol, char *buf, size_t len)
{
	model_t *m = M(be);
	if (name_check(vol, QZ_NAME_DATASET) != 0)
		return EINVAL;
	struct mds *d = mdl_find(m, vol);
	if (d == NULL || d->type != QZ_VOLUME)
		return ENOENT;
	if (!key_available(d)) /* real ZFS makes no device: qzfs says why */
		return qz_be_fail(be, EACCES, "the encryption key of %s is not loaded", vol);
	if (m->dir[0] != '\0') { /* a stored model: the data file itself */
		char link[64];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", d->data);
		ssize_t n = readlink(link, buf, len);
		if (n < 0)
			return errno;
		if ((size_t)n >= len)
			return ENAMETOOLONG;
		buf[n] = '\0';
		return 0;
	}
	return (size_t)snprintf(buf, len, "/proc/%d/fd/%d", (int)getpid(), d->data) < len
		   ? 0
		   : ENAMETOOLONG;
}

static int model_zvol_open(qz_backend_t *be, const char *vol, int oflags, int *fdp)
{
	model_t *m = M(be);
	char path[64];
	int err = model_zvol_path(be, vol, path, sizeof(path));
	if (err != 0)
		return err;
	int fd = open(path, (oflags & O_ACCMODE) | O_CLOEXEC);
	if (fd < 0)
		return errno;
	struct mopen *o = calloc(1, sizeof(*o));
	struct stat st;
	if (o == NULL || fstat(fd, &st) != 0) {
		free(o);
		close(fd);
		return ENOMEM;
	}
	o->fd = fd;
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	o->next = m->opens;
	m->opens = o;
	*fdp = fd;
	return 0;
}

static int model_pool_create(qz_backend_t *be, const char *pool, const char *const *devices,
			     size_t n)
{
	model_t *m = M(be);
	if (name_check(pool, QZ_NAME_DATASET) != 0 || strchr(pool, '/') != NULL)
		return qz_be_fail(be, EINVAL, "'%s' is not a valid zpool name", pool);
	if (n == 0 || n > 40)
		return qz_be_fail(be, EINVAL, "give between 1 and 40 block devices");
	for (size_t i = 0; i < n; i++)
		if (strncmp(devices[i], "/dev/", 5) != 0)
			return qz_be_fail(be, EINVAL, "%s is not a device", devices[i]);
	if (mdl_find(m, pool) != NULL)
		return qz_be_fail(be, EEXIST, "zpool %s exists", pool);
	struct mds *d = mdl_new_ds(m, pool, QZ_FILESYSTEM);
	if (d == NULL)
		return ENOMEM;
	int err = mdl_put_prop(d, "compression", "lz4");
	if (err == 0)
		err = mdl_put_prop(d, "mountpoint", "none");
	if (err == 0)
		err = mdl_put_prop(d, "volmode", "dev");
	if (err == 0)
		err = mdl_put_prop(d, "qubes-zfs:role", "zpool");
	return err;
}

static const struct qz_backend_ops model_ops = {
    .name = "model",
    .close = model_close,
    .create = model_create,
    .snapshot = model_snapshot,
    .clone = model_clone,
    .promote = model_promote,
    .rename = model_rename,
    .destroy = model_destroy,
    .destroy_snaps = model_destroy_snaps,
    .destroy_all = qz_be_destroy_each,
    .rollback = model_rollback,
    .bookmark = model_bookmark,
    .destroy_bookmark = model_destroy_bookmark,
    .hold = model_hold,
    .release = model_release,
    .get_prop = model_get_prop,
    .zpool_get = model_zpool_get,
    .set_prop = model_set_prop,
    .list = model_list,
    .exists = model_exists,
    .load_key = model_load_key,
    .unload_key = model_unload_key,
    .change_key = model_change_key,
    .inherit_key = model_inherit_key,
    .send = model_send,
    .send_space = model_send_space,
    .receive = model_receive,
    .zvol_open = model_zvol_open,
    .zvol_path = model_zvol_path,
    .pool_create = model_pool_create,
};

int qz_backend_model_open(qz_backend_t **bep, const char *pool, const char *dir)
{
	if (name_check(pool, QZ_NAME_DATASET) != 0 || strchr(pool, '/') != NULL)
		return EINVAL;
	model_t *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return ENOMEM;
	m->be.ops = &model_ops;
	m->lockfd = -1;
	m->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	int err = dir != NULL ? mdl_store_load(m, dir) : 0;
	if (err == 0 && mdl_find(m, pool) == NULL && mdl_new_ds(m, pool, QZ_FILESYSTEM) == NULL)
		err = ENOMEM;
	if (err != 0) {
		m->dir[0] = '\0'; /* never save what was not loaded */
		model_close(&m->be);
		return err;
	}
	*bep = &m->be;
	return 0;
}
