/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The volume engine: the Qubes storage-volume contract for zvol pools, on top of the backend.
 *
 * Layout under a pool's root dataset R (a filesystem with mountpoint=none, volmode=dev):
 *   R/<vm>                a filesystem per VM
 *   R/<vm>/<vol>          the volume's live zvol: what the VM sees, what is committed
 *   R/<vm>/<vol>@r<N>     committed states: the newest is the current one, the others are
 *                         revisions (the volume's own snapshots, or a generation's, below)
 *   R/<vm>/<vol>@qzfs-running  marker: the volume was started and not yet stopped (dirty)
 *   R/<vm>/<vol>:g<N>     an older generation after a revert or an import: holds revisions
 *   R/<vm>/<vol>:new, :import, :export-<N>  transient datasets of one operation
 *   R/.trash/...          removed volumes that clones still depend on
 * Every operation returns 0 or an errno-style code (qz_strerror words it); none prints.
 * Every multi-step operation is ordered so that a crash at any step leaves a state that the
 * next operation on the volume completes or rolls back (qz_vol_recover, called first by all).
 */
#ifndef QZFS_ENGINE_H
#define QZFS_ENGINE_H

#include "backend.h"
#include "zname.h"

#include <stdbool.h>
#include <stdint.h>

#define QZ_ROLE_PROP	   "qubes-zfs:role"		   /* pool | vm | volume: what we created */
#define QZ_QUBES_POOL_PROP "org.qubes-os:part-of-qvm-pool" /* Qubes' marker, on a pool */
#define QZ_POOL_PROP	   "qubes-zfs:pool"		   /* on the root: the Qubes pool's name */
#define QZ_DIRTY_PROP	   "qubes-zfs:dirty" /* revisions_to_keep -1 only: started, not stopped */
#define QZ_RUNNING_SNAP	   "qzfs-running"
#define QZ_MAX_REVISIONS   1024

/* How a volume behaves: the volume's config from qubes.xml. */
typedef struct qz_volcfg {
	bool save_on_stop;
	bool snap_on_start;
	bool ephemeral;	       /* volatile only: encrypted with a throw-away key */
	int revisions_to_keep; /* -1: no snapshots at all; 0; N */
	uint64_t size;	       /* bytes */
	const char *source;    /* snap_on_start: the source volume's live dataset */
} qz_volcfg_t;

typedef struct qz_revision {
	char id[32];	  /* "r<N>" */
	uint64_t created; /* seconds since the epoch, UTC */
} qz_revision_t;

/* Everything qubesd asks of a volume, from one look at ZFS. */
typedef struct qz_volinfo {
	bool exists;	  /* the live dataset exists */
	bool dirty;	  /* started and not stopped (save_on_stop) */
	bool outdated;	  /* snap_on_start: the source committed since this volume started */
	uint64_t size;	  /* volsize, or the configured size when it does not exist */
	uint64_t usage;	  /* bytes referenced */
	char current[32]; /* the committed state's revision id, or "" */
	/* started from another volume's state: that volume's live dataset and the revision id */
	char source[QZ_NAME_MAX];
	char source_state[32];
	char device[256]; /* the block device, when the caller asked for it (qz_vol_device) */
	size_t nrevisions;
	qz_revision_t revisions[QZ_MAX_REVISIONS]; /* oldest first */
} qz_volinfo_t;

/* A volume's state after a *_many operation, where the operation knows it without listing ZFS
 * again (known false: ask qz_vol_info). */
typedef struct qz_after {
	bool known;
	qz_volinfo_t info;
} qz_after_t;

/* Crash points (tests): the n-th point an operation passes makes it stop there. */
int qz_crash_point(const char *name);
/* Arms crash point number n (1-based; 0 disarms); returns how many points were passed since the
 * last call. With exit_code != 0 the process _exits there, else the operation returns
 * ECANCELED (in-process tests). QZFS_CRASH_AT=<n> arms it for a qzfs process. */
unsigned qz_crash_arm(unsigned n, int exit_code);
/* Has fn(arg) called just before a crash point exits the process: what ZFS would have kept
 * (a stored model saves its state there; the real backend keeps everything anyway). */
