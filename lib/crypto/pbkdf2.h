/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * PBKDF2-HMAC-SHA1: how OpenZFS turns a passphrase into the wrapping key of an encryption root
 * (keyformat=passphrase, with the dataset's pbkdf2salt and pbkdf2iters). libzfs_core takes the
 * derived key, not the passphrase, so qzfs derives it exactly as libzfs does. SHA-1 is here only
 * because ZFS's on-disk format fixed it; libsodium does not offer it.
 */
#ifndef QZFS_PBKDF2_H
#define QZFS_PBKDF2_H

#include <stddef.h>
#include <stdint.h>

#define QZ_SHA1_LEN 20

/* Stores SHA-1(data) in out. */
void qz_sha1(const uint8_t *data, size_t len, uint8_t out[QZ_SHA1_LEN]);
/* Derives outlen bytes from the password with PBKDF2-HMAC-SHA1 (RFC 8018). */
void qz_pbkdf2_sha1(const uint8_t *pass, size_t passlen, const uint8_t *salt, size_t saltlen,
		    uint64_t iterations, uint8_t *out, size_t outlen);
/* The wrapping key of a ZFS passphrase: the salt is the 64-bit pbkdf2salt, little-endian. */
void qz_zfs_passphrase_key(const uint8_t *pass, size_t passlen, uint64_t salt, uint64_t iterations,
			   uint8_t out[32]);

#endif
