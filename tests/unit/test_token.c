/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: resume tokens, well-formed and forged, and the resume plan that trusts only dom0. */
#include "backend.h"
#include "drr.h"
#include "fletcher.h"
#include "token.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

/* ---- a token writer, as the kernel makes them (for the tests only) ---- */

struct nvbuf {
	uint8_t b[8192];
	size_t len;
};

static void put32(struct nvbuf *n, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		n->b[n->len++] = (uint8_t)(v >> (8 * i));
}

static void nv_begin(struct nvbuf *n)
{
	n->len = 0;
	const uint8_t head[4] = {0, 1, 0, 0};
	memcpy(n->b, head, 4);
	n->len = 4;
	put32(n, 0); /* version */
	put32(n, 1); /* NV_UNIQUE_NAME */
}

static void nv_pair(struct nvbuf *n, const char *name, int type, const void *val, size_t vlen,
		    uint32_t elems)
{
	size_t name_sz = strlen(name) + 1, nal = (name_sz + 7) & ~7u, val_al = (vlen + 7) & ~7u;
	uint32_t size = (uint32_t)(16 + nal + val_al);
	size_t start = n->len;
	memset(n->b + start, 0, size);
	put32(n, size);
	n->b[n->len++] = (uint8_t)name_sz;
	n->b[n->len++] = (uint8_t)(name_sz >> 8);
	n->b[n->len++] = 0;
	n->b[n->len++] = 0;
	put32(n, elems);
	put32(n, (uint32_t)type);
	memcpy(n->b + n->len, name, name_sz);
	if (vlen > 0) /* flags have no value */
		memcpy(n->b + start + 16 + nal, val, vlen);
	n->len = start + size;
}

static void nv_u64(struct nvbuf *n, const char *name, uint64_t v)
{
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	nv_pair(n, name, 8, le, 8, 1);
}

static void nv_flag(struct nvbuf *n, const char *name)
{
	nv_pair(n, name, 1, NULL, 0, 0);
}

static void nv_str(struct nvbuf *n, const char *name, const char *s)
{
	nv_pair(n, name, 9, s, strlen(s) + 1, 1);
}

static void nv_end(struct nvbuf *n)
{
	put32(n, 0);
}

/* The token text of nvlist n compressed at zlib level (cksum_delta spoils the checksum). */
static char *token_at_level(const struct nvbuf *n, int level, uint64_t cksum_delta)
{
	uint8_t comp[16384];
	uLongf clen = sizeof(comp);
	assert_int_equal(compress2(comp, &clen, n->b, n->len, level), Z_OK);
	static char text[40000];
	int k =
	    snprintf(text, sizeof(text), "1-%llx-%zx-",
		     (unsigned long long)(qz_fletcher4_word0(comp, clen) + cksum_delta), n->len);
	for (uLongf i = 0; i < clen; i++)
		k += snprintf(text + k, sizeof(text) - (size_t)k, "%02x", comp[i]);
	return text;
}

/* The token text of a packed nvlist as ZFS compresses it (level 6). */
static char *token_of(const struct nvbuf *n, uint64_t cksum_delta)
{
	return token_at_level(n, 6, cksum_delta);
}

/* A raw send of an encrypted volume's snapshot (16 KiB blocks, 8 MiB), its token as the kernel
 * writes it: keys in ZFS's order, the flags its stream's features give (compressed and raw;
 * never embedded data for encrypted data; no large blocks). */
static void good(struct nvbuf *n, bool with_from, bool rawok, const char *extra)
{
	nv_begin(n);
	if (with_from)
		nv_u64(n, "fromguid", 0x1111);
	nv_u64(n, "object", 1);
	nv_u64(n, "offset", 0x20000);
	nv_u64(n, "bytes", 0x123456);
	nv_u64(n, "toguid", 0xabcdef);
	nv_str(n, "toname", "tank/q/work/private@r5");
	nv_flag(n, "compressok");
	if (rawok)
		nv_flag(n, "rawok");
	if (extra != NULL)
		nv_flag(n, extra);
	nv_end(n);
}

