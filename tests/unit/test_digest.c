/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: stream digests. What dom0 digests as it sends authenticates, run by run, the same
 * records however the snapshot is named and checksummed; a forger who recomputes every checksum
 * gets nothing of an altered run through, nor a stream that stops early. */
#include "digest.h"
#include "stream.h"
#include "streamgen.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

struct sink {
	uint8_t *buf;
	size_t len;
};

static int sink_emit(void *ctx, const void *p, size_t n)
{
	struct sink *s = ctx;
	s->buf = realloc(s->buf, s->len + n);
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

/* A raw volume stream of `blocks` blocks of 4 KiB: about blocks / 240 runs. */
static void stream_of(sg_t *g, unsigned blocks)
{
	sg_params_t p = sg_defaults();
	p.blocks = blocks;
	sg_volume(g, &p);
}

/* Runs g's bytes through a verifier of e in pieces of 7000 bytes; what passes goes to out. */
static int run(const qz_stream_expect_t *e, const uint8_t *buf, size_t len, struct sink *out,
	       char *why, size_t whylen)
{
	qz_verifier_t *v = NULL;
	assert_int_equal(qz_verifier_new(e, sink_emit, out, &v), 0);
	int err = 0;
	for (size_t o = 0; o < len && err == 0; o += 7000)
		err = qz_verifier_feed(v, buf + o, len - o < 7000 ? len - o : 7000);
	if (err == 0)
		err = qz_verifier_end(v);
	snprintf(why, whylen, "%s", qz_verifier_why(v));
	qz_verifier_free(v);
	return err;
}

/* The digest dom0 makes as it sends g, renamed as it sends to a backup qube. */
static void digest_as_sent(const sg_t *g, qz_digest_t *d)
{
	sg_params_t p = sg_defaults();
	qz_stream_expect_t e = {
	    .toguid = p.toguid, .raw = true, .rename = "backup/k@s1", .digest_out = d};
	struct sink out = {0};
	char why[256];
	memset(d, 0, sizeof(*d));
	assert_int_equal(run(&e, g->buf, g->len, &out, why, sizeof(why)), 0);
	assert_int_equal(out.len, g->len);
	free(out.buf);
}

/* The stream as the qube sends it back: named as it named it, every checksum made again. */
static void as_the_qube_sends_it(sg_t *g)
{
	qz_drr_t r;
	memcpy(&r, g->buf, sizeof(r));
	memset(r.u.begin.toname, 0, sizeof(r.u.begin.toname));
	strcpy(r.u.begin.toname, "kept/backup/k@s1");
	memcpy(g->buf, &r, sizeof(r));
	sg_fix_checksums(g, true);
}

static void a_stream_sent_back_passes_whole(void **s)
{
	(void)s;
	sg_t g;
	stream_of(&g, 700);
	qz_digest_t d;
	digest_as_sent(&g, &d);
	assert_true(d.n >= 3); /* several runs */
	as_the_qube_sends_it(&g);
	sg_params_t p = sg_defaults();
	qz_stream_expect_t e = {.toguid = p.toguid, .raw = true, .digest = &d};
	struct sink out = {0};
	char why[256];
	assert_int_equal(run(&e, g.buf, g.len, &out, why, sizeof(why)), 0);
	assert_int_equal(out.len, g.len);
	assert_memory_equal(out.buf, g.buf, g.len);
	free(out.buf);
	qz_digest_free(&d);
	sg_free(&g);
}

/* The run a byte at `at` falls in ends before which byte of g (the first run's end, etc.). */
static size_t run_start(const sg_t *g, size_t at)
{
	size_t start = 0, bytes = 0;
	for (size_t i = 0; i < g->nrec; i++) {
		size_t end = i + 1 < g->nrec ? g->rec_off[i + 1] : g->len;
		if (g->rec_off[i] > at)
			break;
		bytes += end - g->rec_off[i];
		if (bytes >= QZ_DIGEST_RUN && end <= at) {
			start = end;
			bytes = 0;
		}
	}
	return start;
}

/* A byte inside the payload of the first WRITE record from record i on. */
static size_t in_a_write(const sg_t *g, size_t i)
{
	for (; i < g->nrec; i++) {
		qz_drr_t r;
		memcpy(&r, g->buf + g->rec_off[i], sizeof(r));
		if (r.type == QZ_DRR_WRITE)
			return g->rec_off[i] + QZ_DRR_SIZE + 100;
	}
	fail_msg("no WRITE record from %zu on", i);
	return 0;
}

static void an_altered_run_passes_nothing_of_itself(void **s)
{
	(void)s;
	sg_t g;
	stream_of(&g, 700);
	qz_digest_t d;
	digest_as_sent(&g, &d);
	size_t targets[] = {g.rec_off[1] + 20,		/* a header, early */
			    in_a_write(&g, g.nrec / 2), /* a payload, mid-way */
			    in_a_write(&g, g.nrec - 4), /* one of the last */
			    QZ_DRR_SIZE + 3};		/* BEGIN's payload */
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		sg_t bad;
		stream_of(&bad, 700);
		as_the_qube_sends_it(&bad);
		bad.buf[targets[i]] ^= 0x40;
		sg_fix_checksums(&bad, true);
		sg_params_t p = sg_defaults();
		qz_stream_expect_t e = {.toguid = p.toguid, .raw = true, .digest = &d};
		struct sink out = {0};
		char why[256];
		assert_int_equal(run(&e, bad.buf, bad.len, &out, why, sizeof(why)), EBADMSG);
		assert_true(out.len <= run_start(&bad, targets[i]));
		/* a payload altered is what only the digest sees */
		bool payload = i == 1 || i == 2;
		if (payload && strstr(why, "not what dom0 sent") == NULL)
			fail_msg("reason: %s", why);
		free(out.buf);
		sg_free(&bad);
	}
	qz_digest_free(&d);
	sg_free(&g);
}

