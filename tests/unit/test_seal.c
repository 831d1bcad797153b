/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: the sealed container. Round trips of every size, and every way an untrusted
 * target could change a backup: chunks dropped, repeated, reordered, swapped with another
 * backup's, cut short, altered; header fields changed; the wrong key or passphrase. */
#include "seal.h"
#include "seal_io.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define CHUNK 4096

/* A container in memory: the header and the framed chunks, each chunk separately. */
struct box {
	uint8_t hdr[QZ_SEAL_HEADER_MAX];
	size_t hdrlen;
	uint8_t *chunk[64]; /* framed: 4-byte length, sealed bytes */
	size_t chunklen[64];
	size_t n;
};

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 2654435761u + seed) >> 13);
}

static qz_seal_info_t info_for(uint64_t toguid)
{
	qz_seal_info_t info;
	qz_seal_info_init(&info, QZ_KDF_KEYFILE);
	snprintf(info.dataset, sizeof(info.dataset), "tank/qubes/work/private");
	info.toguid = toguid;
	info.fromguid = 11;
	info.raw = true;
	info.chunk_size = CHUNK;
	return info;
}

static void seal(struct box *b, const qz_seal_info_t *info, const qz_seal_key_t *k,
		 const uint8_t *data, size_t len)
{
	qz_sealer_t *s = NULL;
	assert_int_equal(qz_sealer_new(info, k, b->hdr, &b->hdrlen, &s, NULL, 0), 0);
	b->n = 0;
	size_t off = 0;
	do {
		size_t n = len - off > info->chunk_size ? info->chunk_size : len - off;
		bool final = off + n == len;
		b->chunk[b->n] = malloc(info->chunk_size + QZ_SEAL_ABYTES + 4);
		assert_int_equal(
		    qz_sealer_chunk(s, data + off, n, final, b->chunk[b->n], &b->chunklen[b->n]),
		    0);
		b->n++;
		off += n;
		if (final)
			break;
	} while (1);
	qz_sealer_free(s);
}

static void box_free(struct box *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->chunk[i]);
	b->n = 0;
}

/* Opens chunks order[0..n) of b; returns 0 and the plaintext, or the first error. */
static int open_box(const struct box *b, const size_t *order, size_t n, const qz_seal_key_t *k,
		    uint8_t *out, size_t *outlen, char *why)
{
	qz_opener_t *o = NULL;
	int err = qz_opener_new(b->hdr, b->hdrlen, k, &o, why, 256);
	if (err != 0)
		return err;
	*outlen = 0;
	for (size_t i = 0; i < n && err == 0; i++) {
		const uint8_t *c = b->chunk[order ? order[i] : i];
		size_t len = b->chunklen[order ? order[i] : i] - 4;
		size_t plen = 0;
		bool final = false;
		err = qz_opener_chunk(o, c + 4, len, out + *outlen, &plen, &final, why, 256);
		*outlen += plen;
	}
	if (err == 0)
		err = qz_opener_end(o, why, 256);
	qz_opener_free(o);
	return err;
}

static void round_trips_of_every_size(void **state)
{
	(void)state;
	qz_seal_key_t *k = qz_seal_key_new();
	const size_t sizes[] = {0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + CHUNK / 2};
	uint8_t *data = malloc(4 * CHUNK), *out = malloc(4 * CHUNK);
	fill(data, 4 * CHUNK, 1);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct box b;
		qz_seal_info_t info = info_for(42);
		seal(&b, &info, k, data, sizes[i]);
		assert_int_equal(b.n, sizes[i] / CHUNK + 1 - (sizes[i] % CHUNK == 0 && sizes[i]));
		size_t outlen = 0;
		char why[256];
		assert_int_equal(open_box(&b, NULL, b.n, k, out, &outlen, why), 0);
		assert_int_equal(outlen, sizes[i]);
		assert_memory_equal(out, data, sizes[i]);
		/* ciphertext only: the plaintext does not appear in the chunks */
		if (sizes[i] >= 64)
			assert_null(memmem(b.chunk[0], b.chunklen[0], data, 64));
		qz_seal_info_t back;
		assert_int_equal(qz_seal_header_parse(b.hdr, b.hdrlen, &back, why, sizeof(why)), 0);
		assert_string_equal(back.dataset, ""); /* sealed */
		assert_null(memmem(b.hdr, b.hdrlen, "work", 4));
		qz_opener_t *o = NULL;
		assert_int_equal(qz_opener_new(b.hdr, b.hdrlen, k, &o, why, sizeof(why)), 0);
		assert_string_equal(qz_opener_info(o)->dataset, info.dataset);
		qz_opener_free(o);
		assert_int_equal(back.toguid, 42);
		assert_int_equal(back.fromguid, 11);
		assert_true(back.raw);
		assert_memory_equal(back.id, info.id, QZ_SEAL_ID_BYTES);
		box_free(&b);
	}
	free(data);
	free(out);
	qz_seal_key_free(k);
}

