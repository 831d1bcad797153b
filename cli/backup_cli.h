/* SPDX-License-Identifier: BSD-2-Clause */
/* What the backup command groups share (cmd_backup.c, cmd_backup_zfs.c): their options, how a
 * target is reached, how a refusal is told. */
#ifndef QZFS_BACKUP_CLI_H
#define QZFS_BACKUP_CLI_H

#include "backup.h"
#include "cli.h"
#include "target.h"

#include <stdbool.h>
#include <stdint.h>

/* Where dom0 keeps its records of sealed backups when --state is not given. */
#define QZ_CLI_DEFAULT_STATE "/var/lib/qubes-storage-zfs/backups"
/* dom0's records of backups to ZFS-receiving qubes (backup zfs ...) */
#define QZ_CLI_ZFS_DEFAULT_STATE "/var/lib/qubes-storage-zfs/zfs-backups"

/* The options of the backup commands; which ones a command takes is its `allowed` list. */
struct opts {
	const char *key_file;
	int pass_fd, pool_pass_fd; /* -1: none */
	const char *dataset, *from, *token, *target, *state, *to, *volume, *backup, *over, *keep,
	    *pool, *sealed_target, *zfs_target;
	char **args; /* the arguments that are not options, when "ARGS" is allowed */
	int nargs;
	uint64_t toguid, fromguid, chunk_size, argon2_ops, argon2_mib, keep_last, keep_days,
	    threads, full_every_days;
	bool raw, resumed, full, dry_run, all, no_settings, rename_conflicting;
};

/* Parses argv into o, accepting only the options named in allowed ("--a --b"; "ARGS" for
 * arguments; with "--key-file" a key or passphrase is required, only with --target if
 * "KEY-IF-TARGET", never if "KEY-OPTIONAL"). An exit code (usage) on failure. */
int qz_cli_backup_opts(qz_cli_t *cli, int argc, char **argv, const char *allowed, struct opts *o);

/* --full-every DAYS in seconds, as qz_backup_opts_t.full_every takes it (0: not given). */
uint64_t qz_cli_full_every(const struct opts *o);

/* Connects to the target spec names; an exit code on failure. Sealed stores (zfs false):
 * dir:PATH, qube:NAME (qrexec qubes-storage-zfs.BackupStore), exec:COMMAND. ZFS-receiving
 * stores (zfs true): zfs:DATASET (a local one), qube:NAME (qubes-storage-zfs.BackupZfs),
 * exec:COMMAND. */
int qz_cli_open_target(qz_cli_t *cli, bool zfs, const char *spec, qz_target_t **t);

/* Makes the state directory (--state, else default_state; missing parents too, mode 0700),
 * whose name goes in buf. An exit code on failure. */
int qz_cli_state_base(qz_cli_t *cli, const struct opts *o, const char *default_state, char *buf,
		      size_t len);
/* dom0's folder of records of --target under base, into dir, if it exists (nothing made). */
bool qz_cli_target_state_known(const char *base, const char *target, char *dir, size_t len);
/* What --target t holds, opened with secret (qz_backup_discover), backups made in the same
 * second put in the order dom0 made them where its records of that target (under --state, else
 * default_state) know them: a fresh dom0 has none, and the headers' whole seconds decide. */
int qz_cli_discover(const struct opts *o, const char *default_state, qz_target_t *t,
		    const qz_open_secret_t *secret, qz_backup_rec_t **all, size_t *n,
		    size_t *unopened, char *why, size_t whylen);
/* The folder of dom0's records of the backups to --target, <state>/targets/<the target spec,
 * escaped>, made if missing, in dir. With t (the target, open): records that earlier versions
 * kept in <state> itself, shared by all targets, move into it once t shows it holds their
 * backups. An exit code on failure. */
int qz_cli_target_state(qz_cli_t *cli, const struct opts *o, const char *default_state, bool zfs,
			qz_target_t *t, char *dir, size_t len);
/* Every record under state directory base, each with its target (records of earlier versions,
 * not yet moved to a target's folder: ""). */
int qz_cli_all_records(const char *base, qz_backup_rec_t **all, size_t *n);

