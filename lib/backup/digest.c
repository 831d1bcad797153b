/* SPDX-License-Identifier: BSD-2-Clause */
/* Stream digests (see digest.h). */
#include "digest.h"

#include "drr.h"
#include "fdio.h"
#include "le.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(crypto_generichash_state) <= sizeof(((qz_digest_run_t *)0)->state),
	       "room for BLAKE2b's state");

static const char MAGIC[8] = "QZSDIG1\n";

static crypto_generichash_state *state_of(qz_digest_run_t *r)
{
	return (crypto_generichash_state *)(void *)r->state;
}

static void start_run(qz_digest_run_t *r)
{
	crypto_generichash_init(state_of(r), NULL, 0, QZ_DIGEST_HASH);
	uint8_t index[8];
	qz_put_le(index, r->index, 8);
	crypto_generichash_update(state_of(r), index, sizeof(index));
	crypto_generichash_update(state_of(r), r->prev, sizeof(r->prev));
	r->bytes = 0;
}

void qz_digest_run_begin(qz_digest_run_t *r)
{
	memset(r, 0, sizeof(*r));
	start_run(r);
}

bool qz_digest_run_add(qz_digest_run_t *r, const uint8_t *record, size_t len)
{
	qz_drr_t h;
	memcpy(&h, record, sizeof(h));
	/* what the qube's send back cannot reproduce: its own name for the snapshot, and the
	 * checksums, which run over it */
	if (h.type == QZ_DRR_BEGIN)
		memset(h.u.begin.toname, 0, sizeof(h.u.begin.toname));
	else
		memset(&h.u.tail.checksum, 0, sizeof(h.u.tail.checksum));
	if (h.type == QZ_DRR_END)
		memset(&h.u.end.checksum, 0, sizeof(h.u.end.checksum));
	crypto_generichash_update(state_of(r), (const uint8_t *)&h, sizeof(h));
	crypto_generichash_update(state_of(r), record + sizeof(h), len - sizeof(h));
	r->bytes += len;
	return r->bytes >= QZ_DIGEST_RUN || h.type == QZ_DRR_END;
}

void qz_digest_run_end(qz_digest_run_t *r, uint8_t hash[QZ_DIGEST_HASH])
{
	crypto_generichash_final(state_of(r), hash, QZ_DIGEST_HASH);
	memcpy(r->prev, hash, QZ_DIGEST_HASH);
	r->index++;
	start_run(r);
}

int qz_digest_append(qz_digest_t *d, const uint8_t hash[QZ_DIGEST_HASH])
{
	if (d->n >= QZ_DIGEST_MAX)
		return E2BIG;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		void *runs = realloc(d->runs, cap * QZ_DIGEST_HASH);
		if (runs == NULL)
			return ENOMEM;
		d->runs = runs;
		d->cap = cap;
	}
	memcpy(d->runs[d->n++], hash, QZ_DIGEST_HASH);
	return 0;
}

void qz_digest_free(qz_digest_t *d)
{
	free(d->runs);
	memset(d, 0, sizeof(*d));
}

int qz_digest_write(const char *path, const qz_digest_t *d)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	uint8_t head[16];
	memcpy(head, MAGIC, 8);
	qz_put_le(head + 8, d->n, 8);
	int err = qz_write_full(fd, head, sizeof(head));
	if (err == 0 && d->n > 0)
		err = qz_write_full(fd, d->runs, d->n * QZ_DIGEST_HASH);
	return qz_file_commit(fd, err, tmp, path);
}

int qz_digest_read(const char *path, qz_digest_t *d)
{
	memset(d, 0, sizeof(*d));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	uint8_t head[16];
	int err = 0;
	if (qz_read_full(fd, head, sizeof(head)) != (ssize_t)sizeof(head) ||
	    memcmp(head, MAGIC, 8) != 0)
		err = EBADMSG;
	uint64_t n = err == 0 ? qz_get_le(head + 8, 8) : 0;
	if (err == 0 && (n == 0 || n > QZ_DIGEST_MAX))
		err = EBADMSG;
	if (err == 0 && (d->runs = malloc((size_t)n * QZ_DIGEST_HASH)) == NULL)
		err = ENOMEM;
	uint8_t extra;
	if (err == 0 && (qz_read_full(fd, d->runs, (size_t)n * QZ_DIGEST_HASH) !=
			     (ssize_t)(n * QZ_DIGEST_HASH) ||
			 qz_read_full(fd, &extra, 1) != 0))
		err = EBADMSG;
	close(fd);
	if (err != 0) {
		qz_digest_free(d);
		return err;
	}
	d->n = d->cap = (size_t)n;
	return 0;
}
