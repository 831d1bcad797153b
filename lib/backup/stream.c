/* SPDX-License-Identifier: BSD-2-Clause */
/* The send-stream verifier (see stream.h). */
#include "stream.h"

#include "drr.h"
#include "nvlist.h"
#include "why.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BONUS	   (64u << 10) /* an OBJECT record's bonus buffer: at most a dnode (16 KiB) */
#define MAX_EMBEDDED_PSIZE 112	       /* what fits in a block pointer */

/* The features of the streams qzfs's own sends make (RESUMING only when expected). */
static const uint64_t FEATURES_ACCEPTED =
    QZ_FEATURE_SA_SPILL | QZ_FEATURE_EMBED_DATA | QZ_FEATURE_LZ4 | QZ_FEATURE_LARGE_BLOCKS |
    QZ_FEATURE_RESUMING | QZ_FEATURE_COMPRESSED | QZ_FEATURE_LARGE_DNODE | QZ_FEATURE_RAW |
    QZ_FEATURE_ZSTD | QZ_FEATURE_SWITCH_TO_LARGE_BLOCKS | QZ_FEATURE_LARGE_MICROZAP;
static const uint32_t FLAGS_ACCEPTED =
    QZ_DRR_FLAG_CLONE | QZ_DRR_FLAG_CI_DATA | QZ_DRR_FLAG_FREERECORDS | QZ_DRR_FLAG_SPILL_BLOCK;

enum phase { BEFORE_BEGIN, IN_STREAM, AFTER_END };

struct qz_verifier {
	qz_stream_expect_t e;
	qz_stream_emit_fn emit;
	void *ctx;
	/* buf[0, held): the last complete record, not yet passed on; buf[held, held + have): the
	 * record being read, which needs `need` bytes (its header, then header and payload). */
	uint8_t *buf;
	size_t cap, held, have, need;
	bool header_checked;
	uint64_t features;
	enum phase phase;
	qz_cksum_t ck;	/* the running checksum of everything verified */
	qz_cksum_t ock; /* with e.rename: that of everything passed on */
	uint64_t bytes, records;
	/* where the stream is, in ZFS's order of (object, offset): the last OBJECT record's object,
	 * the object and end offset of the last block written, the ends of the last FREEOBJECTS
	 * and OBJECT_RANGE records (0: none yet, objects are numbered from 1) */
	uint64_t object, data_object, data_end, freeobjects_end, range_end;
	uint8_t mac[QZ_OBJSET_MAC_LEN]; /* BEGIN's portable objset MAC, if has_mac */
	bool has_mac;
	/* with e.digest or e.digest_out: the run of records being hashed; with e.digest, its
	 * records held back in run[0, runlen) until its hash matches */
	qz_digest_run_t digest_run;
	uint8_t *run;
	size_t runlen, runcap;
	int err;
	char why[256];
};

int qz_verifier_new(const qz_stream_expect_t *e, qz_stream_emit_fn emit, void *ctx,
		    qz_verifier_t **out)
{
	qz_drr_t probe;
	if (e->rename != NULL && (strlen(e->rename) >= sizeof(probe.u.begin.toname) ||
				  strchr(e->rename, '@') == NULL || e->rename[0] == '@'))
		return EINVAL;
	qz_verifier_t *v = calloc(1, sizeof(*v));
	if (v == NULL)
		return ENOMEM;
	v->e = *e;
	v->emit = emit;
	v->ctx = ctx;
	v->need = QZ_DRR_SIZE;
	qz_digest_run_begin(&v->digest_run);
	*out = v;
	return 0;
}

void qz_verifier_free(qz_verifier_t *v)
{
	if (v == NULL)
		return;
	free(v->buf);
	free(v->run);
	free(v);
}

const char *qz_verifier_why(const qz_verifier_t *v)
{
	return v->why;
}

void qz_verifier_counts(const qz_verifier_t *v, uint64_t *bytes, uint64_t *records)
{
	*bytes = v->bytes;
	*records = v->records;
}

#define REFUSE(v, ...) ((v)->err = qz_why((v)->why, sizeof((v)->why), EBADMSG, __VA_ARGS__))

