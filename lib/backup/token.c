/* Resume tokens, read strictly (see token.h). Every length is checked before it is used. */
#include "token.h"

#include "backend.h"
#include "fletcher.h"
#include "why.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { NV_BOOLEAN = 1, NV_UINT64 = 8, NV_STRING = 9 };

/* A lowercase hex number of 1 to 16 digits ending at '-'; advances *p past the '-'. */
static int hex_field(const char **p, uint64_t *v)
{
	const char *s = *p;
	size_t n = 0;
	*v = 0;
	for (; s[n] != '-'; n++) {
		char c = s[n];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0 || n >= 16)
			return EINVAL;
		*v = *v << 4 | (uint64_t)d;
	}
	if (n == 0)
		return EINVAL;
	*p = s + n + 1;
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

struct key {
	const char *name;
	int type;
	unsigned bit; /* seen-bit */
};

static const struct key keys[] = {
    {"object", NV_UINT64, 1u << 0},	 {"offset", NV_UINT64, 1u << 1},
    {"bytes", NV_UINT64, 1u << 2},	 {"toguid", NV_UINT64, 1u << 3},
    {"toname", NV_STRING, 1u << 4},	 {"fromguid", NV_UINT64, 1u << 5},
    {"embedok", NV_BOOLEAN, 1u << 6},	 {"largeblockok", NV_BOOLEAN, 1u << 7},
    {"compressok", NV_BOOLEAN, 1u << 8}, {"rawok", NV_BOOLEAN, 1u << 9},
};
#define REQUIRED 0x1fu /* object, offset, bytes, toguid, toname */

/* Reads one pair's value into out. */
static int take(const struct key *k, const uint8_t *val, size_t vlen, qz_token_t *out, char *why,
		size_t whylen)
{
	if (k->type == NV_UINT64) {
		if (vlen != 8)
			return qz_why(why, whylen, EINVAL, "%s: a number of the wrong size",
				      k->name);
		uint64_t v = le64(val);
		uint64_t *dst[] = {&out->object, &out->offset, &out->bytes,
				   &out->toguid, NULL,	       &out->fromguid};
		size_t i = (size_t)(k - keys);
		*dst[i] = v;
		out->has_fromguid |= i == 5;
		return 0;
	}
	if (k->type == NV_STRING) {
		const uint8_t *nul = memchr(val, '\0', vlen);
		if (nul == NULL || (size_t)(nul - val) >= sizeof(out->toname) ||
		    align8((size_t)(nul - val) + 1) != vlen)
			return qz_why(why, whylen, EINVAL, "%s: a malformed string", k->name);
		memcpy(out->toname, val, (size_t)(nul - val) + 1);
		return 0;
	}
	if (vlen != 0)
		return qz_why(why, whylen, EINVAL, "%s: a flag with a value", k->name);
	bool *flags[] = {&out->embedok, &out->largeblockok, &out->compressok, &out->rawok};
	*flags[(k - keys) - 6] = true;
	return 0;
}

/* Reads a packed native little-endian nvlist holding only the known keys. */
static int unpack(const uint8_t *b, size_t len, qz_token_t *out, char *why, size_t whylen)
{
	if (len < 16 || b[0] != 0 || b[1] != 1 || b[2] != 0 || b[3] != 0)
		return qz_why(why, whylen, EINVAL, "not a native little-endian nvlist");
	if (le32(b + 4) != 0 || le32(b + 8) != 1)
		return qz_why(why, whylen, EINVAL, "unexpected nvlist version or flags");
	size_t pos = 12;
	unsigned seen = 0;
	for (;;) {
		if (len - pos < 4)
			return qz_why(why, whylen, EINVAL, "the nvlist is cut short");
		uint32_t size = le32(b + pos);
		if (size == 0) {
			pos += 4;
			break;
		}
		if (size < 24 || size % 8 != 0 || size > len - pos)
			return qz_why(why, whylen, EINVAL, "a pair of impossible size %u", size);
		const uint8_t *p = b + pos;
		size_t name_sz = (size_t)(p[4] | p[5] << 8);
		uint32_t reserve = (uint32_t)(p[6] | p[7] << 8), elems = le32(p + 8);
		int type = (int)le32(p + 12);
		if (name_sz < 2 || 16 + align8(name_sz) > size || reserve != 0 ||
		    p[16 + name_sz - 1] != '\0' || strlen((const char *)p + 16) != name_sz - 1)
			return qz_why(why, whylen, EINVAL, "a malformed pair name");
		const char *name = (const char *)p + 16;
		const struct key *k = NULL;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strcmp(keys[i].name, name) == 0)
				k = &keys[i];
		if (k == NULL)
			return qz_why(why, whylen, EINVAL, "unknown key '%.40s'", name);
		if (k->type != type || elems != (type == NV_BOOLEAN ? 0u : 1u))
			return qz_why(why, whylen, EINVAL, "%s has the wrong type", name);
		if (seen & k->bit)
			return qz_why(why, whylen, EINVAL, "%s appears twice", name);
		seen |= k->bit;
		size_t voff = 16 + align8(name_sz);
		int err = take(k, p + voff, size - voff, out, why, whylen);
		if (err != 0)
			return err;
		pos += size;
	}
	if (pos != len)
		return qz_why(why, whylen, EINVAL, "%zu bytes after the nvlist", len - pos);
	if ((seen & REQUIRED) != REQUIRED)
		return qz_why(why, whylen, EINVAL,
			      "object, offset, bytes, toguid or toname missing");
	return 0;
}

