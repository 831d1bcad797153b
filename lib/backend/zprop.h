/* SPDX-License-Identifier: BSD-2-Clause */
/* The native ZFS properties the project sets, with their kinds and index values (sys/fs/zfs.h). */
#ifndef QZFS_ZPROP_H
#define QZFS_ZPROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum qz_ptype { QZ_PT_STRING, QZ_PT_NUMBER, QZ_PT_INDEX };

struct qz_pindex {
	const char *name;
	uint64_t value;
};

struct qz_pdef {
	const char *name;
	enum qz_ptype type;
	const struct qz_pindex *index; /* QZ_PT_INDEX: NULL-terminated */
	unsigned applies;	       /* enum qz_dstype bits */
	bool create_only;	       /* may not change after creation */
	bool inherits;		       /* children see the parent's value when not set */
	const char *dflt;	       /* value when nothing is set (as `zfs get -p` prints it) */
};

/* The definition of a settable native property, or NULL. */
const struct qz_pdef *qz_prop_lookup(const char *name);
/* True for a user property (its name contains ':'). */
bool qz_prop_is_user(const char *name);
/* Parses value for def into *num (numbers and index values); EINVAL if it is not valid. */
int qz_prop_parse(const struct qz_pdef *def, const char *value, uint64_t *num);
/* The name of index value num of def, or NULL. */
const char *qz_prop_index_name(const struct qz_pdef *def, uint64_t num);
/* Parses a size with an optional K/M/G/T/P suffix (powers of 1024); EINVAL if malformed. */
int qz_parse_size(const char *s, uint64_t *out);

#endif
