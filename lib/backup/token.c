/* SPDX-License-Identifier: BSD-2-Clause */
/* Resume tokens, read strictly (see token.h). Every length is checked before it is used. */
#include "token.h"

#include "backend.h"
#include "drr.h"
#include "fletcher.h"
#include "nvlist.h"
#include "stream.h"
#include "why.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A lowercase hex number of 1 to 16 digits, no leading zero (as ZFS's "%llx" writes it), ending
 * at '-'; advances *p past the '-'. */
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
	if (n == 0 || (n > 1 && s[0] == '0'))
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

/* The keys in the order ZFS adds them (get_receive_resume_stats_impl), which is the order a
 * packed nvlist keeps. */
enum { K_FROMGUID, K_OBJECT, K_OFFSET, K_BYTES, K_TOGUID, K_TONAME, K_FLAGS };

struct key {
	const char *name;
	uint32_t type;
};

static const struct key keys[] = {
    [K_FROMGUID] = {"fromguid", QZ_NV_UINT64},	     [K_OBJECT] = {"object", QZ_NV_UINT64},
    [K_OFFSET] = {"offset", QZ_NV_UINT64},	     [K_BYTES] = {"bytes", QZ_NV_UINT64},
    [K_TOGUID] = {"toguid", QZ_NV_UINT64},	     [K_TONAME] = {"toname", QZ_NV_STRING},
    [K_FLAGS + 0] = {"largeblockok", QZ_NV_BOOLEAN}, [K_FLAGS + 1] = {"embedok", QZ_NV_BOOLEAN},
    [K_FLAGS + 2] = {"compressok", QZ_NV_BOOLEAN},   [K_FLAGS + 3] = {"rawok", QZ_NV_BOOLEAN},
};
#define NKEYS	 (sizeof(keys) / sizeof(keys[0]))
#define REQUIRED (1u << K_OBJECT | 1u << K_OFFSET | 1u << K_BYTES | 1u << K_TOGUID | 1u << K_TONAME)

/* A token's flags in the order of keys[]: where flag i goes, and what it is. */
static bool *flag_at(qz_token_t *t, size_t i)
{
	bool *flags[] = {&t->largeblockok, &t->embedok, &t->compressok, &t->rawok};
	return flags[i];
}

static bool flag(const qz_token_t *t, size_t i)
{
	return *flag_at((qz_token_t *)t, i);
}

struct reading {
	qz_token_t *out;
	unsigned seen;
	size_t next; /* keys before keys[next] may no longer come */
	char *why;
	size_t whylen;
};

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

/* Reads the value of keys[k] into out. */
static int take(size_t k, const uint8_t *val, size_t vlen, qz_token_t *out, char *why,
		size_t whylen)
{
	if (keys[k].type == QZ_NV_UINT64) {
		if (vlen != 8)
			return qz_why(why, whylen, EINVAL, "%s: a number of the wrong size",
				      keys[k].name);
		uint64_t *dst[] = {&out->fromguid, &out->object, &out->offset, &out->bytes,
				   &out->toguid};
		*dst[k] = le64(val);
		out->has_fromguid |= k == K_FROMGUID;
		return 0;
	}
	if (keys[k].type == QZ_NV_STRING) {
		const uint8_t *nul = memchr(val, '\0', vlen);
		if (nul == NULL || (size_t)(nul - val) >= sizeof(out->toname) ||
		    align8((size_t)(nul - val) + 1) != vlen)
			return qz_why(why, whylen, EINVAL, "%s: a malformed string", keys[k].name);
		memcpy(out->toname, val, (size_t)(nul - val) + 1);
		return snapshot_name_ok(out->toname)
			   ? 0
			   : qz_why(why, whylen, EINVAL, "toname: not a ZFS snapshot name");
	}
	if (vlen != 0)
		return qz_why(why, whylen, EINVAL, "%s: a flag with a value", keys[k].name);
	*flag_at(out, k - K_FLAGS) = true;
	return 0;
}

static int read_pair(void *ctx, const qz_nvpair_t *p)
{
	struct reading *r = ctx;
	size_t k = NKEYS;
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, p->name) == 0)
			k = i;
	if (k == NKEYS)
		return qz_why(r->why, r->whylen, EINVAL, "unknown key '%.40s'", p->name);
	if (keys[k].type != p->type || p->nelem != (p->type == QZ_NV_BOOLEAN ? 0u : 1u))
		return qz_why(r->why, r->whylen, EINVAL, "%s has the wrong type", p->name);
	if (r->seen & 1u << k)
		return qz_why(r->why, r->whylen, EINVAL, "%s appears twice", p->name);
	if (k < r->next)
		return qz_why(r->why, r->whylen, EINVAL,
			      "%s out of the order ZFS writes a token's keys in", p->name);
	r->seen |= 1u << k;
	r->next = k + 1;
	return take(k, p->val, p->vlen, r->out, r->why, r->whylen);
}