void qz_crash_before_exit(void (*fn)(void *arg), void *arg);

/* Takes the lock of vol's family (waits for it); release with qz_unlock_volume. */
int qz_lock_volume(const char *vol, int *fd);
void qz_unlock_volume(int fd);

/* ---- pools ---- */

/* Makes root (and its parents) ready: mountpoint=none, volmode=dev, marked with the pool name.
 * An existing dataset is taken only if it is empty or already ours. */
int qz_pool_setup(qz_backend_t *be, const char *root, const char *poolname);
/* Creates root's missing ancestors below its zpool: filesystems with mountpoint=none, marked
 * qubes-zfs:role=parent (pool destroy leaves them). ENOENT when the zpool does not exist. */
int qz_pool_make_parents(qz_backend_t *be, const char *root);
/* Creates zpool (the first component of root) on block devices, then sets root up. */
int qz_pool_setup_devices(qz_backend_t *be, const char *root, const char *poolname,
			  const char *const *devices, size_t n);
/* Removes the root and the empty VM datasets; refuses (EBUSY) while any volume remains and
 * never touches a dataset we did not create or a zpool's root dataset. */
int qz_pool_destroy(qz_backend_t *be, const char *root);

/* Describes every volume under root from one ZFS listing: fn is called for each. */
int qz_pool_volumes(qz_backend_t *be, const char *root,
		    void (*fn)(void *arg, const char *vol, const qz_volinfo_t *info), void *arg);

/* Calls fn for each dataset R/<vm> of Qubes VM vm in a pool of ours, in any imported zpool (a
 * VM's volumes can be in several pools), in name order; *found receives how many. EINVAL if vm
 * is not a valid Qubes VM name. */
int qz_pool_find_vm(qz_backend_t *be, const char *vm, void (*fn)(void *arg, const char *dir),
		    void *arg, size_t *found);

/* ---- encrypted pools: the root is an encryption root with a passphrase ---- */

#define QZ_PASSPHRASE_MIN   8 /* what ZFS accepts */
#define QZ_PASSPHRASE_MAX   512
#define QZ_PBKDF2_ITERS	    350000 /* ZFS's default */
#define QZ_PBKDF2_MIN_ITERS 100000 /* ZFS's minimum */

/* A passphrase, in memory that is locked, guarded and wiped when freed (libsodium). */
typedef struct qz_secret {
	size_t len;
	char buf[QZ_PASSPHRASE_MAX + 1];
} qz_secret_t;

/* Reads a passphrase from fd (up to a newline or EOF; the newline is not part of it); NULL
 * with *errp set (ERANGE: not 8 to 512 bytes). */
qz_secret_t *qz_secret_read(int fd, int *errp);
void qz_secret_free(qz_secret_t *s);
/* Creates root as a new encryption root (aes-256-gcm, keyformat=passphrase, iters PBKDF2
 * rounds) made ready as Qubes pool poolname; its parent is created as a plain container if
 * missing. An existing root is taken only if it already is such an encryption root. */
int qz_pool_setup_encrypted(qz_backend_t *be, const char *root, const char *poolname,
			    const qz_secret_t *pass, uint64_t iters);
/* Whether root's key is loaded; EINVAL if root is not encrypted. */
int qz_key_status(qz_backend_t *be, const char *root, bool *loaded);
/* Loads root's key (nothing to do if loaded); EACCES, after a delay, if the passphrase is wrong. */
int qz_key_load(qz_backend_t *be, const char *root, const qz_secret_t *pass);
/* Unloads root's key (nothing to do if unloaded); EBUSY while any of its volumes is open. */
int qz_key_unload(qz_backend_t *be, const char *root);
/* Rewraps root's key with a new passphrase; the key must be loaded. */
int qz_key_change(qz_backend_t *be, const char *root, const qz_secret_t *pass, uint64_t iters);

/* ---- backup transfers ---- */

struct qz_transfer;
/* Fills dom0's record of sending snap (incrementally from snapshot or bookmark `from`, or
 * NULL) from ZFS: the guids, raw when snap's data is encrypted, the send flags. The names are
 * kept by pointer. */
