/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Test support: writes ZFS send streams record by record as the kernel's sender does (the
 * running fletcher-4, each record's checksum at offset 280), so tests can make valid streams
 * and precise forgeries, with or without fixing the checksums up.
 */
#ifndef QZFS_STREAMGEN_H
#define QZFS_STREAMGEN_H

#include "drr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SG_MAX_RECORDS 4096

typedef struct sg {
	uint8_t *buf;
	size_t len, cap;
	qz_cksum_t ck;
	size_t rec_off[SG_MAX_RECORDS]; /* where each record starts */
	size_t nrec;
	uint64_t toguid;
} sg_t;

/* What a generated volume stream looks like. */
typedef struct sg_params {
	uint64_t toguid, fromguid;
	bool raw;	    /* RAW feature, OBJECT_RANGE records, raw bonus buffers */
	bool resuming;	    /* RESUMING feature */
	unsigned blocks;    /* WRITE records */
	uint32_t blocksize; /* their size */
	uint32_t seed;	    /* of their contents */
} sg_params_t;

void sg_init(sg_t *g, uint64_t toguid);
void sg_free(sg_t *g);
/* Appends record r with payload: the checksum at 280 is set as the sender sets it (not for
 * BEGIN), and the running checksum advanced. */
void sg_record(sg_t *g, qz_drr_t *r, const void *payload, size_t plen);
void sg_begin(sg_t *g, uint64_t fromguid, uint64_t features, uint32_t nvlen);
void sg_write(sg_t *g, uint64_t object, uint64_t offset, const uint8_t *data, uint32_t len,
	      bool compressed);
void sg_end(sg_t *g);
/* A whole volume stream, in ZFS's order: BEGIN, (OBJECT_RANGE,) OBJECT 1, FREE (past its end),
 * WRITE x blocks (of object 1; every third from the second compressed), OBJECT 2, FREEOBJECTS,
 * END. The records keep their places: raw, 2 is OBJECT 1, 3 FREE, 4.. the WRITEs. */
void sg_volume(sg_t *g, const sg_params_t *p);
/* The default parameters: a raw stream of 8 blocks of 4 KiB. */
sg_params_t sg_defaults(void);
/* Recomputes every record's checksum after a test changed bytes in place, and END's checksum
 * of the whole stream if fix_end. */
void sg_fix_checksums(sg_t *g, bool fix_end);

#endif
