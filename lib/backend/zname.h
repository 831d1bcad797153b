/* SPDX-License-Identifier: BSD-2-Clause */
/* ZFS dataset, snapshot and bookmark names: the rules ZFS enforces, in one place. */
#ifndef QZFS_ZNAME_H
#define QZFS_ZNAME_H

#include <stdbool.h>
#include <stddef.h>

#define QZ_NAME_MAX 256 /* ZFS_MAX_DATASET_NAME_LEN, terminating NUL included */

enum qz_name_kind {
	QZ_NAME_DATASET,  /* pool/fs/vol */
	QZ_NAME_SNAPSHOT, /* pool/fs@snap */
	QZ_NAME_BOOKMARK, /* pool/fs#mark */
};

/* Returns 0 if name is a valid name of the given kind, else EINVAL (ENAMETOOLONG if too long). */
int qz_name_check(const char *name, enum qz_name_kind kind);
/* Kind of a syntactically valid name, judged by its '@' or '#'. */
enum qz_name_kind qz_name_kind_of(const char *name);
/* Stores the dataset part of name (before '@' or '#') in buf; ENAMETOOLONG if it does not fit. */
int qz_name_dataset(const char *name, char *buf, size_t len);
/* Stores the parent of a dataset name in buf; ENOENT for a pool root. */
int qz_name_parent(const char *name, char *buf, size_t len);
/* True if name equals ancestor or lies below it (snapshots and bookmarks of it included). */
bool qz_name_within(const char *name, const char *ancestor);
/* Length of the pool part of name. */
size_t qz_name_pool_len(const char *name);

#endif
