/* SPDX-License-Identifier: BSD-2-Clause */
/* Packed native little-endian nvlists, read strictly and written (see nvlist.h). */
#include "nvlist.h"

#include "why.h"

#include <errno.h>
#include <string.h>

#define HEADER	  12 /* encoding and endianness, version, flags */
#define PAIR_HEAD 16
#define LIST_IMG  24 /* a nested list's value: its nvlist_t as the sender had it in memory */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Reads the pairs at b[*pos..len) up to and with their zero, nested lists at depth + 1;
 * fn (if not NULL) is called for each, as qz_nvl_each says. */
static int walk(const uint8_t *b, size_t len, size_t *pos, unsigned depth,
		int (*fn)(void *ctx, const qz_nvpair_t *p), void *ctx, char *why, size_t whylen)
{
	if (depth > QZ_NVL_MAX_DEPTH)
		return qz_why(why, whylen, EINVAL, "nvlists nested deeper than %d",
			      QZ_NVL_MAX_DEPTH);
	for (;;) {
		if (len - *pos < 4)
			return qz_why(why, whylen, EINVAL, "the nvlist is cut short");
		uint32_t size = le32(b + *pos);
		if (size == 0) {
			*pos += 4;
			return 0;
		}
		if (size < PAIR_HEAD + 8 || size % 8 != 0 || size > len - *pos)
			return qz_why(why, whylen, EINVAL, "a pair of impossible size %u", size);
		const uint8_t *p = b + *pos;
		size_t name_sz = (size_t)(p[4] | p[5] << 8);
		uint32_t reserve = (uint32_t)(p[6] | p[7] << 8);
		qz_nvpair_t pr = {(const char *)p + PAIR_HEAD, le32(p + 12), le32(p + 8), NULL, 0};
		if (name_sz < 2 || PAIR_HEAD + align8(name_sz) > size || reserve != 0 ||
		    p[PAIR_HEAD + name_sz - 1] != '\0' || strlen(pr.name) != name_sz - 1)
			return qz_why(why, whylen, EINVAL, "a malformed pair name");
		size_t voff = PAIR_HEAD + align8(name_sz);
		pr.val = p + voff;
		pr.vlen = size - voff;
		*pos += size;
		if (pr.type == 20) /* an array of nvlists */
			return qz_why(why, whylen, ENOTSUP, "%.40s: an array of nvlists", pr.name);
		if (pr.type == QZ_NV_NVLIST) {
			if (pr.vlen != LIST_IMG || pr.nelem != 1)
				return qz_why(why, whylen, EINVAL,
					      "%.40s: a malformed nested nvlist", pr.name);
			size_t start = *pos;
			int err = walk(b, len, pos, depth + 1, NULL, NULL, why, whylen);
			if (err != 0)
				return err;
			pr.val = b + start;
			pr.vlen = *pos - start;
		}
		int err = fn != NULL ? fn(ctx, &pr) : 0;
		if (err != 0)
			return err;
	}
}

int qz_nvl_each(const uint8_t *b, size_t len, int (*fn)(void *ctx, const qz_nvpair_t *p), void *ctx,
		char *why, size_t whylen)
{
	if (len < HEADER + 4 || b[0] != 0 || b[1] != 1 || b[2] != 0 || b[3] != 0)
		return qz_why(why, whylen, EINVAL, "not a native little-endian nvlist");
	if (le32(b + 4) != 0 || le32(b + 8) != 1)
		return qz_why(why, whylen, EINVAL, "unexpected nvlist version or flags");
	size_t pos = HEADER;
	int err = walk(b, len, &pos, 0, fn, ctx, why, whylen);
	if (err == 0 && pos != len)
		err = qz_why(why, whylen, EINVAL, "%zu bytes after the nvlist", len - pos);
	return err;
}

struct finding {
	const char *const *path;
	size_t depth;
	qz_nvpair_t *out;
};

