/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Sealing a stream on several threads: a reader cuts the stream into chunks, sealers seal them
 * in parallel (each chunk is sealed on its own, seal.h), and the caller's thread hands them on in
 * order. A chunk's buffer is reused once it was handed on, so the memory used is a few chunks.
 */
#ifndef QZFS_SEAL_PIPELINE_H
#define QZFS_SEAL_PIPELINE_H

#include "seal.h"

#include <stddef.h>
#include <stdint.h>

/* Where each sealed chunk goes, in order, on the caller's thread: the framed chunk (len bytes)
 * holding plainlen stream bytes, the sealer already advanced past it. Returns 0, or an errno
 * code (with the reason in why) that stops sealing. */
typedef int (*qz_seal_put_fn)(void *ctx, const uint8_t *framed, size_t len, size_t plainlen);

/* Reads fd in to its end in chunks of s's chunk size, seals each (the last one final) on up to
 * `threads` threads (0: one per CPU, at most 4), and hands them to put. The chunks before
 * qz_sealer_index(s), stored before an interruption, are read and printed only: their prints
 * must chain to the sealer's, else ESTALE ("the stream differs from before", or "is shorter");
 * so a resumed stream is checked without hashing all of it. 0 or an errno code with the
 * reason in why. */
int qz_seal_chunks(int in, qz_sealer_t *s, unsigned threads, qz_seal_put_fn put, void *ctx,
		   char *why, size_t whylen);

#endif
