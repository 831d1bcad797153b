/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one interface through which the engine reaches ZFS.
 *
 * Two implementations sit behind it: the real one (libzfs_core for every change, send and receive;
 * `zfs`/`zpool` only for listing and properties) and an in-memory model of the same semantics used
 * by the fast tests. Every operation returns 0 or an errno-style code exactly as ZFS does; none
 * prints. qz_be_detail() may hold a human-readable detail of the last failure (or "").
 */
#ifndef QZFS_BACKEND_H
#define QZFS_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qz_backend qz_backend_t;

/* Dataset kinds; or-able where a set of kinds is asked for (listing). */
enum qz_dstype {
	QZ_FILESYSTEM = 1,
	QZ_VOLUME = 2,
	QZ_SNAPSHOT = 4,
	QZ_BOOKMARK = 8,
};

/* One property to set: native or user ("module:name"), value as `zfs set` would take it. */
typedef struct qz_prop {
	const char *name;
	const char *value;
} qz_prop_t;

/* Send flags, with libzfs_core's values. */
enum qz_send_flags {
	QZ_SEND_EMBED = 1 << 0,
	QZ_SEND_LARGE_BLOCK = 1 << 1,
	QZ_SEND_COMPRESS = 1 << 2,
	QZ_SEND_RAW = 1 << 3,
};

/* A listing: nrows rows of ncols cells; column 0 is the name, then the asked properties. */
typedef struct qz_list {
	size_t nrows;
	size_t ncols;
	char **cells;
} qz_list_t;

#define QZ_WKEY_LEN 32 /* a raw wrapping key (keyformat=raw) */

struct qz_backend_ops {
	const char *name;
	void (*close)(qz_backend_t *be);

	/* Creates a filesystem or volume; wkey (QZ_WKEY_LEN bytes) for a new encryption root. */
	int (*create)(qz_backend_t *be, const char *name, enum qz_dstype type,
		      const qz_prop_t *props, size_t nprops, const uint8_t *wkey, size_t wkeylen);
	/* Takes all snapshots "fs@snap" in one transaction: all are made or none. */
	int (*snapshot)(qz_backend_t *be, const char *const *snaps, size_t n,
			const qz_prop_t *props, size_t nprops);
	int (*clone)(qz_backend_t *be, const char *origin_snap, const char *target,
		     const qz_prop_t *props, size_t nprops);
	/* On EEXIST, the conflicting snapshot's short name is stored in conflict. */
	int (*promote)(qz_backend_t *be, const char *clone, char *conflict, size_t conflictlen);
	/* Renames a filesystem or volume with its descendants and snapshots. */
	int (*rename)(qz_backend_t *be, const char *from, const char *to);
	/* Destroys one filesystem or volume (no snapshots, no children). */
	int (*destroy)(qz_backend_t *be, const char *name);
	/* Destroys snapshots atomically; missing ones are ignored; defer marks busy ones instead.
	 */
	int (*destroy_snaps)(qz_backend_t *be, const char *const *snaps, size_t n, bool defer);
	/* Destroys snapshots (defer as destroy_snaps), then filesystems and volumes, in one
	 * transaction group where ZFS can (real: one channel program per zpool), again in rounds
	 * while some go and others waited for them. errs[i] gets names[i]'s outcome: 0 destroyed,
	 * ENOENT not there, else why it stays (EBUSY: open or has snapshots; EEXIST: has
	 * children). Returns 0 once every name has its outcome, else an errno. */
	int (*destroy_all)(qz_backend_t *be, const char *const *names, size_t n, bool defer,
			   int *errs);
	/* Rolls fs back to snap, which must be its latest snapshot. */
	int (*rollback)(qz_backend_t *be, const char *fs, const char *snap);
	int (*bookmark)(qz_backend_t *be, const char *snap, const char *bookmark);
	int (*destroy_bookmark)(qz_backend_t *be, const char *bookmark);
	/* Places a persistent user hold `tag` on a snapshot; release removes it. */
	int (*hold)(qz_backend_t *be, const char *snap, const char *tag);
	int (*release)(qz_backend_t *be, const char *snap, const char *tag);
	/* Reads one property as `zfs get -Hp` prints it ("-" for an unset user property). */
	int (*get_prop)(qz_backend_t *be, const char *name, const char *prop, char *buf,
			size_t len);
	/* Reads one property of a zpool as `zpool get -Hp` prints it (e.g. "health"). */
	int (*zpool_get)(qz_backend_t *be, const char *zpool, const char *prop, char *buf,
			 size_t len);
	int (*set_prop)(qz_backend_t *be, const char *name, const char *prop, const char *value);
	/* Lists root and its descendants (depth levels, -1 = all) of the given kinds, with props;
	 * root NULL (depth -1 only): everything in every imported zpool. */
	int (*list)(qz_backend_t *be, const char *root, int depth, unsigned types,
		    const char *const *props, size_t nprops, qz_list_t *out);
	bool (*exists)(qz_backend_t *be, const char *name);
	/* Loads (or with noop only checks) the wrapping key of an encryption root (a raw key, or
	 * the key derived from a passphrase); EACCES if it is wrong. */
	int (*load_key)(qz_backend_t *be, const char *root, const uint8_t *wkey, size_t wkeylen,
			bool noop);
	int (*unload_key)(qz_backend_t *be, const char *root);
	/* Rewraps a loaded encryption root's key with a new wrapping key; props give the new
	 * keyformat, keylocation, pbkdf2salt and pbkdf2iters. */
	int (*change_key)(qz_backend_t *be, const char *root, const qz_prop_t *props, size_t nprops,
			  const uint8_t *wkey, size_t wkeylen);
	/* Makes encryption root root part of its parent's encryption root: its data key rewrapped
	 * with the parent's wrapping key (both keys loaded: else EACCES; EINVAL if root is no
	 * encryption root or its parent is not encrypted). */
	int (*inherit_key)(qz_backend_t *be, const char *root);
	/* Writes a send stream of snap (incremental from `from` if non-NULL) to fd. */
	int (*send)(qz_backend_t *be, const char *snap, const char *from, int fd, unsigned flags,
		    uint64_t resume_obj, uint64_t resume_off);
	/* Estimates the bytes a send of snap (incremental from `from`, or NULL) with flags would
	 * write: for progress, never trusted for anything else. */
	int (*send_space)(qz_backend_t *be, const char *snap, const char *from, unsigned flags,
			  uint64_t *bytes);
	/* Receives a stream from fd into snap; resumable keeps a partial state on failure. */
	int (*receive)(qz_backend_t *be, const char *snap, int fd, bool resumable, bool raw,
		       bool force);
	/* Opens a volume's block device (O_RDONLY or O_RDWR) and returns the descriptor in *fd. */
	int (*zvol_open)(qz_backend_t *be, const char *vol, int oflags, int *fd);
	/* Creates zpool `pool` on whole devices, with compression=lz4, mountpoint=none and
	 * volmode=dev on its root; refuses devices in use (never forces). An existing zpool of
	 * that name fails (EEXIST on the model, EINVAL from `zpool create`): callers check first.
	 */
	int (*pool_create)(qz_backend_t *be, const char *pool, const char *const *devices,
			   size_t n);
	/* Stores the path of a volume's block device, once it exists (udev makes it some time
	 * after the volume; waits at most 60 s) and is checked to be that volume. */
	int (*zvol_path)(qz_backend_t *be, const char *vol, char *buf, size_t len);
};

