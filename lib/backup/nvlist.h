/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Packed nvlists as ZFS writes them into resume tokens and BEGIN records: native encoding,
 * little-endian. A list is a 12-byte header {0, 1, 0, 0; version 0; flags 1}, then pairs, then
 * a 4-byte zero. A pair is {u32 size, u16 name size, u16 0, u32 elements, u32 type}, the name
 * (NUL-terminated, padded to 8), then the value; a nested nvlist's value is a 24-byte image, its
 * pairs and their 4-byte zero follow the pair. Every length is checked before it is used.
 */
#ifndef QZFS_NVLIST_H
#define QZFS_NVLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	QZ_NV_BOOLEAN = 1,
	QZ_NV_UINT64 = 8,
	QZ_NV_STRING = 9,
	QZ_NV_NVLIST = 19,
	QZ_NV_UINT8_ARRAY = 26,
};

#define QZ_NVL_MAX_DEPTH 4

typedef struct qz_nvpair {
	const char *name;
	uint32_t type, nelem;
	const uint8_t *val; /* for QZ_NV_NVLIST, its pairs (up to and with their zero) */
	size_t vlen;
} qz_nvpair_t;

/* Calls fn for each top-level pair of the packed list b[0..len), nested lists checked whole;
 * stops at fn's first non-zero answer and returns it. 0; EINVAL if b is no such list (a
 * reason in why), or ENOTSUP for a kind of pair whose layout qzfs does not read (arrays of
 * nvlists). */
int qz_nvl_each(const uint8_t *b, size_t len, int (*fn)(void *ctx, const qz_nvpair_t *p), void *ctx,
		char *why, size_t whylen);

/* Finds the pair at path (names, outer first: {"crypt_keydata", "portable_mac"}) in the packed
 * list b[0..len). 0; ENOENT if it is not there; or qz_nvl_each's errors. */
int qz_nvl_find(const uint8_t *b, size_t len, const char *const *path, size_t depth,
		qz_nvpair_t *out);

/* A packed list being written into a fixed buffer; full once it would overflow. */
typedef struct qz_nvl_writer {
	uint8_t *b;
	size_t len, cap;
	bool full;
	unsigned open; /* nested lists begun and not ended */
} qz_nvl_writer_t;

/* Begins a list in buf[0..cap). */
void qz_nvl_begin(qz_nvl_writer_t *w, uint8_t *buf, size_t cap);
void qz_nvl_add_u64(qz_nvl_writer_t *w, const char *name, uint64_t v);
void qz_nvl_add_string(qz_nvl_writer_t *w, const char *name, const char *s);
void qz_nvl_add_flag(qz_nvl_writer_t *w, const char *name);
void qz_nvl_add_bytes(qz_nvl_writer_t *w, const char *name, const void *p, size_t n);
/* Begins a nested list named name; the pairs added next go into it until qz_nvl_end. */
void qz_nvl_add_list(qz_nvl_writer_t *w, const char *name);
/* Ends the innermost nested list, or the list itself: its length, 0 if it did not fit. */
size_t qz_nvl_end(qz_nvl_writer_t *w);

#endif
