/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Backups of volumes to an untrusted target (target.h), sealed (seal.h): what `qzfs backup
 * create|list|verify|restore` do. dom0 keeps its own record of every backup (a small text file
 * per backup in a state directory); a target's word is never taken for what a backup is.
 *
 * A volume's backup is its committed state (the snapshot the engine calls current: what a
 * running VM started from, what a halted one stopped with), held while it is sent; full the
 * first time, then incremental from a bookmark made when the previous backup completed, so
 * dom0's own snapshots can go. Raw for encrypted data (keys may be unloaded), compressed
 * otherwise. On the target: object "<id>.h" the container's header, "<id>.c<index, 8 hex>" its
 * framed sealed chunks, "<id>.e" its trailer (stored once the backup is whole).
 */
#ifndef QZFS_BACKUP_H
#define QZFS_BACKUP_H

#include "backend.h"
#include "engine.h"
#include "seal.h"
#include "seal_io.h"
#include "stream.h"
#include "target.h"
#include "token.h"
#include "zname.h"

#include <stdbool.h>
#include <stdint.h>

#define QZ_BACKUP_ID_HEX (2 * QZ_SEAL_ID_BYTES)

#define QZ_BACKUP_HEADER  (-1L)
#define QZ_BACKUP_TRAILER (-2L)
/* The name of a backup's object on a target: chunk >= 0, QZ_BACKUP_HEADER or QZ_BACKUP_TRAILER. */
void qz_backup_object(char *buf, size_t len, const char *id, long chunk);

/* dom0's record of one backup. */
typedef struct qz_backup_rec {
	char id[QZ_BACKUP_ID_HEX + 1];
	char volume[QZ_NAME_MAX];   /* the live volume backed up */
	char snapshot[QZ_NAME_MAX]; /* the snapshot sent */
	char base[QZ_NAME_MAX];	    /* the bookmark it is incremental from, "" if full */
	char bookmark[QZ_NAME_MAX]; /* made of the snapshot once the backup was whole */
	uint64_t seq;		    /* the order in which dom0 began its backups */
	uint64_t toguid, fromguid, created, chunks, bytes;
	uint32_t chunk_size;
	bool raw, complete;
	bool document; /* a qube's settings (volume "qube:<name>"), not a volume's stream */
	bool has_mac;  /* to a ZFS-receiving qube: the raw stream's portable objset MAC, which */
	uint8_t objset_mac[QZ_OBJSET_MAC_LEN]; /* what it sends back must carry (stream.h) */
	uint64_t resumed_from; /* not recorded: where the last qz_backup_create resumed it */
	uint64_t total;	       /* not recorded: ZFS's estimate of the stream's bytes, 0 unknown */
	char target[256];      /* not recorded: the target whose records hold it (`list`) */
	bool begun_anew;       /* not recorded: begun anew, as the unfinished backup of its volume
				* could not be resumed with the stream made again (it differed) */
} qz_backup_rec_t;

/* How to make backups. */
typedef struct qz_backup_opts {
	const char *state_dir;	   /* dom0's records */
	const qz_seal_key_t *key;  /* the master key */
	const qz_seal_info_t *kdf; /* kdf, salt and limits for the headers (passphrase keys) */
	uint32_t chunk_size;
	unsigned threads; /* sealing threads (0: one per CPU) */
	bool full;	  /* a full backup even if an incremental one could be made (a new chain) */
	/* seconds, 0 for never: a full backup (a new chain) also when the chain the last backup
	 * ends began so long ago or more, so that retention can let the old chain go */
	uint64_t full_every;
	/* called once a backup has begun (or resumes: rec->bytes are stored already), then after
	 * every chunk stored (may be NULL) */
	void (*progress)(void *ctx, const qz_backup_rec_t *rec);
	void *ctx;
} qz_backup_opts_t;

/* A fresh header's fields for a backup made with o: a new id, o's key derivation and chunk
 * size. */
void qz_backup_seal_info(const qz_backup_opts_t *o, qz_seal_info_t *info);

/* Writes record r to dir (atomically). */
int qz_backup_rec_write(const char *dir, const qz_backup_rec_t *r);
/* Reads the record of backup id from dir; ENOENT if there is none, EINVAL if malformed. */
int qz_backup_rec_read(const char *dir, const char *id, qz_backup_rec_t *r);
/* All records in dir, in the order they were begun (*out malloc'd; none: *n = 0). */
int qz_backup_rec_list(const char *dir, qz_backup_rec_t **out, size_t *n);
/* Removes the record of backup id from dir. */
int qz_backup_rec_remove(const char *dir, const char *id);
/* Where dom0 keeps the digest (digest.h) of the stream of ZFS-qube backup id. */
void qz_backup_digest_path(const char *dir, const char *id, char *path, size_t len);

