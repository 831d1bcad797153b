/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dom0's records of backups to a ZFS-receiving qube, as documents sealed beside them: what a
 * fresh dom0 needs to restore them (the record, with the snapshot's guid and portable objset
 * MAC, and the digest of what was sent). The document, "<record bytes><digest bytes>" after a
 * header line giving both lengths, is sealed with dom0's key like a qube's settings
 * (backup_doc.c): what opens is what dom0 sealed, and is still checked as any record is read.
 */
#include "digest.h"
#include "fdio.h"
#include "replica.h"
#include "why.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DOC_MAGIC  "qzfs-zfs-backup-record 1"
#define RECORD_MAX 8192u
#define DIGEST_MAX ((size_t)QZ_BACKUP_DOC_MAX - RECORD_MAX - 128)

/* Writes len bytes to path whole or not at all (a synced temporary file renamed). */
static int spill(const char *path, const uint8_t *buf, size_t len)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.adopt", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	return qz_file_commit(fd, qz_write_full(fd, buf, len), tmp, path);
}

void qz_replica_doc_name(char *buf, size_t len, const char *id)
{
	snprintf(buf, len, "%s%s", QZ_REPLICA_DOC_PREFIX, id);
}

int qz_replica_record_doc(const char *state_dir, const char *id, uint8_t **doc, size_t *len,
			  char *why, size_t whylen)
{
	*doc = NULL;
	*len = 0;
	char path[4096];
	char *rec = NULL, *dig = NULL;
	size_t reclen = 0, diglen = 0;
	snprintf(path, sizeof(path), "%s/%s.rec", state_dir, id);
	int err = qz_read_path(path, RECORD_MAX, true, &rec, &reclen);
	if (err == 0) {
		qz_backup_digest_path(state_dir, id, path, sizeof(path));
		err = qz_read_path(path, DIGEST_MAX, true, &dig, &diglen);
	}
	if (err != 0) {
		free(rec);
		return qz_why(why, whylen, err, "%s: %s", path, strerror(err));
	}
	char head[128];
	int hl = snprintf(head, sizeof(head), DOC_MAGIC "\n%zu %zu\n", reclen, diglen);
	*doc = malloc((size_t)hl + reclen + diglen);
	if (*doc == NULL) {
		free(rec);
		free(dig);
		return qz_why(why, whylen, ENOMEM, "out of memory");
	}
	memcpy(*doc, head, (size_t)hl);
	memcpy(*doc + hl, rec, reclen);
	memcpy(*doc + hl + reclen, dig, diglen);
	*len = (size_t)hl + reclen + diglen;
	free(rec);
	free(dig);
	return 0;
}

/* Parses the document's head: the lengths of the record and the digest that follow it. */
static int parse_head(const uint8_t *doc, size_t len, size_t *off, size_t *reclen, size_t *diglen)
{
	size_t m = strlen(DOC_MAGIC);
	if (len < m + 1 || memcmp(doc, DOC_MAGIC "\n", m + 1) != 0)
		return EBADMSG;
	size_t i = m + 1, v[2] = {0, 0};
	for (int k = 0; k < 2; k++) {
		size_t digits = 0;
		while (i < len && doc[i] >= '0' && doc[i] <= '9' && digits < 9) {
			v[k] = v[k] * 10 + (size_t)(doc[i] - '0');
			i++, digits++;
		}
		if (digits == 0 || i >= len || doc[i] != (k == 0 ? ' ' : '\n'))
			return EBADMSG;
		i++;
	}
	if (v[0] == 0 || v[0] > RECORD_MAX || v[1] > DIGEST_MAX || len - i != v[0] + v[1])
		return EBADMSG;
	*off = i, *reclen = v[0], *diglen = v[1];
	return 0;
}

int qz_replica_record_adopt(const char *state_dir, const char *id, const void *doc, size_t len,
			    char *why, size_t whylen)
{
	const uint8_t *d = doc;
	size_t off = 0, reclen = 0, diglen = 0;
	if (strlen(id) != QZ_BACKUP_ID_HEX || strspn(id, "0123456789abcdef") != QZ_BACKUP_ID_HEX)
		return qz_why(why, whylen, EINVAL, "%.80s is not a backup id", id);
	qz_backup_rec_t r;
	if (qz_backup_rec_read(state_dir, id, &r) != ENOENT)
		return qz_why(why, whylen, EEXIST, "dom0 has a record of backup %s already", id);
	if (parse_head(d, len, &off, &reclen, &diglen) != 0)
		return qz_why(why, whylen, EBADMSG, "the record of backup %s is malformed", id);
	char rec_path[4096], dig_path[4096];
	snprintf(rec_path, sizeof(rec_path), "%s/%s.rec", state_dir, id);
	qz_backup_digest_path(state_dir, id, dig_path, sizeof(dig_path));
	/* the digest first: a record is never there without it */
	int err = spill(dig_path, d + off + reclen, diglen);
	if (err == 0)
		err = spill(rec_path, d + off, reclen);
	if (err != 0) {
		unlink(dig_path);
		return qz_why(why, whylen, err, "%s: %s", state_dir, strerror(err));
	}
	qz_digest_t dg;
	int bad = qz_backup_rec_read(state_dir, id, &r);
	if (bad == 0 && (strcmp(r.id, id) != 0 || r.document || !r.complete || !r.has_mac))
		bad = EBADMSG;
	if (bad == 0 && (bad = qz_digest_read(dig_path, &dg)) == 0)
		qz_digest_free(&dg);
	if (bad != 0) {
		qz_backup_rec_remove(state_dir, id); /* the digest too */
		return qz_why(why, whylen, EBADMSG, "the record of backup %s is malformed", id);
	}
	return 0;
}
