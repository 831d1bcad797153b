/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The model backend's records, shared by model.c (the semantics) and model_store.c (keeping a
 * model on disk between processes). Nothing outside lib/backend/model*.c includes this.
 */
#ifndef QZFS_MODEL_H
#define QZFS_MODEL_H

#include "backend.h"
#include "zname.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define MODEL_POOL_SIZE (1ULL << 40)
#define STREAM_MAGIC	0x514d5a5354524dULL /* "QMZSTRM": the model's own stream format */
#define BLOCK		4096

struct mprop {
	char *name;
	char *value;
	struct mprop *next;
};

struct mhold {
	char *tag;
	struct mhold *next;
};

struct mopen { /* a descriptor handed out by zvol_open, to tell whether a volume is in use */
	int fd;
	dev_t dev;
	ino_t ino;
	struct mopen *next;
};

struct mds {
	char name[QZ_NAME_MAX];
	enum qz_dstype type;
	uint64_t guid, createtxg, creation;
	struct mprop *props; /* set locally */
	uint64_t volsize;
	int data;	     /* contents of a volume or a volume snapshot, else -1 */
	struct mds *origin;  /* a clone's origin snapshot */
	struct mds *encroot; /* NULL when unencrypted */
	bool key_loaded;     /* on an encryption root */
	uint8_t key[QZ_WKEY_LEN];
	struct mhold *holds;
	bool defer_destroy;
	bool partial; /* a resumable receive stopped part way: what its token says */
	struct {
		uint64_t toguid, fromguid, offset, bytes;
		uint64_t features; /* of the stream, as its BEGIN record announced them */
		char toname[256];
	} part;
	struct mds *next;
};

typedef struct model {
	qz_backend_t be;
	struct mds *all;
	uint64_t txg;
	uint64_t seed;
	struct mopen *opens;
	char dir[512]; /* a stored model's directory, or "" for one that lives in memory only */
	int lockfd;    /* a stored model: held (flock) from open to close */
} model_t;

/* Records a new dataset (appended to the list); NULL when out of memory. */
struct mds *mdl_new_ds(model_t *m, const char *name, enum qz_dstype type);
struct mds *mdl_find(model_t *m, const char *name);
int mdl_put_prop(struct mds *d, const char *name, const char *value);
/* Makes a sparse data file of size bytes: a memfd, or a file in a stored model's directory. */
int mdl_new_data(model_t *m, uint64_t size, int *fdp);

/* A stored model: takes the directory's lock and loads it (an empty directory gives an empty
 * model); mdl_store_save writes it back atomically and drops data files nothing refers to. */
int mdl_store_load(model_t *m, const char *dir);
int mdl_store_save(model_t *m);
/* True if a process other than this one has the file st open (a stored model's volume). */
bool mdl_store_open_elsewhere(const struct stat *st);

#endif
