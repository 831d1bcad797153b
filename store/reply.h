/* SPDX-License-Identifier: BSD-2-Clause */
/* What both store programs share: reading requests on stdin and answering on stdout
 * (store_proto.h). */
#ifndef QZFS_STORE_REPLY_H
#define QZFS_STORE_REPLY_H

#include "store_proto.h"

#include <stdbool.h>
#include <stdint.h>

/* A request's op and name (NUL ended), and whether the name is a valid one. */
typedef struct store_request {
	char op;
	char name[QZ_STORE_NAME_MAX + 1];
	bool named;
} store_request_t;

/* Reads the next request's op and name: 1, 0 at the end of input, -1 if it is cut short. */
int store_read_request(store_request_t *r);
/* Answers status with len bytes of data; exits if stdout is gone. */
void store_reply(int status, const void *data, uint64_t len);
/* Answers a failure: "what: strerror(err)", or detail when it is not empty. */
void store_fail(const char *what, int err, const char *detail);

/* A listing being made: entries of name and a 64-bit value. */
typedef struct store_listing {
	uint8_t *buf;
	size_t len, cap;
	bool failed; /* out of memory */
} store_listing_t;

void store_listing_add(store_listing_t *l, const char *name, uint64_t value);
/* Answers the listing (or the failure to make it) and frees it. */
void store_listing_reply(store_listing_t *l);

#endif