/* Backs vol up to target t: incremental from its last whole backup in o->state_dir if that
 * one's bookmark is still there, full otherwise. An interrupted backup of vol is resumed after
 * its last chunk stored, if its snapshot is still there, the target still holds every chunk
 * stored, and the stream made again is the same up to there (checked by the sealer's prints,
 * seal.h); otherwise it is begun anew.
 * *rec receives the record. EALREADY if the committed state is the one last backed up (nothing
 * is sent). Errors with the reason in why. */
int qz_backup_create(qz_backend_t *be, qz_target_t *t, const qz_backup_opts_t *o, const char *vol,
		     qz_backup_rec_t *rec, char *why, size_t whylen);
/* What a read of backups (verify, restore) reports after every chunk opened: backup i (of a
 * restore's chain; 0 for verify) has given bytes of its stream so far. A restore reads each
 * backup in a child process: fn is called there. */
typedef struct qz_read_progress {
	void (*fn)(void *ctx, size_t i, uint64_t bytes);
	void *ctx;
} qz_read_progress_t;

/* Reads backup r back from t, opening every chunk and verifying the stream inside against r:
 * 0 if it is whole and exactly what dom0 sent; EBADMSG with the reason otherwise. progress may
 * be NULL. */
int qz_backup_verify(qz_target_t *t, const qz_open_secret_t *secret, const qz_backup_rec_t *r,
		     const qz_read_progress_t *progress, char *why, size_t whylen);
/* Receives the chain of backups ids[0..n) (a full one, then incrementals, each from the one
 * before) from t into new volume dataset (which must not exist), backup i as snapshot
 * "@r<i+1>": the result reads as a volume whose revisions are the backups, which `qzfs volume
 * import-volume` can put in a VM's place. Every byte is opened and verified before it reaches
 * ZFS; if any backup of the chain is refused, nothing of the restore is left. */
int qz_backup_restore(qz_backend_t *be, qz_target_t *t, const qz_open_secret_t *secret,
		      const char *const *ids, size_t n, const char *dataset,
		      const qz_read_progress_t *progress, char *why, size_t whylen);

/* Opens backup id's header on t: the opener, and the header's fields (its name opened) in
 * *info. */
int qz_backup_open_header(qz_target_t *t, const qz_open_secret_t *secret, const char *id,
			  qz_opener_t **o, qz_seal_info_t *info, char *why, size_t whylen);
/* Reads every chunk of backup id in order through opener o, passing the plaintext to emit;
 * 0 once the final chunk was opened (*chunks: how many). */
int qz_backup_read_chunks(qz_target_t *t, qz_opener_t *o, const char *id, qz_stream_emit_fn emit,
			  void *ctx, uint64_t *chunks, char *why, size_t whylen);

/* ---- documents: dom0's own data sealed beside the volumes' (a qube's settings) ---- */

/* the largest document, in bytes: a ZFS backup's record with the digest of its stream (32 KiB
 * per GiB: 2 TiB) */
#define QZ_BACKUP_DOC_MAX     (64u << 20)
#define QZ_BACKUP_QUBE_PREFIX "qube:" /* a qube's settings are document "qube:<name>" */

/* Seals doc (len bytes, 1 .. QZ_BACKUP_DOC_MAX) as document `name` on t (its header, chunks
 * and trailer, like a volume's backup but flagged a document: it never passes for a stream),
 * then writes dom0's record of it, complete, in o->state_dir; *rec receives it. Nothing is
 * resumed: a document interrupted is made again whole. */
int qz_backup_put_document(qz_target_t *t, const qz_backup_opts_t *o, const char *name,
			   const void *doc, size_t len, qz_backup_rec_t *rec, char *why,
			   size_t whylen);
/* Reads document r back from t, every chunk opened: *doc (malloc'd, NUL-terminated beyond its
 * *len bytes). EBADMSG unless the target holds a whole document named r->volume of r->bytes
 * bytes (when r->bytes is known) in at most QZ_BACKUP_DOC_MAX bytes. */
int qz_backup_get_document(qz_target_t *t, const qz_open_secret_t *secret, const qz_backup_rec_t *r,
			   void **doc, size_t *len, char *why, size_t whylen);

/* What target t holds, as the key proves it (a fresh dom0 has no records): *out (malloc'd, *n
 * entries, oldest first, seq numbered in that order) with each backup whose header opens: its
 * volume, guids, time; whole (complete, with its chunk and byte counts) if its trailer opens and
 * t lists every chunk the trailer counts. *unopened counts the headers that do not open (another
 * key, or altered): they are left out. Nothing here proves a backup's chunks intact: restore and
 * verify do. */
int qz_backup_discover(qz_target_t *t, const qz_open_secret_t *secret, qz_backup_rec_t **out,
		       size_t *n, size_t *unopened, char *why, size_t whylen);
/* Orders backups all[0..n) (as qz_backup_discover gives them) that were made in the same second
 * as dom0 made them, where dom0's records (known[0..nknown)) know them: a header's creation time
 * has whole seconds only. Backups dom0 has no record of keep their places; seq is set anew. */
