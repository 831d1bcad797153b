/* SPDX-License-Identifier: BSD-2-Clause */
/* Little-endian integers in byte buffers (the formats of the backup code are little-endian). */
#ifndef QZFS_LE_H
#define QZFS_LE_H

#include <stdint.h>

/* Stores the n low bytes of v at p, least significant first. */
static inline void qz_put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Reads an n-byte little-endian integer at p. */
static inline uint64_t qz_get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#endif
