/* SPDX-License-Identifier: BSD-2-Clause */
/* dom0's records of backups: one text file per backup, "<id>.rec", lines "key value". */
#include "backup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REC_MAGIC "qzfs-backup-record 1"

static bool id_ok(const char *id)
{
	if (strlen(id) != QZ_BACKUP_ID_HEX)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* Makes a rename or unlink in dir durable. */
static void sync_dir(const char *dir)
{
	int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d >= 0) {
		fsync(d);
		close(d);
	}
}

int qz_backup_rec_write(const char *dir, const qz_backup_rec_t *r)
{
	if (!id_ok(r->id))
		return EINVAL;
	char path[4096], tmp[4096];
	snprintf(path, sizeof(path), "%s/%s.rec", dir, r->id);
	snprintf(tmp, sizeof(tmp), "%s/.%s.rec.tmp", dir, r->id);
	FILE *f = fopen(tmp, "we");
	if (f == NULL)
		return errno;
	fprintf(f,
		REC_MAGIC "\nid %s\nseq %" PRIu64
			  "\nvolume %s\nsnapshot %s\nbase %s\nbookmark %s\ntoguid %" PRIu64
			  "\nfromguid %" PRIu64 "\ncreated %" PRIu64 "\nchunks %" PRIu64
			  "\nbytes %" PRIu64 "\nchunk_size %u\nraw %d\ncomplete %d\n",
		r->id, r->seq, r->volume, r->snapshot, r->base[0] ? r->base : "-",
		r->bookmark[0] ? r->bookmark : "-", r->toguid, r->fromguid, r->created, r->chunks,
		r->bytes, r->chunk_size, r->raw, r->complete);
	if (r->document)
		fputs("document 1\n", f);
	if (r->has_mac) {
		fputs("objset_mac ", f);
		for (size_t i = 0; i < QZ_OBJSET_MAC_LEN; i++)
			fprintf(f, "%02x", r->objset_mac[i]);
		fputc('\n', f);
	}
	int err = fflush(f) != 0 || fsync(fileno(f)) != 0 ? errno : 0;
	if (fclose(f) != 0 && err == 0)
		err = errno;
	if (err == 0 && rename(tmp, path) != 0)
		err = errno;
	if (err != 0) {
		unlink(tmp);
		return err;
	}
	sync_dir(dir);
	return 0;
}

int qz_backup_rec_remove(const char *dir, const char *id)
{
	if (!id_ok(id))
		return EINVAL;
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.rec", dir, id);
	if (unlink(path) != 0)
		return errno;
	qz_backup_digest_path(dir, id, path, sizeof(path));
	(void)unlink(path); /* a ZFS-qube backup's digest goes with it */
	sync_dir(dir);
	return 0;
}

void qz_backup_digest_path(const char *dir, const char *id, char *path, size_t len)
{
	snprintf(path, len, "%s/%s.digest", dir, id);
}

static int set_name(char *dst, const char *v)
{
	if (strlen(v) >= QZ_NAME_MAX)
		return EINVAL;
	strcpy(dst, strcmp(v, "-") == 0 ? "" : v);
	return 0;
}

static int set_mac(qz_backup_rec_t *r, const char *v)
{
	if (strlen(v) != 2 * QZ_OBJSET_MAC_LEN || r->has_mac)
		return EINVAL;
	for (size_t i = 0; i < QZ_OBJSET_MAC_LEN; i++) {
		unsigned x;
		if (!isxdigit((unsigned char)v[2 * i]) || !isxdigit((unsigned char)v[2 * i + 1]) ||
		    sscanf(v + 2 * i, "%2x", &x) != 1)
			return EINVAL;
		r->objset_mac[i] = (uint8_t)x;
	}
	r->has_mac = true;
	return 0;
}

static int set_u64(uint64_t *dst, const char *v)
{
	char *end;
	errno = 0;
	*dst = strtoull(v, &end, 10);
	return errno != 0 || end == v || *end != 0 ? EINVAL : 0;
}