static void expect_refusal(const struct box *b, const size_t *order, size_t n,
			   const qz_seal_key_t *k, const char *reason)
{
	uint8_t *out = malloc(64 * CHUNK);
	size_t outlen = 0;
	char why[256] = "";
	assert_int_equal(open_box(b, order, n, k, out, &outlen, why), EBADMSG);
	if (strstr(why, reason) == NULL)
		fail_msg("reason '%s' does not mention '%s'", why, reason);
	free(out);
}

static void chunks_dropped_repeated_reordered_or_cut_are_refused(void **state)
{
	(void)state;
	qz_seal_key_t *k = qz_seal_key_new();
	uint8_t data[4 * CHUNK];
	fill(data, sizeof(data), 2);
	struct box b;
	qz_seal_info_t info = info_for(42);
	seal(&b, &info, k, data, sizeof(data) - 100); /* 4 chunks */
	assert_int_equal(b.n, 4);
	const size_t dropped[] = {0, 2, 3}, repeated[] = {0, 1, 1, 2, 3}, swapped[] = {0, 2, 1, 3},
		     after_last[] = {0, 1, 2, 3, 3};
	expect_refusal(&b, dropped, 3, k, "chunk 1 does not open");
	expect_refusal(&b, repeated, 5, k, "chunk 2 does not open");
	expect_refusal(&b, swapped, 4, k, "chunk 1 does not open");
	expect_refusal(&b, after_last, 5, k, "after the last");
	expect_refusal(&b, NULL, 3, k, "cut short");
	expect_refusal(&b, NULL, 0, k, "cut short");
	box_free(&b);
	qz_seal_key_free(k);
}

static void chunks_of_another_backup_are_refused(void **state)
{
	(void)state;
	qz_seal_key_t *k = qz_seal_key_new();
	uint8_t data[3 * CHUNK];
	fill(data, sizeof(data), 3);
	struct box a, b;
	qz_seal_info_t ia = info_for(42), ib = info_for(42); /* same snapshot, other backup id */
	seal(&a, &ia, k, data, sizeof(data));
	seal(&b, &ib, k, data, sizeof(data));
	uint8_t *keep = a.chunk[1];
	a.chunk[1] = b.chunk[1];
	expect_refusal(&a, NULL, a.n, k, "chunk 1 does not open");
	a.chunk[1] = keep;
	/* the other backup's header with this one's chunks */
	memcpy(a.hdr, b.hdr, b.hdrlen);
	expect_refusal(&a, NULL, a.n, k, "chunk 0 does not open");
	box_free(&a);
	box_free(&b);
	qz_seal_key_free(k);
}

static void every_altered_byte_is_refused(void **state)
{
	(void)state;
	qz_seal_key_t *k = qz_seal_key_new();
	uint8_t data[CHUNK + 500];
	fill(data, sizeof(data), 4);
	struct box b;
	qz_seal_info_t info = info_for(42);
	seal(&b, &info, k, data, sizeof(data));
	uint8_t *out = malloc(2 * CHUNK);
	size_t outlen;
	char why[256];
	/* every byte of the header, and a spread of bytes in each chunk */
	for (size_t i = 0; i < b.hdrlen; i++) {
		b.hdr[i] ^= 0x10;
		assert_int_equal(open_box(&b, NULL, b.n, k, out, &outlen, why), EBADMSG);
		b.hdr[i] ^= 0x10;
	}
	for (size_t c = 0; c < b.n; c++)
		for (size_t i = 4; i < b.chunklen[c]; i += 97) {
			b.chunk[c][i] ^= 1;
			assert_int_equal(open_box(&b, NULL, b.n, k, out, &outlen, why), EBADMSG);
			b.chunk[c][i] ^= 1;
		}
	assert_int_equal(open_box(&b, NULL, b.n, k, out, &outlen, why), 0);
	free(out);
	box_free(&b);
	qz_seal_key_free(k);
}

