/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared fixture of the conformance suite: one backend, a fresh base dataset per case. */
#ifndef QZFS_CONFORMANCE_HARNESS_H
#define QZFS_CONFORMANCE_HARNESS_H

#include "backend.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

extern qz_backend_t *be;

/* "<base>/<fmt...>": a name inside this case's base dataset (rotating buffers). */
const char *N(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Creates a volume of size bytes (and user props k=v pairs, NULL-terminated). */
void mkvol(const char *name, uint64_t size);
void mkfs(const char *name);
void snap(const char *name);
/* Fills [off, off+len) of a volume with byte b. */
void fill(const char *vol, uint64_t off, uint64_t len, int b);
/* FNV-1a hash of a whole volume's contents. */
uint64_t vol_hash(const char *vol);
/* One byte of a volume. */
int vol_byte(const char *vol, uint64_t off);
/* A property as a string (static buffer) or a number. */
const char *prop(const char *name, const char *p);
uint64_t prop_u64(const char *name, const char *p);
/* Sends snap (from may be NULL) into a temporary file and returns its descriptor, at offset 0. */
int send_to_file(const char *snap, const char *from, unsigned flags);
extern const uint8_t key_a[QZ_WKEY_LEN], key_b[QZ_WKEY_LEN];
/* Creates an encryption root with key. */
void mkenc(const char *name, const uint8_t *key);

/* A whole disk a case may make a zpool on: a made-up path on the model, $QZFS_TEST_SPARE_DISK on
 * real ZFS (NULL when there is none: the case skips). The case names its zpool `zpool`; it is
 * destroyed at the case's teardown. */
const char *spare_disk(const char *zpool);

int case_setup(void **state);
int case_teardown(void **state);
int suite_setup(void **state);
int suite_teardown(void **state);

#define CASE(f) cmocka_unit_test_setup_teardown(f, case_setup, case_teardown)

#endif