#define QZ_DETAIL_MAX 512 /* a failure's detail, with its NUL */

struct qz_backend {
	const struct qz_backend_ops *ops;
	char detail[QZ_DETAIL_MAX];
};

/* Opens the real backend (libzfs_core); fails with ENOENT when ZFS is not loaded. */
int qz_backend_real_open(qz_backend_t **bep);
/* Opens a model holding a pool named pool: a fresh one in memory (dir NULL), or the one stored
 * in directory dir (created if needed), locked until closed and saved when closed. */
int qz_backend_model_open(qz_backend_t **bep, const char *pool, const char *dir);
/* Opens the backend named by kind: "real", "model" (in memory) or "model:DIR" (stored); with
 * QZFS_PROFILE set, wrapped in qz_backend_profiled; then in qz_backend_memo. */
int qz_backend_open(const char *kind, const char *model_pool, qz_backend_t **bep);
/* A backend that times each call of inner into the run's profile (lib/profile.h) and otherwise
 * is inner; closing it closes inner. */
int qz_backend_profiled(qz_backend_t *inner, qz_backend_t **bep);
/* A backend that answers a listing asked for again from memory while nothing but reads was
 * asked of it since (memo.c), and otherwise is inner; closing it closes inner. */
int qz_backend_memo(qz_backend_t *inner, qz_backend_t **bep);
void qz_backend_close(qz_backend_t *be);

/* Detail of the last failure, or "". */
const char *qz_be_detail(const qz_backend_t *be);
/* Records a detail for the last failure (printf-style) and returns err. */
int qz_be_fail(qz_backend_t *be, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* destroy_all done with a backend's own destroy_snaps and destroy, one name at a time (each its
 * own transaction group): for backends without a one-transaction way. */
int qz_be_destroy_each(qz_backend_t *be, const char *const *names, size_t n, bool defer, int *errs);

/* Cell (row, col) of a listing. */
const char *qz_list_cell(const qz_list_t *l, size_t row, size_t col);
/* Index of the row named name, or -1. */
long qz_list_find(const qz_list_t *l, const char *name);
void qz_list_free(qz_list_t *l);

#endif
