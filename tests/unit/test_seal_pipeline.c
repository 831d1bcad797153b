/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: sealing a stream on several threads. Chunks come out in order and open to the
 * stream on any number of threads; a resumed stream is checked against the prints of what was
 * stored before (the same stream continues; a changed or shorter one is refused with ESTALE);
 * a failing put stops the pipeline, even with its reader waiting for input. */
#include "seal.h"
#include "seal_pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define CHUNK 4096

/* What a put kept: the framed chunks, in the order handed on, and the sealer's checkpoint
 * after each (as dom0's progress would). */
struct kept {
	qz_sealer_t *s;
	uint8_t *frames;
	size_t len, n;
	size_t fail_at; /* put fails for this chunk (SIZE_MAX: never) */
	uint8_t cp[QZ_SEAL_CHECKPOINT_MAX];
	size_t cplen;
};

static int keep(void *ctx, const uint8_t *framed, size_t len, size_t plainlen)
{
	struct kept *k = ctx;
	if (k->n == k->fail_at)
		return EIO;
	assert_int_equal(len, QZ_SEAL_FRAMED(plainlen));
	k->frames = realloc(k->frames, k->len + len);
	memcpy(k->frames + k->len, framed, len);
	k->len += len;
	k->n++;
	qz_sealer_checkpoint(k->s, k->cp, &k->cplen);
	return 0;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 2654435761u + seed) >> 13);
}

/* A pipe whose other end a child writes data[0..len) to, then closes. */
static int feed(const uint8_t *data, size_t len, pid_t *child)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	*child = fork();
	assert_true(*child >= 0);
	if (*child == 0) {
		close(fds[0]);
		for (size_t o = 0; o < len;) {
			ssize_t w = write(fds[1], data + o, len - o);
			if (w <= 0)
				_exit(1);
			o += (size_t)w;
		}
		_exit(0);
	}
	close(fds[1]);
	return fds[0];
}

static int seal_from(qz_sealer_t *s, const uint8_t *data, size_t len, unsigned threads,
		     struct kept *k, char *why)
{
	pid_t child;
	int in = feed(data, len, &child);
	k->s = s;
	int err = qz_seal_chunks(in, s, threads, keep, k, why, 256);
	close(in);
	int status;
	waitpid(child, &status, 0);
	return err;
}

/* Opens header hdr and the frames of k (and of more, if not NULL, after them): the plaintext
 * into out; 0 if the container is whole. */
static int open_all(const uint8_t *hdr, size_t hdrlen, const qz_seal_key_t *key,
		    const struct kept *parts[], size_t nparts, uint8_t *out, size_t *outlen)
{
	qz_opener_t *o = NULL;
	char why[256];
	int err = qz_opener_new(hdr, hdrlen, key, &o, why, sizeof(why));
	*outlen = 0;
	for (size_t p = 0; p < nparts && err == 0; p++)
		for (size_t off = 0; off < parts[p]->len && err == 0;) {
			size_t len = (size_t)parts[p]->frames[off] |
				     (size_t)parts[p]->frames[off + 1] << 8 |
				     (size_t)parts[p]->frames[off + 2] << 16;
			size_t plen = 0;
			bool final = false;
			err = qz_opener_chunk(o, parts[p]->frames + off + 4, len, out + *outlen,
					      &plen, &final, why, sizeof(why));
			*outlen += plen;
			off += 4 + len;
		}
	if (err == 0)
		err = qz_opener_end(o, why, sizeof(why));
	qz_opener_free(o);
	return err;
}

static qz_sealer_t *new_sealer(const qz_seal_key_t *key, uint8_t *hdr, size_t *hdrlen)
{
	qz_seal_info_t info;
	qz_seal_info_init(&info, QZ_KDF_KEYFILE);
	snprintf(info.dataset, sizeof(info.dataset), "tank/qubes/work/private");
	info.toguid = 42;
	info.chunk_size = CHUNK;
	qz_sealer_t *s = NULL;
	assert_int_equal(qz_sealer_new(&info, key, hdr, hdrlen, &s, NULL, 0), 0);
	return s;
}

static void chunks_come_out_in_order_on_any_number_of_threads(void **state)
{
	(void)state;
	qz_seal_key_t *key = qz_seal_key_new();
	const size_t sizes[] = {0, 1, CHUNK, CHUNK + 1, 37 * CHUNK + 5, 64 * CHUNK};
	uint8_t *data = malloc(64 * CHUNK), *out = malloc(64 * CHUNK);
	fill(data, 64 * CHUNK, 3);
	for (unsigned threads = 1; threads <= 4; threads++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			uint8_t hdr[QZ_SEAL_HEADER_MAX];
			size_t hdrlen, outlen = 0;
			qz_sealer_t *s = new_sealer(key, hdr, &hdrlen);
			struct kept k = {.fail_at = SIZE_MAX};
			char why[256] = "";
			assert_int_equal(seal_from(s, data, sizes[i], threads, &k, why), 0);
			assert_int_equal(k.n, sizes[i] / CHUNK + 1 -
						  (sizes[i] % CHUNK == 0 && sizes[i] > 0));
			assert_int_equal(qz_sealer_index(s), k.n);
			assert_true(qz_sealer_finished(s));
			const struct kept *parts[] = {&k};
			assert_int_equal(open_all(hdr, hdrlen, key, parts, 1, out, &outlen), 0);
			assert_int_equal(outlen, sizes[i]);
			assert_memory_equal(out, data, sizes[i]);
			free(k.frames);
			qz_sealer_free(s);
		}
	free(data);
	free(out);
	qz_seal_key_free(key);
}

