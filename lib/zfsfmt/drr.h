/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The records of a ZFS send stream, defined here from the stream format (Debian ships no
 * sys/zfs_ioctl.h). Every record is a 312-byte header, {type, payload length, a 304-byte
 * type-specific body}, followed by a payload whose length depends on the type. Fields are in the
 * sender's byte order; qzfs reads little-endian streams only (what x86 dom0 and its backup
 * qubes make). The static asserts pin the layout to the format.
 */
#ifndef QZFS_DRR_H
#define QZFS_DRR_H

#include "fletcher.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#define QZ_DRR_SIZE	    312
#define QZ_DRR_CKSUM_OFFSET 280
#define QZ_DRR_MAGIC	    0x2F5bacbacULL

enum qz_drr_type {
	QZ_DRR_BEGIN = 0,
	QZ_DRR_OBJECT = 1,
	QZ_DRR_FREEOBJECTS = 2,
	QZ_DRR_WRITE = 3,
	QZ_DRR_FREE = 4,
	QZ_DRR_END = 5,
	QZ_DRR_WRITE_BYREF = 6,
	QZ_DRR_SPILL = 7,
	QZ_DRR_WRITE_EMBEDDED = 8,
	QZ_DRR_OBJECT_RANGE = 9,
	QZ_DRR_REDACT = 10,
};

/* drr_versioninfo: bits 0-1 the header type, bits 2 and up the stream's feature flags. */
#define QZ_DRR_HDRTYPE(v)  ((v)&3)
#define QZ_DRR_FEATURES(v) ((v) >> 2)
#define QZ_DRR_SUBSTREAM   1

enum qz_drr_feature {
	QZ_FEATURE_DEDUP = 1u << 0,
	QZ_FEATURE_DEDUPPROPS = 1u << 1,
	QZ_FEATURE_SA_SPILL = 1u << 2,
	QZ_FEATURE_EMBED_DATA = 1u << 16,
	QZ_FEATURE_LZ4 = 1u << 17,
	QZ_FEATURE_LARGE_BLOCKS = 1u << 19,
	QZ_FEATURE_RESUMING = 1u << 20,
	QZ_FEATURE_REDACTED = 1u << 21,
	QZ_FEATURE_COMPRESSED = 1u << 22,
	QZ_FEATURE_LARGE_DNODE = 1u << 23,
	QZ_FEATURE_RAW = 1u << 24,
	QZ_FEATURE_ZSTD = 1u << 25,
	QZ_FEATURE_HOLDS = 1u << 26,
	QZ_FEATURE_SWITCH_TO_LARGE_BLOCKS = 1u << 27,
	QZ_FEATURE_LONGNAME = 1u << 28,
	QZ_FEATURE_LARGE_MICROZAP = 1u << 29,
};

/* drr_begin.drr_flags */
enum qz_drr_flag {
	QZ_DRR_FLAG_CLONE = 1u << 0,
	QZ_DRR_FLAG_CI_DATA = 1u << 1,
	QZ_DRR_FLAG_FREERECORDS = 1u << 2,
	QZ_DRR_FLAG_SPILL_BLOCK = 1u << 3,
};

#define QZ_OBJSET_ZVOL 3 /* drr_begin.drr_type of a volume */

struct qz_drr_begin {
	uint64_t magic;
	uint64_t versioninfo;
	uint64_t creation_time;
	uint32_t objset_type;
	uint32_t flags;
	uint64_t toguid;
	uint64_t fromguid;
	char toname[256];
};

struct qz_drr_end {
	qz_cksum_t checksum; /* the running checksum before this record */
	uint64_t toguid;
};

struct qz_drr_object {
	uint64_t object;
	uint32_t type, bonustype, blksz, bonuslen;
	uint8_t checksumtype, compress, dn_slots, flags;
	uint32_t raw_bonuslen;
	uint64_t toguid;
	uint8_t indblkshift, nlevels, nblkptr, pad[5];
	uint64_t maxblkid;
};

struct qz_drr_freeobjects {
	uint64_t firstobj, numobjs, toguid;
};