/* Reads a packed native little-endian nvlist holding only the known keys. */
static int unpack(const uint8_t *b, size_t len, qz_token_t *out, char *why, size_t whylen)
{
	struct reading r = {out, 0, 0, why, whylen};
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
	/* ZFS compresses with zlib at level 6, whose header is 78 9c; it never stores the nvlist
	 * uncompressed, nor would `zfs send -t` take it so */
	if (clen < 2 || comp[0] != 0x78 || comp[1] != 0x9c)
		return qz_why(why, whylen, EINVAL,
			      "the data is not compressed as ZFS compresses it");
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
	return unpack(plain, (size_t)packed, out, why, whylen);
}

/* A volume's objects (every stream qzfs sends is a volume's): its data and its properties. A
 * receive saves where to resume only at a WRITE record, so a genuine token is at the start of a
 * block of one of them. */
#define ZVOL_OBJ      1
#define ZVOL_ZAP_OBJ  2
#define MIN_BLOCK     512ULL	/* SPA_MINBLOCKSIZE */
#define MAX_ZAP_BLOCK 131072ULL /* a microzap's largest block */
#define DRR_BYTES     312ULL	/* a record's header */

/* An upper bound on what a receive of a stream of rec's snapshot can have read: each block of
 * data a WRITE, a FREE between two, a few object records, BEGIN's payload; twice that, as each
 * resume sends the block it stopped at again. Never above 2^62, so that sums of it do not wrap. */
static uint64_t largest_stream(const qz_transfer_t *rec)
{
	const uint64_t cap = 1ULL << 62;
	uint64_t blocks = rec->volsize / rec->blocksize + 2, records, bytes;
	if (__builtin_mul_overflow(blocks, 2 * DRR_BYTES, &records) ||
	    __builtin_add_overflow(records, rec->volsize, &bytes) ||
	    __builtin_add_overflow(
		bytes, 64 * DRR_BYTES + MAX_ZAP_BLOCK + QZ_STREAM_MAX_BEGIN_PAYLOAD, &bytes) ||
	    __builtin_mul_overflow(bytes, 2, &bytes) || bytes > cap)
		return cap;
	return bytes;
}

int qz_token_plan(const qz_token_t *t, const qz_transfer_t *rec, qz_resume_t *plan, char *why,
		  size_t whylen)
{
	if (!rec->learned || rec->blocksize < MIN_BLOCK)
		return qz_why(why, whylen, EPERM,
			      "the transfer's stream is not known well enough to "
			      "judge a token");
	if (t->toguid != rec->toguid)
		return qz_why(why, whylen, EPERM, "the token is for another snapshot (guid %llx)",
			      (unsigned long long)t->toguid);
	if (t->has_fromguid != (rec->from != NULL) ||
	    (t->has_fromguid && t->fromguid != rec->fromguid))
		return qz_why(why, whylen, EPERM, "the token is for another incremental base");
	if (strcmp(t->toname, rec->toname != NULL ? rec->toname : rec->snap) != 0)
		return qz_why(why, whylen, EPERM,
			      "the token names another snapshot than the stream it was sent");
	if (rec->raw && !t->rawok)
		return qz_why(why, whylen, EPERM,
			      "the token asks for a non-raw stream of encrypted data");
	/* a receive notes what the stream's BEGIN record announces, nothing else */
	const uint64_t features[] = {QZ_FEATURE_LARGE_BLOCKS, QZ_FEATURE_EMBED_DATA,
				     QZ_FEATURE_COMPRESSED, QZ_FEATURE_RAW};
	for (size_t i = 0; i < 4; i++)
		if (flag(t, i) != ((rec->features & features[i]) != 0))
			return qz_why(why, whylen, EPERM,
				      "the token's %s flag is not what the transfer's stream has",
				      keys[K_FLAGS + i].name);
	bool in_data =
	    t->object == ZVOL_OBJ && t->offset < rec->volsize && t->offset % rec->blocksize == 0;
	bool in_props =
	    t->object == ZVOL_ZAP_OBJ && t->offset < MAX_ZAP_BLOCK && t->offset % MIN_BLOCK == 0;
	if (!in_data && !in_props)
		return qz_why(why, whylen, EPERM,
			      "the token resumes at object %llu offset %llu, not at a block of the "
			      "volume's data or properties",
			      (unsigned long long)t->object, (unsigned long long)t->offset);
	if (t->bytes == 0 || t->bytes > largest_stream(rec))
		return qz_why(why, whylen, EPERM,
			      "the token counts %llu bytes received, which no stream of the "
			      "snapshot has",
			      (unsigned long long)t->bytes);
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
	for (size_t i = 0; i < 4; i++)
		if (flag(t, i))
			qz_nvl_add_flag(&k, keys[K_FLAGS + i].name);
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
