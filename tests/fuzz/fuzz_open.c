/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: the sealed-container opener, as a restore uses it: header, framed chunks,
 * the plaintext into the stream verifier; what follows the last whole frame, as a trailer. The key
 * is fixed (fuzz_key.h), so seeds sealed with it reach the chunk and stream code. */
#include "fuzz_key.h"
#include "seal.h"
#include "stream.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int sink(void *ctx, const void *buf, size_t len)
{
	(void)buf;
	*(size_t *)ctx += len;
	return 0;
}

static int to_verifier(void *ctx, const void *buf, size_t len)
{
	return qz_verifier_feed(ctx, buf, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static qz_seal_key_t *key;
	if (key == NULL) {
		key = qz_seal_key_new();
		memcpy(key->k, QZ_FUZZ_KEY, sizeof(key->k));
	}
	size_t hdrlen = 0;
	if (size < QZ_SEAL_HEADER_FIXED || qz_seal_header_length(data, &hdrlen, NULL, 0) != 0 ||
	    hdrlen > size)
		return 0;
	qz_opener_t *o = NULL;
	if (qz_opener_new(data, hdrlen, key, &o, NULL, 0) != 0)
		return 0;
	const qz_seal_info_t *info = qz_opener_info(o);
	qz_stream_expect_t e = {
	    .toguid = info->toguid, .fromguid = info->fromguid, .raw = info->raw, .resumed = false};
	size_t out = 0;
	qz_verifier_t *v = NULL;
	qz_verifier_new(&e, sink, &out, &v);
	uint8_t *plain = malloc(info->chunk_size);
	size_t off = hdrlen;
	int err = 0;
	while (err == 0 && off + 4 <= size) {
		size_t len = (size_t)data[off] | (size_t)data[off + 1] << 8 |
			     (size_t)data[off + 2] << 16 | (size_t)data[off + 3] << 24;
		off += 4;
		if (len > size - off)
			break;
		size_t plen = 0;
		bool final = false;
		err = qz_opener_chunk(o, data + off, len, plain, &plen, &final, NULL, 0);
		if (err == 0)
			err = to_verifier(v, plain, plen);
		off += len;
	}
	if (err == 0 && qz_opener_end(o, NULL, 0) == 0)
		qz_verifier_end(v);
	uint64_t chunks = 0, bytes = 0;
	if (off <= size)
		(void)qz_seal_trailer_open(data, hdrlen, key, data + off, size - off, &chunks,
					   &bytes, NULL, 0);
	free(plain);
	qz_verifier_free(v);
	qz_opener_free(o);
	return 0;
}
