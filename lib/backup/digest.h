/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Stream digests: what dom0 keeps of a raw stream it sent to a ZFS-receiving backup qube, to
 * authenticate the stream the qube sends back before any of it reaches dom0's `zfs receive`.
 *
 * Measured on OpenZFS 2.1.11 (a raw full and a raw incremental stream of an encrypted volume,
 * received with `zfs receive -s`, sent back raw, and that received and sent once more): the
 * stream sent back is dom0's record for record and byte for byte, payloads, salts, IVs and MACs
 * included, except BEGIN's toname (the qube's dataset) and the running fletcher-4 checksums that
 * cover it. So the digest covers every record as dom0 passed it on, BEGIN's payload included,
 * with only toname and the checksums left out.
 *
 * The records are taken in runs of about QZ_DIGEST_RUN bytes (a run ends with the record that
 * reaches it, and at END); each run's hash is BLAKE2b-256 of the previous run's hash and the run,
 * so runs can neither be altered nor reordered, dropped or repeated. dom0 keeps 32 bytes per run:
 * 32 KiB per GiB of stream. A reader holds each run back until its hash matches (stream.h).
 */
#ifndef QZFS_DIGEST_H
#define QZFS_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QZ_DIGEST_RUN  (1u << 20)
#define QZ_DIGEST_HASH 32
#define QZ_DIGEST_MAX  (1u << 26) /* runs: 64 TiB of stream */

typedef struct qz_digest {
	uint8_t (*runs)[QZ_DIGEST_HASH];
	size_t n, cap;
} qz_digest_t;

/* A run's hash being made: the chain so far, and what the run holds. */
typedef struct qz_digest_run {
	uint8_t state[384]; /* crypto_generichash_state, opaque here */
	uint8_t prev[QZ_DIGEST_HASH];
	uint64_t bytes; /* in the run so far */
	size_t index;	/* of the run */
} qz_digest_run_t;

/* Starts the chain: the first run, index 0. */
void qz_digest_run_begin(qz_digest_run_t *r);
/* Adds a record (header and payload, len bytes) as passed on; its toname and checksums are left
 * out. True when the run is complete (it reached QZ_DIGEST_RUN bytes, or the record is END):
 * then qz_digest_run_end gives its hash. */
bool qz_digest_run_add(qz_digest_run_t *r, const uint8_t *record, size_t len);
/* The complete run's hash into hash; the next run begins. */
void qz_digest_run_end(qz_digest_run_t *r, uint8_t hash[QZ_DIGEST_HASH]);

/* Appends a run's hash; ENOMEM, or E2BIG past QZ_DIGEST_MAX runs. */
int qz_digest_append(qz_digest_t *d, const uint8_t hash[QZ_DIGEST_HASH]);
void qz_digest_free(qz_digest_t *d);
/* Writes d to path (made whole or not at all, synced); 0 or an errno code. */
int qz_digest_write(const char *path, const qz_digest_t *d);
/* Reads path into d: ENOENT if there is none, EBADMSG if it is malformed. */
int qz_digest_read(const char *path, qz_digest_t *d);

#endif