int qz_backup_rec_read(const char *dir, const char *id, qz_backup_rec_t *r)
{
	if (!id_ok(id))
		return EINVAL;
	char path[4096], line[512];
	snprintf(path, sizeof(path), "%s/%s.rec", dir, id);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return errno;
	memset(r, 0, sizeof(*r));
	int err =
	    fgets(line, sizeof(line), f) != NULL && strcmp(line, REC_MAGIC "\n") == 0 ? 0 : EINVAL;
	unsigned seen = 0;
	while (err == 0 && fgets(line, sizeof(line), f) != NULL) {
		char *nl = strchr(line, '\n'), *v = strchr(line, ' ');
		if (nl == NULL || v == NULL) {
			err = EINVAL;
			break;
		}
		*nl = 0;
		*v++ = 0;
		uint64_t n = 0;
		if (strcmp(line, "id") == 0)
			err = strcmp(v, id) == 0 ? 0 : EINVAL;
		else if (strcmp(line, "seq") == 0)
			err = set_u64(&r->seq, v);
		else if (strcmp(line, "volume") == 0)
			err = set_name(r->volume, v);
		else if (strcmp(line, "snapshot") == 0)
			err = set_name(r->snapshot, v);
		else if (strcmp(line, "base") == 0)
			err = set_name(r->base, v);
		else if (strcmp(line, "bookmark") == 0)
			err = set_name(r->bookmark, v);
		else if (strcmp(line, "toguid") == 0)
			err = set_u64(&r->toguid, v);
		else if (strcmp(line, "fromguid") == 0)
			err = set_u64(&r->fromguid, v);
		else if (strcmp(line, "created") == 0)
			err = set_u64(&r->created, v);
		else if (strcmp(line, "chunks") == 0)
			err = set_u64(&r->chunks, v);
		else if (strcmp(line, "bytes") == 0)
			err = set_u64(&r->bytes, v);
		else if (strcmp(line, "chunk_size") == 0)
			err = set_u64(&n, v) != 0 || n > UINT32_MAX
				  ? EINVAL
				  : (r->chunk_size = (uint32_t)n, 0);
		else if (strcmp(line, "raw") == 0)
			err = set_u64(&n, v) != 0 || n > 1 ? EINVAL : (r->raw = n == 1, 0);
		else if (strcmp(line, "complete") == 0)
			err = set_u64(&n, v) != 0 || n > 1 ? EINVAL : (r->complete = n == 1, 0);
		else if (strcmp(line, "document") == 0) { /* optional, so not counted */
			err =
			    strcmp(v, "1") == 0 && !r->document ? (r->document = true, 0) : EINVAL;
			continue;
		} else if (strcmp(line, "objset_mac") == 0) { /* optional, so not counted */
			err = set_mac(r, v);
			continue;
		} else
			err = EINVAL;
		seen++;
	}
	fclose(f);
	if (err == 0 && (seen != 14 || r->volume[0] == 0 || (r->toguid == 0) != r->document))
		err = EINVAL;
	if (err == 0)
		strcpy(r->id, id);
	return err;
}

static int by_seq(const void *a, const void *b)
{
	const qz_backup_rec_t *x = a, *y = b;
	return x->seq != y->seq ? (x->seq < y->seq ? -1 : 1) : strcmp(x->id, y->id);
}

int qz_backup_rec_list(const char *dir, qz_backup_rec_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : errno;
	size_t cap = 0;
	int err = 0;
	struct dirent *de;
	while (err == 0 && (de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l != QZ_BACKUP_ID_HEX + 4 || strcmp(de->d_name + QZ_BACKUP_ID_HEX, ".rec") != 0)
			continue;
		char id[QZ_BACKUP_ID_HEX + 1];
		memcpy(id, de->d_name, QZ_BACKUP_ID_HEX);
		id[QZ_BACKUP_ID_HEX] = 0;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			qz_backup_rec_t *bigger = realloc(*out, cap * sizeof(**out));
			if (bigger == NULL) {
				err = ENOMEM;
				break;
			}
			*out = bigger;
		}
		if ((err = qz_backup_rec_read(dir, id, &(*out)[*n])) == 0)
			(*n)++;
	}
	closedir(d);
	if (err != 0) {
		free(*out);
		*out = NULL;
		*n = 0;
		return err;
	}
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), by_seq);
	return 0;
}
