/* SPDX-License-Identifier: BSD-2-Clause */
/* See reply.h. */
#include "reply.h"

#include "fdio.h"
#include "le.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int store_read_request(store_request_t *r)
{
	uint8_t head[2];
	ssize_t n = qz_read_full(STDIN_FILENO, head, 2);
	if (n == 0)
		return 0;
	if (n != 2 || qz_read_full(STDIN_FILENO, r->name, head[1]) != head[1])
		return -1;
	r->op = (char)head[0];
	r->name[head[1]] = 0;
	r->named = qz_store_name_ok(r->name, head[1]);
	return 1;
}

void store_reply(int status, const void *data, uint64_t len)
{
	uint8_t head[9];
	head[0] = (uint8_t)status;
	qz_put_le(head + 1, len, 8);
	if (qz_write_full(STDOUT_FILENO, head, sizeof(head)) != 0 ||
	    (len > 0 && qz_write_full(STDOUT_FILENO, data, (size_t)len) != 0))
		exit(1);
}

void store_fail(const char *what, int err, const char *detail)
{
	char msg[256];
	int n = detail != NULL && detail[0] != 0
		    ? snprintf(msg, sizeof(msg), "%s: %s", what, detail)
		    : snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
	store_reply(QZ_STORE_FAILED, msg, n < (int)sizeof(msg) ? (uint64_t)n : sizeof(msg) - 1);
}

void store_listing_add(store_listing_t *l, const char *name, uint64_t value)
{
	size_t n = strlen(name);
	if (l->failed || n == 0 || n > QZ_STORE_NAME_MAX)
		return;
	if (l->len + 1 + n + 8 > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		uint8_t *bigger = realloc(l->buf, cap);
		if (bigger == NULL) {
			l->failed = true;
			return;
		}
		l->buf = bigger;
		l->cap = cap;
	}
	l->buf[l->len] = (uint8_t)n;
	memcpy(l->buf + l->len + 1, name, n);
	qz_put_le(l->buf + l->len + 1 + n, value, 8);
	l->len += 1 + n + 8;
}

void store_listing_reply(store_listing_t *l)
{
	if (l->failed)
		store_fail("listing", ENOMEM, NULL);
	else
		store_reply(QZ_STORE_OK, l->buf, l->len);
	free(l->buf);
	l->buf = NULL;
}
