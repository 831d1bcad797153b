/* SPDX-License-Identifier: BSD-2-Clause */
/* A volume's family: its live dataset, older generations, transient datasets and their
 * snapshots, read from ZFS in one listing. Internal to the engine. */
#ifndef QZFS_FAMILY_H
#define QZFS_FAMILY_H

#include "backend.h"
#include "zname.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct fam_ds {
	const char *name;
	const char *suffix; /* "" for the live dataset, else what follows ':' ("g2", "new") */
	const char *origin; /* "-" when not a clone */
	uint64_t volsize, referenced;
	bool dirty_prop;
} fam_ds_t;

typedef struct fam_snap {
	const char *name;
	const char *shortname; /* after '@' */
	size_t ds;	       /* index in ds[] */
	uint64_t createtxg, creation;
	bool deferred; /* destroyed once nothing depends on it */
	unsigned rev;  /* N of "r<N>", 0 for other snapshots */
} fam_snap_t;

typedef struct family {
	char vol[QZ_NAME_MAX];
	fam_ds_t ds[64];
	size_t nds;
	fam_snap_t *snaps;
	size_t nsnaps;
	const char *dir_role; /* QZ_ROLE_PROP of R/<vm>, NULL if it does not exist */
	qz_list_t raw;	      /* owned by fam_load's families only */
} family_t;

/* Reads the family of live dataset vol; an absent volume gives an empty family. */
int fam_load(qz_backend_t *be, const char *vol, family_t *f);
/* Lists volumes and snapshots below dir (depth levels, -1 = all) with what families need. */
int fam_list(qz_backend_t *be, const char *dir, int depth, qz_list_t *l);
/* Builds the family of vol from such a listing, which must outlive f. */
int fam_from_list(const qz_list_t *l, const char *vol, family_t *f);
void fam_free(family_t *f);
/* Notes in f, built by fam_from_list or fam_load, that snapshot snap (a name that outlives f) of
 * its live dataset was just taken, newer than all it has: f is then as a listing would find it
 * (but for figures ZFS alone knows, such as the snapshot's creation time). Nothing if f has no
 * live dataset. At most once per family. */
void fam_note_taken(family_t *f, const char *snap);
/* Makes f the family of vol as it is just after it was made (created empty, or cloned from
 * origin, "-" for none: a name that outlives f): its live dataset alone, of the figures given. */
void fam_just_made(family_t *f, const char *vol, const char *origin, uint64_t volsize,
		   uint64_t referenced);
/* Notes in f that snapshot snap went (destroyed, or its destruction deferred: either way it is
 * no revision any more). */
void fam_note_gone(family_t *f, const char *snap);
/* Index of the dataset with the given suffix ("" = live), or -1. */
long fam_ds(const family_t *f, const char *suffix);
/* The committed state: the live dataset's newest r-snapshot, else its origin when that is a
 * revision of this family; NULL if there is none. */
const fam_snap_t *fam_current(const family_t *f);
/* The snapshot named name, or NULL. */
const fam_snap_t *fam_snap(const family_t *f, const char *name);
/* True if the live dataset carries a running marker newer than its committed state. */
bool fam_running(const family_t *f);
/* The next revision number and the next generation number, unused in the family. */
unsigned fam_next_rev(const family_t *f);
unsigned fam_next_gen(const family_t *f);
/* Reads numeric property prop of dataset name into *v; EINVAL if it is not a number. */
int qz_prop_u64(qz_backend_t *be, const char *name, const char *prop, uint64_t *v);
/* Stores "<vol>:<suffix>" (or "<name>@<snap>" with sep '@') in buf of QZ_NAME_MAX bytes. */
int fam_name(char *buf, const char *a, char sep, const char *b);

#endif
