/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: the resume-token parser and the resume plan, on any bytes. */
#include "token.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
		/* a record that matches the token, raw or not: the plan must never drop raw */
		for (int raw = 0; raw <= 1; raw++) {
			qz_transfer_t rec = {"p/v@s",	 t.toguid, t.has_fromguid ? "p/v@f" : NULL,
					     t.fromguid, raw != 0, raw ? 8u : 0u};
			qz_resume_t plan;
			if (qz_token_plan(&t, &rec, &plan, why, sizeof(why)) == 0 &&
			    plan.send_flags != rec.send_flags)
				__builtin_trap();
		}
	}
	free(text);
	return 0;
}
