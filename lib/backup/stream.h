/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A verifier of ZFS send streams, used as a filter: bytes go in as they come, and come out only
 * once verified. A stream is one substream, BEGIN ... END, of the snapshot dom0 expects (its
 * guid, its incremental base, raw when the data is encrypted), with every record's checksum
 * correct, every payload within bounds, only the record types and features qzfs's own sends
 * make, and nothing after END.
 *
 * A record is passed on once the next record's header is verified, since that header's checksum
 * covers the record's payload; END is passed on at the end of input. So the consumer (zfs
 * receive) never sees a byte of a record whose checksum did not match. fletcher-4 is no MAC:
 * authenticity comes from the sealed container (seal.h); this filter refuses streams that are
 * damaged, of the wrong snapshot, not raw, or malformed, before they reach the kernel.
 */
#ifndef QZFS_STREAM_H
#define QZFS_STREAM_H

#include "digest.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QZ_STREAM_MAX_BEGIN_PAYLOAD (1u << 20)	/* BEGIN's nvlist: about 1 KiB in real streams */
#define QZ_STREAM_MAX_PAYLOAD	    (16u << 20) /* ZFS's largest block */
#define QZ_OBJSET_MAC_LEN	    32		/* a raw stream's portable objset MAC */

/* What dom0 expects of a stream, from its own record. */
typedef struct qz_stream_expect {
	uint64_t toguid;   /* the snapshot: BEGIN, END and every record that names it */
	uint64_t fromguid; /* the incremental base, 0 for a full stream */
	bool raw;	   /* the data is encrypted: the stream must be raw */
	bool resumed;	   /* a resumed send (RESUMING feature) is expected */
	/* if not NULL, what passes on names this snapshot instead of the one the sender wrote in
	 * BEGIN (its dataset's full name), every checksum made again to match */
	const char *rename;
	/* clear BEGIN's clone flag (every checksum made again): ZFS marks an incremental from a
	 * clone's origin (a volume reverted or restored over is such a clone) as a clone stream,
	 * which it receives into a new dataset only; as it holds the same changes, the receiving
	 * side takes it as any incremental then */
	bool unclone;
	/* if not NULL (QZ_OBJSET_MAC_LEN bytes): the portable objset MAC a raw stream's BEGIN must
	 * carry (crypt_keydata/portable_mac), that of the very state dom0 sent. ZFS stores it with
	 * the received objset and, once the key is loaded, authenticates the objset, and through
	 * it every block, against it: another state (an older one relabelled, say) is refused
	 * here, altered blocks by ZFS on first use */
	const uint8_t *objset_mac;
	/* if not NULL: the digest (digest.h) of the records as they are passed on is appended to
	 * it, one hash per run, the last at END */
	qz_digest_t *digest_out;
	/* if not NULL: the digest dom0 made of this stream when it sent it. Every run of records
	 * is held back until its hash matches, and the stream must end where dom0's did: nothing
	 * that differs from what dom0 sent is passed on */
	const qz_digest_t *digest;
} qz_stream_expect_t;

/* Where verified bytes go; returns 0 or an errno code (which stops the verifier). */
typedef int (*qz_stream_emit_fn)(void *ctx, const void *buf, size_t len);

typedef struct qz_verifier qz_verifier_t;

/* A new verifier for a stream expected as e, passing verified bytes to emit(ctx, ...). 0,
 * ENOMEM, or EINVAL if e->rename is no "<dataset>@<snapshot>" that fits a BEGIN record. */
int qz_verifier_new(const qz_stream_expect_t *e, qz_stream_emit_fn emit, void *ctx,
		    qz_verifier_t **out);
/* Feeds the next len bytes of the stream. 0; EBADMSG when the stream is refused (the reason in
 * qz_verifier_why; every later call fails the same way); or the emitter's error. */
int qz_verifier_feed(qz_verifier_t *v, const void *buf, size_t len);
/* The input ended: 0 if the stream was complete (END seen, nothing after), after passing on
 * what was held back; EBADMSG otherwise. */
int qz_verifier_end(qz_verifier_t *v);
/* Why the stream was refused ("" while it is not). */
const char *qz_verifier_why(const qz_verifier_t *v);
/* Whether the stream's BEGIN record (read whole) carried a portable objset MAC; into mac. */
bool qz_verifier_objset_mac(const qz_verifier_t *v, uint8_t mac[QZ_OBJSET_MAC_LEN]);
/* The features the stream's BEGIN record announces (0 before it is read). */
uint64_t qz_verifier_features(const qz_verifier_t *v);
/* Bytes and records verified so far. */
void qz_verifier_counts(const qz_verifier_t *v, uint64_t *bytes, uint64_t *records);
void qz_verifier_free(qz_verifier_t *v);

#endif
