/* SPDX-License-Identifier: BSD-2-Clause */
/* Test support: send streams written as the kernel's sender writes them (see streamgen.h). */
#include "streamgen.h"

#include <stdlib.h>
#include <string.h>

void sg_init(sg_t *g, uint64_t toguid)
{
	memset(g, 0, sizeof(*g));
	g->toguid = toguid;
}

void sg_free(sg_t *g)
{
	free(g->buf);
	g->buf = NULL;
}

static void append(sg_t *g, const void *p, size_t n)
{
	if (g->len + n > g->cap) {
		size_t cap = g->cap ? g->cap : 65536;
		while (cap < g->len + n)
			cap *= 2;
		g->buf = realloc(g->buf, cap);
		if (g->buf == NULL)
			abort();
		g->cap = cap;
	}
	if (n > 0)
		memcpy(g->buf + g->len, p, n);
	g->len += n;
}

static int sg_out(void *ctx, const void *p, size_t n)
{
	append(ctx, p, n);
	return 0;
}

void sg_record(sg_t *g, qz_drr_t *r, const void *payload, size_t plen)
{
	if (g->nrec < SG_MAX_RECORDS)
		g->rec_off[g->nrec++] = g->len;
	qz_drr_writer_t w = {g->ck, sg_out, g};
	qz_drr_write(&w, r, payload, plen);
	g->ck = w.ck;
}

void sg_begin(sg_t *g, uint64_t fromguid, uint64_t features, uint32_t nvlen)
{
	qz_drr_t r;
	memset(&r, 0, sizeof(r));
	r.type = QZ_DRR_BEGIN;
	r.payloadlen = nvlen;
	r.u.begin.magic = QZ_DRR_MAGIC;
	r.u.begin.versioninfo = features << 2 | QZ_DRR_SUBSTREAM;
	r.u.begin.creation_time = 1700000000;
	r.u.begin.objset_type = QZ_OBJSET_ZVOL;
	r.u.begin.flags = QZ_DRR_FLAG_FREERECORDS | QZ_DRR_FLAG_SPILL_BLOCK;
	r.u.begin.toguid = g->toguid;
	r.u.begin.fromguid = fromguid;
	strcpy(r.u.begin.toname, "pool/vm/work/private@qubes-backup-1");
	uint8_t *nv = calloc(1, nvlen ? nvlen : 1);
	for (uint32_t i = 0; i < nvlen; i++)
		nv[i] = (uint8_t)(i * 7);
	sg_record(g, &r, nv, nvlen);
	free(nv);
}

void sg_write(sg_t *g, uint64_t object, uint64_t offset, const uint8_t *data, uint32_t len,
	      bool compressed)
{
	qz_drr_t r;
	memset(&r, 0, sizeof(r));
	r.type = QZ_DRR_WRITE;
	r.u.write.object = object;
	r.u.write.offset = offset;
	r.u.write.toguid = g->toguid;
	if (compressed) {
		r.u.write.compressiontype = 15; /* lz4 */
		r.u.write.logical_size = (uint64_t)len * 2;
		r.u.write.compressed_size = len;
	} else {
		r.u.write.logical_size = len;
	}
	sg_record(g, &r, data, len);
}

void sg_end(sg_t *g)
{
	if (g->nrec < SG_MAX_RECORDS)
		g->rec_off[g->nrec++] = g->len;
	qz_drr_writer_t w = {g->ck, sg_out, g};
	qz_drr_write_end(&w, g->toguid);
	g->ck = w.ck;
}

sg_params_t sg_defaults(void)
{
	sg_params_t p = {0x1234567890abcdefULL, 0, true, false, 8, 4096, 1};
	return p;
}

