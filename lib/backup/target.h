/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A backup target, as dom0 sees it: a store program (store_proto.h) it started, which may be
 * hostile. Every answer is bounded by what dom0 asked for; a malformed one ends the connection.
 * Nothing from a target is trusted: sealed objects are opened (seal.h) before use.
 */
#ifndef QZFS_TARGET_H
#define QZFS_TARGET_H

#include "store_proto.h"

#include <stddef.h>
#include <stdint.h>

typedef struct qz_target qz_target_t;

typedef struct qz_target_entry {
	char name[129];
	uint64_t size;
} qz_target_entry_t;

/* Starts the store program argv (argv[0] looked up in PATH) and connects to it. */
int qz_target_open(char *const argv[], qz_target_t **out, char *why, size_t whylen);
/* A target over a store already connected: requests go to fd to, answers come from fd from
 * (the fuzzers' hostile stores); qz_target_close closes both and waits for no program. */
int qz_target_over(int to, int from, qz_target_t **out);
/* Stores len bytes as object name (replacing any). */
int qz_target_put(qz_target_t *t, const char *name, const void *buf, size_t len, char *why,
		  size_t whylen);
/* Reads object name into buf (room for max bytes); ENOENT if there is none, EBADMSG if the
 * target answers more than max. */
int qz_target_get(qz_target_t *t, const char *name, void *buf, size_t max, size_t *len, char *why,
		  size_t whylen);
/* Lists the objects: *out (malloc'd, *n entries, sorted by name); EBADMSG if the listing is
 * malformed or names an object twice. */
int qz_target_list(qz_target_t *t, qz_target_entry_t **out, size_t *n, char *why, size_t whylen);
/* Parses a listing (n bytes, as a store answers LIST) into *out (malloc'd, sorted by name,
 * *count entries): EBADMSG (why) if an entry is malformed, an object is named twice or there
 * are more than QZ_STORE_LIST_ENTRIES_MAX. */
int qz_target_parse_listing(const uint8_t *buf, size_t n, qz_target_entry_t **out, size_t *count,
			    char *why, size_t whylen);
/* Deletes object name (no error if there is none). */
int qz_target_delete(qz_target_t *t, const char *name, char *why, size_t whylen);
/* ZFS-receiving targets (store_proto.h): */
/* Sends the stream read from fd, to be received as snapshot name ("<dataset>.<snapshot>");
 * *bytes counts what was sent, and sent (may be NULL) hears of it as it goes. A failed read of
 * fd ends the stream early (the target keeps a partial state) and gives EIO. */
int qz_target_receive(qz_target_t *t, const char *name, int fd, uint64_t *bytes,
		      const qz_store_sent_t *sent, char *why, size_t whylen);
/* The resume token of the partial receive into dataset name, in buf (room for max bytes, NUL
 * ended): ENOENT if there is none. */
int qz_target_token(qz_target_t *t, const char *name, char *buf, size_t max, char *why,
		    size_t whylen);
/* Aborts the partial receive into dataset name (none is no error). */
int qz_target_abort(qz_target_t *t, const char *name, char *why, size_t whylen);
/* Has the target send snapshot name ("<dataset>.<snapshot>[.<base>]") back, passing the stream
 * to emit(ctx, ...); the first error of emit is returned once the stream ended. */
int qz_target_send_back(qz_target_t *t, const char *name,
			int (*emit)(void *ctx, const void *buf, size_t len), void *ctx, char *why,
			size_t whylen);
/* How long an answer may keep dom0 waiting (default 10 minutes); after that the target is
 * given up on (EBADMSG). */
void qz_target_set_timeout(qz_target_t *t, int ms);
/* Ends the connection and waits for the store program (terminated if it misbehaved). */
void qz_target_close(qz_target_t *t);

#endif
