/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The backup store protocol: how dom0 talks to the program that keeps sealed backups on a
 * target (qzfs-backup-store, in a backup qube over qrexec, or locally for a directory). The store
 * holds named objects and nothing else: no key, no ZFS, no parsing of what it stores. dom0 sends
 * requests on the store's stdin and reads answers on its stdout; all integers little-endian.
 *
 *   request:  op (1 byte: 'P' put, 'G' get, 'L' list, 'D' delete), name length (1 byte, 0 for
 *             list), name; for put, a 64-bit length and the object's bytes.
 *   answer:   status (1 byte: 0 ok, 1 no such object, 2 failed), a 64-bit length, and that many
 *             bytes: the object (get), the listing (list), or a message (failed).
 *   listing:  per object, name length (1 byte), name, 64-bit size.
 *
 * Names are 1 to 128 bytes of [A-Za-z0-9._-], not starting with '.': both sides check.
 *
 * A ZFS-receiving store (qzfs-backup-zfs-store, in a backup qube with its own ZFS) keeps raw send
 * streams as snapshots instead of objects; it answers L (per snapshot "<dataset>.<snapshot>" and
 * its guid in place of a size) and D (a snapshot, and its dataset with the last one), and:
 *
 *   'R' name "<dataset>.<snapshot>": receive the stream that follows the request as pieces;
 *       answered once the stream ended and ZFS received it (or kept its partial state).
 *   'T' name "<dataset>": the resume token of the partial receive into it (no such object: none).
 *   'A' name "<dataset>": abort that partial receive, its state destroyed.
 *   'S' name "<dataset>.<snapshot>[.<base>]": send the snapshot back raw (incremental from
 *       base); answered OK with length 0, then the stream as pieces, then a final answer.
 *
 *   piece:    a 32-bit length (1 to QZ_STORE_PIECE_MAX) and that many bytes; length 0 ends.
 */
#ifndef QZFS_STORE_PROTO_H
#define QZFS_STORE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QZ_STORE_NAME_MAX   128
#define QZ_STORE_OBJECT_MAX (64ull << 20) /* more than a sealed chunk ever is */
#define QZ_STORE_LIST_MAX   (64ull << 20)
/* The most objects dom0 takes from one listing: about 4 TiB of sealed backups in the default
 * 4 MiB chunks. dom0 holds at most this many entries (~150 MB) for one reply. */
#define QZ_STORE_LIST_ENTRIES_MAX (1u << 20)
#define QZ_STORE_PIECE_MAX	  (1u << 20)

enum qz_store_op {
	QZ_STORE_PUT = 'P',
	QZ_STORE_GET = 'G',
	QZ_STORE_LIST = 'L',
	QZ_STORE_DEL = 'D',
	QZ_STORE_RECV = 'R',
	QZ_STORE_TOKEN = 'T',
	QZ_STORE_ABORT = 'A',
	QZ_STORE_SEND = 'S'
};
enum qz_store_status { QZ_STORE_OK = 0, QZ_STORE_NOENT = 1, QZ_STORE_FAILED = 2 };

/* Whether name may name a stored object. */
bool qz_store_name_ok(const char *name, size_t len);

/* What a copy of pieces tells as it goes: the stream's bytes copied so far. */
typedef struct qz_store_sent {
	void (*fn)(void *ctx, uint64_t bytes);
	void *ctx;
} qz_store_sent_t;

/* Copies the stream read from in to out as pieces, the ending one included; 0, or the errno
 * of the read (EIO if in could not be read) or write that failed, with *which = 'r' or 'w'.
 * *bytes (may be NULL) counts the stream's bytes copied; sent (may be NULL) hears of them after
 * each piece. */
int qz_store_pieces_out(int in, int out, int timeout_ms, uint64_t *bytes, char *which,
			const qz_store_sent_t *sent);
/* Reads pieces from in up to the ending one, passing their bytes to emit(ctx, ...) as they
 * arrive (those of a piece cut short too: a ZFS receive keeps them); a failed emit does not
 * stop the reading (its first error is returned once the pieces ended). EBADMSG if in ended
 * early or a piece is too long (nothing more can be read from in then). */
int qz_store_pieces_in(int in, int timeout_ms, int (*emit)(void *ctx, const void *buf, size_t len),
		       void *ctx);

#endif
