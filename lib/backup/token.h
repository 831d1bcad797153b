/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Receive resume tokens (`zfs get receive_resume_token`), read strictly. A token comes from the
 * receiving side, which a backup must not trust: it is parsed with hard bounds, and only a
 * token that matches dom0's own record of the transfer is used, and then only for where to
 * resume (object, offset); what to send, and how, always comes from dom0's record.
 *
 * Text form: "1-<fletcher-4 word 0 of the compressed bytes, hex>-<packed length, hex>-<hex of the
 * zlib-compressed nvlist, packed NV_ENCODE_NATIVE little-endian>".
 */
#ifndef QZFS_TOKEN_H
#define QZFS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QZ_TOKEN_MAX_PACKED 4096 /* a real token's nvlist is a few hundred bytes */
#define QZ_TOKEN_MAX_TEXT   (64 + 4 * QZ_TOKEN_MAX_PACKED)

typedef struct qz_token {
	uint64_t object, offset, bytes, toguid, fromguid;
	bool has_fromguid; /* an incremental stream's token */
	bool embedok, largeblockok, compressok, rawok;
	char toname[256];
} qz_token_t;

/* dom0's own record of a transfer: what it sends, and how. */
typedef struct qz_transfer {
	const char *snap;    /* the snapshot sent */
	uint64_t toguid;     /* its guid, recorded when the transfer began */
	const char *from;    /* the incremental base, or NULL for a full stream */
	uint64_t fromguid;   /* its guid, or 0 */
	bool raw;	     /* the data is encrypted: only raw streams may leave */
	unsigned send_flags; /* what dom0 sends with (QZ_SEND_*), RAW included when raw */
	/* the snapshot's name as the stream carries it, which a genuine token names: snap, or
	 * what the stream is renamed to on its way (NULL: snap) */
	const char *toname;
	/* learned from ZFS before a token is judged (qz_transfer_learn): the stream's features
	 * as a send of it writes them in BEGIN (RESUMING aside), the snapshot's volsize and its
	 * volume's volblocksize */
	bool learned;
	uint64_t features, volsize, blocksize;
	/* if not NULL: where a stream sent whole through the rewriter (qz_transfer_start with a
	 * rename) leaves the digest (digest.h) of what it passed on */
	const char *digest_path;
} qz_transfer_t;

/* Where, and how, to resume: names and flags from dom0's record, position from the token. */
typedef struct qz_resume {
	const char *snap, *from;
	unsigned send_flags;
	uint64_t object, offset;
} qz_resume_t;

/* Parses a token; 0, or EINVAL with the reason in why. Only what ZFS itself writes is accepted:
 * hex fields without leading zeros, the nvlist zlib-compressed (level 6's header) with nothing
 * after it, its keys of the right types in ZFS's order, none twice, none unknown, toname a
 * snapshot's name; a bad checksum or a length over the bounds is refused. */
int qz_token_parse(const char *text, qz_token_t *out, char *why, size_t whylen);
/* Writes token t as ZFS would (its flags as set, fromguid only for an incremental) into out
 * (outlen bytes: QZ_TOKEN_MAX_TEXT is enough); ENAMETOOLONG if it does not fit. */
int qz_token_format(const qz_token_t *t, char *out, size_t outlen);
/* Decides how to resume transfer rec (learned) from token t; EPERM with the reason if a genuine
 * receive of this very transfer could not have written it: another snapshot, base or name,
 * flags other than the stream's features, a position outside the volume's data or not on a
 * block's start, a byte count beyond the largest stream the snapshot makes. */
int qz_token_plan(const qz_token_t *t, const qz_transfer_t *rec, qz_resume_t *plan, char *why,
		  size_t whylen);

#endif
