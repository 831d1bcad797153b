/* SPDX-License-Identifier: BSD-2-Clause */
/* Sealed containers on file descriptors (see seal_io.h). */
#include "seal_io.h"

#include "le.h"
#include "seal_pipeline.h"
#include "why.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fd_put {
	int fd;
	uint64_t bytes;
	char *why;
	size_t whylen;
};

static int put_fd(void *ctx, const uint8_t *framed, size_t len, size_t plainlen)
{
	struct fd_put *p = ctx;
	int err = qz_write_full(p->fd, framed, len);
	if (err != 0)
		return qz_why(p->why, p->whylen, err, "cannot write: %s", strerror(err));
	p->bytes += plainlen;
	return 0;
}

int qz_seal_fd(int in, int out, const qz_seal_info_t *info, const qz_seal_key_t *master,
	       uint64_t *bytes, char *why, size_t whylen)
{
	uint8_t hdr[QZ_SEAL_HEADER_MAX];
	size_t hdrlen = 0;
	qz_sealer_t *s = NULL;
	struct fd_put p = {out, 0, why, whylen};
	int err = qz_sealer_new(info, master, hdr, &hdrlen, &s, why, whylen);
	if (err == 0 && (err = qz_write_full(out, hdr, hdrlen)) != 0)
		qz_why(why, whylen, err, "cannot write: %s", strerror(err));
	if (err == 0)
		err = qz_seal_chunks(in, s, 0, put_fd, &p, why, whylen);
	qz_sealer_free(s);
	*bytes = p.bytes;
	return err;
}

/* Reads the header from fd: 0, or EBADMSG / errno with the reason. */
static int read_header(int in, uint8_t *hdr, size_t *hdrlen, char *why, size_t whylen)
{
	ssize_t n = qz_read_full(in, hdr, QZ_SEAL_HEADER_FIXED);
	if (n < 0)
		return qz_why(why, whylen, errno, "cannot read: %s", strerror(errno));
	if (n < QZ_SEAL_HEADER_FIXED)
		return qz_why(why, whylen, EBADMSG, "the backup is cut short in its header");
	int err = qz_seal_header_length(hdr, hdrlen, why, whylen);
	if (err != 0)
		return err;
	size_t rest = *hdrlen - QZ_SEAL_HEADER_FIXED;
	n = qz_read_full(in, hdr + QZ_SEAL_HEADER_FIXED, rest);
	if (n < 0)
		return qz_why(why, whylen, errno, "cannot read: %s", strerror(errno));
	if ((size_t)n < rest)
		return qz_why(why, whylen, EBADMSG, "the backup is cut short in its header");
	return 0;
}

int qz_open_fd(int in, const qz_open_secret_t *secret, qz_stream_emit_fn emit, void *ctx,
	       qz_seal_info_t *info, char *why, size_t whylen)
{
	uint8_t hdr[QZ_SEAL_HEADER_MAX];
	size_t hdrlen = 0;
	int err = read_header(in, hdr, &hdrlen, why, whylen);
	if (err == 0)
		err = qz_seal_header_parse(hdr, hdrlen, info, why, whylen);
	if (err != 0)
		return err;
	qz_seal_key_t *derived = NULL;
	const qz_seal_key_t *key = secret->key;
	if (key == NULL) {
		err =
		    qz_seal_key_derive(secret->pass, secret->passlen, info, &derived, why, whylen);
		if (err != 0)
			return err;
		key = derived;
	}
	qz_opener_t *o = NULL;
	err = qz_opener_new(hdr, hdrlen, key, &o, why, whylen);
	qz_seal_key_free(derived);
	if (err != 0)
		return err;
	size_t cs = info->chunk_size;
	uint8_t *sealed = malloc(cs + QZ_SEAL_ABYTES), *plain = malloc(cs);
	if (sealed == NULL || plain == NULL) {
		err = qz_why(why, whylen, ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		uint8_t lenbuf[4];
		ssize_t n = qz_read_full(in, lenbuf, 4);
		if (n < 0) {
			err = qz_why(why, whylen, errno, "cannot read: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			err = qz_opener_end(o, why, whylen);
			break;
		}
		size_t len = (size_t)qz_get_le(lenbuf, 4);
		if (n < 4 || len > cs + QZ_SEAL_ABYTES) {
			err = qz_why(why, whylen, EBADMSG, "a chunk's length is out of bounds");
			break;
		}
		n = qz_read_full(in, sealed, len);
		if (n < 0) {
			err = qz_why(why, whylen, errno, "cannot read: %s", strerror(errno));
			break;
		}
		if ((size_t)n < len) {
			err = qz_why(why, whylen, EBADMSG, "the backup is cut short in a chunk");
			break;
		}
		size_t plen = 0;
		bool final = false;
		err = qz_opener_chunk(o, sealed, len, plain, &plen, &final, why, whylen);
		if (err == 0 && plen > 0)
			err = emit(ctx, plain, plen);
		if (err != 0)
			break;
	}
out:
	if (plain != NULL)
		sodium_memzero(plain, cs);
	free(sealed);
	free(plain);
	qz_opener_free(o);
	return err;
}
