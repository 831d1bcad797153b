/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A model kept in a directory, so that separate qzfs processes share one model (the Python
 * driver's fast tests run qzfs many times against it).
 *
 *   DIR/lock    flock()ed by the process using the model, from open to close
 *   DIR/state   the datasets, one record per line, written to state.tmp and renamed
 *   DIR/data/   one sparse file per volume or volume snapshot (its block device)
 *
 * A process that dies before closing leaves the state of its start; data files it made are
 * dropped by the next save. Records are lines of space-separated, %-escaped fields:
 *   qzfs-model 1 TXG SEED
 *   ds NAME TYPE GUID CREATETXG CREATION VOLSIZE DATA FLAGS KEY ORIGIN ENCROOT
 *   prop NAME VALUE      (of the last ds)
 *   hold TAG
 */
#include "model.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAGIC "qzfs-model"
#define MAX_FIELDS  12

enum { F_KEY_LOADED = 1, F_DEFER = 2, F_PARTIAL = 4 };

/* Writes s with space, %, newline and control characters escaped as %XX ("-" when empty). */
static void put_field(FILE *f, const char *s)
{
	fputc(' ', f);
	if (*s == '\0')
		fputc('-', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == '%' || c == '-' || c >= 0x7f)
			fprintf(f, "%%%02X", c);
		else
			fputc(c, f);
	}
}

/* Splits line into at most MAX_FIELDS unescaped fields in place; returns how many. */
static int split(char *line, char **fields)
{
	int n = 0;
	for (char *tok = strtok(line, " \n"); tok != NULL && n < MAX_FIELDS;
	     tok = strtok(NULL, " \n")) {
		char *out = tok;
		if (strcmp(tok, "-") == 0) {
			*tok = '\0';
		} else {
			for (const char *in = tok; *in != '\0'; in++) {
				unsigned v;
				if (*in == '%' && sscanf(in + 1, "%2x", &v) == 1) {
					*out++ = (char)v;
					in += 2;
				} else {
					*out++ = *in;
				}
			}
			*out = '\0';
		}
		fields[n++] = tok;
	}
	return n;
}

/* The file name (under DIR/data) of a data descriptor, found through /proc. */
static int data_name(int fd, char *buf, size_t len)
{
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return errno;
	target[n] = '\0';
	const char *base = strrchr(target, '/');
	base = base != NULL ? base + 1 : target;
	size_t n_base = strlen(base);
	if (n_base >= len)
		return ENAMETOOLONG;
	memcpy(buf, base, n_base + 1);
	return 0;
}

static void reverse_props(struct mds *d)
{
	struct mprop *prev = NULL;
	while (d->props != NULL) {
		struct mprop *p = d->props;
		d->props = p->next;
		p->next = prev;
		prev = p;
	}
	d->props = prev;
}

/* Reads one ds record into a new dataset; origins and encryption roots are linked later. */
static int load_ds(model_t *m, char **f, int n, char (*links)[2][QZ_NAME_MAX], size_t *nlinks)
{
	if (n != 12 || strlen(f[10]) >= QZ_NAME_MAX || strlen(f[11]) >= QZ_NAME_MAX)
		return EINVAL;
	struct mds *d = mdl_new_ds(m, f[1], (enum qz_dstype)atoi(f[2]));
	if (d == NULL)
		return ENOMEM;
	d->guid = strtoull(f[3], NULL, 10);
	d->createtxg = strtoull(f[4], NULL, 10);
	d->creation = strtoull(f[5], NULL, 10);
	d->volsize = strtoull(f[6], NULL, 10);
	unsigned flags = (unsigned)atoi(f[8]);
	d->key_loaded = flags & F_KEY_LOADED;
	d->defer_destroy = flags & F_DEFER;
	d->partial = flags & F_PARTIAL;
	for (size_t i = 0; i < QZ_WKEY_LEN && f[9][2 * i] != '\0'; i++) {
		unsigned v;
		if (sscanf(f[9] + 2 * i, "%2x", &v) == 1)
			d->key[i] = (uint8_t)v;
	}
	if (f[7][0] != '\0') {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/data/%s", m->dir, f[7]);
		if ((d->data = open(path, O_RDWR | O_CLOEXEC)) < 0)
			return errno;
	}
	snprintf(links[*nlinks][0], QZ_NAME_MAX, "%s", f[10]);
	snprintf(links[*nlinks][1], QZ_NAME_MAX, "%s", f[11]);
	(*nlinks)++;
	return 0;
}

