/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: a backup target's listing (what a hostile store answers LIST with). Oracles
 * beyond "no crash": an accepted listing yields only well-formed names, each once, sorted, no
 * more than dom0 takes, and consumes the answer exactly. */
#include "store_proto.h"
#include "target.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	qz_target_entry_t *e = NULL;
	size_t n = 0, used = 0;
	char why[256];
	if (qz_target_parse_listing(data, size, &e, &n, why, sizeof(why)) != 0)
		return 0;
	if (n > QZ_STORE_LIST_ENTRIES_MAX)
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(e[i].name);
		if (!qz_store_name_ok(e[i].name, l) ||
		    (i > 0 && strcmp(e[i - 1].name, e[i].name) >= 0))
			__builtin_trap();
		used += 1 + l + 8;
	}
	if (used != size)
		__builtin_trap();
	free(e);
	return 0;
}