void sg_volume(sg_t *g, const sg_params_t *p)
{
	sg_init(g, p->toguid);
	uint64_t features = QZ_FEATURE_EMBED_DATA | QZ_FEATURE_LZ4 | QZ_FEATURE_LARGE_BLOCKS |
			    QZ_FEATURE_COMPRESSED | QZ_FEATURE_LARGE_DNODE;
	if (p->raw)
		features |= QZ_FEATURE_RAW;
	if (p->resuming)
		features |= QZ_FEATURE_RESUMING;
	sg_begin(g, p->fromguid, features, p->raw ? 1024 : 0);
	qz_drr_t r;
	if (p->raw) {
		memset(&r, 0, sizeof(r));
		r.type = QZ_DRR_OBJECT_RANGE;
		r.u.object_range.firstobj = 0;
		r.u.object_range.numslots = 32;
		r.u.object_range.toguid = p->toguid;
		sg_record(g, &r, NULL, 0);
	}
	/* in ZFS's order: object by object, each OBJECT record followed by a FREE of what lies past
	 * the object's end, then its blocks in increasing offsets; the free objects last */
	uint8_t bonus[320];
	uint8_t *data = malloc(p->blocksize);
	uint32_t x = p->seed * 2654435761u + 1;
	uint64_t end = 0; /* where the blocks end: a compressed block is twice its payload */
	for (unsigned b = 0; b < p->blocks; b++)
		end += (uint64_t)p->blocksize * (b % 3 == 1 ? 2 : 1);
	for (uint64_t obj = 1; obj <= 2; obj++) {
		memset(&r, 0, sizeof(r));
		r.type = QZ_DRR_OBJECT;
		r.u.object.object = obj;
		r.u.object.blksz = p->blocksize;
		r.u.object.bonuslen = obj == 1 ? 0 : 61;
		r.u.object.raw_bonuslen = p->raw && obj == 2 ? 320 : 0;
		r.u.object.toguid = p->toguid;
		memset(bonus, (int)obj, sizeof(bonus));
		sg_record(g, &r, bonus, p->raw && obj == 2 ? 320 : obj == 1 ? 0 : 64);
		if (obj != 1)
			continue;
		memset(&r, 0, sizeof(r));
		r.type = QZ_DRR_FREE;
		r.u.free.object = 1;
		r.u.free.offset = end;
		r.u.free.length = UINT64_MAX;
		r.u.free.toguid = p->toguid;
		sg_record(g, &r, NULL, 0);
		uint64_t off = 0;
		for (unsigned b = 0; b < p->blocks; b++) {
			for (uint32_t i = 0; i < p->blocksize; i++) {
				x = x * 1103515245u + 12345u;
				data[i] = (uint8_t)(x >> 16);
			}
			sg_write(g, 1, off, data, p->blocksize, b % 3 == 1);
			off += (uint64_t)p->blocksize * (b % 3 == 1 ? 2 : 1);
		}
	}
	free(data);
	memset(&r, 0, sizeof(r));
	r.type = QZ_DRR_FREEOBJECTS;
	r.u.freeobjects.firstobj = 3;
	r.u.freeobjects.numobjs = 29;
	r.u.freeobjects.toguid = p->toguid;
	sg_record(g, &r, NULL, 0);
	sg_end(g);
}

void sg_fix_checksums(sg_t *g, bool fix_end)
{
	qz_cksum_t ck = {{0, 0, 0, 0}};
	for (size_t i = 0; i < g->nrec; i++) {
		size_t off = g->rec_off[i];
		size_t end = i + 1 < g->nrec ? g->rec_off[i + 1] : g->len;
		qz_drr_t r;
		memcpy(&r, g->buf + off, sizeof(r));
		if (r.type == QZ_DRR_END && fix_end)
			r.u.end.checksum = ck;
		qz_fletcher4_fold(&ck, &r, QZ_DRR_CKSUM_OFFSET);
		if (i > 0) /* a forger fixes a BEGIN record in the middle as well */
			r.u.tail.checksum = ck;
		qz_fletcher4_fold(&ck, &r.u.tail.checksum, sizeof(qz_cksum_t));
		memcpy(g->buf + off, &r, sizeof(r));
		qz_fletcher4_fold(&ck, g->buf + off + sizeof(r), end - off - sizeof(r));
	}
	g->ck = ck;
}
