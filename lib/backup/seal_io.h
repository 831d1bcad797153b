/* SPDX-License-Identifier: BSD-2-Clause */
/* Sealed containers on file descriptors: a whole stream sealed from one fd to another, and a
 * container read from an fd, opened chunk by chunk, its plaintext passed on. */
#ifndef QZFS_SEAL_IO_H
#define QZFS_SEAL_IO_H

#include "fdio.h"
#include "seal.h"
#include "stream.h"

#include <sys/types.h>

/* How to open a container: a key, or a passphrase (the key derived with the header's salt). */
typedef struct qz_open_secret {
	const qz_seal_key_t *key;
	const char *pass;
	size_t passlen;
} qz_open_secret_t;

/* Seals all of fd in (up to end of file) into a container on fd out, with header info and
 * master key, on a thread per CPU. *bytes: the stream bytes sealed. 0 or an errno code with the
 * reason in why. */
int qz_seal_fd(int in, int out, const qz_seal_info_t *info, const qz_seal_key_t *master,
	       uint64_t *bytes, char *why, size_t whylen);
/* Reads the container on fd in to its end, opening every chunk before its plaintext goes to
 * emit(ctx, ...); *info receives the header. 0 only if the container was whole; EBADMSG if it
 * was refused (the reason in why); or an I/O or emitter error. */
int qz_open_fd(int in, const qz_open_secret_t *secret, qz_stream_emit_fn emit, void *ctx,
	       qz_seal_info_t *info, char *why, size_t whylen);
#endif
