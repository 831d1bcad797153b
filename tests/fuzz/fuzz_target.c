/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: a whole conversation with a hostile backup target. The input is everything
 * the store answers; dom0 asks, in turn, for an object, a listing, a resume token, an abort, a
 * stream sent back, a deletion and a put. Oracles beyond "no crash": no answer is taken beyond
 * what was asked for (an object's bytes, a token's room), a listing is sorted, unique and within
 * its bound, a stream sent back passes on no more than the store sent, and once an answer is
 * malformed nothing more is read. */
#include "store_proto.h"
#include "target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct counted {
	uint64_t bytes;
};

static int count(void *ctx, const void *buf, size_t len)
{
	(void)buf;
	((struct counted *)ctx)->bytes += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int from = memfd_create("answers", MFD_CLOEXEC),
	    to = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (from < 0 || to < 0 || write(from, data, size) != (ssize_t)size)
		__builtin_trap();
	lseek(from, 0, SEEK_SET);
	qz_target_t *t = NULL;
	if (qz_target_over(to, from, &t) != 0)
		__builtin_trap();
	char why[256];
	off_t broken_at = -1; /* where the answers stood when one was malformed */
#define SAW(call)                                                                                  \
	do {                                                                                       \
		if ((call) == EBADMSG && broken_at < 0)                                            \
			broken_at = lseek(from, 0, SEEK_CUR);                                      \
	} while (0)
	uint8_t obj[64];
	size_t len = 0;
	int err = qz_target_get(t, "k1.chunk", obj, sizeof(obj), &len, why, sizeof(why));
	SAW(err);
	if (err == 0 && len > sizeof(obj))
		__builtin_trap();
	qz_target_entry_t *e = NULL;
	size_t n = 0;
	SAW(err = qz_target_list(t, &e, &n, why, sizeof(why)));
	if (err == 0) {
		if (n > QZ_STORE_LIST_ENTRIES_MAX)
			__builtin_trap();
		for (size_t i = 1; i < n; i++)
			if (strcmp(e[i - 1].name, e[i].name) >= 0)
				__builtin_trap();
		free(e);
	}
	char token[100];
	memset(token, 'x', sizeof(token));
	SAW(err = qz_target_token(t, "k1", token, sizeof(token), why, sizeof(why)));
	if (err == 0 && memchr(token, 0, sizeof(token)) == NULL)
		__builtin_trap();
	SAW(qz_target_abort(t, "k1", why, sizeof(why)));
	struct counted c = {0};
	SAW(qz_target_send_back(t, "k1.a", count, &c, why, sizeof(why)));
	if (c.bytes > size)
		__builtin_trap();
	SAW(qz_target_delete(t, "k1.chunk", why, sizeof(why)));
	SAW(qz_target_put(t, "k1.chunk", obj, 10, why, sizeof(why)));
	if (broken_at >= 0 && lseek(from, 0, SEEK_CUR) != broken_at)
		__builtin_trap(); /* read on after a malformed answer */
	qz_target_close(t);
	return 0;
}