static bool same_cksum(const qz_cksum_t *a, const qz_cksum_t *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static int check_toguid(qz_verifier_t *v, const char *what, uint64_t toguid)
{
	if (toguid == v->e.toguid)
		return 0;
	return REFUSE(v, "a %s record names snapshot guid %llu, not the expected %llu", what,
		      (unsigned long long)toguid, (unsigned long long)v->e.toguid);
}

static int check_begin(qz_verifier_t *v, const qz_drr_t *r, size_t *payload)
{
	const struct qz_drr_begin *b = &r->u.begin;
	if (b->magic == __builtin_bswap64(QZ_DRR_MAGIC))
		return REFUSE(v, "a big-endian stream: not accepted");
	if (b->magic != QZ_DRR_MAGIC)
		return REFUSE(v, "not a ZFS send stream (bad magic)");
	if (QZ_DRR_HDRTYPE(b->versioninfo) != QZ_DRR_SUBSTREAM)
		return REFUSE(v, "not a single-snapshot stream (header type %llu)",
			      (unsigned long long)QZ_DRR_HDRTYPE(b->versioninfo));
	uint64_t f = QZ_DRR_FEATURES(b->versioninfo);
	if (f & ~FEATURES_ACCEPTED)
		return REFUSE(v, "stream features 0x%llx are not accepted",
			      (unsigned long long)(f & ~FEATURES_ACCEPTED));
	bool raw = (f & QZ_FEATURE_RAW) != 0, resuming = (f & QZ_FEATURE_RESUMING) != 0;
	if (v->e.raw && !raw)
		return REFUSE(v, "the data is encrypted but the stream is not raw: a plaintext "
				 "stream is refused");
	if (!v->e.raw && raw)
		return REFUSE(v,
			      "a raw stream of encrypted data, where unencrypted data is expected");
	if (resuming != v->e.resumed)
		return REFUSE(v, resuming ? "a resumed stream where a whole one is expected"
					  : "a whole stream where a resumed one is expected");
	if (b->objset_type != QZ_OBJSET_ZVOL)
		return REFUSE(v, "not a volume's stream (dataset type %u)", b->objset_type);
	if (b->flags & ~FLAGS_ACCEPTED)
		return REFUSE(v, "stream flags 0x%x are not accepted", b->flags & ~FLAGS_ACCEPTED);
	if (b->toguid != v->e.toguid)
		return REFUSE(v, "a stream of snapshot guid %llu, not the expected %llu",
			      (unsigned long long)b->toguid, (unsigned long long)v->e.toguid);
	if (b->fromguid != v->e.fromguid)
		return REFUSE(v, "a stream from base guid %llu, not the expected %llu",
			      (unsigned long long)b->fromguid, (unsigned long long)v->e.fromguid);
	if ((b->flags & QZ_DRR_FLAG_CLONE) && b->fromguid == 0)
		return REFUSE(v, "a clone stream without a base");
	const char *end = memchr(b->toname, 0, sizeof(b->toname));
	if (end == NULL || end == b->toname ||
	    memchr(b->toname, '@', (size_t)(end - b->toname)) == NULL)
		return REFUSE(v, "the BEGIN record's snapshot name is malformed");
	if (r->payloadlen > QZ_STREAM_MAX_BEGIN_PAYLOAD)
		return REFUSE(v, "the BEGIN record's payload of %u bytes is over the bound",
			      r->payloadlen);
	v->features = f;
	*payload = r->payloadlen;
	return 0;
}

/* The object a record is about, as far as order goes (0 for records without one). */
static uint64_t record_object(const qz_drr_t *r)
{
	switch (r->type) {
	case QZ_DRR_OBJECT:
		return r->u.object.object;
	case QZ_DRR_WRITE:
		return r->u.write.object;
	case QZ_DRR_FREE:
		return r->u.free.object;
	case QZ_DRR_SPILL:
		return r->u.spill.object;
	case QZ_DRR_WRITE_EMBEDDED:
		return r->u.write_embedded.object;
	default:
		return 0;
	}
}

/* A run of n objects from first (freed, or an OBJECT_RANGE): after every object seen and after
 * the run before of its kind, whose end *end keeps. */
static int check_run(qz_verifier_t *v, const char *what, uint64_t first, uint64_t n,
		     uint64_t behind, uint64_t *end)
{
	if ((behind != 0 && first <= behind) || first < *end || first + n < first)
		return REFUSE(v,
			      "record %llu: %s from object %llu after object %llu: records out "
			      "of order",
			      (unsigned long long)v->records, what, (unsigned long long)first,
			      (unsigned long long)(behind > *end ? behind : *end));
	*end = first + n;
	return 0;
}

/*
 * Refuses a record out of the order in which ZFS's sender emits them: object by object, each
 * OBJECT record before the object's blocks, the blocks in increasing offsets without overlap
 * (ZFS's receiver itself insists on WRITE order: resuming depends on it), freed objects and
 * OBJECT_RANGE records in increasing object numbers. A FREE record comes right after its OBJECT
 * record (what lies past the object's end) or between its blocks, so only its object is
 * checked. Records were checked one by one before (types, sizes, guids).
 */
static int check_order(qz_verifier_t *v, const qz_drr_t *r)
{
	uint64_t obj = record_object(r);
	uint64_t behind = v->object > v->data_object ? v->object : v->data_object;
	switch (r->type) {
	case QZ_DRR_OBJECT:
		if (obj <= behind || obj < v->freeobjects_end)
			return REFUSE(v,
				      "record %llu: OBJECT %llu comes after object %llu: records "
				      "out of order",
				      (unsigned long long)v->records, (unsigned long long)obj,
				      (unsigned long long)(behind > v->freeobjects_end
							       ? behind
							       : v->freeobjects_end - 1));
		v->object = obj;
		return 0;
	case QZ_DRR_WRITE:
	case QZ_DRR_WRITE_EMBEDDED: {
		uint64_t off =
		    r->type == QZ_DRR_WRITE ? r->u.write.offset : r->u.write_embedded.offset;
		uint64_t len =
		    r->type == QZ_DRR_WRITE ? r->u.write.logical_size : r->u.write_embedded.length;
		if (obj < behind || (obj == v->data_object && off < v->data_end))
			return REFUSE(v,
				      "record %llu: a block of object %llu at offset %llu comes "
				      "after object %llu up to offset %llu: records out of order",
				      (unsigned long long)v->records, (unsigned long long)obj,
				      (unsigned long long)off, (unsigned long long)behind,
				      (unsigned long long)v->data_end);
		if (off + len < off)
			return REFUSE(v, "record %llu: a block past the largest offset",
				      (unsigned long long)v->records);
		v->data_object = obj;
		v->data_end = off + len;
		return 0;
	}
	case QZ_DRR_FREE:
	case QZ_DRR_SPILL:
		if (obj < behind)
			return REFUSE(v,
				      "record %llu: a record of object %llu after object %llu: "
				      "records out of order",
				      (unsigned long long)v->records, (unsigned long long)obj,
				      (unsigned long long)behind);
		return 0;
	case QZ_DRR_FREEOBJECTS:
		return check_run(v, "objects freed", r->u.freeobjects.firstobj,
				 r->u.freeobjects.numobjs, behind, &v->freeobjects_end);
	case QZ_DRR_OBJECT_RANGE:
		return check_run(v, "an OBJECT_RANGE", r->u.object_range.firstobj,
				 r->u.object_range.numslots, behind, &v->range_end);
	default:
		return 0;
	}
}

/* Checks a record other than BEGIN (its checksum is checked by the caller) and sizes its
 * payload. */
static int check_record(qz_verifier_t *v, const qz_drr_t *r, uint64_t *payload)
{
	bool raw = (v->features & QZ_FEATURE_RAW) != 0;
	*payload = qz_drr_payload_size(r);
	switch (r->type) {
	case QZ_DRR_OBJECT: {
		const struct qz_drr_object *o = &r->u.object;
		if (o->raw_bonuslen != 0 && !raw)
			return REFUSE(v, "an OBJECT record with a raw bonus in a stream not raw");
		if (*payload > MAX_BONUS)
			return REFUSE(v, "an OBJECT record's bonus of %llu bytes is over the bound",
				      (unsigned long long)*payload);
		return check_toguid(v, "OBJECT", o->toguid);
	}
	case QZ_DRR_FREEOBJECTS:
		return check_toguid(v, "FREEOBJECTS", r->u.freeobjects.toguid);
	case QZ_DRR_WRITE: {
		const struct qz_drr_write *w = &r->u.write;
		if (w->logical_size == 0 || w->logical_size > QZ_STREAM_MAX_PAYLOAD)
			return REFUSE(v, "a WRITE record of %llu bytes",
				      (unsigned long long)w->logical_size);
		if (w->compressiontype != 0) {
			if (!(v->features & (QZ_FEATURE_COMPRESSED | QZ_FEATURE_RAW)))
				return REFUSE(v, "a compressed WRITE record in a stream that "
						 "announced none");
			if (w->compressed_size == 0 || w->compressed_size > w->logical_size)
				return REFUSE(v, "a WRITE record compressed to %llu of %llu bytes",
					      (unsigned long long)w->compressed_size,
					      (unsigned long long)w->logical_size);
		}
		return check_toguid(v, "WRITE", w->toguid);
	}
	case QZ_DRR_FREE:
		return check_toguid(v, "FREE", r->u.free.toguid);
	case QZ_DRR_SPILL: {
		const struct qz_drr_spill *s = &r->u.spill;
		if (*payload == 0 || *payload > QZ_STREAM_MAX_PAYLOAD)
			return REFUSE(v, "a SPILL record of %llu bytes",
				      (unsigned long long)*payload);
		return check_toguid(v, "SPILL", s->toguid);
	}
	case QZ_DRR_WRITE_EMBEDDED: {
		const struct qz_drr_write_embedded *w = &r->u.write_embedded;
		if (!(v->features & QZ_FEATURE_EMBED_DATA))
			return REFUSE(v,
				      "an embedded WRITE record in a stream that announced none");
		if (w->psize == 0 || w->psize > MAX_EMBEDDED_PSIZE || w->lsize < w->psize ||
		    w->lsize > QZ_STREAM_MAX_PAYLOAD)
			return REFUSE(v, "an embedded WRITE record of %u/%u bytes", w->psize,
				      w->lsize);
		return check_toguid(v, "WRITE_EMBEDDED", w->toguid);
	}
	case QZ_DRR_OBJECT_RANGE:
		if (!raw)
			return REFUSE(v, "an OBJECT_RANGE record in a stream not raw");
		return check_toguid(v, "OBJECT_RANGE", r->u.object_range.toguid);
	case QZ_DRR_END:
		if (!same_cksum(&r->u.end.checksum, &v->ck))
			return REFUSE(v, "the END record's checksum of the stream does not match");
		return check_toguid(v, "END", r->u.end.toguid);
	case QZ_DRR_BEGIN:
		return REFUSE(v,
			      "a second BEGIN record (only single-snapshot streams are accepted)");
	default:
		return REFUSE(v, "a record of type %u is not accepted", r->type);
	}
}

/* Checks the header now complete at buf[held, held + QZ_DRR_SIZE); on success folds it into the
 * running checksum and returns its payload length. */
static int check_header(qz_verifier_t *v, uint64_t *payload)
{
	qz_drr_t r;
	memcpy(&r, v->buf + v->held, sizeof(r));
	if (v->phase == BEFORE_BEGIN && r.type != QZ_DRR_BEGIN)
		return REFUSE(v, "the stream does not start with a BEGIN record");

	qz_cksum_t ck = v->ck;
	qz_fletcher4_fold(&ck, &r, QZ_DRR_CKSUM_OFFSET);
	int err;
	if (r.type == QZ_DRR_BEGIN && v->phase == BEFORE_BEGIN) {
		size_t p = 0;
		err = check_begin(v, &r, &p);
		*payload = p;
	} else {
		if (!same_cksum(&r.u.tail.checksum, &ck))
			return REFUSE(v,
				      "record %llu (type %u) fails its checksum: the stream is "
				      "damaged",
				      (unsigned long long)v->records, r.type);
		err = check_record(v, &r, payload);
		if (err == 0)
			err = check_order(v, &r);
		if (err == 0 && r.payloadlen != 0 && r.payloadlen != *payload)
			err = REFUSE(v, "record %llu says its payload is %u bytes, not %llu",
				     (unsigned long long)v->records, r.payloadlen,
				     (unsigned long long)*payload);
	}
	if (err != 0)
		return err;
	qz_fletcher4_fold(&ck, &r.u.tail.checksum, sizeof(r.u.tail.checksum));
	v->ck = ck;
	v->phase = r.type == QZ_DRR_END ? AFTER_END : IN_STREAM;
	return 0;
}

/* Reads BEGIN's payload (a raw stream's crypt_keydata) for the objset MAC dom0 expects. */
static int check_begin_payload(qz_verifier_t *v, const uint8_t *payload, size_t len)
{
	static const char *const path[] = {"crypt_keydata", "portable_mac"};
	qz_nvpair_t p;
	if ((v->features & QZ_FEATURE_RAW) && len > 0 &&
	    qz_nvl_find(payload, len, path, 2, &p) == 0 && p.type == QZ_NV_UINT8_ARRAY &&
	    p.nelem == QZ_OBJSET_MAC_LEN && p.vlen == QZ_OBJSET_MAC_LEN) {
		memcpy(v->mac, p.val, QZ_OBJSET_MAC_LEN);
		v->has_mac = true;
	}
	if (v->e.objset_mac == NULL)
		return 0;
	if (!v->has_mac)
		return REFUSE(v, "the stream carries no objset MAC, where dom0 recorded one");
	if (memcmp(v->mac, v->e.objset_mac, QZ_OBJSET_MAC_LEN) != 0)
		return REFUSE(v, "a stream of another state of the volume than dom0 sent (its "
				 "objset MAC is not the one dom0 recorded)");
	return 0;
}

bool qz_verifier_objset_mac(const qz_verifier_t *v, uint8_t mac[QZ_OBJSET_MAC_LEN])
{
	if (v->has_mac)
		memcpy(mac, v->mac, QZ_OBJSET_MAC_LEN);
	return v->has_mac;
}

uint64_t qz_verifier_features(const qz_verifier_t *v)
{
	return v->features;
}

static int reserve(qz_verifier_t *v, size_t n)
{
	if (n <= v->cap)
		return 0;
	size_t cap = v->cap ? v->cap : 4096;
	while (cap < n)
		cap *= 2;
	uint8_t *b = realloc(v->buf, cap);
	if (b == NULL)
		return v->err = ENOMEM;
	v->buf = b;
	v->cap = cap;
	return 0;
}

/* Renames the snapshot in the held record if it is BEGIN (and clears its clone flag, as
 * v->e asks), and makes its checksums (END's of
 * the whole stream too) those of what is passed on, as the sender makes them. */
static void rewrite_held(qz_verifier_t *v)
{
	qz_drr_t r;
	memcpy(&r, v->buf, sizeof(r));
	if (r.type == QZ_DRR_BEGIN && v->e.rename != NULL) {
		memset(r.u.begin.toname, 0, sizeof(r.u.begin.toname));
		memcpy(r.u.begin.toname, v->e.rename, strlen(v->e.rename));
	}
	if (r.type == QZ_DRR_BEGIN && v->e.unclone)
		r.u.begin.flags &= ~(uint32_t)QZ_DRR_FLAG_CLONE;
	if (r.type == QZ_DRR_END)
		r.u.end.checksum = v->ock;
	qz_fletcher4_fold(&v->ock, &r, QZ_DRR_CKSUM_OFFSET);
	if (r.type != QZ_DRR_BEGIN)
		r.u.tail.checksum = v->ock;
	qz_fletcher4_fold(&v->ock, &r.u.tail.checksum, sizeof(r.u.tail.checksum));
	qz_fletcher4_fold(&v->ock, v->buf + QZ_DRR_SIZE, v->held - QZ_DRR_SIZE);
	memcpy(v->buf, &r, sizeof(r));
}

/* The held record as the digest takes it: with e.digest_out, passed on and hashed; with
 * e.digest, held back with its run, and the run passed on once its hash matches. */
static int digest_held(qz_verifier_t *v)
{
	bool ends = qz_digest_run_add(&v->digest_run, v->buf, v->held);
	uint8_t hash[QZ_DIGEST_HASH];
	size_t index = v->digest_run.index;
	if (v->e.digest == NULL) {
		int err = v->emit(v->ctx, v->buf, v->held);
		if (err == 0 && ends) {
			qz_digest_run_end(&v->digest_run, hash);
			err = qz_digest_append(v->e.digest_out, hash);
		}
		return err;
	}
	if (v->runlen + v->held > v->runcap) {
		size_t cap = (v->runlen + v->held) * 2;
		uint8_t *run = realloc(v->run, cap);
		if (run == NULL)
			return ENOMEM;
		v->run = run;
		v->runcap = cap;
	}
	memcpy(v->run + v->runlen, v->buf, v->held);
	v->runlen += v->held;
	if (!ends)
		return 0;
	qz_digest_run_end(&v->digest_run, hash);
	if (index >= v->e.digest->n ||
	    sodium_memcmp(hash, v->e.digest->runs[index], QZ_DIGEST_HASH) != 0)
		return REFUSE(v,
			      "record %llu: the stream is not what dom0 sent (run %zu of its "
			      "digest differs)",
			      (unsigned long long)v->records, index + 1);
	int err = v->emit(v->ctx, v->run, v->runlen);
	v->runlen = 0;
	return err;
}

/* Passes on the held record. */
static int pass_held(qz_verifier_t *v)
{
	if (v->held == 0)
		return 0;
	if (v->e.rename != NULL || v->e.unclone)
		rewrite_held(v);
	int err = v->e.digest != NULL || v->e.digest_out != NULL ? digest_held(v)
								 : v->emit(v->ctx, v->buf, v->held);
	if (err != 0)
		return v->err = err;
	v->bytes += v->held;
	memmove(v->buf, v->buf + v->held, v->have);
	v->held = 0;
	return 0;
}

int qz_verifier_feed(qz_verifier_t *v, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0 && v->err == 0) {
		if (v->phase == AFTER_END) /* END is complete as soon as it is read */
			return REFUSE(v, "bytes after the END record");
		if (reserve(v, v->held + v->need) != 0)
			break;
		size_t take = v->need - v->have;
		if (take > len)
			take = len;
		memcpy(v->buf + v->held + v->have, p, take);
		v->have += take;
		p += take;
		len -= take;
		if (v->have < v->need)
			break;
		if (!v->header_checked) {
			uint64_t payload = 0;
			if (check_header(v, &payload) != 0 || pass_held(v) != 0)
				break;
			v->header_checked = true;
			v->need = QZ_DRR_SIZE + payload;
			if (payload > 0)
				continue;
		}
		/* the record is complete: its payload joins the running checksum */
		if (v->records == 0 && check_begin_payload(v, v->buf + v->held + QZ_DRR_SIZE,
							   v->need - QZ_DRR_SIZE) != 0)
			break;
		qz_fletcher4_fold(&v->ck, v->buf + v->held + QZ_DRR_SIZE, v->need - QZ_DRR_SIZE);
		v->records++;
		v->held += v->need;
		v->have = 0;
		v->need = QZ_DRR_SIZE;
		v->header_checked = false;
	}
	return v->err;
}

int qz_verifier_end(qz_verifier_t *v)
{
	if (v->err != 0)
		return v->err;
	if (v->phase == BEFORE_BEGIN && v->have == 0)
		return REFUSE(v, "the stream is empty");
	if (v->phase != AFTER_END)
		return REFUSE(v, "the stream is cut short (%llu records, no END record)",
			      (unsigned long long)v->records);
	int err = pass_held(v);
	if (err == 0 && v->e.digest != NULL && v->digest_run.index != v->e.digest->n)
		return REFUSE(v, "the stream ends before the one dom0 sent did");
	return err;
}