static int load(model_t *m, FILE *in)
{
	char line[8192], *f[MAX_FIELDS];
	if (fgets(line, sizeof(line), in) == NULL)
		return 0; /* a new model */
	int n = split(line, f);
	if (n != 4 || strcmp(f[0], STATE_MAGIC) != 0 || strcmp(f[1], "1") != 0)
		return EINVAL;
	uint64_t txg = strtoull(f[2], NULL, 10), seed = strtoull(f[3], NULL, 10);
	size_t cap = 64, nlinks = 0;
	char(*links)[2][QZ_NAME_MAX] = malloc(cap * sizeof(*links));
	struct mds *cur = NULL;
	int err = links == NULL ? ENOMEM : 0;
	while (err == 0 && fgets(line, sizeof(line), in) != NULL) {
		if ((n = split(line, f)) < 2) {
			err = EINVAL;
		} else if (strcmp(f[0], "ds") == 0) {
			if (nlinks == cap) {
				void *more = realloc(links, 2 * cap * sizeof(*links));
				if (more == NULL) {
					err = ENOMEM;
					break;
				}
				links = more;
				cap *= 2;
			}
			if (cur != NULL)
				reverse_props(cur);
			if ((err = load_ds(m, f, n, links, &nlinks)) == 0)
				cur = m->all;
		} else if (strcmp(f[0], "prop") == 0 && n == 3 && cur != NULL) {
			err = mdl_put_prop(cur, f[1], f[2]);
		} else if (strcmp(f[0], "part") == 0 && n == 7 && cur != NULL &&
			   strlen(f[6]) < sizeof(cur->part.toname)) {
			cur->part.toguid = strtoull(f[1], NULL, 10);
			cur->part.fromguid = strtoull(f[2], NULL, 10);
			cur->part.offset = strtoull(f[3], NULL, 10);
			cur->part.bytes = strtoull(f[4], NULL, 10);
			cur->part.features = strtoull(f[5], NULL, 10);
			strcpy(cur->part.toname, f[6]);
		} else if (strcmp(f[0], "hold") == 0 && cur != NULL) {
			struct mhold *h = calloc(1, sizeof(*h));
			if (h == NULL || (h->tag = strdup(f[1])) == NULL) {
				free(h);
				err = ENOMEM;
			} else {
				h->next = cur->holds;
				cur->holds = h;
			}
		} else {
			err = EINVAL;
		}
	}
	if (cur != NULL)
		reverse_props(cur);
	/* records were prepended: put the list back in the order it was saved */
	struct mds *prev = NULL;
	while (m->all != NULL) {
		struct mds *d = m->all;
		m->all = d->next;
		d->next = prev;
		prev = d;
	}
	m->all = prev;
	size_t i = 0;
	for (struct mds *d = m->all; err == 0 && d != NULL; d = d->next, i++) {
		d->origin = links[i][0][0] != '\0' ? mdl_find(m, links[i][0]) : NULL;
		d->encroot = links[i][1][0] != '\0' ? mdl_find(m, links[i][1]) : NULL;
	}
	free(links);
	m->txg = txg; /* recording the datasets counted on: back to the saved values */
	m->seed = seed;
	return err;
}

