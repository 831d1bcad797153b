/* SPDX-License-Identifier: BSD-2-Clause */
/* Resume tokens, read strictly (see token.h). Every length is checked before it is used. */
#include "token.h"

#include "backend.h"
#include "fletcher.h"
#include "nvlist.h"
#include "why.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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
	uint32_t type;
	unsigned bit; /* seen-bit */
};

static const struct key keys[] = {
    {"object", QZ_NV_UINT64, 1u << 0},	    {"offset", QZ_NV_UINT64, 1u << 1},
    {"bytes", QZ_NV_UINT64, 1u << 2},	    {"toguid", QZ_NV_UINT64, 1u << 3},
    {"toname", QZ_NV_STRING, 1u << 4},	    {"fromguid", QZ_NV_UINT64, 1u << 5},
    {"embedok", QZ_NV_BOOLEAN, 1u << 6},    {"largeblockok", QZ_NV_BOOLEAN, 1u << 7},
    {"compressok", QZ_NV_BOOLEAN, 1u << 8}, {"rawok", QZ_NV_BOOLEAN, 1u << 9},
};
#define REQUIRED 0x1fu /* object, offset, bytes, toguid, toname */

struct reading {
	qz_token_t *out;
	unsigned seen;
	char *why;
	size_t whylen;
};

/* Reads one pair's value into out. */
/* What ZFS could have written as a snapshot's name: DATASET@SNAPSHOT in the characters ZFS names
 * are made of (letters, digits, _ - . : and space, / between components), one '@'. Anything else
 * (control characters above all) is a forgery. */
static bool snapshot_name_ok(const char *name)
{
	const char *at = strchr(name, '@');
	if (at == NULL || at == name || at[1] == 0 || strchr(at + 1, '@') != NULL)
		return false;
	for (const char *p = name; *p != 0; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("_-.: /@", *p) != NULL))
			return false;
	return true;
}

static int take(const struct key *k, const uint8_t *val, size_t vlen, qz_token_t *out, char *why,
		size_t whylen)
{
	if (k->type == QZ_NV_UINT64) {
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
	if (k->type == QZ_NV_STRING) {
		const uint8_t *nul = memchr(val, '\0', vlen);
		if (nul == NULL || (size_t)(nul - val) >= sizeof(out->toname) ||
		    align8((size_t)(nul - val) + 1) != vlen)
			return qz_why(why, whylen, EINVAL, "%s: a malformed string", k->name);
		memcpy(out->toname, val, (size_t)(nul - val) + 1);
		return snapshot_name_ok(out->toname)
			   ? 0
			   : qz_why(why, whylen, EINVAL, "toname: not a ZFS snapshot name");
	}
	if (vlen != 0)
		return qz_why(why, whylen, EINVAL, "%s: a flag with a value", k->name);
	bool *flags[] = {&out->embedok, &out->largeblockok, &out->compressok, &out->rawok};
	*flags[(k - keys) - 6] = true;
	return 0;
}

static int read_pair(void *ctx, const qz_nvpair_t *p)
{
	struct reading *r = ctx;
	const struct key *k = NULL;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, p->name) == 0)
			k = &keys[i];
	if (k == NULL)
		return qz_why(r->why, r->whylen, EINVAL, "unknown key '%.40s'", p->name);
	if (k->type != p->type || p->nelem != (p->type == QZ_NV_BOOLEAN ? 0u : 1u))
		return qz_why(r->why, r->whylen, EINVAL, "%s has the wrong type", p->name);
	if (r->seen & k->bit)
		return qz_why(r->why, r->whylen, EINVAL, "%s appears twice", p->name);
	r->seen |= k->bit;
	return take(k, p->val, p->vlen, r->out, r->why, r->whylen);
}

/* Reads a packed native little-endian nvlist holding only the known keys. */
static int unpack(const uint8_t *b, size_t len, qz_token_t *out, char *why, size_t whylen)
{
	struct reading r = {out, 0, why, whylen};
	int err = qz_nvl_each(b, len, read_pair, &r, why, whylen);
	if (err != 0)
		return err == ENOTSUP ? EINVAL : err;
	if ((r.seen & REQUIRED) != REQUIRED)
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

#define MAX_OBJECT (1ULL << 48) /* ZFS's DN_MAX_OBJECT */
#define MAX_BYTES  (1ULL << 62)

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
	if (t->rawok != rec->raw)
		return qz_why(why, whylen, EPERM, "the token's raw flag is not the transfer's");
	if (t->object == 0)
		return qz_why(why, whylen, EPERM, "the token resumes at object 0");
	/* what no genuine receive can report: ZFS has at most 2^48 objects; offsets and byte
	 * counts that large would only make dom0's sums wrap */
	if (t->object >= MAX_OBJECT || t->offset >= MAX_BYTES || t->bytes >= MAX_BYTES)
		return qz_why(why, whylen, EPERM,
			      "the token resumes beyond anything ZFS could have received");
	plan->snap = rec->snap;
	plan->from = rec->from;
	plan->send_flags = rec->send_flags | (rec->raw ? QZ_SEND_RAW : 0);
	plan->object = t->object;
	plan->offset = t->offset;
	return 0;
}

/* ---- writing (the model backend's partial receives answer real tokens) ---- */

int qz_token_format(const qz_token_t *t, char *out, size_t outlen)
{
	uint8_t packed[QZ_TOKEN_MAX_PACKED], comp[QZ_TOKEN_MAX_PACKED + 64];
	qz_nvl_writer_t k;
	qz_nvl_begin(&k, packed, sizeof(packed));
	if (t->has_fromguid)
		qz_nvl_add_u64(&k, "fromguid", t->fromguid);
	qz_nvl_add_u64(&k, "object", t->object);
	qz_nvl_add_u64(&k, "offset", t->offset);
	qz_nvl_add_u64(&k, "bytes", t->bytes);
	qz_nvl_add_u64(&k, "toguid", t->toguid);
	qz_nvl_add_string(&k, "toname", t->toname);
	const bool flags[] = {t->embedok, t->largeblockok, t->compressok, t->rawok};
	const char *names[] = {"embedok", "largeblockok", "compressok", "rawok"};
	for (size_t i = 0; i < 4; i++)
		if (flags[i])
			qz_nvl_add_flag(&k, names[i]);
	size_t packedlen = qz_nvl_end(&k);
	uLongf clen = sizeof(comp);
	if (packedlen == 0 || compress2(comp, &clen, packed, packedlen, 6) != Z_OK)
		return ENAMETOOLONG;
	int n = snprintf(out, outlen, "1-%llx-%zx-",
			 (unsigned long long)qz_fletcher4_word0(comp, clen), packedlen);
	if (n < 0 || (size_t)n + 2 * clen + 1 > outlen)
		return ENAMETOOLONG;
	for (uLongf i = 0; i < clen; i++)
		n += snprintf(out + n, outlen - (size_t)n, "%02x", comp[i]);
	return 0;
}