int qz_transfer_record(qz_backend_t *be, const char *snap, const char *from,
		       struct qz_transfer *rec);
/* Sends transfer rec to fd: whole, or from where the receiver stopped, given its resume token
 * (NULL: whole). A token is used only if it belongs to rec, and then only for its position: the
 * names and flags are rec's, raw for encrypted data. EINVAL (malformed) / EPERM (not this
 * transfer) with the reason in why, or the send's error (why then ""). */
int qz_transfer_send(qz_backend_t *be, const struct qz_transfer *rec, const char *token, int fd,
		     char *why, size_t whylen);
/* Runs qz_transfer_send(be, rec, token, ...) in a child process writing to a new pipe, whose
 * read end goes to *fd; *pid is the child (qz_transfer_wait it). With rename, or when rec's base
 * is the origin of the snapshot's dataset (a clone stream to ZFS), the stream goes through the
 * stream verifier, which writes rename ("<dataset>@<snapshot>") in place of the snapshot's full
 * name (a receiver that need not learn it) and clears the clone flag (qz_stream_expect_t). */
int qz_transfer_start(qz_backend_t *be, const struct qz_transfer *rec, const char *token,
		      const char *rename, int *fd, int *pid, char *why, size_t whylen);
/* Makes the digest of transfer rec's whole stream, renamed as rename, at rec->digest_path, by
 * sending it here, to nothing (what a resumed transfer's parts could not make together). */
int qz_transfer_digest(qz_backend_t *be, const struct qz_transfer *rec, const char *rename,
		       char *why, size_t whylen);
/* Waits for child pid: 0 if it exited 0, EIO otherwise. */
int qz_transfer_wait(int pid);
/* Learns from ZFS what a genuine resume token of transfer rec must agree with (see
 * qz_transfer_t: the features of its stream, from the BEGIN record of a send of it stopped
 * there; the snapshot's size and block size) and, if mac is not NULL, the portable objset MAC
 * that BEGIN carries (*has_mac tells whether it does: raw streams do). 0, or the send's, the
 * verifier's or ZFS's error with the reason in why. */
int qz_transfer_learn(qz_backend_t *be, struct qz_transfer *rec, uint8_t *mac, bool *has_mac,
		      char *why, size_t whylen);
/* What feeds a restore's receive, in a child process: writes only verified bytes to fd; 0, or
 * an error with the reason in why. */
typedef int (*qz_feed_fn)(void *ctx, int fd, char *why, size_t whylen);
/* Receives snap (raw or not, as recorded) from what feed writes. 0; EBADMSG with the feeder's
 * reason when it refused ("<label> refused: <reason>"); or the receive's error. */
int qz_transfer_receive_fed(qz_backend_t *be, const char *snap, bool raw, qz_feed_fn feed,
			    void *ctx, const char *label, char *why, size_t whylen);
/* Receives a chain of n streams into new dataset (which must not exist): stream i, from
 * restore(ctx, i, snap, ...) with snap "<dataset>@r<i+1>". If any is refused, nothing of the
 * restore is left. */
int qz_transfer_restore_new(qz_backend_t *be, const char *dataset, size_t n,
			    int (*restore)(void *ctx, size_t i, const char *snap, char *why,
					   size_t whylen),
			    void *ctx, char *why, size_t whylen);
/* Restores over existing pool volume vol (configured as cfg; its VM halted): restore_new(ctx,
 * dataset, ...) receives into a new dataset beside the pool's VMs (one per volume: what an
 * interrupted restore over vol left there is removed first), which is then put in vol's place as
 * `qzfs volume import-volume` does, the state it replaces kept as a revision. A raw stream's data
 * arrives as an encryption root of its own, its key wrapped as the backed-up pool had it: loaded
 * with pool_pass, it joins vol's pool's root. Nothing changes in vol if any of it fails. */
int qz_transfer_restore_over(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg,
			     const qz_secret_t *pool_pass,
			     int (*restore_new)(void *ctx, const char *dataset, char *why,
						size_t whylen),
			     void *ctx, char *why, size_t whylen);

/* ---- volumes; vol is the live dataset R/<vm>/<vol> ---- */