static void a_shorter_stream_or_another_is_refused(void **s)
{
	(void)s;
	sg_t g, shorter;
	stream_of(&g, 700);
	stream_of(&shorter, 300);
	qz_digest_t d, ds;
	digest_as_sent(&g, &d);
	digest_as_sent(&shorter, &ds);
	sg_params_t p = sg_defaults();
	struct sink out = {0};
	char why[256];
	qz_stream_expect_t e = {.toguid = p.toguid, .raw = true, .digest = &d};
	assert_int_equal(run(&e, shorter.buf, shorter.len, &out, why, sizeof(why)), EBADMSG);
	free(out.buf);
	out = (struct sink){0};
	e.digest = &ds; /* the longer stream against the shorter's digest */
	assert_int_equal(run(&e, g.buf, g.len, &out, why, sizeof(why)), EBADMSG);
	free(out.buf);
	/* a digest with a run more than the stream has: the stream ended early */
	uint8_t extra[QZ_DIGEST_HASH] = {1};
	assert_int_equal(qz_digest_append(&d, extra), 0);
	out = (struct sink){0};
	e.digest = &d;
	assert_int_equal(run(&e, g.buf, g.len, &out, why, sizeof(why)), EBADMSG);
	assert_non_null(strstr(why, "ends before"));
	free(out.buf);
	qz_digest_free(&d);
	qz_digest_free(&ds);
	sg_free(&g);
	sg_free(&shorter);
}

static void digests_are_kept_whole_or_refused(void **s)
{
	(void)s;
	sg_t g;
	stream_of(&g, 500);
	qz_digest_t d, back;
	digest_as_sent(&g, &d);
	char dir[] = "/tmp/qzfs-digest-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d", dir);
	assert_int_equal(qz_digest_read(path, &back), ENOENT);
	assert_int_equal(qz_digest_write(path, &d), 0);
	assert_int_equal(qz_digest_read(path, &back), 0);
	assert_int_equal(back.n, d.n);
	assert_memory_equal(back.runs, d.runs, d.n * QZ_DIGEST_HASH);
	qz_digest_free(&back);
	FILE *f = fopen(path, "ab"); /* a byte more */
	fputc(0, f);
	fclose(f);
	assert_int_equal(qz_digest_read(path, &back), EBADMSG);
	assert_int_equal(truncate(path, 16 + QZ_DIGEST_HASH * d.n - 1), 0); /* a byte less */
	assert_int_equal(qz_digest_read(path, &back), EBADMSG);
	qz_digest_t none = {0};
	assert_int_equal(qz_digest_write(path, &none), 0); /* no runs: no stream */
	assert_int_equal(qz_digest_read(path, &back), EBADMSG);
	unlink(path);
	rmdir(dir);
	qz_digest_free(&d);
	sg_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_stream_sent_back_passes_whole),
	    cmocka_unit_test(an_altered_run_passes_nothing_of_itself),
	    cmocka_unit_test(a_shorter_stream_or_another_is_refused),
	    cmocka_unit_test(digests_are_kept_whole_or_refused),
	};
	return cmocka_run_group_tests_name("digest", tests, NULL, NULL);
}