static int parse(const char *text, qz_token_t *t)
{
	char why[200];
	return qz_token_parse(text, t, why, sizeof(why));
}

static void reads_a_kernel_token(void **s)
{
	(void)s;
	struct nvbuf n;
	qz_token_t t;
	good(&n, false, true, NULL);
	assert_int_equal(parse(token_of(&n, 0), &t), 0);
	assert_int_equal(t.object, 1);
	assert_int_equal(t.offset, 0x20000);
	assert_int_equal(t.bytes, 0x123456);
	assert_int_equal(t.toguid, 0xabcdef);
	assert_false(t.has_fromguid);
	assert_true(t.rawok && t.compressok && !t.embedok && !t.largeblockok);
	assert_string_equal(t.toname, "tank/q/work/private@r5");
	good(&n, true, true, NULL);
	assert_int_equal(parse(token_of(&n, 0), &t), 0);
	assert_true(t.has_fromguid);
	assert_int_equal(t.fromguid, 0x1111);
}

/* What qz_token_format writes reads back the same, as does a token the kernel wrote. */
static void formats_what_it_reads(void **s)
{
	(void)s;
	qz_token_t t, back;
	memset(&t, 0, sizeof(t)); /* padding too: the structs are compared whole */
	t.object = 1;
	t.offset = 0x60000;
	t.bytes = 123456789;
	t.toguid = 0xfeedface;
	t.compressok = t.rawok = true;
	snprintf(t.toname, sizeof(t.toname), "tank/q/work/private@r7");
	char text[QZ_TOKEN_MAX_TEXT];
	for (int full = 0; full < 2; full++) {
		t.has_fromguid = !full;
		t.fromguid = full ? 0 : 77;
		assert_int_equal(qz_token_format(&t, text, sizeof(text)), 0);
		assert_int_equal(parse(text, &back), 0);
		assert_memory_equal(&back, &t, sizeof(t));
	}
	assert_int_equal(qz_token_format(&t, text, 20), ENAMETOOLONG);
	FILE *f = fopen(QZ_CORPUS_DIR "/raw-full.token", "r");
	assert_non_null(f);
	char kernel[QZ_TOKEN_MAX_TEXT];
	assert_non_null(fgets(kernel, sizeof(kernel), f));
	fclose(f);
	kernel[strcspn(kernel, "\n")] = 0;
	qz_token_t k;
	assert_int_equal(parse(kernel, &k), 0);
	assert_int_equal(qz_token_format(&k, text, sizeof(text)), 0);
	assert_int_equal(parse(text, &back), 0);
	assert_memory_equal(&back, &k, sizeof(k));
}

