/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: the resume-token parser and the resume plan, on any bytes. Oracles: what
 * parses writes back to the same token; a plan never drops raw, never takes flags other than the
 * stream's, never resumes outside the volume, never lets a byte count near wrapping through. */
#include "backend.h"
#include "drr.h"
#include "token.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_plan(const qz_token_t *t, bool raw, bool flags_as_token)
{
	uint64_t f = 0;
	if (flags_as_token)
		f = (t->largeblockok ? QZ_FEATURE_LARGE_BLOCKS : 0) |
		    (t->embedok ? QZ_FEATURE_EMBED_DATA : 0) |
		    (t->compressok ? QZ_FEATURE_COMPRESSED : 0) | (t->rawok ? QZ_FEATURE_RAW : 0);
	qz_transfer_t rec = {.snap = "p/v@s",
			     .toguid = t->toguid,
			     .from = t->has_fromguid ? "p/v@f" : NULL,
			     .fromguid = t->fromguid,
			     .raw = raw,
			     .send_flags = raw ? QZ_SEND_RAW : 0,
			     .toname = t->toname,
			     .learned = true,
			     .features = f,
			     .volsize = 1 << 20,
			     .blocksize = 16384};
	qz_resume_t plan;
	char why[256];
	if (qz_token_plan(t, &rec, &plan, why, sizeof(why)) != 0)
		return;
	bool in_data = plan.object == 1 && plan.offset < rec.volsize && plan.offset % 16384 == 0;
	bool in_props = plan.object == 2 && plan.offset % 512 == 0 && plan.offset < (128 << 10);
	if (plan.send_flags != rec.send_flags || (raw && !t->rawok) || !flags_as_token ||
	    (!in_data && !in_props) || t->bytes == 0 || t->bytes > (1ULL << 62))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > QZ_TOKEN_MAX_TEXT + 64)
		return 0;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = 0;
	qz_token_t t;
	char why[256];
	if (qz_token_parse(text, &t, why, sizeof(why)) == 0) {
		static char again[QZ_TOKEN_MAX_TEXT];
		qz_token_t back;
		if (qz_token_format(&t, again, sizeof(again)) != 0 ||
		    qz_token_parse(again, &back, why, sizeof(why)) != 0 ||
		    memcmp(&back, &t, sizeof(t)) != 0)
			__builtin_trap();
		for (int raw = 0; raw <= 1; raw++)
			for (int same = 0; same <= 1; same++)
				check_plan(&t, raw != 0, same != 0);
	}
	free(text);
	return 0;
}
