/* libFuzzer target: the send-stream verifier. The expectations are taken from the input's own
 * BEGIN record, so the fuzzer gets past it into the records. Inputs whose length is 1 or 2 mod 3
 * also go through the rewrites (rename; unclone). Oracles: what comes out of a plain run is
 * always a prefix of what went in, and all of it when the stream is accepted; what a rewrite
 * made of an accepted stream is as long, and a plain verifier accepts it whole (every checksum
 * made anew, BEGIN naming the new name, no clone flag left); an accepted stream passes whole
 * against the digest made of it, and with a byte changed it does not; one carrying a portable
 * objset MAC passes when it is expected, and not when another is. */
#include "drr.h"
#include "stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RENAME "pool/restored@r1"

struct prefix {
	const uint8_t *in;
	size_t inlen, out;
};

static int check_prefix(void *ctx, const void *buf, size_t len)
{
	struct prefix *p = ctx;
	if (p->out + len > p->inlen || memcmp(p->in + p->out, buf, len) != 0)
		__builtin_trap();
	p->out += len;
	return 0;
}

struct copy {
	uint8_t *buf;
	size_t len, cap;
};

static int keep(void *ctx, const void *buf, size_t len)
{
	struct copy *c = ctx;
	if (c->len + len > c->cap) {
		size_t cap = (c->len + len) * 2;
		uint8_t *b = realloc(c->buf, cap);
		if (b == NULL)
			return 12; /* ENOMEM */
		c->buf = b;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, buf, len);
	c->len += len;
	return 0;
}

/* Runs a verifier for e over data in two pieces, split where the last byte says. */
static int verify(const qz_stream_expect_t *e, const uint8_t *data, size_t size,
		  qz_stream_emit_fn emit, void *ctx)
{
	qz_verifier_t *v = NULL;
	if (qz_verifier_new(e, emit, ctx, &v) != 0)
		return -1;
	size_t split = size > 0 ? (size_t)data[size - 1] * 131 % (size + 1) : 0;
	int err = qz_verifier_feed(v, data, split);
	if (err == 0)
		err = qz_verifier_feed(v, data + split, size - split);
	if (err == 0)
		err = qz_verifier_end(v);
	qz_verifier_free(v);
	return err;
}

/* A rewrite of an accepted stream: as long, and accepted whole by a plain verifier. */
static void check_rewritten(const qz_stream_expect_t *e, size_t size, const struct copy *out)
{
	if (out->len != size || out->len < QZ_DRR_SIZE)
		__builtin_trap();
	qz_drr_t r;
	memcpy(&r, out->buf, sizeof(r));
	if (e->rename != NULL && strcmp(r.u.begin.toname, e->rename) != 0)
		__builtin_trap();
	if (e->unclone && (r.u.begin.flags & QZ_DRR_FLAG_CLONE))
		__builtin_trap();
	qz_stream_expect_t plain = *e;
	plain.rename = NULL;
	plain.unclone = false;
	struct prefix p = {out->buf, out->len, 0};
	if (verify(&plain, out->buf, out->len, check_prefix, &p) != 0 || p.out != out->len)
		__builtin_trap();
}

/* An accepted stream that carries a portable objset MAC passes when that MAC is expected, and
 * is refused when another is. */
static void check_objset_mac(const qz_stream_expect_t *e, const uint8_t *data, size_t size)
{
	qz_stream_expect_t plain = *e;
	plain.digest_out = NULL;
	plain.digest = NULL;
	qz_verifier_t *v = NULL;
	struct prefix p = {data, size, 0};
	uint8_t mac[QZ_OBJSET_MAC_LEN];
	if (qz_verifier_new(&plain, check_prefix, &p, &v) != 0)
		__builtin_trap();
	bool has = qz_verifier_feed(v, data, size) == 0 && qz_verifier_end(v) == 0 &&
		   qz_verifier_objset_mac(v, mac);
	qz_verifier_free(v);
	if (!has)
		return;
	qz_stream_expect_t want = plain;
	want.objset_mac = mac;
	struct prefix q = {data, size, 0};
	if (verify(&want, data, size, check_prefix, &q) != 0 || q.out != size)
		__builtin_trap();
	mac[data[size - 1] % QZ_OBJSET_MAC_LEN] ^= 1;
	struct prefix r = {data, size, 0};
	if (verify(&want, data, size, check_prefix, &r) == 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	qz_stream_expect_t e = {.toguid = 1, .fromguid = 0, .raw = false, .resumed = false};
	if (size >= QZ_DRR_SIZE) {
		qz_drr_t r;
		memcpy(&r, data, sizeof(r));
		uint64_t f = QZ_DRR_FEATURES(r.u.begin.versioninfo);
		e.toguid = r.u.begin.toguid;
		e.fromguid = r.u.begin.fromguid;
		e.raw = (f & QZ_FEATURE_RAW) != 0;
		e.resumed = (f & QZ_FEATURE_RESUMING) != 0;
	}
	if (size % 3 == 0) {
		/* digested as it passes; the same bytes then pass against that digest, whole, and
		 * nothing passes before its run is vouched for */
		qz_digest_t d = {0};
		e.digest_out = &d;
		struct prefix p = {data, size, 0};
		int err = verify(&e, data, size, check_prefix, &p);
		if (err == 0 && p.out != size)
			__builtin_trap();
		if (err == 0) {
			qz_stream_expect_t again = e;
			again.digest_out = NULL;
			again.digest = &d;
			struct prefix q = {data, size, 0};
			if (verify(&again, data, size, check_prefix, &q) != 0 || q.out != size)
				__builtin_trap();
			if (size > QZ_DRR_SIZE &&
			    d.n > 0) { /* one byte past BEGIN's header turned */
				uint8_t *bad = malloc(size);
				memcpy(bad, data, size);
				bad[QZ_DRR_SIZE + data[size - 1] % (size - QZ_DRR_SIZE)] ^= 1;
				struct prefix b = {bad, size, 0};
				if (verify(&again, bad, size, check_prefix, &b) == 0)
					__builtin_trap();
				free(bad);
			}
		}
		qz_digest_free(&d);
		if (err == 0)
			check_objset_mac(&e, data, size);
		return 0;
	}
	if (size % 3 == 1)
		e.rename = RENAME;
	else
		e.unclone = true;
	struct copy out = {0};
	if (verify(&e, data, size, keep, &out) == 0)
		check_rewritten(&e, size, &out);
	free(out.buf);
	return 0;
}
