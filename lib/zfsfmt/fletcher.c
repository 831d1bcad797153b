/* SPDX-License-Identifier: BSD-2-Clause */
/* fletcher-4 over little-endian 32-bit words (see fletcher.h). */
#include "fletcher.h"

#include <string.h>

static inline uint32_t le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

/*
 * Four words at a time: the sums after four words a, b, c, d with words w0..w3 are
 *   a' = a + w0 + w1 + w2 + w3
 *   b' = b + 4a + 4w0 + 3w1 + 2w2 + w3
 *   c' = c + 4b + 10a + 10w0 + 6w1 + 3w2 + w3
 *   d' = d + 4c + 10b + 20a + 20w0 + 10w1 + 4w2 + w3
 * which shortens the dependency chain of the one-word-at-a-time loop fourfold (all arithmetic is
 * modulo 2^64, as in ZFS).
 */
void qz_fletcher4_fold(qz_cksum_t *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t words = len / 4;
	uint64_t a = c->w[0], b = c->w[1], cc = c->w[2], d = c->w[3];
	size_t i = 0;
	for (; i + 4 <= words; i += 4, p += 16) {
		uint64_t w0 = le32(p), w1 = le32(p + 4), w2 = le32(p + 8), w3 = le32(p + 12);
		uint64_t s1 = w0 + w1 + w2 + w3;
		uint64_t s2 = 4 * w0 + 3 * w1 + 2 * w2 + w3;
		uint64_t s3 = 10 * w0 + 6 * w1 + 3 * w2 + w3;
		uint64_t s4 = 20 * w0 + 10 * w1 + 4 * w2 + w3;
		d += 4 * cc + 10 * b + 20 * a + s4;
		cc += 4 * b + 10 * a + s3;
		b += 4 * a + s2;
		a += s1;
	}
	for (; i < words; i++, p += 4) {
		a += le32(p);
		b += a;
		cc += b;
		d += cc;
	}
	c->w[0] = a;
	c->w[1] = b;
	c->w[2] = cc;
	c->w[3] = d;
}

uint64_t qz_fletcher4_word0(const uint8_t *buf, size_t len)
{
	qz_cksum_t c = {{0, 0, 0, 0}};
	qz_fletcher4_fold(&c, buf, len);
	return c.w[0];
}