int qz_token_parse(const char *text, qz_token_t *out, char *why, size_t whylen)
{
	memset(out, 0, sizeof(*out));
	size_t tlen = strnlen(text, QZ_TOKEN_MAX_TEXT + 1);
	if (tlen > QZ_TOKEN_MAX_TEXT)
		return qz_why(why, whylen, EINVAL, "the token is too long");
	if (strncmp(text, "1-", 2) != 0)
		return qz_why(why, whylen, EINVAL, "not a version 1 token");
	const char *p = text + 2;
	uint64_t cksum, packed;
	if (hex_field(&p, &cksum) != 0 || hex_field(&p, &packed) != 0)
		return qz_why(why, whylen, EINVAL, "malformed checksum or length");
	if (packed < 16 || packed > QZ_TOKEN_MAX_PACKED)
		return qz_why(why, whylen, EINVAL, "packed length %llu out of bounds",
			      (unsigned long long)packed);
	size_t hexlen = strlen(p);
	if (hexlen == 0 || hexlen % 2 != 0 || hexlen / 2 > QZ_TOKEN_MAX_PACKED + 64)
		return qz_why(why, whylen, EINVAL, "the data has a bad length");
	uint8_t comp[QZ_TOKEN_MAX_PACKED + 64] = {0}, plain[QZ_TOKEN_MAX_PACKED] = {0};
	size_t clen = hexlen / 2;
	for (size_t i = 0; i < clen; i++) {
		unsigned v;
		if (!((p[2 * i] >= '0' && p[2 * i] <= '9') ||
		      (p[2 * i] >= 'a' && p[2 * i] <= 'f')) ||
		    !((p[2 * i + 1] >= '0' && p[2 * i + 1] <= '9') ||
		      (p[2 * i + 1] >= 'a' && p[2 * i + 1] <= 'f')) ||
		    sscanf(p + 2 * i, "%2x", &v) != 1)
			return qz_why(why, whylen, EINVAL, "the data is not lowercase hex");
		comp[i] = (uint8_t)v;
	}
	if (qz_fletcher4_word0(comp, clen) != cksum)
		return qz_why(why, whylen, EINVAL, "bad checksum");
	if (clen == packed && comp[0] == 0 && comp[1] == 1) { /* stored uncompressed */
		memcpy(plain, comp, clen);
	} else {
		z_stream z;
		memset(&z, 0, sizeof(z));
		if (inflateInit(&z) != Z_OK)
			return qz_why(why, whylen, ENOMEM, "zlib");
		z.next_in = comp;
		z.avail_in = (uInt)clen;
		z.next_out = plain;
		z.avail_out = (uInt)packed;
		int zr = inflate(&z, Z_FINISH);
		bool exact = zr == Z_STREAM_END && z.avail_in == 0 && z.total_out == packed;
		inflateEnd(&z);
		if (!exact)
			return qz_why(why, whylen, EINVAL,
				      "the data does not inflate to exactly %llu bytes",
				      (unsigned long long)packed);
	}
	return unpack(plain, (size_t)packed, out, why, whylen);
}

