/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Backups of encrypted volumes to a backup qube that runs ZFS (qzfs-backup-zfs-store): raw send
 * streams, received by the qube's ZFS and kept there as datasets, one per chain (named after the
 * chain's full backup), a snapshot per backup. No sealing key is involved: the data leaves dom0
 * encrypted by ZFS with keys that never leave dom0, and ZFS authenticates every block.
 *
 * What the qube says is checked as for sealed targets: a receive it cut short is resumed only
 * through its resume token when the token names this very transfer (qz_transfer_send decides
 * what is sent, from dom0's record); what it sends back for a restore goes through the stream
 * verifier (the snapshot dom0 recorded, raw, every record's checksum, and the portable objset
 * MAC dom0 read from its own send: the very state sent, which ZFS authenticates block by block
 * once the key is loaded) before ZFS sees a byte.
 *
 * It learns what a raw stream shows: sizes, the layout of objects, the encryption parameters.
 * Not the VM's name: ZFS writes the sent snapshot's full name into the stream, and dom0 writes
 * "backup/<chain key>@<id>" in its place (the stream verifier renames, checksums made
 * again).
 *
 * dom0's records are those of backup.h, kept in a state directory of their own.
 */
#ifndef QZFS_REPLICA_H
#define QZFS_REPLICA_H

#include "backup.h"

/* Backs encrypted volume vol up to ZFS-receiving target t, with dom0's records in o->state_dir:
 * incremental from its last whole backup if that one's bookmark is still there (and neither
 * o->full nor o->full_every asks for a full one), full otherwise (the other options are the
 * sealed backups' and are not used). An unfinished backup of vol is resumed: from the target's
 * partial receive when its token names that transfer (else the partial state is aborted and the
 * stream sent again). EPERM if vol is not encrypted (a ZFS-receiving qube could read it: back it up
 * sealed); EALREADY if its committed state is the one last backed up. *rec receives the record
 * (resumed_from: the bytes the target had received before). */
int qz_replica_create(qz_backend_t *be, qz_target_t *t, const qz_backup_opts_t *o, const char *vol,
		      qz_backup_rec_t *rec, char *why, size_t whylen);

/* Backups are named on the target by the first QZ_REPLICA_ID_LEN characters of ids. */
#define QZ_REPLICA_ID_LEN 16

/* Whether target name "<chain key>.<id>" is that of backup id. */
bool qz_replica_names(const char *name, const char *id);

/* The name of backup all[chain[k]] on the target, "<chain key>.<id>" (with ".<base id>" for
 * an incremental one when with_base), for a chain as qz_backup_chain gives it. */
void qz_replica_name(char *buf, size_t len, const qz_backup_rec_t *all, const size_t *chain,
		     size_t k, bool with_base);

/* Receives the chain of backup id (NULL: the newest whole backup of volume) from t, every
 * stream verified against dom0's record in state_dir before ZFS sees it: into new volume
 * dataset, backup i as snapshot "@r<i+1>"; or, when over is not NULL, over that existing pool
 * volume (configured as cfg, its VM halted) as qz_transfer_restore_over does (pool_pass: the
 * passphrase of the backed-up pool, for an encrypted volume), the state it replaces kept as a
 * revision. If any stream is refused, nothing of the restore is left. progress (may be NULL)
 * is told, every MiB verified, how far backup i of the chain is. */
int qz_replica_restore(qz_backend_t *be, qz_target_t *t, const char *state_dir, const char *volume,
		       const char *id, const char *dataset, const char *over,
		       const qz_volcfg_t *cfg, const qz_secret_t *pool_pass,
		       const qz_read_progress_t *progress, char *why, size_t whylen);

/* The target's partial receive into dataset key, when it is the one of transfer tr (learned:
 * qz_transfer_learn): then token (room for tokenlen bytes) holds its resume token and *received
 * the bytes it says it received; else token is "" and *received 0, and a partial state that no
 * genuine receive of tr could have left (another transfer's, or malformed) is aborted. */
int qz_replica_partial(qz_target_t *t, const char *key, const qz_transfer_t *tr, char *token,
		       size_t tokenlen, uint64_t *received, char *why, size_t whylen);

/* Whether target t lists snapshot name ("<chain key>.<id>") with guid; false if its listing is
 * malformed. */
bool qz_replica_holds(qz_target_t *t, const char *name, uint64_t guid);

/* Deletes backup r from ZFS-receiving target t, which lists e[0..ne): its snapshot (the qube
 * destroys a chain's dataset with its last one); as qz_backup_remove_fn. */
int qz_replica_remove(qz_target_t *t, const qz_backup_rec_t *r, const qz_target_entry_t *e,
		      size_t ne, char *why, size_t whylen);

/* Has the target send backup id's chain back and verifies every stream against dom0's record,
 * receiving nothing: 0 if all is whole and what dom0 sent, EBADMSG with the reason otherwise. */
int qz_replica_verify(qz_target_t *t, const char *state_dir, const char *id, char *why,
		      size_t whylen);

/* ---- dom0's records sealed beside the backups (replica_records.c) ---- */

/* The document holding dom0's record of backup id is "zfs:<id>" (a sealed target's). */
#define QZ_REPLICA_DOC_PREFIX "zfs:"
void qz_replica_doc_name(char *buf, size_t len, const char *id);

/* The document to seal for backup id, whole in state_dir: its record and the digest of what
 * dom0 sent, in *doc (malloc'd, *len bytes). */
int qz_replica_record_doc(const char *state_dir, const char *id, uint8_t **doc, size_t *len,
			  char *why, size_t whylen);

/* Puts the record and digest of backup id that document doc (as qz_replica_record_doc made it,
 * opened with dom0's key) holds into state_dir, which has no record of id (EEXIST otherwise):
 * both are there and read as any record is, or neither (EBADMSG if malformed). */
int qz_replica_record_adopt(const char *state_dir, const char *id, const void *doc, size_t len,
			    char *why, size_t whylen);

#endif
