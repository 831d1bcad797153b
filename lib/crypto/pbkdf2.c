/* SPDX-License-Identifier: BSD-2-Clause */
#include "pbkdf2.h"

#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>

int qz_pbkdf2_sha1(const uint8_t *pass, size_t passlen, const uint8_t *salt, size_t saltlen,
		   uint64_t iterations, uint8_t *out, size_t outlen)
{
	if (passlen > INT_MAX || saltlen > INT_MAX || outlen > INT_MAX || iterations == 0 ||
	    iterations > INT_MAX)
		return EINVAL;
	return PKCS5_PBKDF2_HMAC_SHA1((const char *)pass, (int)passlen, salt, (int)saltlen,
				      (int)iterations, (int)outlen, out) == 1
		   ? 0
		   : EIO;
}

int qz_zfs_passphrase_key(const uint8_t *pass, size_t passlen, uint64_t salt, uint64_t iterations,
			  uint8_t out[32])
{
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(salt >> (8 * i));
	return qz_pbkdf2_sha1(pass, passlen, le, sizeof(le), iterations, out, 32);
}