/* The sealing key o gives: the key file's, or derived from the passphrase with the salt and
 * limits kept in state (made there at first; with state NULL, fresh ones from o's --argon2-*),
 * which kdf receives for the headers. An exit code on failure. */
int qz_cli_sealing_key(qz_cli_t *cli, const struct opts *o, const char *state, qz_seal_info_t *kdf,
		       qz_seal_key_t **key);

/* What the commands that read backups hold: the key or passphrase, and the target. */
struct qz_cli_session {
	qz_seal_key_t *key;
	qz_secret_t *pass;
	qz_target_t *t;
	qz_open_secret_t secret;
};
/* Reads the key or passphrase o names and connects to its target; an exit code on failure. */
int qz_cli_session_open(qz_cli_t *cli, const struct opts *o, struct qz_cli_session *s);
void qz_cli_session_close(struct qz_cli_session *s);

/* ---- dom0's records of backups to a ZFS-receiving target, sealed (backup_zfs_records.c) ---- */

/* Where the records go: the sealed store beside the ZFS target, its key, dom0's records of it. */
struct qz_cli_zfs_records {
	qz_target_t *t; /* NULL: no key given, the records stay in dom0 alone */
	qz_seal_key_t *key;
	qz_seal_info_t kdf;
	qz_backup_opts_t bo; /* how documents are sealed there */
	char state[4096];
};
/* With a key in o (--key-file, --passphrase-fd): reads it and connects to the sealed store
 * beside ZFS target o->target (--sealed-target, else for qube:NAME that qube's sealed store),
 * its records under <state>/sealed (state: --state, else default_state). Without: r->t NULL.
 * An exit code on failure. */
int qz_cli_zfs_records_open(qz_cli_t *cli, const struct opts *o, const char *default_state,
			    struct qz_cli_zfs_records *r);
/* Seals there the record of each whole backup in zstate (dom0's records of the ZFS target)
 * that is not sealed yet. An exit code on failure. */
int qz_cli_zfs_records_seal(qz_cli_t *cli, struct qz_cli_zfs_records *r, const char *zstate);
void qz_cli_zfs_records_close(struct qz_cli_zfs_records *r);
/* With a key in o: takes back into zstate the sealed record of each backup it has none of
 * (a fresh dom0 has none), every one opened with the key. An exit code on failure. */
int qz_cli_zfs_records_fetch(qz_cli_t *cli, const struct opts *o, const char *default_state,
			     const char *zstate);
/* Deletes from the sealed store beside ZFS target o->target the records sealed there of
 * backups ids[0..n) (let go by a prune), those dom0's records of that store know (a fresh
 * dom0's know those it took back). An exit code on failure. */
int qz_cli_zfs_records_forget(qz_cli_t *cli, const struct opts *o, const char *default_state,
			      const char (*ids)[QZ_BACKUP_ID_HEX + 1], size_t n);
/* The same from the sealed store of session ss, opened as o (its target and state) says. */
int qz_cli_zfs_records_take(qz_cli_t *cli, const struct opts *o, struct qz_cli_session *ss,
			    const char *zstate);
/* o as it reaches the sealed store beside ZFS target o->target (--sealed-target; else for
 * qube:NAME, that qube's sealed store) in *s, with <o->state or default_state>/sealed (in base)
 * as its state. An exit code (usage) if there is none. */
int qz_cli_zfs_records_beside(qz_cli_t *cli, const struct opts *o, const char *default_state,
			      struct opts *s, char *base, size_t len);

/* Reports that err (reason why) stopped a backup command; its exit code. */
int qz_cli_refused(qz_cli_t *cli, int err, const char *why);

/* The volumes a backup create's arguments (o->args) name, in *vols (n of them; free with
 * qz_cli_free_volumes): a volume as it is; a VM's dataset (R/<vm>) stands for each of its
 * volumes that has a committed state (a private volume, a template's root; not a volatile one),
 * in name order; a VM's name (no '/') for those of its datasets in every pool of ours. An exit
 * code on failure (a VM with no such volume, a name no VM of ours has). */
