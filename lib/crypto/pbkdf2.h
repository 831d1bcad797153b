/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * PBKDF2-HMAC-SHA1: how OpenZFS turns a passphrase into the wrapping key of an encryption root
 * (keyformat=passphrase, with the dataset's pbkdf2salt and pbkdf2iters). libzfs_core takes the
 * derived key, not the passphrase, so qzfs derives it as libzfs does: with libcrypto's PBKDF2
 * (SHA-1 because ZFS's on-disk format fixed it; libsodium does not offer it).
 */
#ifndef QZFS_PBKDF2_H
#define QZFS_PBKDF2_H

#include <stddef.h>
#include <stdint.h>

/* Derives outlen bytes from the password with PBKDF2-HMAC-SHA1 (RFC 8018). EINVAL if a length
 * or the iteration count is out of libcrypto's range (1 to INT_MAX), EIO if libcrypto fails. */
int qz_pbkdf2_sha1(const uint8_t *pass, size_t passlen, const uint8_t *salt, size_t saltlen,
		   uint64_t iterations, uint8_t *out, size_t outlen);
/* The wrapping key of a ZFS passphrase: the salt is the 64-bit pbkdf2salt, little-endian. */
int qz_zfs_passphrase_key(const uint8_t *pass, size_t passlen, uint64_t salt, uint64_t iterations,
			  uint8_t out[32]);

#endif