void qz_backup_order_known(qz_backup_rec_t *all, size_t n, const qz_backup_rec_t *known,
			   size_t nknown);
/* Whether listing e (sorted, as qz_target_list gives it) holds backup id's header and chunks
 * 0 .. chunks-1, each a whole sealed chunk of chunk_size bytes; the last may be shorter when
 * last_short (the final chunk). */
bool qz_backup_listed_whole(const qz_target_entry_t *e, size_t ne, const char *id, uint64_t chunks,
			    uint32_t chunk_size, bool last_short);
/* The chain that restores backup all[i] (records as qz_backup_discover makes them): indexes
 * into all, the full backup first, in chain (room for n); its length, or 0 if a backup it
 * needs is not there whole. */
size_t qz_backup_chain(const qz_backup_rec_t *all, size_t n, size_t i, size_t *chain);
/* The chain of backup id or, if id is NULL, of the newest backup of volume that has one whole;
 * its length, or 0 if there is none. */
size_t qz_backup_chain_for(const qz_backup_rec_t *all, size_t n, const char *volume, const char *id,
			   size_t *chain);

/* Plans the next backup of vol from the records in o->state_dir (a full one if o->full, or
 * if o->full_every says the chain is old enough): its
 * snapshot (the committed state) and volume in rec, the newest whole backup in *last, whether
 * it is *incremental from last's bookmark, the transfer in *tr (names pointing into rec and
 * last). EALREADY if the committed state is the one last backed up. */
int qz_backup_plan(qz_backend_t *be, const qz_backup_opts_t *o, const char *vol,
		   qz_backup_rec_t *rec, qz_backup_rec_t *last, bool *incremental,
		   qz_transfer_t *tr, char *why, size_t whylen);
/* The tag of the hold that keeps backup id's snapshot until the backup is whole. */
void qz_backup_hold_tag(char *buf, size_t len, const char *id);
/* Backup rec is whole on its target: its snapshot bookmarked (the base of the next one), its
 * record completed in state_dir, its base's own base bookmark let go. */
int qz_backup_complete(qz_backend_t *be, const char *state_dir, qz_backup_rec_t *rec, char *why,
		       size_t whylen);

/* Lets go of what an unfinished backup r kept for its resumption: its snapshot's hold and its
 * progress (for abandoned and pruned backups). */
void qz_backup_let_go(qz_backend_t *be, const char *state_dir, const qz_backup_rec_t *r);

/* What `backup prune` keeps of each volume's backups: its `last` newest whole ones (at least
 * one: the next incremental is made from it), those made in the `days` days before `now` (0:
 * none by age), every backup a kept one's chain needs, and the newest backup when it is
 * unfinished (it may be resumed). */
typedef struct qz_backup_keep {
	uint64_t last, days, now;
} qz_backup_keep_t;

/* Marks in drop[i] which of records all[0..n) (in the order begun) the rules of k let go. */
void qz_backup_prune_plan(const qz_backup_rec_t *all, size_t n, const qz_backup_keep_t *k,
			  bool *drop);
/* How a prune deletes backup r from target t, given what t lists (e[0..ne), sorted by name);
 * 0 also when t no longer holds it. */
typedef int (*qz_backup_remove_fn)(qz_target_t *t, const qz_backup_rec_t *r,
				   const qz_target_entry_t *e, size_t ne, char *why, size_t whylen);
/* Deletes a sealed backup: its header first (so nothing can restore it half), then every
 * chunk of it t lists. */
int qz_backup_remove_sealed(qz_target_t *t, const qz_backup_rec_t *r, const qz_target_entry_t *e,
			    size_t ne, char *why, size_t whylen);
/* Deletes from target t (with remove), then from dom0's records in state_dir, every backup the
 * plan lets go (only those of the volumes vols[0..nvols), if nvols > 0), then its bookmark and
 * its record. With dry_run nothing is deleted. dropped (may be NULL) is told of each backup let
 * go. A prune that is interrupted is finished by the next one. */
int qz_backup_prune(qz_backend_t *be, qz_target_t *t, const char *state_dir,
		    const qz_backup_keep_t *k, const char *const *vols, size_t nvols, bool dry_run,
		    qz_backup_remove_fn remove,
		    void (*dropped)(void *ctx, const qz_backup_rec_t *r), void *ctx, char *why,
		    size_t whylen);

/* Restores the chain ids[0..n) over existing pool volume vol (configured as cfg; its VM
 * halted), as qz_transfer_restore_over does (pool_pass: for an encrypted one). Nothing changes
 * in vol if any backup is refused. */
int qz_backup_restore_over(qz_backend_t *be, qz_target_t *t, const qz_open_secret_t *secret,
			   const char *const *ids, size_t n, const char *vol,
			   const qz_volcfg_t *cfg, const qz_secret_t *pool_pass,
			   const qz_read_progress_t *progress, char *why, size_t whylen);

#endif
