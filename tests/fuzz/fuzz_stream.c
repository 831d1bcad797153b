/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: the send-stream verifier. The expectations are taken from the input's own
 * BEGIN record, so the fuzzer gets past it into the records. Oracle: what comes out is always a
 * prefix of what went in, and all of it when the stream is accepted. */
#include "drr.h"
#include "stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	struct prefix p = {data, size, 0};
	qz_verifier_t *v = NULL;
	if (qz_verifier_new(&e, check_prefix, &p, &v) != 0)
		return 0;
	/* fed in two pieces, split where the last byte says */
	size_t split = size > 0 ? (size_t)data[size - 1] * 131 % (size + 1) : 0;
	int err = qz_verifier_feed(v, data, split);
	if (err == 0)
		err = qz_verifier_feed(v, data + split, size - split);
	if (err == 0)
		err = qz_verifier_end(v);
	if (err == 0 && p.out != size)
		__builtin_trap();
	qz_verifier_free(v);
	return 0;
}