int mdl_store_load(model_t *m, const char *dir)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(m->dir, sizeof(m->dir), "%s", dir) >= sizeof(m->dir))
		return ENAMETOOLONG;
	snprintf(path, sizeof(path), "%s/data", dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return errno;
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return errno;
	snprintf(path, sizeof(path), "%s/lock", dir);
	if ((m->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return errno;
	if (flock(m->lockfd, LOCK_EX) != 0)
		return errno;
	snprintf(path, sizeof(path), "%s/state", dir);
	FILE *in = fopen(path, "re");
	if (in == NULL)
		return errno == ENOENT ? 0 : errno;
	int err = load(m, in);
	fclose(in);
	return err;
}

static void save_ds(FILE *out, const struct mds *d)
{
	char data[64] = "", key[2 * QZ_WKEY_LEN + 1] = "", num[32];
	if (d->data >= 0)
		data_name(d->data, data, sizeof(data));
	if (d->encroot == d)
		for (size_t i = 0; i < QZ_WKEY_LEN; i++)
			snprintf(key + 2 * i, 3, "%02x", d->key[i]);
	unsigned flags = (d->key_loaded ? F_KEY_LOADED : 0) | (d->defer_destroy ? F_DEFER : 0) |
			 (d->partial ? F_PARTIAL : 0);
	fputs("ds", out);
	put_field(out, d->name);
	const uint64_t nums[] = {(uint64_t)d->type, d->guid, d->createtxg, d->creation, d->volsize};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		snprintf(num, sizeof(num), "%" PRIu64, nums[i]);
		put_field(out, num);
	}
	put_field(out, data);
	snprintf(num, sizeof(num), "%u", flags);
	put_field(out, num);
	put_field(out, key);
	put_field(out, d->origin != NULL ? d->origin->name : "");
	put_field(out, d->encroot != NULL ? d->encroot->name : "");
	fputc('\n', out);
	for (const struct mprop *p = d->props; p != NULL; p = p->next) {
		fputs("prop", out);
		put_field(out, p->name);
		put_field(out, p->value);
		fputc('\n', out);
	}
	if (d->partial) { /* what its token says */
		fputs("part", out);
		const uint64_t part[] = {d->part.toguid, d->part.fromguid, d->part.offset,
					 d->part.bytes, d->part.features};
		for (size_t i = 0; i < sizeof(part) / sizeof(part[0]); i++) {
			snprintf(num, sizeof(num), "%" PRIu64, part[i]);
			put_field(out, num);
		}
		put_field(out, d->part.toname);
		fputc('\n', out);
	}
	for (const struct mhold *h = d->holds; h != NULL; h = h->next) {
		fputs("hold", out);
		put_field(out, h->tag);
		fputc('\n', out);
	}
}

/* Removes the data files no dataset refers to (left by removals and by dead processes). */
static void drop_unused_data(model_t *m)
{
	char path[PATH_MAX], name[64];
	snprintf(path, sizeof(path), "%s/data", m->dir);
	DIR *dir = opendir(path);
	if (dir == NULL)
		return;
	for (struct dirent *e; (e = readdir(dir)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		bool used = false;
		for (struct mds *d = m->all; d != NULL && !used; d = d->next)
			used = d->data >= 0 && data_name(d->data, name, sizeof(name)) == 0 &&
			       strcmp(name, e->d_name) == 0;
		if (!used)
			unlinkat(dirfd(dir), e->d_name, 0);
	}
	closedir(dir);
}

bool mdl_store_open_elsewhere(const struct stat *st)
{
	DIR *proc = opendir("/proc");
	if (proc == NULL)
		return false;
	bool open_elsewhere = false;
	char self[32];
	snprintf(self, sizeof(self), "%d", (int)getpid());
	for (struct dirent *p; !open_elsewhere && (p = readdir(proc)) != NULL;) {
		if (p->d_name[0] < '0' || p->d_name[0] > '9' || strcmp(p->d_name, self) == 0)
			continue;
		char fds[300];
		snprintf(fds, sizeof(fds), "/proc/%s/fd", p->d_name);
		DIR *dir = opendir(fds);
		if (dir == NULL)
			continue;
		for (struct dirent *e; !open_elsewhere && (e = readdir(dir)) != NULL;) {
			struct stat fst;
			open_elsewhere = e->d_name[0] != '.' &&
					 fstatat(dirfd(dir), e->d_name, &fst, 0) == 0 &&
					 fst.st_dev == st->st_dev && fst.st_ino == st->st_ino;
		}
		closedir(dir);
	}
	closedir(proc);
	return open_elsewhere;
}

int mdl_store_save(model_t *m)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/state.tmp", m->dir);
	snprintf(path, sizeof(path), "%s/state", m->dir);
	FILE *out = fopen(tmp, "we");
	if (out == NULL)
		return errno;
	fprintf(out, "%s 1 %" PRIu64 " %" PRIu64 "\n", STATE_MAGIC, m->txg, m->seed);
	for (const struct mds *d = m->all; d != NULL; d = d->next)
		save_ds(out, d);
	int err = fflush(out) != 0 || fsync(fileno(out)) != 0 ? errno : 0;
	if (fclose(out) != 0 && err == 0)
		err = errno;
	if (err == 0 && rename(tmp, path) != 0)
		err = errno;
	if (err == 0)
		drop_unused_data(m);
	return err;
}