static void refuses_forged_tokens(void **s)
{
	(void)s;
	struct nvbuf n;
	qz_token_t t;
	good(&n, false, true, "savedok"); /* libzfs would honour it */
	assert_int_equal(parse(token_of(&n, 0), &t), EINVAL);
	good(&n, false, true, "rawok"); /* twice */
	assert_int_equal(parse(token_of(&n, 0), &t), EINVAL);
	good(&n, false, true, NULL);
	assert_int_equal(parse(token_of(&n, 1), &t), EINVAL); /* checksum */
	nv_begin(&n);
	nv_u64(&n, "object", 1);
	nv_u64(&n, "offset", 0);
	nv_u64(&n, "bytes", 0);
	nv_str(&n, "toguid", "abcdef"); /* wrong type */
	nv_str(&n, "toname", "x@y");
	nv_end(&n);
	assert_int_equal(parse(token_of(&n, 0), &t), EINVAL);
	const char *forged_names[] = {"tank/q\033]0;pwned\007@r1", "tank/q", "tank@a@b", "@r1",
				      "tank/q@r\n1"};
	for (size_t i = 0; i < sizeof(forged_names) / sizeof(forged_names[0]); i++) {
		nv_begin(&n);
		nv_u64(&n, "object", 1);
		nv_u64(&n, "offset", 0);
		nv_u64(&n, "bytes", 0);
		nv_u64(&n, "toguid", 7);
		nv_str(&n, "toname", forged_names[i]);
		nv_end(&n);
		assert_int_equal(parse(token_of(&n, 0), &t), EINVAL);
	}
	nv_begin(&n); /* toname missing */
	nv_u64(&n, "object", 1);
	nv_u64(&n, "offset", 0);
	nv_u64(&n, "bytes", 0);
	nv_u64(&n, "toguid", 5);
	nv_end(&n);
	assert_int_equal(parse(token_of(&n, 0), &t), EINVAL);
	good(&n, false, true, NULL); /* bytes after the list */
	memset(n.b + n.len, 0, 8);
	n.len += 8;
	assert_int_equal(parse(token_of(&n, 0), &t), EINVAL);
	good(&n, false, true, "largeblockok"); /* a flag after one ZFS writes later */
	assert_int_equal(parse(token_of(&n, 0), &t), EINVAL);
	nv_begin(&n); /* toguid before bytes */
	nv_u64(&n, "object", 1);
	nv_u64(&n, "offset", 0);
	nv_u64(&n, "toguid", 7);
	nv_u64(&n, "bytes", 100);
	nv_str(&n, "toname", "x@y");
	nv_end(&n);
	assert_int_equal(parse(token_of(&n, 0), &t), EINVAL);
}

/* Encodings ZFS never writes: a header field with leading zeros, the nvlist stored as it is,
 * or compressed at another level than ZFS's. */
static void refuses_what_zfs_never_writes(void **s)
{
	(void)s;
	struct nvbuf n;
	qz_token_t t;
	good(&n, false, true, NULL);
	char copy[40000];
	snprintf(copy, sizeof(copy), "1-0%s", token_of(&n, 0) + 2);
	assert_int_equal(parse(copy, &t), EINVAL);
	char *text = token_of(&n, 0), *len = strchr(text + 2, '-') + 1;
	snprintf(copy, sizeof(copy), "%.*s00%s", (int)(len - text), text, len);
	assert_int_equal(parse(copy, &t), EINVAL);
	assert_int_equal(parse(token_of(&n, 0), &t), 0); /* the same, as ZFS writes it */
	assert_int_equal(parse(token_at_level(&n, 1, 0), &t), EINVAL);
	/* stored: the packed nvlist itself as the data */
	int k = snprintf(copy, sizeof(copy), "1-%llx-%zx-",
			 (unsigned long long)qz_fletcher4_word0(n.b, n.len), n.len);
	for (size_t i = 0; i < n.len; i++)
		k += snprintf(copy + k, sizeof(copy) - (size_t)k, "%02x", n.b[i]);
	assert_int_equal(parse(copy, &t), EINVAL);
}