int qz_cli_backup_volumes(qz_cli_t *cli, const struct opts *o, char ***vols, size_t *n);
void qz_cli_free_volumes(char **vols, size_t n);

/* What verify found of backup id: said (err 0), or why not (EAGAIN: unfinished); a line, or
 * with --json an event ("verified", "unfinished", "failed"). */
void qz_cli_verified(qz_cli_t *cli, const char *id, int err, const char *said);
/* A backup's progress (qz_backup_opts_t.progress, ctx the cli): JSON events on stdout with
 * --json, else a line on a terminal that qz_cli_backup_made ends. */
void qz_cli_backup_progress(void *ctx, const qz_backup_rec_t *rec);

/* Reading backups back on a terminal (verify, restore): what is read, the bytes of each backup
 * of its chain from the records or trailers (totals, n of them; NULL or 0 unknown), the verb
 * said ("restored"), and whether a line was shown (in this process: a restore's child has its
 * own). */
typedef struct qz_cli_reading {
	const char *what;
	const uint64_t *totals;
	size_t n;
	const char *verb;
	bool shown;
} qz_cli_reading_t;
/* A qz_read_progress_t's fn: shows on stderr how far backup i of r's chain is (bytes of it so
 * far, after those before it), of the chain's total, and the time left. */
void qz_cli_show_reading(void *ctx, size_t i, uint64_t bytes);
/* Tells how backing vol up ended (err 0: rec made; EALREADY: unchanged, rec the last one; else
 * failed, why): a JSON event with --json, else a line on stdout (made) or stderr (unchanged).
 * sealed: a sealed backup's (its chunks; begun anew). */
void qz_cli_backup_made(qz_cli_t *cli, const char *vol, int err, const qz_backup_rec_t *rec,
			const char *why, bool sealed);

/* Shows one of dom0's records of a backup (a JSON object with --json). */
void qz_cli_show_backup(qz_cli_t *cli, const qz_backup_rec_t *r);

/* Whether vol is encrypted (a restore over it needs the passphrase of the pool the backup was
 * made of). */
bool qz_cli_encrypted(qz_cli_t *cli, const char *vol);
/* For a restore --over VOL (o->over; nothing to do without): VOL's config from
 * --revisions-to-keep in *cfg, VOL locked (*lock, for qz_unlock_volume), and, if VOL is
 * encrypted, the passphrase read from --pool-passphrase-fd in *pool_pass (for
 * qz_secret_free). An exit code on failure. */
int qz_cli_restore_over(qz_cli_t *cli, const struct opts *o, qz_volcfg_t *cfg, int *lock,
			qz_secret_t **pool_pass);

/* backup prune and backup zfs prune: retention over dom0's records in --state (default_state)
 * and the target (ZFS-receiving if zfs), each backup let go deleted with remove. */
int qz_cli_prune(qz_cli_t *cli, int argc, char **argv, bool zfs, const char *default_state,
		 qz_backup_remove_fn remove);

extern const qz_cmd_t qz_backup_zfs_cmds[];   /* qzfs backup zfs ... (cmd_backup_zfs.c) */
extern const qz_cmd_t qz_backup_qubes_cmds[]; /* qzfs backup qubes ... (cmd_backup_qubes.c) */

/* The settings of the qubes a backup create names (its arguments without a '/'), read through
 * the Qubes Admin API by the qube-settings helper: document name[i] ("qube:<name>") is doc[i],
 * len[i] bytes. */
struct qz_cli_qube_settings {
	char **name, **doc;
	size_t *len, n;
};
/* Reads them into *s (none with --no-settings, or if no qube is named); an exit code on
 * failure (a qube Qubes does not know; the Admin API out of reach), said why. */
int qz_cli_qube_settings_read(qz_cli_t *cli, const struct opts *o, struct qz_cli_qube_settings *s);
/* Seals and stores each on t as a document (dom0's record of it in bo->state_dir); tells each
 * one made. An exit code. */
int qz_cli_qube_settings_store(qz_cli_t *cli, qz_target_t *t, const qz_backup_opts_t *bo,
			       const struct qz_cli_qube_settings *s);
void qz_cli_qube_settings_free(struct qz_cli_qube_settings *s);

#endif
