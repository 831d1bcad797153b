/* SPDX-License-Identifier: BSD-2-Clause */
/* See store_proto.h. */
#include "store_proto.h"

#include "fdio.h"
#include "le.h"

#include <errno.h>
#include <unistd.h>

bool qz_store_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > QZ_STORE_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int qz_store_pieces_out(int in, int out, int timeout_ms, uint64_t *bytes, char *which,
			const qz_store_sent_t *sent)
{
	static _Thread_local uint8_t buf[4 + QZ_STORE_PIECE_MAX];
	uint64_t total = 0;
	for (;;) {
		ssize_t n = read(in, buf + 4, QZ_STORE_PIECE_MAX);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*which = 'r';
			return errno;
		}
		qz_put_le(buf, (uint64_t)n, 4);
		int err = timeout_ms < 0 ? qz_write_full(out, buf, 4 + (size_t)n)
					 : qz_write_wait(out, buf, 4 + (size_t)n, timeout_ms);
		if (err != 0) {
			*which = 'w';
			return err;
		}
		if (n == 0)
			return 0;
		total += (uint64_t)n;
		if (bytes != NULL)
			*bytes += (uint64_t)n;
		if (sent != NULL)
			sent->fn(sent->ctx, total);
	}
}

int qz_store_pieces_in(int in, int timeout_ms, int (*emit)(void *ctx, const void *buf, size_t len),
		       void *ctx)
{
	enum { BITE = 64 * 1024 }; /* what arrived of a piece passes on even if the rest does not */
	static _Thread_local uint8_t buf[BITE];
	int first = 0;
	for (;;) {
		uint8_t head[4];
		ssize_t n = timeout_ms < 0 ? qz_read_full(in, head, 4)
					   : qz_read_wait(in, head, 4, timeout_ms);
		if (n != 4)
			return EBADMSG;
		uint64_t len = qz_get_le(head, 4);
		if (len == 0)
			return first;
		if (len > QZ_STORE_PIECE_MAX)
			return EBADMSG;
		while (len > 0) {
			size_t want = len < BITE ? (size_t)len : BITE;
			n = timeout_ms < 0 ? qz_read_full(in, buf, want)
					   : qz_read_wait(in, buf, want, timeout_ms);
			if (n > 0 && first == 0)
				first = emit(ctx, buf, (size_t)n);
			if (n != (ssize_t)want)
				return EBADMSG;
			len -= want;
		}
	}
}