static void refuses_malformed_text(void **s)
{
	(void)s;
	struct nvbuf n;
	qz_token_t t;
	good(&n, false, true, NULL);
	char *text = token_of(&n, 0), copy[40000];
	snprintf(copy, sizeof(copy), "2%s", text + 1); /* version */
	assert_int_equal(parse(copy, &t), EINVAL);
	snprintf(copy, sizeof(copy), "%sab", text); /* trailing data: inflate leaves bytes */
	assert_int_equal(parse(copy, &t), EINVAL);
	snprintf(copy, sizeof(copy), "%s", text);
	for (char *c = strrchr(copy, '-') + 1; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A'); /* uppercase hex */
	assert_int_equal(parse(copy, &t), EINVAL);
	assert_int_equal(parse("1-0-7fffffff-789c", &t), EINVAL); /* a huge length */
	assert_int_equal(parse("1--10-00", &t), EINVAL);
	assert_int_equal(parse("", &t), EINVAL);
	char *longtext = malloc(QZ_TOKEN_MAX_TEXT + 10);
	memset(longtext, 'a', QZ_TOKEN_MAX_TEXT + 9);
	longtext[QZ_TOKEN_MAX_TEXT + 9] = '\0';
	assert_int_equal(parse(longtext, &t), EINVAL);
	free(longtext);
	/* the packed length must be exactly what inflates */
	snprintf(copy, sizeof(copy), "%s", text);
	char *len = strchr(copy + 2, '-') + 1;
	len[0] = len[0] == '9' ? '8' : '9';
	assert_int_equal(parse(copy, &t), EINVAL);
}

/* dom0's record of the transfer good() writes a token of, learned as from ZFS. */
static qz_transfer_t recorded(void)
{
	qz_transfer_t rec = {.snap = "tank/q/work/private@r5",
			     .toguid = 0xabcdef,
			     .raw = true,
			     .send_flags = QZ_SEND_LARGE_BLOCK,
			     .learned = true,
			     .features = QZ_FEATURE_COMPRESSED | QZ_FEATURE_RAW | QZ_FEATURE_LZ4,
			     .volsize = 8 << 20,
			     .blocksize = 16384};
	return rec;
}

/* qz_token_plan's answer for t and rec, the plan itself unused. */
static int plan_of(const qz_token_t *t, const qz_transfer_t *rec)
{
	qz_resume_t plan;
	char why[200];
	return qz_token_plan(t, rec, &plan, why, sizeof(why));
}

/* The token good() writes of a full raw send, parsed, into t. */
static void good_token(qz_token_t *t)
{
	struct nvbuf n;
	good(&n, false, true, NULL);
	assert_int_equal(parse(token_of(&n, 0), t), 0);
}

static void plan_trusts_only_dom0(void **s)
{
	(void)s;
	struct nvbuf n;
	qz_token_t t;
	qz_resume_t plan;
	char why[200];
	qz_transfer_t rec = recorded();
	good(&n, false, true, NULL);
	assert_int_equal(parse(token_of(&n, 0), &t), 0);
	assert_int_equal(qz_token_plan(&t, &rec, &plan, why, sizeof(why)), 0);
	assert_ptr_equal(plan.snap, rec.snap);
	assert_null(plan.from);
	assert_int_equal(plan.send_flags, QZ_SEND_LARGE_BLOCK | QZ_SEND_RAW);
	assert_int_equal(plan.object, 1);
	assert_int_equal(plan.offset, 0x20000);
	qz_token_t other = t;
	other.toguid = 0x999; /* another snapshot */
	assert_int_equal(qz_token_plan(&other, &rec, &plan, why, sizeof(why)), EPERM);
	good(&n, false, false, NULL); /* rawok cleared: plaintext asked for */
	assert_int_equal(parse(token_of(&n, 0), &t), 0);
	assert_int_equal(qz_token_plan(&t, &rec, &plan, why, sizeof(why)), EPERM);
	qz_transfer_t inc = rec;
	inc.from = "tank/q/work/private@r4";
	inc.fromguid = 0x1111;
	good(&n, false, true, NULL); /* fromguid removed: a full stream instead */
	assert_int_equal(parse(token_of(&n, 0), &t), 0);
	assert_int_equal(qz_token_plan(&t, &inc, &plan, why, sizeof(why)), EPERM);
	good(&n, true, true, NULL);
	assert_int_equal(parse(token_of(&n, 0), &t), 0);
	assert_int_equal(qz_token_plan(&t, &inc, &plan, why, sizeof(why)), 0);
	assert_ptr_equal(plan.from, inc.from);
	inc.fromguid = 0x2222;
	assert_int_equal(qz_token_plan(&t, &inc, &plan, why, sizeof(why)), EPERM);
	qz_transfer_t plain = rec; /* rawok where dom0 sent no raw stream */
	plain.raw = false;
	plain.features = QZ_FEATURE_COMPRESSED | QZ_FEATURE_EMBED_DATA;
	good(&n, false, true, NULL);
	assert_int_equal(parse(token_of(&n, 0), &t), 0);
	assert_int_equal(qz_token_plan(&t, &plain, &plan, why, sizeof(why)), EPERM);
	qz_transfer_t unknown = rec; /* not learned: nothing to judge the token by */
	unknown.learned = false;
	assert_int_equal(qz_token_plan(&t, &unknown, &plan, why, sizeof(why)), EPERM);
}

/* A token must name what dom0 sent, with the flags its stream's features give. */
static void plan_wants_the_streams_name_and_flags(void **s)
{
	(void)s;
	qz_token_t t;
	qz_transfer_t rec = recorded();
	good_token(&t);
	rec.toname = "backup/k1@a"; /* the stream went renamed: the receive notes that name */
	assert_int_equal(plan_of(&t, &rec), EPERM);
	snprintf(t.toname, sizeof(t.toname), "backup/k1@a");
	assert_int_equal(plan_of(&t, &rec), 0);
	rec = recorded();
	bool *flags[] = {&t.largeblockok, &t.embedok, &t.compressok, &t.rawok};
	for (size_t i = 0; i < 4; i++) { /* each flag turned over */
		good_token(&t);
		*flags[i] = !*flags[i];
		assert_int_equal(plan_of(&t, &rec), EPERM);
	}
	good_token(&t);
	rec.features |=
	    QZ_FEATURE_LARGE_BLOCKS; /* its stream had large blocks: the token must say so */
	assert_int_equal(plan_of(&t, &rec), EPERM);
	t.largeblockok = true;
	assert_int_equal(plan_of(&t, &rec), 0);
}

/* Where a genuine receive can stop: at a block of the volume's data or its property ZAP, having
 * read no more than the largest stream of the snapshot. */
static void plan_wants_a_position_within_the_volume(void **s)
{
	(void)s;
	qz_token_t t;
	qz_transfer_t rec = recorded();
	good_token(&t);
	const struct {
		uint64_t object, offset, bytes;
		int err;
	} cases[] = {
	    {1, 0, 1000, 0},
	    {1, (8 << 20) - 16384, 9 << 20, 0}, /* the last block */
	    {2, 0, 9 << 20, 0},			/* the properties, after the data */
	    {1, 8 << 20, 9 << 20, EPERM},	/* past the end */
	    {1, 0x20000 + 512, 1000, EPERM},	/* not at a block's start */
	    {2, 1 << 20, 1000, EPERM},		/* beyond a microzap */
	    {2, 100, 1000, EPERM},		/* unaligned */
	    {0, 0, 1000, EPERM},		/* the meta-dnode: never written to */
	    {3, 0, 1000, EPERM},		/* a volume has no object 3 */
	    {1ULL << 48, 0, 1000, EPERM},	/* */
	    {1, 1ULL << 63, 1000, EPERM},	/* */
	    {1, 0, 0, EPERM},			/* nothing received: no position saved */
	    {1, 0, 64 << 20, EPERM},		/* more than any stream of 8 MiB */
	    {1, 0, UINT64_MAX, EPERM},		/* */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		qz_token_t at = t;
		at.object = cases[i].object, at.offset = cases[i].offset, at.bytes = cases[i].bytes;
		assert_int_equal(plan_of(&at, &rec), cases[i].err);
	}
	rec.volsize = UINT64_MAX - 16383; /* where the bound would overflow, it stays below 2^62 */
	t.bytes = 1ULL << 62;
	assert_int_equal(plan_of(&t, &rec), 0);
	t.bytes = (1ULL << 62) + 1;
	assert_int_equal(plan_of(&t, &rec), EPERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(reads_a_kernel_token),
	    cmocka_unit_test(formats_what_it_reads),
	    cmocka_unit_test(refuses_forged_tokens),
	    cmocka_unit_test(refuses_malformed_text),
	    cmocka_unit_test(refuses_what_zfs_never_writes),
	    cmocka_unit_test(plan_trusts_only_dom0),
	    cmocka_unit_test(plan_wants_the_streams_name_and_flags),
	    cmocka_unit_test(plan_wants_a_position_within_the_volume),
	};
	return cmocka_run_group_tests_name("token", tests, NULL, NULL);
}
