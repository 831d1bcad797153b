/* Sealed containers on file descriptors (see seal_io.h). */
#include "seal_io.h"

#include "why.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t qz_read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (uint8_t *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int qz_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int qz_seal_fd(int in, int out, const qz_seal_info_t *info, const qz_seal_key_t *master,
	       uint64_t *bytes, char *why, size_t whylen)
{
	size_t cs = info->chunk_size;
	uint8_t hdr[QZ_SEAL_HEADER_MAX];
	size_t hdrlen = 0;
	qz_sealer_t *s = NULL;
	int err = qz_sealer_new(info, master, hdr, &hdrlen, &s, why, whylen);
	if (err != 0)
		return err;
	/* two plaintext buffers: a chunk is sealed once the next read tells whether it is last */
	uint8_t *cur = malloc(cs), *next = malloc(cs), *sealed = malloc(cs + QZ_SEAL_ABYTES + 4);
	*bytes = 0;
	if (cur == NULL || next == NULL || sealed == NULL) {
		err = qz_why(why, whylen, ENOMEM, "out of memory");
		goto out;
	}
	if ((err = qz_write_full(out, hdr, hdrlen)) != 0) {
		err = qz_why(why, whylen, err, "cannot write: %s", strerror(err));
		goto out;
	}
	ssize_t n = qz_read_full(in, cur, cs);
	for (;;) {
		if (n < 0) {
			err = qz_why(why, whylen, errno, "cannot read the stream: %s",
				     strerror(errno));
			break;
		}
		ssize_t m = (size_t)n == cs ? qz_read_full(in, next, cs) : 0;
		if (m < 0) {
			n = m;
			continue;
		}
		size_t slen = 0;
		bool final = m == 0;
		qz_sealer_chunk(s, cur, (size_t)n, final, sealed, &slen);
		*bytes += (uint64_t)n;
		if ((err = qz_write_full(out, sealed, slen)) != 0) {
			err = qz_why(why, whylen, err, "cannot write: %s", strerror(err));
			break;
		}
		if (final)
			break;
		uint8_t *t = cur;
		cur = next;
		next = t;
		n = m;
	}
out:
	if (cur != NULL)
		sodium_memzero(cur, cs);
	if (next != NULL)
		sodium_memzero(next, cs);
	free(cur);
	free(next);
	free(sealed);
	qz_sealer_free(s);
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
		size_t len = (size_t)lenbuf[0] | (size_t)lenbuf[1] << 8 | (size_t)lenbuf[2] << 16 |
			     (size_t)lenbuf[3] << 24;
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