/* Completes or rolls back whatever a crashed operation left on vol. */
int qz_vol_recover(qz_backend_t *be, const char *vol);
/* Sizes are any positive number of bytes: ZFS gets them rounded up to the volume block size. */
int qz_vol_create(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg);
/* Applies cfg->revisions_to_keep to the revisions there are: drops those beyond it, and with -1
 * every snapshot (the live volume is then the committed state). */
int qz_vol_prune(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg);
/* Removes the volume with all its revisions (what clones still need goes to R/.trash). */
int qz_vol_remove(qz_backend_t *be, const char *vol);
/* Removes n volumes (a VM's, as its removal asks for them together) as qz_vol_remove removes
 * each, with one listing and the revisions of all in one destroy_snaps (one transaction
 * group). cfgs is not used (NULL is fine): the signature is that of the other *_many. errs[i] is
 * volume i's outcome, details[i] the backend's detail of its failure; one failing stops none of
 * the others. after (NULL: not wanted; else n of them) gets the states the operation knows
 * without listing again (none for a removal: a removed volume's state needs no listing). Returns
 * the first failure (0 if none). */
int qz_vol_remove_many(qz_backend_t *be, size_t n, const char *const *vols, const qz_volcfg_t *cfgs,
		       int *errs, char (*details)[QZ_DETAIL_MAX], qz_after_t *after);
int qz_vol_start(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg);
int qz_vol_stop(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg);
/* Start and stop n volumes (a VM's, as qubesd asks for them together; vols[i] configured as
 * cfgs[i]) as qz_vol_start and qz_vol_stop do each, with one listing, the running markers
 * (start) or commits (stop) of all in one snapshot call, and at stop the markers and the
 * revisions let go of all in one destroy_all: one transaction group each. Outcomes as
 * qz_vol_remove_many's. after[i] gets volume i's state as qz_vol_info would list it after,
 * where it follows from the listing before and the operation's own changes: at stop, each saved
 * volume's (usage as read before the commit: ZFS may count the last writes a moment later); at
 * start, each saved volume's, and each volume the start made (its size and usage read alone). */
int qz_vol_start_many(qz_backend_t *be, size_t n, const char *const *vols, const qz_volcfg_t *cfgs,
		      int *errs, char (*details)[QZ_DETAIL_MAX], qz_after_t *after);
int qz_vol_stop_many(qz_backend_t *be, size_t n, const char *const *vols, const qz_volcfg_t *cfgs,
		     int *errs, char (*details)[QZ_DETAIL_MAX], qz_after_t *after);
int qz_vol_info(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, qz_volinfo_t *info);
/* Makes revision rev (NULL: the newest revision) the current state; the state it replaces
 * becomes a revision; nothing is destroyed. Refused while the volume is started. */
int qz_vol_revert(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, const char *rev);
/* Grows the volume (also while it runs); shrinking only with allow_shrink. A halted volume's new
 * size is committed at once (a revision), so that clones and exports see it. */
int qz_vol_resize(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, uint64_t size,
		  bool allow_shrink);
/* Stores the block device path of the live volume (waits for udev). */
int qz_vol_device(qz_backend_t *be, const char *vol, char *path, size_t len);
/* Creates a fresh target of size bytes that reads as zeros and stores its device path. */
int qz_vol_import_begin(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, uint64_t size,
			char *path, size_t len);
/* Swaps the imported data in (ok) or discards it; the replaced state becomes a revision. */
int qz_vol_import_end(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, bool ok);
/* Makes vol a copy of the committed state of src: in the same zpool an instant clone, from
 * another zpool a copy by send and receive. The replaced state becomes a revision. */
int qz_vol_import_volume(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg,
			 const char *src);
/* Stores the device path of a read-only view of the committed data, valid until export_end. */
int qz_vol_export(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, char *path,
		  size_t len);
int qz_vol_export_end(qz_backend_t *be, const char *vol, const char *path);
/* Makes the VM dataset of pool volume vol (R/<vm>/<vol>) if it is missing. */
int qz_vol_ensure_dir(qz_backend_t *be, const char *vol);
/* 0 if the volume can start: its data (or its source's committed state) is there. */
int qz_vol_verify(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg);

#endif