static void the_wrong_key_opens_nothing(void **state)
{
	(void)state;
	qz_seal_key_t *k = qz_seal_key_new(), *other = qz_seal_key_new();
	uint8_t data[100];
	fill(data, sizeof(data), 5);
	struct box b;
	qz_seal_info_t info = info_for(42);
	seal(&b, &info, k, data, sizeof(data));
	expect_refusal(&b, NULL, b.n, other, "header does not open");
	box_free(&b);
	qz_seal_key_free(k);
	qz_seal_key_free(other);
}

static void a_passphrase_alone_opens_the_backup(void **state)
{
	(void)state;
	qz_seal_info_t info = info_for(42);
	qz_seal_info_t pinfo;
	qz_seal_info_init(&pinfo, QZ_KDF_ARGON2ID);
	memcpy(info.salt, pinfo.salt, sizeof(info.salt));
	info.kdf = QZ_KDF_ARGON2ID;
	info.opslimit = 1; /* fast for tests; the default is libsodium's "moderate" */
	info.memlimit = 1 << 20;
	const char *pass = "correct horse battery";
	qz_seal_key_t *k = NULL;
	assert_int_equal(qz_seal_key_derive(pass, strlen(pass), &info, &k, NULL, 0), 0);
	uint8_t data[CHUNK * 2];
	fill(data, sizeof(data), 6);
	struct box b;
	seal(&b, &info, k, data, sizeof(data));
	qz_seal_key_free(k);
	/* a fresh dom0: only the header and the passphrase */
	qz_seal_info_t read;
	char why[256];
	assert_int_equal(qz_seal_header_parse(b.hdr, b.hdrlen, &read, why, sizeof(why)), 0);
	assert_int_equal(qz_seal_key_derive(pass, strlen(pass), &read, &k, NULL, 0), 0);
	uint8_t out[CHUNK * 2];
	size_t outlen = 0;
	assert_int_equal(open_box(&b, NULL, b.n, k, out, &outlen, why), 0);
	assert_memory_equal(out, data, sizeof(data));
	qz_seal_key_free(k);
	assert_int_equal(qz_seal_key_derive("wrong horse", 11, &read, &k, NULL, 0), 0);
	expect_refusal(&b, NULL, b.n, k, "does not open");
	qz_seal_key_free(k);
	box_free(&b);
}

