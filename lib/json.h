/* SPDX-License-Identifier: BSD-2-Clause */
/* A small streaming JSON writer: what `qzfs --json` prints. */
#ifndef QZFS_JSON_H
#define QZFS_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define QZ_JSON_DEPTH 16

typedef struct qz_json {
	FILE *f;
	int depth;
	bool first[QZ_JSON_DEPTH]; /* nothing written yet at this level */
} qz_json_t;

void qz_json_init(qz_json_t *j, FILE *f);
/* Begins an object or array; key names it inside an object (NULL elsewhere). */
void qz_json_object(qz_json_t *j, const char *key);
void qz_json_array(qz_json_t *j, const char *key);
/* Ends the innermost object or array. */
void qz_json_end(qz_json_t *j, char close);
void qz_json_string(qz_json_t *j, const char *key, const char *value);
void qz_json_uint(qz_json_t *j, const char *key, uint64_t value);
void qz_json_int(qz_json_t *j, const char *key, int64_t value);
void qz_json_bool(qz_json_t *j, const char *key, bool value);
void qz_json_null(qz_json_t *j, const char *key);
/* A value written as it is: text must be one whole JSON value (the caller's own). */
void qz_json_raw(qz_json_t *j, const char *key, const char *text);

#endif
