/* SPDX-License-Identifier: BSD-2-Clause */
/* PBKDF2-HMAC-SHA1 for ZFS passphrases (see pbkdf2.h). Secrets on the stack are wiped. */
#include "pbkdf2.h"

#include <sodium.h>
#include <string.h>

#define BLOCK 64

struct sha1 {
	uint32_t h[5];
	uint64_t len; /* bytes hashed so far */
	uint8_t buf[BLOCK];
	size_t used;
};

static uint32_t rol(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static void sha1_block(struct sha1 *s, const uint8_t *p)
{
	uint32_t w[80];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		uint32_t t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(b, 30);
		b = a;
		a = t;
	}
	s->h[0] += a;
	s->h[1] += b;
	s->h[2] += c;
	s->h[3] += d;
	s->h[4] += e;
	sodium_memzero(w, sizeof(w));
}

static void sha1_init(struct sha1 *s)
{
	static const uint32_t iv[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
	s->used = 0;
}

static void sha1_update(struct sha1 *s, const uint8_t *p, size_t n)
{
	s->len += n;
	while (n > 0) {
		size_t take = BLOCK - s->used < n ? BLOCK - s->used : n;
		memcpy(s->buf + s->used, p, take);
		s->used += take;
		p += take;
		n -= take;
		if (s->used == BLOCK) {
			sha1_block(s, s->buf);
			s->used = 0;
		}
	}
}

static void sha1_final(struct sha1 *s, uint8_t out[QZ_SHA1_LEN])
{
	uint64_t bits = s->len * 8;
	uint8_t pad = 0x80, zero = 0, len[8];
	sha1_update(s, &pad, 1);
	while (s->used != BLOCK - 8)
		sha1_update(s, &zero, 1);
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha1_update(s, len, 8);
	for (int i = 0; i < 5; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (uint8_t)(s->h[i] >> (24 - 8 * j));
	sodium_memzero(s, sizeof(*s));
}

void qz_sha1(const uint8_t *data, size_t len, uint8_t out[QZ_SHA1_LEN])
{
	struct sha1 s;
	sha1_init(&s);
	sha1_update(&s, data, len);
	sha1_final(&s, out);
}

/* HMAC-SHA1 with the key's inner and outer states prepared once (PBKDF2 reuses them). */
struct hmac {
	struct sha1 inner, outer;
};

static void hmac_init(struct hmac *h, const uint8_t *key, size_t keylen)
{
	uint8_t k[BLOCK] = {0}, pad[BLOCK];
	if (keylen > BLOCK)
		qz_sha1(key, keylen, k);
	else
		memcpy(k, key, keylen);
	for (int i = 0; i < BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	sha1_init(&h->inner);
	sha1_update(&h->inner, pad, BLOCK);
	for (int i = 0; i < BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	sha1_init(&h->outer);
	sha1_update(&h->outer, pad, BLOCK);
	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
}

static void hmac(const struct hmac *h, const uint8_t *msg, size_t len, const uint8_t *msg2,
		 size_t len2, uint8_t out[QZ_SHA1_LEN])
{
	struct sha1 s = h->inner;
	uint8_t mid[QZ_SHA1_LEN];
	sha1_update(&s, msg, len);
	sha1_update(&s, msg2, len2);
	sha1_final(&s, mid);
	s = h->outer;
	sha1_update(&s, mid, QZ_SHA1_LEN);
	sha1_final(&s, out);
	sodium_memzero(mid, sizeof(mid));
}

void qz_pbkdf2_sha1(const uint8_t *pass, size_t passlen, const uint8_t *salt, size_t saltlen,
		    uint64_t iterations, uint8_t *out, size_t outlen)
{
	struct hmac h;
	hmac_init(&h, pass, passlen);
	uint8_t u[QZ_SHA1_LEN], t[QZ_SHA1_LEN];
	for (uint32_t block = 1; outlen > 0; block++) {
		uint8_t be[4] = {(uint8_t)(block >> 24), (uint8_t)(block >> 16),
				 (uint8_t)(block >> 8), (uint8_t)block};
		hmac(&h, salt, saltlen, be, 4, u);
		memcpy(t, u, QZ_SHA1_LEN);
		for (uint64_t i = 1; i < iterations; i++) {
			hmac(&h, u, QZ_SHA1_LEN, NULL, 0, u);
			for (int j = 0; j < QZ_SHA1_LEN; j++)
				t[j] ^= u[j];
		}
		size_t n = outlen < QZ_SHA1_LEN ? outlen : QZ_SHA1_LEN;
		memcpy(out, t, n);
		out += n;
		outlen -= n;
	}
	sodium_memzero(&h, sizeof(h));
	sodium_memzero(u, sizeof(u));
	sodium_memzero(t, sizeof(t));
}

void qz_zfs_passphrase_key(const uint8_t *pass, size_t passlen, uint64_t salt, uint64_t iterations,
			   uint8_t out[32])
{
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(salt >> (8 * i));
	qz_pbkdf2_sha1(pass, passlen, le, sizeof(le), iterations, out, 32);
}