int qz_token_plan(const qz_token_t *t, const qz_transfer_t *rec, qz_resume_t *plan, char *why,
		  size_t whylen)
{
	if (t->toguid != rec->toguid)
		return qz_why(why, whylen, EPERM, "the token is for another snapshot (guid %llx)",
			      (unsigned long long)t->toguid);
	if (t->has_fromguid != (rec->from != NULL) ||
	    (t->has_fromguid && t->fromguid != rec->fromguid))
		return qz_why(why, whylen, EPERM, "the token is for another incremental base");
	if (rec->raw && !t->rawok)
		return qz_why(why, whylen, EPERM,
			      "the token asks for a non-raw stream of encrypted data");
	if (t->object == 0)
		return qz_why(why, whylen, EPERM, "the token resumes at object 0");
	plan->snap = rec->snap;
	plan->from = rec->from;
	plan->send_flags = rec->send_flags | (rec->raw ? QZ_SEND_RAW : 0);
	plan->object = t->object;
	plan->offset = t->offset;
	return 0;
}

/* ---- writing (the model backend's partial receives answer real tokens) ---- */

struct packer {
	uint8_t *b;
	size_t len, cap;
	bool full;
};

static void put(struct packer *k, const void *p, size_t n)
{
	if (k->len + n > k->cap) {
		k->full = true;
		return;
	}
	memcpy(k->b + k->len, p, n);
	k->len += n;
}

static void put_le(struct packer *k, uint64_t v, size_t n)
{
	uint8_t le[8];
	for (size_t i = 0; i < n; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	put(k, le, n);
}

/* One pair: a number (val != NULL, 8 bytes), a string (str), or a flag (neither). */
static void pair(struct packer *k, const char *name, const uint64_t *val, const char *str)
{
	static const uint8_t zero[8];
	size_t name_sz = strlen(name) + 1, vlen = val ? 8 : str ? align8(strlen(str) + 1) : 0;
	put_le(k, 16 + align8(name_sz) + vlen, 4);
	put_le(k, name_sz, 2);
	put_le(k, 0, 2);
	put_le(k, val || str ? 1 : 0, 4);
	put_le(k, val ? NV_UINT64 : str ? NV_STRING : NV_BOOLEAN, 4);
	put(k, name, name_sz);
	put(k, zero, align8(name_sz) - name_sz);
	if (val != NULL)
		put_le(k, *val, 8);
	if (str != NULL) {
		put(k, str, strlen(str) + 1);
		put(k, zero, vlen - strlen(str) - 1);
	}
}

int qz_token_format(const qz_token_t *t, char *out, size_t outlen)
{
	uint8_t packed[QZ_TOKEN_MAX_PACKED], comp[QZ_TOKEN_MAX_PACKED + 64];
	struct packer k = {packed, 0, sizeof(packed), false};
	put(&k, (const uint8_t[]){0, 1, 0, 0}, 4); /* native encoding, little-endian */
	put_le(&k, 0, 4);			   /* version */
	put_le(&k, 1, 4);			   /* unique names */
	if (t->has_fromguid)
		pair(&k, "fromguid", &t->fromguid, NULL);
	pair(&k, "object", &t->object, NULL);
	pair(&k, "offset", &t->offset, NULL);
	pair(&k, "bytes", &t->bytes, NULL);
	pair(&k, "toguid", &t->toguid, NULL);
	pair(&k, "toname", NULL, t->toname);
	const bool flags[] = {t->embedok, t->largeblockok, t->compressok, t->rawok};
	const char *names[] = {"embedok", "largeblockok", "compressok", "rawok"};
	for (size_t i = 0; i < 4; i++)
		if (flags[i])
			pair(&k, names[i], NULL, NULL);
	put_le(&k, 0, 4);
	uLongf clen = sizeof(comp);
	if (k.full || compress2(comp, &clen, packed, k.len, 6) != Z_OK)
		return ENAMETOOLONG;
	int n = snprintf(out, outlen, "1-%llx-%zx-",
			 (unsigned long long)qz_fletcher4_word0(comp, clen), k.len);
	if (n < 0 || (size_t)n + 2 * clen + 1 > outlen)
		return ENAMETOOLONG;
	for (uLongf i = 0; i < clen; i++)
		n += snprintf(out + n, outlen - (size_t)n, "%02x", comp[i]);
	return 0;
}
