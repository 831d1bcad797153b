/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: a sealed container read from a file descriptor (qz_open_fd), as a restore
 * from a store reads it: its header, then framed chunks to the end of input. With the fixed key
 * (fuzz_key.h), or with a passphrase when the header asks for Argon2id within small limits (the
 * limits a header may ask for are bounded by the parser; larger ones are not derived here, only
 * for speed). Oracles: no more plaintext comes out than went in, and a container is whole only
 * if its header's chunk size bounds every chunk that came out. */
#include "fuzz_key.h"
#include "le.h"
#include "seal.h"
#include "seal_io.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct seen {
	uint64_t bytes, largest;
};

static int sink(void *ctx, const void *buf, size_t len)
{
	(void)buf;
	struct seen *s = ctx;
	s->bytes += len;
	if (len > s->largest)
		s->largest = len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static qz_seal_key_t *key;
	if (key == NULL) {
		key = qz_seal_key_new();
		memcpy(key->k, QZ_FUZZ_KEY, sizeof(key->k));
	}
	qz_open_secret_t secret = {.key = key};
	if (size >= 80 && qz_get_le(data + 56, 4) == QZ_KDF_ARGON2ID) {
		if (qz_get_le(data + 64, 8) > 2 || qz_get_le(data + 72, 8) > (8u << 20))
			return 0;
		secret = (qz_open_secret_t){.pass = "fuzz", .passlen = 4};
	}
	int fd = memfd_create("container", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		__builtin_trap();
	lseek(fd, 0, SEEK_SET);
	struct seen s = {0};
	qz_seal_info_t info;
	char why[256];
	int err = qz_open_fd(fd, &secret, sink, &s, &info, why, sizeof(why));
	close(fd);
	if (s.bytes > size || (err == 0 && s.largest > info.chunk_size))
		__builtin_trap();
	return 0;
}