static int match(void *ctx, const qz_nvpair_t *p)
{
	struct finding *f = ctx;
	if (strcmp(p->name, f->path[0]) != 0)
		return 0;
	if (f->depth == 1) {
		*f->out = *p;
		return EEXIST; /* found: stops the walk */
	}
	if (p->type != QZ_NV_NVLIST)
		return ENOENT;
	struct finding in = {f->path + 1, f->depth - 1, f->out};
	size_t pos = 0;
	int err = walk(p->val, p->vlen, &pos, 0, match, &in, NULL, 0);
	return err == 0 ? ENOENT : err;
}

int qz_nvl_find(const uint8_t *b, size_t len, const char *const *path, size_t depth,
		qz_nvpair_t *out)
{
	if (depth == 0 || depth > QZ_NVL_MAX_DEPTH)
		return EINVAL;
	struct finding f = {path, depth, out};
	int err = qz_nvl_each(b, len, match, &f, NULL, 0);
	return err == EEXIST ? 0 : err == 0 ? ENOENT : err;
}

/* ---- writing ---- */

static void put(qz_nvl_writer_t *w, const void *p, size_t n)
{
	if (w->full || w->len + n > w->cap) {
		w->full = true;
		return;
	}
	memcpy(w->b + w->len, p, n);
	w->len += n;
}

static void put_le(qz_nvl_writer_t *w, uint64_t v, size_t n)
{
	uint8_t le[8];
	for (size_t i = 0; i < n; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	put(w, le, n);
}

static void pair(qz_nvl_writer_t *w, const char *name, uint32_t type, uint32_t nelem,
		 const void *val, size_t vlen)
{
	static const uint8_t zero[8];
	size_t name_sz = strlen(name) + 1;
	put_le(w, PAIR_HEAD + align8(name_sz) + align8(vlen), 4);
	put_le(w, name_sz, 2);
	put_le(w, 0, 2);
	put_le(w, nelem, 4);
	put_le(w, type, 4);
	put(w, name, name_sz);
	put(w, zero, align8(name_sz) - name_sz);
	if (vlen > 0)
		put(w, val, vlen);
	put(w, zero, align8(vlen) - vlen);
}

void qz_nvl_begin(qz_nvl_writer_t *w, uint8_t *buf, size_t cap)
{
	*w = (qz_nvl_writer_t){buf, 0, cap, false, 0};
	put(w, (const uint8_t[]){0, 1, 0, 0}, 4); /* native encoding, little-endian */
	put_le(w, 0, 4);			  /* version */
	put_le(w, 1, 4);			  /* unique names */
}

void qz_nvl_add_u64(qz_nvl_writer_t *w, const char *name, uint64_t v)
{
	uint8_t le[8];
	for (size_t i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	pair(w, name, QZ_NV_UINT64, 1, le, 8);
}

void qz_nvl_add_string(qz_nvl_writer_t *w, const char *name, const char *s)
{
	pair(w, name, QZ_NV_STRING, 1, s, strlen(s) + 1);
}

void qz_nvl_add_flag(qz_nvl_writer_t *w, const char *name)
{
	pair(w, name, QZ_NV_BOOLEAN, 0, NULL, 0);
}

void qz_nvl_add_bytes(qz_nvl_writer_t *w, const char *name, const void *p, size_t n)
{
	pair(w, name, QZ_NV_UINT8_ARRAY, (uint32_t)n, p, n);
}

void qz_nvl_add_list(qz_nvl_writer_t *w, const char *name)
{
	static const uint8_t image[LIST_IMG] = {0, 0, 0, 0, 1}; /* version 0, unique names */
	pair(w, name, QZ_NV_NVLIST, 1, image, sizeof(image));
	w->open++;
}

size_t qz_nvl_end(qz_nvl_writer_t *w)
{
	put_le(w, 0, 4);
	if (w->open > 0)
		w->open--;
	return w->full ? 0 : w->len;
}
