/* SPDX-License-Identifier: BSD-2-Clause */
/* Documents on a backup target: dom0's own data (a qube's settings) sealed as a container
 * flagged a document, stored and recorded like a volume's backup (see backup.h). */
#include "backup.h"
#include "why.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The next sequence number in dir's records. */
static uint64_t next_seq(const char *dir)
{
	qz_backup_rec_t *all = NULL;
	size_t n = 0;
	uint64_t seq = 1;
	if (qz_backup_rec_list(dir, &all, &n) == 0 && n > 0)
		seq = all[n - 1].seq + 1;
	free(all);
	return seq;
}

/* Seals doc chunk by chunk through s and stores each as object <id>.c<i>. */
static int put_chunks(qz_target_t *t, qz_sealer_t *s, const char *id, const uint8_t *doc,
		      size_t len, uint64_t *chunks, char *why, size_t whylen)
{
	size_t cs = qz_sealer_info(s)->chunk_size;
	uint8_t *framed = malloc(QZ_SEAL_FRAMED(cs));
	if (framed == NULL)
		return qz_why(why, whylen, ENOMEM, "out of memory");
	int err = 0;
	*chunks = 0;
	for (size_t off = 0; err == 0 && (off < len || *chunks == 0);) {
		size_t n = len - off < cs ? len - off : cs;
		bool final = off + n == len;
		size_t outlen = 0;
		err = qz_sealer_chunk(s, doc + off, n, final, framed, &outlen);
		if (err != 0) {
			err = qz_why(why, whylen, err, "sealing the document: %s", strerror(err));
			break;
		}
		char name[80];
		qz_backup_object(name, sizeof(name), id, (long)*chunks);
		err = qz_target_put(t, name, framed, outlen, why, whylen);
		(*chunks)++;
		off += n;
	}
	sodium_memzero(framed, QZ_SEAL_FRAMED(cs));
	free(framed);
	return err;
}

int qz_backup_put_document(qz_target_t *t, const qz_backup_opts_t *o, const char *name,
			   const void *doc, size_t len, qz_backup_rec_t *rec, char *why,
			   size_t whylen)
{
	if (len == 0 || len > QZ_BACKUP_DOC_MAX)
		return qz_why(why, whylen, EINVAL, "a document of %zu bytes (1 to %u)", len,
			      QZ_BACKUP_DOC_MAX);
	qz_seal_info_t info;
	qz_backup_seal_info(o, &info);
	if ((size_t)snprintf(info.dataset, sizeof(info.dataset), "%s", name) >=
	    sizeof(info.dataset))
		return qz_why(why, whylen, ENAMETOOLONG, "%s: the name is too long", name);
	info.document = true;
	memset(rec, 0, sizeof(*rec));
	sodium_bin2hex(rec->id, sizeof(rec->id), info.id, sizeof(info.id));
	snprintf(rec->volume, sizeof(rec->volume), "%s", name);
	rec->document = true;
	rec->created = info.created;
	rec->chunk_size = info.chunk_size;
	rec->seq = next_seq(o->state_dir);
	uint8_t hdr[QZ_SEAL_HEADER_MAX], trailer[QZ_SEAL_TRAILER_BYTES];
	size_t hdrlen = 0;
	qz_sealer_t *s = NULL;
	int err = qz_sealer_new(&info, o->key, hdr, &hdrlen, &s, why, whylen);
	if (err != 0)
		return err;
	char obj[80];
	qz_backup_object(obj, sizeof(obj), rec->id, QZ_BACKUP_HEADER);
	if ((err = qz_target_put(t, obj, hdr, hdrlen, why, whylen)) == 0)
		err = put_chunks(t, s, rec->id, doc, len, &rec->chunks, why, whylen);
	qz_sealer_free(s);
	rec->bytes = len;
	if (err == 0 &&
	    (err = qz_seal_trailer(hdr, hdrlen, o->key, rec->chunks, rec->bytes, trailer)) != 0)
		err = qz_why(why, whylen, err, "sealing the trailer: %s", strerror(err));
	qz_backup_object(obj, sizeof(obj), rec->id, QZ_BACKUP_TRAILER);
	if (err == 0)
		err = qz_target_put(t, obj, trailer, sizeof(trailer), why, whylen);
	rec->complete = err == 0;
	if (err == 0 && (err = qz_backup_rec_write(o->state_dir, rec)) != 0)
		err = qz_why(why, whylen, err, "writing the record: %s", strerror(err));
	return err;
}

/* Collects what the chunks of a document open to, up to QZ_BACKUP_DOC_MAX bytes. */
struct doc_buf {
	uint8_t *buf;
	size_t len;
};

static int collect(void *ctx, const void *p, size_t n)
{
	struct doc_buf *d = ctx;
	if (n > QZ_BACKUP_DOC_MAX - d->len)
		return EFBIG;
	memcpy(d->buf + d->len, p, n);
	d->len += n;
	return 0;
}

int qz_backup_get_document(qz_target_t *t, const qz_open_secret_t *secret, const qz_backup_rec_t *r,
			   void **doc, size_t *len, char *why, size_t whylen)
{
	*doc = NULL;
	*len = 0;
	qz_opener_t *o = NULL;
	qz_seal_info_t info;
	int err = qz_backup_open_header(t, secret, r->id, &o, &info, why, whylen);
	if (err != 0)
		return err;
	struct doc_buf d = {malloc(QZ_BACKUP_DOC_MAX + 1), 0};
	uint64_t chunks = 0;
	if (d.buf == NULL)
		err = qz_why(why, whylen, ENOMEM, "out of memory");
	else if (!info.document || strcmp(info.dataset, r->volume) != 0)
		err = qz_why(why, whylen, EBADMSG, "backup %s is not the document %s", r->id,
			     r->volume);
	else
		err = qz_backup_read_chunks(t, o, r->id, collect, &d, &chunks, why, whylen);
	if (err == EFBIG)
		err = qz_why(why, whylen, EBADMSG, "document %s is larger than %u bytes", r->id,
			     QZ_BACKUP_DOC_MAX);
	if (err == 0 && r->bytes != 0 && (d.len != r->bytes || chunks != r->chunks))
		err = qz_why(why, whylen, EBADMSG,
			     "document %s holds %zu bytes in %llu chunks, not %llu in %llu", r->id,
			     d.len, (unsigned long long)chunks, (unsigned long long)r->bytes,
			     (unsigned long long)r->chunks);
	qz_opener_free(o);
	if (err != 0) {
		if (d.buf != NULL)
			sodium_memzero(d.buf, d.len);
		free(d.buf);
		return err;
	}
	d.buf[d.len] = 0;
	*doc = d.buf;
	*len = d.len;
	return 0;
}