struct qz_drr_write {
	uint64_t object;
	uint32_t type, pad;
	uint64_t offset, logical_size, toguid;
	uint8_t checksumtype, flags, compressiontype, pad2[5];
	uint8_t key[40]; /* dedup key: a block checksum and its properties */
	uint64_t compressed_size;
	uint8_t salt[8], iv[12], mac[16];
};

struct qz_drr_free {
	uint64_t object, offset, length, toguid;
};

struct qz_drr_spill {
	uint64_t object, length, toguid;
	uint8_t flags, compressiontype, pad[6];
	uint64_t compressed_size;
	uint8_t salt[8], iv[12], mac[16];
	uint32_t type;
};

struct qz_drr_write_embedded {
	uint64_t object, offset, length, toguid;
	uint8_t compression, etype, pad[6];
	uint32_t lsize, psize;
};

struct qz_drr_object_range {
	uint64_t firstobj, numslots, toguid;
	uint8_t salt[8], iv[12], mac[16];
	uint8_t flags, pad[3];
};

typedef struct qz_drr {
	uint32_t type;
	uint32_t payloadlen;
	union {
		struct qz_drr_begin begin;
		struct qz_drr_end end;
		struct qz_drr_object object;
		struct qz_drr_freeobjects freeobjects;
		struct qz_drr_write write;
		struct qz_drr_free free;
		struct qz_drr_spill spill;
		struct qz_drr_write_embedded write_embedded;
		struct qz_drr_object_range object_range;
		struct {
			uint64_t pad[34];
			qz_cksum_t checksum; /* the running checksum of all before it */
		} tail;
	} u;
} qz_drr_t;

static_assert(sizeof(qz_drr_t) == QZ_DRR_SIZE, "a send record header is 312 bytes");
static_assert(offsetof(qz_drr_t, u.tail.checksum) == QZ_DRR_CKSUM_OFFSET, "checksum at 280");
static_assert(offsetof(qz_drr_t, u.begin.toguid) == 40, "drr_begin.drr_toguid");
static_assert(offsetof(qz_drr_t, u.begin.toname) == 56, "drr_begin.drr_toname");
static_assert(offsetof(qz_drr_t, u.end.toguid) == 40, "drr_end.drr_toguid");
static_assert(offsetof(qz_drr_t, u.object.raw_bonuslen) == 36, "drr_object.drr_raw_bonuslen");
static_assert(offsetof(qz_drr_t, u.object.toguid) == 40, "drr_object.drr_toguid");
static_assert(offsetof(qz_drr_t, u.write.toguid) == 40, "drr_write.drr_toguid");
static_assert(offsetof(qz_drr_t, u.write.compressiontype) == 50, "drr_write.drr_compressiontype");
static_assert(offsetof(qz_drr_t, u.write.compressed_size) == 96, "drr_write.drr_compressed_size");
static_assert(sizeof(struct qz_drr_write) == 136, "drr_write");
static_assert(offsetof(qz_drr_t, u.spill.compressed_size) == 40, "drr_spill.drr_compressed_size");
static_assert(offsetof(qz_drr_t, u.write_embedded.psize) == 52, "drr_write_embedded.drr_psize");
static_assert(offsetof(qz_drr_t, u.object_range.toguid) == 24, "drr_object_range.drr_toguid");

/* The payload length that follows record r, as ZFS's receiver computes it from the record's
 * fields (BEGIN: its payloadlen; OBJECT: the bonus buffer; WRITE: compressed or logical size;
 * SPILL, WRITE_EMBEDDED: their sizes; other types: none). No bounds are applied. */
uint64_t qz_drr_payload_size(const qz_drr_t *r);

/* Writes records as ZFS's sender does, keeping the running checksum. */
typedef struct qz_drr_writer {
	qz_cksum_t ck;
	int (*out)(void *ctx, const void *buf, size_t len); /* 0 or an errno code */
	void *ctx;
} qz_drr_writer_t;

/* Writes r and its payload: the running checksum goes into r at QZ_DRR_CKSUM_OFFSET (except in
 * BEGIN), and header, checksum and payload are folded in. 0 or out's error. */
int qz_drr_write(qz_drr_writer_t *w, qz_drr_t *r, const void *payload, size_t plen);
/* Writes the END record of the stream of snapshot toguid. */
int qz_drr_write_end(qz_drr_writer_t *w, uint64_t toguid);

#endif