/* Seals data, interrupted by a put that fails at chunk 3: the frames stored and the checkpoint
 * after them. */
static void interrupted(const qz_seal_key_t *key, const uint8_t *data, size_t len, uint8_t *hdr,
			size_t *hdrlen, struct kept *k)
{
	qz_sealer_t *s = new_sealer(key, hdr, hdrlen);
	char why[256];
	*k = (struct kept){.fail_at = 3};
	assert_int_equal(seal_from(s, data, len, 2, k, why), EIO);
	assert_int_equal(k->n, 3);
	qz_sealer_free(s);
}

static void a_resumed_stream_is_checked_against_the_prints(void **state)
{
	(void)state;
	qz_seal_key_t *key = qz_seal_key_new();
	size_t len = 10 * CHUNK + 100;
	uint8_t *data = malloc(len), *changed = malloc(len), *out = malloc(len);
	fill(data, len, 5);
	uint8_t hdr[QZ_SEAL_HEADER_MAX];
	size_t hdrlen, outlen = 0;
	struct kept first;
	interrupted(key, data, len, hdr, &hdrlen, &first);
	char why[256];
	/* the same stream: its first 3 chunks are checked and skipped, the rest sealed */
	qz_sealer_t *r = NULL;
	assert_int_equal(qz_sealer_resume(hdr, hdrlen, first.cp, first.cplen, &r, why, 256), 0);
	struct kept rest = {.fail_at = SIZE_MAX};
	assert_int_equal(seal_from(r, data, len, 3, &rest, why), 0);
	assert_int_equal(rest.n, 8);
	const struct kept *parts[] = {&first, &rest};
	assert_int_equal(open_all(hdr, hdrlen, key, parts, 2, out, &outlen), 0);
	assert_int_equal(outlen, len);
	assert_memory_equal(out, data, len);
	qz_sealer_free(r);
	free(rest.frames);
	/* a byte changed in what was stored: refused, nothing handed on */
	const struct {
		size_t at, len;
		const char *reason;
	} cases[] = {{CHUNK + 7, len, "differs"},
		     {0, CHUNK + 9, "shorter"},
		     {0, 3 * CHUNK, "differs"}}; /* 3 chunks, the last now final */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(changed, data, len);
		if (cases[i].at != 0)
			changed[cases[i].at] ^= 1;
		assert_int_equal(qz_sealer_resume(hdr, hdrlen, first.cp, first.cplen, &r, why, 256),
				 0);
		struct kept none = {.fail_at = SIZE_MAX};
		why[0] = 0;
		assert_int_equal(seal_from(r, changed, cases[i].len, 2, &none, why), ESTALE);
		if (strstr(why, cases[i].reason) == NULL)
			fail_msg("case %zu: '%s' does not say '%s'", i, why, cases[i].reason);
		assert_int_equal(none.n, 0);
		qz_sealer_free(r);
	}
	/* a change after what was stored is the stream's to make: it continues */
	memcpy(changed, data, len);
	changed[5 * CHUNK] ^= 1;
	assert_int_equal(qz_sealer_resume(hdr, hdrlen, first.cp, first.cplen, &r, why, 256), 0);
	rest = (struct kept){.fail_at = SIZE_MAX};
	assert_int_equal(seal_from(r, changed, len, 1, &rest, why), 0);
	assert_int_equal(open_all(hdr, hdrlen, key, parts, 2, out, &outlen), 0);
	assert_memory_equal(out, changed, len);
	qz_sealer_free(r);
	free(rest.frames);
	free(first.frames);
	free(data);
	free(changed);
	free(out);
	qz_seal_key_free(key);
}

static void a_failing_put_stops_a_reader_that_waits(void **state)
{
	(void)state;
	qz_seal_key_t *key = qz_seal_key_new();
	uint8_t hdr[QZ_SEAL_HEADER_MAX];
	size_t hdrlen;
	qz_sealer_t *s = new_sealer(key, hdr, &hdrlen);
	/* the writer sends two chunks and a half, then waits (the pipe stays open): chunk 0 is
	 * handed on once chunk 1 is read, and fails while the reader waits in chunk 2 */
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	uint8_t data[2 * CHUNK + CHUNK / 2];
	fill(data, sizeof(data), 9);
	assert_int_equal(write(fds[1], data, sizeof(data)), (ssize_t)sizeof(data));
	struct kept k = {.s = s, .fail_at = 0};
	char why[256];
	assert_int_equal(qz_seal_chunks(fds[0], s, 2, keep, &k, why, sizeof(why)), EIO);
	assert_int_equal(k.n, 0);
	close(fds[0]);
	close(fds[1]);
	free(k.frames);
	qz_sealer_free(s);
	qz_seal_key_free(key);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(chunks_come_out_in_order_on_any_number_of_threads),
	    cmocka_unit_test(a_resumed_stream_is_checked_against_the_prints),
	    cmocka_unit_test(a_failing_put_stops_a_reader_that_waits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