static void a_resumed_sealer_continues_the_container(void **state)
{
	(void)state;
	qz_seal_key_t *k = qz_seal_key_new();
	uint8_t data[5 * CHUNK];
	fill(data, sizeof(data), 7);
	qz_seal_info_t info = info_for(42);
	struct box b;
	uint8_t cp[QZ_SEAL_CHECKPOINT_MAX];
	size_t cplen;
	/* sealed up to chunk 2, interrupted, resumed from the checkpoint */
	qz_sealer_t *s = NULL;
	assert_int_equal(qz_sealer_new(&info, k, b.hdr, &b.hdrlen, &s, NULL, 0), 0);
	for (b.n = 0; b.n < 2; b.n++) {
		b.chunk[b.n] = malloc(QZ_SEAL_FRAMED(CHUNK));
		assert_int_equal(qz_sealer_chunk(s, data + b.n * CHUNK, CHUNK, false, b.chunk[b.n],
						 &b.chunklen[b.n]),
				 0);
	}
	qz_sealer_checkpoint(s, cp, &cplen);
	qz_sealer_free(s);
	qz_sealer_t *r = NULL, *r2 = NULL;
	char why[256];
	assert_int_equal(qz_sealer_resume(b.hdr, b.hdrlen, cp, cplen, &r, why, sizeof(why)), 0);
	assert_int_equal(qz_sealer_index(r), 2);
	assert_false(qz_sealer_finished(r));
	/* the chain of the prints of the first two chunks is the resumed sealer's; of other data
	 * it is not */
	uint8_t chain[QZ_SEAL_CHAIN_BYTES] = {0}, other[QZ_SEAL_CHAIN_BYTES] = {0};
	uint8_t print[QZ_SEAL_PRINT_BYTES];
	for (int i = 0; i < 2; i++) {
		qz_sealer_print(r, (uint64_t)i, data + i * CHUNK, CHUNK, false, print);
		qz_seal_chain(chain, print);
		qz_sealer_print(r, (uint64_t)i, data + i * CHUNK, CHUNK, i == 1, print);
		qz_seal_chain(other, print); /* the same bytes, but the second one marked final */
	}
	assert_true(qz_sealer_chain_is(r, chain));
	assert_false(qz_sealer_chain_is(r, other));
	for (; b.n < 5; b.n++) {
		size_t n = b.n == 4 ? CHUNK - 1 : CHUNK;
		b.chunk[b.n] = malloc(QZ_SEAL_FRAMED(CHUNK));
		assert_int_equal(qz_sealer_chunk(r, data + b.n * CHUNK, n, b.n == 4, b.chunk[b.n],
						 &b.chunklen[b.n]),
				 0);
	}
	assert_true(qz_sealer_finished(r));
	uint8_t out[5 * CHUNK];
	size_t outlen = 0;
	assert_int_equal(open_box(&b, NULL, b.n, k, out, &outlen, why), 0);
	assert_int_equal(outlen, sizeof(data) - 1);
	assert_memory_equal(out, data, outlen);
	/* a chunk sealed twice is sealed under two nonces: never the same keystream */
	assert_int_equal(qz_sealer_resume(b.hdr, b.hdrlen, cp, cplen, &r2, why, sizeof(why)), 0);
	uint8_t again[QZ_SEAL_FRAMED(CHUNK)];
	size_t againlen = 0;
	assert_int_equal(qz_sealer_chunk(r2, data + 2 * CHUNK, CHUNK, false, again, &againlen), 0);
	assert_int_equal(againlen, b.chunklen[2]);
	assert_memory_not_equal(again + 5, b.chunk[2] + 5, 24);
	qz_sealer_free(r);
	qz_sealer_free(r2);
	/* a checkpoint does not fit another backup's header */
	struct box whole;
	qz_seal_info_t another = info_for(42);
	seal(&whole, &another, k, data, 10);
	assert_int_equal(qz_sealer_resume(whole.hdr, whole.hdrlen, cp, cplen, &r, why, sizeof(why)),
			 EINVAL);
	box_free(&whole);
	box_free(&b);
	qz_seal_key_free(k);
}

