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
 */
#ifndef QZFS_STORE_PROTO_H
#define QZFS_STORE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QZ_STORE_NAME_MAX   128
#define QZ_STORE_OBJECT_MAX (64ull << 20) /* more than a sealed chunk ever is */
#define QZ_STORE_LIST_MAX   (64ull << 20)

enum qz_store_op {
	QZ_STORE_PUT = 'P',
	QZ_STORE_GET = 'G',
	QZ_STORE_LIST = 'L',
	QZ_STORE_DEL = 'D'
};
enum qz_store_status { QZ_STORE_OK = 0, QZ_STORE_NOENT = 1, QZ_STORE_FAILED = 2 };

/* Whether name may name a stored object. */
bool qz_store_name_ok(const char *name, size_t len);

#endif
