/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Benchmark: sealing, opening and verifying, memory to memory on one core, against memcpy of
 * the same bytes in the same process (the baseline); then the sealing pipeline as a backup runs
 * it (the stream from a pipe, sealed on 1 and on every CPU's thread), against reading the same
 * pipe to its end (what `zfs send | cat` costs past ZFS). Prints "name value unit" lines.
 *
 *   bench_backup [MiB]     (default 512: the stream size)
 */
#include "fdio.h"
#include "seal.h"
#include "seal_pipeline.h"
#include "stream.h"
#include "streamgen.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int discard(void *ctx, const void *buf, size_t len)
{
	(void)buf;
	*(size_t *)ctx += len;
	return 0;
}

static void report(const char *name, double bytes, double secs, double base)
{
	printf("%s %.0f MB/s\n", name, bytes / secs / 1e6);
	if (base > 0)
		printf("%s_vs_memcpy %.3f ratio\n", name, (bytes / secs) / base);
}

/* A thread writing a buffer into a pipe, as zfs send would. */
struct writer {
	const uint8_t *buf;
	size_t len;
	int fd;
};

static void *write_all(void *arg)
{
	struct writer *w = arg;
	for (size_t o = 0; o < w->len;) {
		ssize_t n = write(w->fd, w->buf + o, w->len - o);
		if (n <= 0)
			break;
		o += (size_t)n;
	}
	close(w->fd);
	return NULL;
}

static int count_put(void *ctx, const uint8_t *framed, size_t len, size_t plainlen)
{
	(void)framed;
	(void)len;
	*(size_t *)ctx += plainlen;
	return 0;
}

/* Seconds to read buf through a pipe to its end: sealed on `threads` threads, or (threads 0)
 * only read, in pieces of a chunk as the pipeline reads (a fair baseline). */
static double through_pipe(const uint8_t *buf, size_t len, const qz_seal_key_t *k,
			   qz_seal_info_t *info, unsigned threads)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	struct writer w = {buf, len, fds[1]};
	pthread_t tid;
	double t = now();
	pthread_create(&tid, NULL, write_all, &w);
	size_t got = 0;
	if (threads == 0) {
		uint8_t *piece = malloc(info->chunk_size);
		ssize_t n;
		while (piece != NULL && (n = qz_read_full(fds[0], piece, info->chunk_size)) > 0)
			got += (size_t)n;
		free(piece);
	} else {
		uint8_t hdr[QZ_SEAL_HEADER_MAX];
		size_t hdrlen = 0;
		qz_sealer_t *s = NULL;
		qz_sealer_new(info, k, hdr, &hdrlen, &s, NULL, 0);
		qz_seal_chunks(fds[0], s, threads, count_put, &got, NULL, 0);
		qz_sealer_free(s);
	}
	pthread_join(tid, NULL);
	double secs = now() - t;
	close(fds[0]);
	return got == len ? secs : -1;
}

/* Seconds the verifier for e takes over g, fed as a pipe would (1 MiB reads); -1 if it
 * refused it or passed on other than all of it. */
