/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: PBKDF2-HMAC-SHA1 (libcrypto's, as libzfs uses) against RFC 6070's vectors, the
 * ZFS salt's byte order, and the ranges libcrypto takes. */
#include "pbkdf2.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void check(const char *p, size_t pl, const char *salt, size_t sl, uint64_t c, size_t dk,
		  const char *want)
{
	uint8_t out[64];
	char h[129];
	assert_int_equal(
	    qz_pbkdf2_sha1((const uint8_t *)p, pl, (const uint8_t *)salt, sl, c, out, dk), 0);
	hex(out, dk, h);
	assert_string_equal(h, want);
}

static void pbkdf2_rfc6070(void **s)
{
	(void)s;
	check("password", 8, "salt", 4, 1, 20, "0c60c80f961f0e71f3a9b524af6012062fe037a6");
	check("password", 8, "salt", 4, 2, 20, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
	check("password", 8, "salt", 4, 4096, 20, "4b007901b765489abead49d926f721d065a429c1");
	check("passwordPASSWORDpassword", 24, "saltSALTsaltSALTsaltSALTsaltSALTsalt", 36, 4096, 25,
	      "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038");
	check("pass\0word", 9, "sa\0lt", 5, 4096, 16, "56fa6aa75548099dcc37d7f03425e0c3");
}

static void zfs_salt_is_little_endian(void **s)
{
	(void)s;
	uint8_t a[32], b[32];
	const uint8_t le[8] = {0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
	assert_int_equal(qz_zfs_passphrase_key((const uint8_t *)"passphrase", 10,
					       0x0102030405060708ULL, 1000, a),
			 0);
	assert_int_equal(qz_pbkdf2_sha1((const uint8_t *)"passphrase", 10, le, 8, 1000, b, 32), 0);
	assert_memory_equal(a, b, 32);
}

static void iterations_out_of_range_are_refused(void **s)
{
	(void)s;
	uint8_t k[32];
	assert_int_equal(qz_zfs_passphrase_key((const uint8_t *)"p", 1, 1, 0, k), EINVAL);
	assert_int_equal(qz_zfs_passphrase_key((const uint8_t *)"p", 1, 1, 1ULL << 31, k), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pbkdf2_rfc6070),
	    cmocka_unit_test(zfs_salt_is_little_endian),
	    cmocka_unit_test(iterations_out_of_range_are_refused),
	};
	return cmocka_run_group_tests_name("pbkdf2", tests, NULL, NULL);
}