static void hostile_headers_are_refused_before_any_work(void **state)
{
	(void)state;
	qz_seal_key_t *k = qz_seal_key_new();
	qz_seal_info_t info = info_for(42);
	uint8_t data[10] = {0};
	struct box b;
	seal(&b, &info, k, data, sizeof(data));
	qz_seal_info_t out;
	char why[256];
	struct {
		size_t off;
		uint64_t value;
		int width;
		const char *reason;
	} cases[] = {
	    {8, 2, 4, "version"},
	    {12, 9999, 4, "lengths"},
	    {48, 0, 4, "chunk size"},
	    {48, 1u << 30, 4, "chunk size"},
	    {52, 4, 4, "flags"},
	    {56, 7, 4, "derivation"},
	    {32, 0, 8, "guid is 0"},
	    {104, 0, 2, "lengths"},
	    {64, 1, 8, "passphrase"},
	    /* a stream's header passed off as a document's, or a raw document */
	    {52, 2, 4, "a document with a stream's fields"},
	    {52, 3, 4, "a document with a stream's fields"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t h[QZ_SEAL_HEADER_MAX];
		memcpy(h, b.hdr, b.hdrlen);
		for (int j = 0; j < cases[i].width; j++)
			h[cases[i].off + j] = (uint8_t)(cases[i].value >> (8 * j));
		assert_int_equal(qz_seal_header_parse(h, b.hdrlen, &out, why, sizeof(why)),
				 EBADMSG);
		if (strstr(why, cases[i].reason) == NULL)
			fail_msg("case %zu: '%s' does not mention '%s'", i, why, cases[i].reason);
	}
	/* Argon2id limits an attacker could use to exhaust dom0 */
	uint8_t h[QZ_SEAL_HEADER_MAX];
	memcpy(h, b.hdr, b.hdrlen);
	h[56] = QZ_KDF_ARGON2ID;
	h[64] = 3;
	for (int j = 0; j < 8; j++)
		h[72 + j] = (uint8_t)((64ull << 30) >> (8 * j));
	h[80] = 1;
	assert_int_equal(qz_seal_header_parse(h, b.hdrlen, &out, why, sizeof(why)), EBADMSG);
	assert_non_null(strstr(why, "out of bounds"));
	/* with the key, a header opens whole or not at all: a field no check looks at (the
	 * creation time), or a byte of the sealed name, altered */
	const size_t altered[] = {96, QZ_SEAL_HEADER_FIXED + 2};
	for (size_t i = 0; i < 2; i++) {
		memcpy(h, b.hdr, b.hdrlen);
		h[altered[i]] ^= 1;
		qz_opener_t *o = NULL;
		assert_int_equal(qz_seal_header_parse(h, b.hdrlen, &out, why, sizeof(why)), 0);
		assert_int_equal(qz_opener_new(h, b.hdrlen, k, &o, why, sizeof(why)), EBADMSG);
		assert_non_null(strstr(why, "header does not open"));
	}
	box_free(&b);
	/* a document's header (no guids) opens as one, and says so */
	qz_seal_info_t doc = info_for(0);
	doc.fromguid = 0;
	doc.raw = false;
	doc.document = true;
	seal(&b, &doc, k, data, sizeof(data));
	assert_int_equal(qz_seal_header_parse(b.hdr, b.hdrlen, &out, why, sizeof(why)), 0);
	assert_true(out.document);
	assert_false(out.raw);
	memcpy(h, b.hdr, b.hdrlen);
	h[52] = 0; /* ... and never passes for a stream: its flag is sealed with it */
	assert_int_equal(qz_seal_header_parse(h, b.hdrlen, &out, why, sizeof(why)), EBADMSG);
	assert_non_null(strstr(why, "guid is 0"));
	box_free(&b);
	/* names of any length make headers of one length */
	qz_seal_info_t longer = info_for(42);
	memset(longer.dataset, 'a', 255);
	longer.dataset[255] = 0;
	seal(&b, &longer, k, data, sizeof(data));
	assert_int_equal(b.hdrlen, QZ_SEAL_HEADER_MAX);
	box_free(&b);
	/* a name that is not one is not sealed */
	qz_sealer_t *s = NULL;
	uint8_t hdr[QZ_SEAL_HEADER_MAX];
	size_t hdrlen;
	snprintf(longer.dataset, sizeof(longer.dataset), "tank/a b");
	assert_int_equal(qz_sealer_new(&longer, k, hdr, &hdrlen, &s, why, sizeof(why)), EINVAL);
	longer.dataset[0] = 0;
	assert_int_equal(qz_sealer_new(&longer, k, hdr, &hdrlen, &s, why, sizeof(why)), EINVAL);
	qz_seal_key_free(k);
}

static void a_trailer_is_only_its_backups(void **state)
{
	(void)state;
	qz_seal_key_t *k = qz_seal_key_new(), *other = qz_seal_key_new();
	uint8_t data[10] = {0}, t[QZ_SEAL_TRAILER_BYTES];
	struct box a, b;
	qz_seal_info_t ia = info_for(42), ib = info_for(42);
	seal(&a, &ia, k, data, sizeof(data));
	seal(&b, &ib, k, data, sizeof(data));
	uint64_t chunks = 0, bytes = 0;
	char why[256];
	assert_int_equal(qz_seal_trailer(a.hdr, a.hdrlen, k, 1, 10, t), 0);
	assert_int_equal(
	    qz_seal_trailer_open(a.hdr, a.hdrlen, k, t, sizeof(t), &chunks, &bytes, why, 256), 0);
	assert_int_equal(chunks, 1);
	assert_int_equal(bytes, 10);
	assert_int_equal(
	    qz_seal_trailer_open(b.hdr, b.hdrlen, k, t, sizeof(t), &chunks, &bytes, why, 256),
	    EBADMSG); /* another backup's */
	assert_int_equal(
	    qz_seal_trailer_open(a.hdr, a.hdrlen, other, t, sizeof(t), &chunks, &bytes, why, 256),
	    EBADMSG); /* another key */
	assert_int_equal(
	    qz_seal_trailer_open(a.hdr, a.hdrlen, k, t, sizeof(t) - 1, &chunks, &bytes, why, 256),
	    EBADMSG);
	for (size_t i = 0; i < sizeof(t); i++) {
		t[i] ^= 4;
		assert_int_equal(qz_seal_trailer_open(a.hdr, a.hdrlen, k, t, sizeof(t), &chunks,
						      &bytes, why, 256),
				 EBADMSG);
		t[i] ^= 4;
	}
	box_free(&a);
	box_free(&b);
	qz_seal_key_free(k);
	qz_seal_key_free(other);
}

static void key_files_are_private_and_exact(void **state)
{
	(void)state;
	char dir[] = "/tmp/qzfs-seal-XXXXXX", path[128];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	qz_seal_key_t *k = qz_seal_key_new(), *back = NULL;
	char why[256];
	assert_int_equal(qz_seal_key_write(path, k, why, sizeof(why)), 0);
	assert_int_equal(qz_seal_key_write(path, k, why, sizeof(why)), EEXIST);
	assert_int_equal(qz_seal_key_read(path, &back, why, sizeof(why)), 0);
	assert_memory_equal(back->k, k->k, QZ_SEAL_KEY_BYTES);
	qz_seal_key_free(back);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(qz_seal_key_read(path, &back, why, sizeof(why)), EACCES);
	assert_int_equal(chmod(path, 0600), 0);
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(write(fd, "00", 2) == 2);
	close(fd);
	assert_int_equal(qz_seal_key_read(path, &back, why, sizeof(why)), EINVAL);
	unlink(path);
	rmdir(dir);
	qz_seal_key_free(k);
}

/* seal_io: a stream through a pipe-like file and back. */
static int collect(void *ctx, const void *p, size_t n)
{
	FILE *f = ctx;
	return fwrite(p, 1, n, f) == n ? 0 : EIO;
}

static void file_round_trip_and_a_truncated_file(void **state)
{
	(void)state;
	qz_seal_key_t *k = qz_seal_key_new();
	uint8_t data[3 * CHUNK + 17];
	fill(data, sizeof(data), 8);
	FILE *in = tmpfile(), *sealed = tmpfile(), *plain = tmpfile();
	fwrite(data, 1, sizeof(data), in);
	fflush(in);
	rewind(in);
	qz_seal_info_t info = info_for(42);
	uint64_t bytes = 0;
	char why[256];
	assert_int_equal(qz_seal_fd(fileno(in), fileno(sealed), &info, k, &bytes, why, sizeof(why)),
			 0);
	assert_int_equal(bytes, sizeof(data));
	qz_open_secret_t sec = {k, NULL, 0};
	qz_seal_info_t got;
	lseek(fileno(sealed), 0, SEEK_SET);
	assert_int_equal(qz_open_fd(fileno(sealed), &sec, collect, plain, &got, why, sizeof(why)),
			 0);
	fflush(plain);
	assert_int_equal(ftell(plain), sizeof(data));
	off_t size = lseek(fileno(sealed), 0, SEEK_END);
	assert_int_equal(ftruncate(fileno(sealed), size - 1), 0);
	lseek(fileno(sealed), 0, SEEK_SET);
	assert_int_equal(qz_open_fd(fileno(sealed), &sec, collect, plain, &got, why, sizeof(why)),
			 EBADMSG);
	fclose(in);
	fclose(sealed);
	fclose(plain);
	qz_seal_key_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(round_trips_of_every_size),
	    cmocka_unit_test(chunks_dropped_repeated_reordered_or_cut_are_refused),
	    cmocka_unit_test(chunks_of_another_backup_are_refused),
	    cmocka_unit_test(every_altered_byte_is_refused),
	    cmocka_unit_test(the_wrong_key_opens_nothing),
	    cmocka_unit_test(a_passphrase_alone_opens_the_backup),
	    cmocka_unit_test(a_resumed_sealer_continues_the_container),
	    cmocka_unit_test(hostile_headers_are_refused_before_any_work),
	    cmocka_unit_test(a_trailer_is_only_its_backups),
	    cmocka_unit_test(key_files_are_private_and_exact),
	    cmocka_unit_test(file_round_trip_and_a_truncated_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
