/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: the send-stream verifier, on streams written as ZFS writes them and on forgeries.
 * The property checked throughout: what comes out is a prefix of what went in, and no byte of a
 * record that failed a check ever comes out. */
#include "fletcher.h"
#include "stream.h"
#include "streamgen.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct sink {
	uint8_t *buf;
	size_t len, cap;
	int fail_with; /* an error to return instead of taking bytes */
};

static int sink_emit(void *ctx, const void *p, size_t n)
{
	struct sink *s = ctx;
	if (s->fail_with != 0)
		return s->fail_with;
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->buf = realloc(s->buf, s->cap);
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

static qz_stream_expect_t expect_of(const sg_params_t *p)
{
	qz_stream_expect_t e = {
	    .toguid = p->toguid, .fromguid = p->fromguid, .raw = p->raw, .resumed = p->resuming};
	return e;
}

/* Runs buf through a verifier in pieces of `piece` bytes (0: all at once); returns the result
 * of the first failing call, or of qz_verifier_end. out receives what was passed on. */
static int run(const qz_stream_expect_t *e, const uint8_t *buf, size_t len, size_t piece,
	       struct sink *out, char *why, size_t whylen)
{
	qz_verifier_t *v = NULL;
	assert_int_equal(qz_verifier_new(e, sink_emit, out, &v), 0);
	int err = 0;
	for (size_t o = 0; o < len && err == 0;) {
		size_t n = piece == 0 || len - o < piece ? len - o : piece;
		err = qz_verifier_feed(v, buf + o, n);
		o += n;
	}
	if (err == 0)
		err = qz_verifier_end(v);
	if (why != NULL)
		snprintf(why, whylen, "%s", qz_verifier_why(v));
	qz_verifier_free(v);
	return err;
}

/* Asserts that buf is refused, that what came out is a prefix of it ending before byte
 * `damaged`, and that the reason mentions `reason` (if not NULL). */
static void assert_refused(const qz_stream_expect_t *e, const uint8_t *buf, size_t len,
			   size_t damaged, const char *reason)
{
	struct sink out = {0};
	char why[256];
	int err = run(e, buf, len, 0, &out, why, sizeof(why));
	assert_int_equal(err, EBADMSG);
	assert_true(out.len <= damaged);
	if (out.len > 0)
		assert_memory_equal(out.buf, buf, out.len);
	if (reason != NULL && strstr(why, reason) == NULL)
		fail_msg("reason '%s' does not mention '%s'", why, reason);
	free(out.buf);
}

static size_t record_start(const sg_t *g, size_t off)
{
	size_t start = 0;
	for (size_t i = 0; i < g->nrec && g->rec_off[i] <= off; i++)
		start = g->rec_off[i];
	return start;
}

static void fletcher_blocks_match_word_by_word(void **state)
{
	(void)state;
	uint8_t buf[1003];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (size_t len = 0; len <= sizeof(buf); len += 37) {
		qz_cksum_t fast = {{1, 2, 3, 4}}, slow = {{1, 2, 3, 4}};
		qz_fletcher4_fold(&fast, buf, len);
		for (size_t i = 0; i + 4 <= len; i += 4)
			qz_fletcher4_fold(&slow, buf + i, 4);
		assert_memory_equal(&fast, &slow, sizeof(fast));
	}
	/* the trailing len % 4 bytes are ignored, as in ZFS */
	qz_cksum_t a = {{0}}, b = {{0}};
	qz_fletcher4_fold(&a, buf, 8);
	qz_fletcher4_fold(&b, buf, 11);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void whole_streams_pass_unchanged_in_any_pieces(void **state)
{
	(void)state;
	const size_t pieces[] = {0, 1, 7, 312, 313, 4096, 100000};
	for (int raw = 0; raw <= 1; raw++) {
		sg_params_t p = sg_defaults();
		p.raw = raw;
		p.fromguid = raw ? 0 : 77;
		sg_t g;
		sg_volume(&g, &p);
		qz_stream_expect_t e = expect_of(&p);
		for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
			struct sink out = {0};
			assert_int_equal(run(&e, g.buf, g.len, pieces[i], &out, NULL, 0), 0);
			assert_int_equal(out.len, g.len);
			assert_memory_equal(out.buf, g.buf, g.len);
			free(out.buf);
		}
		sg_free(&g);
	}
}

static void a_record_is_held_until_the_next_header_vouches_for_it(void **state)
{
	(void)state;
	sg_params_t p = sg_defaults();
	sg_t g;
	sg_volume(&g, &p);
	qz_stream_expect_t e = expect_of(&p);
	struct sink out = {0};
	qz_verifier_t *v = NULL;
	assert_int_equal(qz_verifier_new(&e, sink_emit, &out, &v), 0);
	/* all of record 5 and its successor's header but one byte: records 0-3 are out */
	size_t upto = g.rec_off[6] + QZ_DRR_SIZE - 1;
	assert_int_equal(qz_verifier_feed(v, g.buf, upto), 0);
	assert_int_equal(out.len, g.rec_off[5]);
	assert_int_equal(qz_verifier_feed(v, g.buf + upto, 1), 0);
	assert_int_equal(out.len, g.rec_off[6]);
	/* everything but END's passing: END waits for the end of input */
	assert_int_equal(qz_verifier_feed(v, g.buf + upto + 1, g.len - upto - 1), 0);
	assert_int_equal(out.len, g.rec_off[g.nrec - 1]);
	assert_int_equal(qz_verifier_end(v), 0);
	assert_int_equal(out.len, g.len);
	uint64_t bytes, records;
	qz_verifier_counts(v, &bytes, &records);
	assert_int_equal(bytes, g.len);
	assert_int_equal(records, g.nrec);
	qz_verifier_free(v);
	free(out.buf);
	sg_free(&g);
}

static void every_flipped_bit_is_caught_before_its_record_passes(void **state)
{
	(void)state;
	sg_params_t p = sg_defaults();
	p.blocks = 3;
	p.blocksize = 1024;
	sg_t g;
	sg_volume(&g, &p);
	qz_stream_expect_t e = expect_of(&p);
	for (size_t pos = 0; pos < g.len; pos++) {
		int bit = (int)(pos % 8);
		g.buf[pos] ^= (uint8_t)(1 << bit);
		assert_refused(&e, g.buf, g.len, record_start(&g, pos), NULL);
		g.buf[pos] ^= (uint8_t)(1 << bit);
	}
	sg_free(&g);
}

static void a_stream_cut_anywhere_is_refused_and_its_end_never_passes(void **state)
{
	(void)state;
	sg_params_t p = sg_defaults();
	p.blocks = 2;
	p.blocksize = 512;
	sg_t g;
	sg_volume(&g, &p);
	qz_stream_expect_t e = expect_of(&p);
	for (size_t len = 0; len < g.len; len++)
		assert_refused(&e, g.buf, len, g.rec_off[g.nrec - 1], len ? "cut short" : "empty");
	sg_free(&g);
}

static void bytes_after_end_are_refused(void **state)
{
	(void)state;
	sg_params_t p = sg_defaults();
	sg_t g;
	sg_volume(&g, &p);
	uint8_t *longer = malloc(g.len + 1);
	memcpy(longer, g.buf, g.len);
	longer[g.len] = 0;
	qz_stream_expect_t e = expect_of(&p);
	assert_refused(&e, longer, g.len + 1, g.rec_off[g.nrec - 1], "after the END");
	/* a second, whole stream appended is refused the same way */
	uint8_t *twice = malloc(2 * g.len);
	memcpy(twice, g.buf, g.len);
	memcpy(twice + g.len, g.buf, g.len);
	assert_refused(&e, twice, 2 * g.len, g.rec_off[g.nrec - 1], "after the END");
	free(longer);
	free(twice);
	sg_free(&g);
}

static void records_swapped_are_refused(void **state)
{
	(void)state;
	sg_params_t p = sg_defaults();
	p.blocksize = 512;
	sg_t g;
	sg_volume(&g, &p);
	/* swap WRITE records 6 and 7 (same size: the layout stays valid) */
	size_t a = g.rec_off[6], b = g.rec_off[7], n = b - a;
	assert_int_equal(g.rec_off[8] - b, n);
	uint8_t *tmp = malloc(n);
	memcpy(tmp, g.buf + a, n);
	memmove(g.buf + a, g.buf + b, n);
	memcpy(g.buf + b, tmp, n);
	free(tmp);
	qz_stream_expect_t e = expect_of(&p);
	assert_refused(&e, g.buf, g.len, a, "checksum");
	sg_free(&g);
}

/* Builds the default stream with the change made by `edit` to record `rec` and checksums
 * recomputed (a forger who knows fletcher), and asserts it is refused before that record. */
static void forged(int rec_index, void (*edit)(qz_drr_t *r), const sg_params_t *p,
		   const qz_stream_expect_t *e, const char *reason)
{
	sg_t g;
	sg_volume(&g, p);
	size_t rec = rec_index < 0 ? g.nrec + (size_t)rec_index : (size_t)rec_index;
	qz_drr_t r;
	memcpy(&r, g.buf + g.rec_off[rec], sizeof(r));
	edit(&r);
	memcpy(g.buf + g.rec_off[rec], &r, sizeof(r));
	sg_fix_checksums(&g, r.type != QZ_DRR_END);
	assert_refused(e, g.buf, g.len, g.rec_off[rec], reason);
	sg_free(&g);
}

static void set_toguid(qz_drr_t *r)
{
	r->u.begin.toguid = 999;
}
static void set_fromguid(qz_drr_t *r)
{
	r->u.begin.fromguid = 5;
}
static void drop_raw(qz_drr_t *r)
{
	r->u.begin.versioninfo &= ~((uint64_t)QZ_FEATURE_RAW << 2);
}
static void add_dedup(qz_drr_t *r)
{
	r->u.begin.versioninfo |= (uint64_t)QZ_FEATURE_DEDUP << 2;
}
static void compound(qz_drr_t *r)
{
	r->u.begin.versioninfo = (r->u.begin.versioninfo & ~3ULL) | 2;
}
static void byteswapped(qz_drr_t *r)
{
	r->u.begin.magic = __builtin_bswap64(QZ_DRR_MAGIC);
}
static void not_a_volume(qz_drr_t *r)
{
	r->u.begin.objset_type = 2;
}
static void huge_begin_payload(qz_drr_t *r)
{
	r->payloadlen = 64u << 20;
}
static void unterminated_name(qz_drr_t *r)
{
	memset(r->u.begin.toname, 'a', sizeof(r->u.begin.toname));
}
static void vendor_flag(qz_drr_t *r)
{
	r->u.begin.flags |= 1u << 24;
}

static void begin_records_not_of_the_expected_snapshot_are_refused(void **state)
{
	(void)state;
	sg_params_t p = sg_defaults();
	qz_stream_expect_t e = expect_of(&p);
	forged(0, set_toguid, &p, &e, "snapshot guid 999");
	forged(0, set_fromguid, &p, &e, "base guid 5");
	forged(0, drop_raw, &p, &e, "not raw");
	forged(0, add_dedup, &p, &e, "features");
	forged(0, compound, &p, &e, "single-snapshot");
	forged(0, byteswapped, &p, &e, "big-endian");
	forged(0, not_a_volume, &p, &e, "volume");
	forged(0, huge_begin_payload, &p, &e, "over the bound");
	forged(0, unterminated_name, &p, &e, "name");
	forged(0, vendor_flag, &p, &e, "flags");
	/* a raw stream where dom0 expects unencrypted data, and a resumed one where it expects a
	 * whole one */
	qz_stream_expect_t plain = e;
	plain.raw = false;
	sg_t g;
	sg_volume(&g, &p);
	assert_refused(&plain, g.buf, g.len, 0, "raw stream");
	sg_free(&g);
	sg_params_t r = p;
	r.resuming = true;
	sg_volume(&g, &r);
	assert_refused(&e, g.buf, g.len, 0, "resumed");
	sg_free(&g);
}

static void write_other_snapshot(qz_drr_t *r)
{
	r->u.write.toguid = 1;
}
static void write_huge(qz_drr_t *r)
{
	r->u.write.logical_size = 1ull << 40;
}
static void write_compression_lies(qz_drr_t *r)
{
	r->u.write.compressed_size = r->u.write.logical_size + 1;
}
static void to_byref(qz_drr_t *r)
{
	r->type = QZ_DRR_WRITE_BYREF;
}
static void to_redact(qz_drr_t *r)
{
	r->type = QZ_DRR_REDACT;
}
static void to_unknown(qz_drr_t *r)
{
	r->type = 77;
}
static void to_begin(qz_drr_t *r)
{
	r->type = QZ_DRR_BEGIN;
}
static void payloadlen_lies(qz_drr_t *r)
{
	r->payloadlen = 12;
}
static void object_bonus_huge(qz_drr_t *r)
{
	r->u.object.raw_bonuslen = 1u << 30;
}
static void end_other_snapshot(qz_drr_t *r)
{
	r->u.end.toguid = 3;
}
static void end_checksum_wrong(qz_drr_t *r)
{
	r->u.end.checksum.w[2] ^= 1;
}

static void records_that_break_the_rules_are_refused_even_with_good_checksums(void **state)
{
	(void)state;
	sg_params_t p = sg_defaults(); /* raw: 0 BEGIN 1 OBJECT_RANGE 2 OBJECT 3 FREE 4.. WRITE */
	qz_stream_expect_t e = expect_of(&p);
	forged(5, write_other_snapshot, &p, &e, "snapshot guid 1");
	forged(5, write_huge, &p, &e, "WRITE record of");
	forged(5, write_compression_lies, &p, &e, "compressed to");
	forged(5, to_byref, &p, &e, "type 6");
	forged(5, to_redact, &p, &e, "type 10");
	forged(5, to_unknown, &p, &e, "type 77");
	forged(5, to_begin, &p, &e, "second BEGIN");
	forged(5, payloadlen_lies, &p, &e, "payload is 12");
	forged(2, object_bonus_huge, &p, &e, "bonus");
	forged(-1, end_other_snapshot, &p, &e, "snapshot guid 3");
	forged(-1, end_checksum_wrong, &p, &e, "END record's checksum");
	/* an OBJECT_RANGE record (raw only) in a plain stream */
	sg_params_t plain = p;
	plain.raw = false;
	qz_stream_expect_t pe = expect_of(&plain);
	sg_t g;
	sg_volume(&g, &plain);
	qz_drr_t r;
	memcpy(&r, g.buf + g.rec_off[3], sizeof(r));
	r.type = QZ_DRR_OBJECT_RANGE;
	r.u.object_range.toguid = plain.toguid;
	memcpy(g.buf + g.rec_off[3], &r, sizeof(r));
	sg_fix_checksums(&g, true);
	assert_refused(&pe, g.buf, g.len, g.rec_off[3], "OBJECT_RANGE");
	sg_free(&g);
}

/* Swaps records i and i + 1 (of equal size) of g and recomputes every checksum, as a forger
 * who knows fletcher-4 would. */
static void swap_records(sg_t *g, size_t i)
{
	size_t a = g->rec_off[i], b = g->rec_off[i + 1], n = b - a;
	assert_int_equal(g->rec_off[i + 2] - b, n);
	uint8_t *tmp = malloc(n);
	memcpy(tmp, g->buf + a, n);
	memmove(g->buf + a, g->buf + b, n);
	memcpy(g->buf + b, tmp, n);
	free(tmp);
	sg_fix_checksums(g, true);
}

static void write_back_to_the_start(qz_drr_t *r)
{
	r->u.write.offset = 0;
}
static void write_overlapping(qz_drr_t *r)
{
	r->u.write.offset -= 1;
}
static void object_again(qz_drr_t *r)
{
	r->u.object.object = 1;
}
static void write_of_the_next_object(qz_drr_t *r)
{
	r->u.write.object = 2; /* then OBJECT 2 comes after its block */
}
static void free_of_no_object(qz_drr_t *r)
{
	r->u.free.object = 0;
}
static void freeobjects_of_live_ones(qz_drr_t *r)
{
	r->u.freeobjects.firstobj = 2;
}
static void freeobjects_wrapping(qz_drr_t *r)
{
	r->u.freeobjects.numobjs = UINT64_MAX;
}

static void records_out_of_zfs_order_are_refused_even_with_good_checksums(void **state)
{
	(void)state;
	sg_params_t p = sg_defaults(); /* raw: 0 BEGIN 1 OBJECT_RANGE 2 OBJECT 3 FREE 4.. WRITE */
	p.blocksize = 512;
	qz_stream_expect_t e = expect_of(&p);
	sg_t g;
	sg_volume(&g, &p); /* WRITEs 6 and 7 (offsets 2048, 2560) are both uncompressed */
	swap_records(&g, 6);
	assert_refused(&e, g.buf, g.len, g.rec_off[6], "out of order");
	sg_free(&g);
	size_t last_write = 4 + p.blocks - 1;
	forged((int)last_write, write_back_to_the_start, &p, &e, "out of order");
	forged(7, write_overlapping, &p, &e, "out of order");
	forged(-3, object_again, &p, &e, "out of order");
	forged((int)last_write, write_of_the_next_object, &p, &e, "out of order");
	forged(3, free_of_no_object, &p, &e, "out of order");
	forged(-2, freeobjects_of_live_ones, &p, &e, "out of order");
	forged(-2, freeobjects_wrapping, &p, &e, "out of order");
	/* and the untouched stream, in ZFS's order, passes */
	sg_volume(&g, &p);
	struct sink out = {0};
	char why[256];
	assert_int_equal(run(&e, g.buf, g.len, 0, &out, why, sizeof(why)), 0);
	assert_int_equal(out.len, g.len);
	free(out.buf);
	sg_free(&g);
}

static void a_record_without_its_checksum_is_refused(void **state)
{
	(void)state;
	sg_params_t p = sg_defaults();
	sg_t g;
	sg_volume(&g, &p);
	memset(g.buf + g.rec_off[3] + QZ_DRR_CKSUM_OFFSET, 0, sizeof(qz_cksum_t));
	qz_stream_expect_t e = expect_of(&p);
	assert_refused(&e, g.buf, g.len, g.rec_off[3], "checksum");
	sg_free(&g);
}

static void the_consumers_error_stops_the_verifier(void **state)
{
	(void)state;
	sg_params_t p = sg_defaults();
	sg_t g;
	sg_volume(&g, &p);
	qz_stream_expect_t e = expect_of(&p);
	struct sink out = {.fail_with = EPIPE};
	assert_int_equal(run(&e, g.buf, g.len, 0, &out, NULL, 0), EPIPE);
	sg_free(&g);
}

/* A renamed stream: the sender's dataset name is gone, BEGIN names what dom0 chose, every
 * checksum is made again (a plain verifier takes it), and nothing else changed. */
static void renamed_streams_hide_the_name_and_stay_whole(void **state)
{
	(void)state;
	for (int raw = 0; raw <= 1; raw++) {
		sg_params_t p = sg_defaults();
		p.raw = raw;
		p.fromguid = raw ? 0 : 77;
		sg_t g;
		sg_volume(&g, &p);
		qz_stream_expect_t e = expect_of(&p);
		e.rename = "backup@0123456789abcdef";
		struct sink out = {0};
		assert_int_equal(run(&e, g.buf, g.len, 1000, &out, NULL, 0), 0);
		assert_int_equal(out.len, g.len);
		assert_null(memmem(out.buf, out.len, "work/private", 12));
		qz_drr_t begin;
		memcpy(&begin, out.buf, sizeof(begin));
		assert_string_equal(begin.u.begin.toname, "backup@0123456789abcdef");
		/* past BEGIN, only checksums differ: payloads are the same bytes */
		for (size_t i = 1; i < g.nrec; i++) {
			size_t at = g.rec_off[i], end = i + 1 < g.nrec ? g.rec_off[i + 1] : g.len;
			assert_memory_equal(out.buf + at + QZ_DRR_SIZE, g.buf + at + QZ_DRR_SIZE,
					    end - at - QZ_DRR_SIZE);
		}
		qz_stream_expect_t plain = expect_of(&p);
		struct sink again = {0};
		char why[256] = "";
		assert_int_equal(run(&plain, out.buf, out.len, 0, &again, why, sizeof(why)), 0);
		assert_int_equal(again.len, out.len);
		/* a damaged input is still refused before its record passes */
		g.buf[g.rec_off[g.nrec / 2] + QZ_DRR_SIZE + 1] ^= 1;
		struct sink bad = {0};
		assert_int_equal(run(&e, g.buf, g.len, 0, &bad, NULL, 0), EBADMSG);
		assert_true(bad.len <= g.rec_off[g.nrec / 2]);
		free(bad.buf);
		free(again.buf);
		free(out.buf);
		sg_free(&g);
	}
	sg_params_t p = sg_defaults();
	qz_stream_expect_t e = expect_of(&p);
	qz_verifier_t *v = NULL;
	const char *bad[] = {"no-snapshot", "@x", NULL};
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	longname[5] = '@';
	bad[2] = longname;
	for (size_t i = 0; i < 3; i++) {
		e.rename = bad[i];
		assert_int_equal(qz_verifier_new(&e, sink_emit, NULL, &v), EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fletcher_blocks_match_word_by_word),
	    cmocka_unit_test(whole_streams_pass_unchanged_in_any_pieces),
	    cmocka_unit_test(a_record_is_held_until_the_next_header_vouches_for_it),
	    cmocka_unit_test(every_flipped_bit_is_caught_before_its_record_passes),
	    cmocka_unit_test(a_stream_cut_anywhere_is_refused_and_its_end_never_passes),
	    cmocka_unit_test(bytes_after_end_are_refused),
	    cmocka_unit_test(records_swapped_are_refused),
	    cmocka_unit_test(begin_records_not_of_the_expected_snapshot_are_refused),
	    cmocka_unit_test(records_that_break_the_rules_are_refused_even_with_good_checksums),
	    cmocka_unit_test(records_out_of_zfs_order_are_refused_even_with_good_checksums),
	    cmocka_unit_test(a_record_without_its_checksum_is_refused),
	    cmocka_unit_test(the_consumers_error_stops_the_verifier),
	    cmocka_unit_test(renamed_streams_hide_the_name_and_stay_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
