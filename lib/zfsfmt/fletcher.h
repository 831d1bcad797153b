/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ZFS's fletcher-4 checksum, as its send streams use it: four 64-bit running sums over the
 * stream's little-endian 32-bit words. Each call folds floor(len / 4) words and ignores the
 * trailing len % 4 bytes, as ZFS does: callers must fold in the same units as the sender.
 */
#ifndef QZFS_FLETCHER_H
#define QZFS_FLETCHER_H

#include <stddef.h>
#include <stdint.h>

typedef struct qz_cksum {
	uint64_t w[4];
} qz_cksum_t;

/* Folds buf[0, len - len % 4) into c. */
void qz_fletcher4_fold(qz_cksum_t *c, const void *buf, size_t len);
/* Word 0 of a fresh fletcher-4 over buf: the sum of its words (what resume tokens carry). */
uint64_t qz_fletcher4_word0(const uint8_t *buf, size_t len);

#endif
