/* SPDX-License-Identifier: BSD-2-Clause */
/* Send records: sizes and writing (see drr.h). */
#include "drr.h"

#include <string.h>

static uint64_t round8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

uint64_t qz_drr_payload_size(const qz_drr_t *r)
{
	switch (r->type) {
	case QZ_DRR_BEGIN:
		return r->payloadlen;
	case QZ_DRR_OBJECT:
		return r->u.object.raw_bonuslen != 0 ? r->u.object.raw_bonuslen
						     : round8(r->u.object.bonuslen);
	case QZ_DRR_WRITE:
		return r->u.write.compressiontype != 0 ? r->u.write.compressed_size
						       : r->u.write.logical_size;
	case QZ_DRR_SPILL:
		return r->u.spill.compressed_size != 0 ? r->u.spill.compressed_size
						       : r->u.spill.length;
	case QZ_DRR_WRITE_EMBEDDED:
		return round8(r->u.write_embedded.psize);
	default:
		return 0;
	}
}

int qz_drr_write(qz_drr_writer_t *w, qz_drr_t *r, const void *payload, size_t plen)
{
	qz_fletcher4_fold(&w->ck, r, QZ_DRR_CKSUM_OFFSET);
	if (r->type != QZ_DRR_BEGIN)
		r->u.tail.checksum = w->ck;
	qz_fletcher4_fold(&w->ck, &r->u.tail.checksum, sizeof(qz_cksum_t));
	if (plen > 0)
		qz_fletcher4_fold(&w->ck, payload, plen);
	int err = w->out(w->ctx, r, sizeof(*r));
	if (err == 0 && plen > 0)
		err = w->out(w->ctx, payload, plen);
	return err;
}

int qz_drr_write_end(qz_drr_writer_t *w, uint64_t toguid)
{
	qz_drr_t r;
	memset(&r, 0, sizeof(r));
	r.type = QZ_DRR_END;
	r.u.end.checksum = w->ck;
	r.u.end.toguid = toguid;
	return qz_drr_write(w, &r, NULL, 0);
}