static double time_verify(const qz_stream_expect_t *e, const sg_t *g)
{
	size_t out = 0;
	qz_verifier_t *v = NULL;
	if (qz_verifier_new(e, discard, &out, &v) != 0)
		return -1;
	double t = now();
	for (size_t o = 0; o < g->len; o += 1 << 20)
		qz_verifier_feed(v, g->buf + o, g->len - o < (1 << 20) ? g->len - o : 1 << 20);
	int err = qz_verifier_end(v);
	t = now() - t;
	if (err != 0 || out != g->len) {
		fprintf(stderr, "verify failed: %s\n", qz_verifier_why(v));
		t = -1;
	}
	qz_verifier_free(v);
	return t;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? (size_t)atoi(argv[1]) : 512;
	/* a raw volume stream of 128 KiB blocks, as a big zvol's send is */
	sg_params_t p = sg_defaults();
	p.blocksize = 128 << 10;
	p.blocks = (unsigned)(mib * 8);
	sg_t g;
	sg_volume(&g, &p);
	double bytes = (double)g.len;
	printf("stream_size %.0f MiB\n", bytes / (1 << 20));

	uint8_t *copy = malloc(g.len);
	double t = now();
	memcpy(copy, g.buf, g.len);
	double secs = now() - t;
	t = now();
	memcpy(copy, g.buf, g.len);
	secs = now() - t < secs ? now() - t : secs;
	double base = bytes / secs;
	report("memcpy", bytes, secs, 0);

	qz_cksum_t ck = {{0}};
	t = now();
	qz_fletcher4_fold(&ck, g.buf, g.len);
	report("fletcher4", bytes, now() - t, base);

	qz_stream_expect_t e = {
	    .toguid = p.toguid, .fromguid = p.fromguid, .raw = p.raw, .resumed = false};
	double verify = time_verify(&e, &g);
	if (verify < 0)
		return 1;
	report("verify", bytes, verify, base);
	/* a ZFS qube's backup: digested as it is sent, and read back against the digest */
	qz_digest_t d = {0};
	e.digest_out = &d;
	double digesting = time_verify(&e, &g);
	e.digest_out = NULL;
	e.digest = &d;
	double against = time_verify(&e, &g);
	if (digesting < 0 || against < 0)
		return 1;
	report("verify_digesting", bytes, digesting, base);
	printf("verify_digesting_vs_verify %.3f ratio\n", verify / digesting);
	report("verify_against_digest", bytes, against, base);
	printf("verify_against_digest_vs_verify %.3f ratio\n", verify / against);
	printf("digest_bytes_per_gib %.0f\n",
	       (double)(d.n * QZ_DIGEST_HASH) * (double)(1u << 30) / bytes);
	qz_digest_free(&d);

	qz_seal_key_t *k = qz_seal_key_new();
	qz_seal_info_t info;
	qz_seal_info_init(&info, QZ_KDF_KEYFILE);
	strcpy(info.dataset, "bench/vol");
	info.toguid = p.toguid;
	info.raw = true;
	size_t cs = info.chunk_size, nchunks = (g.len + cs - 1) / cs;
	uint8_t hdr[QZ_SEAL_HEADER_MAX];
	size_t hdrlen = 0;
	uint8_t *sealed = malloc(nchunks * (cs + QZ_SEAL_ABYTES + 4));
	size_t *slen = calloc(nchunks, sizeof(size_t));
	memset(sealed, 1, nchunks * (cs + QZ_SEAL_ABYTES + 4)); /* page faults out of the timing */
	qz_sealer_t *s = NULL;
	qz_sealer_new(&info, k, hdr, &hdrlen, &s, NULL, 0);
	t = now();
	size_t so = 0;
	for (size_t i = 0; i < nchunks; i++) {
		size_t n = i + 1 < nchunks ? cs : g.len - i * cs;
		qz_sealer_chunk(s, g.buf + i * cs, n, i + 1 == nchunks, sealed + so, &slen[i]);
		so += slen[i];
	}
	report("seal", bytes, now() - t, base);
	qz_sealer_free(s);

	qz_opener_t *o = NULL;
	qz_opener_new(hdr, hdrlen, k, &o, NULL, 0);
	t = now();
	so = 0;
	for (size_t i = 0; i < nchunks; i++) {
		size_t n = 0;
		bool final = false;
		if (qz_opener_chunk(o, sealed + so + 4, slen[i] - 4, copy + i * cs, &n, &final,
				    NULL, 0) != 0)
			return fprintf(stderr, "open failed\n"), 1;
		so += slen[i];
	}
	report("open", bytes, now() - t, base);
	if (memcmp(copy, g.buf, g.len) != 0)
		return fprintf(stderr, "open gave other bytes\n"), 1;
	qz_opener_free(o);

	double cat = through_pipe(g.buf, g.len, k, &info, 0);
	printf("pipe_read %.0f MB/s\n", bytes / cat / 1e6);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned most = cpus > 4 ? 4 : cpus < 1 ? 1 : (unsigned)cpus;
	const unsigned counts[] = {1, most}; /* one sealer, then as many as a backup uses */
	for (size_t c = 0; c < (most > 1 ? 2u : 1u); c++) {
		unsigned threads = counts[c];
		double secs = through_pipe(g.buf, g.len, k, &info, threads);
		if (secs < 0)
			return fprintf(stderr, "the pipeline failed\n"), 1;
		printf("seal_pipeline_%u_threads %.0f MB/s\n", threads, bytes / secs / 1e6);
		printf("seal_pipeline_%u_threads_vs_pipe_read %.3f ratio\n", threads, cat / secs);
	}
	qz_seal_key_free(k);
	free(sealed);
	free(slen);
	free(copy);
	sg_free(&g);
	return 0;
}
