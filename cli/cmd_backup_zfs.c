/* SPDX-License-Identifier: BSD-2-Clause */
/* qzfs backup zfs ...: backups of encrypted volumes to a backup qube that receives them into its
 * own ZFS (replica.h). No key: the streams are raw, encrypted by ZFS with dom0's keys. */
#include "backup_cli.h"
#include "error.h"
#include "replica.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_STATE QZ_CLI_ZFS_DEFAULT_STATE

/* The folder of dom0's records of the backups to --target (t: open, to adopt records an earlier
 * version shared between targets), in state; an exit code on failure. */
static int state_of(qz_cli_t *cli, const struct opts *o, qz_target_t *t, char *state, size_t len)
{
	return qz_cli_target_state(cli, o, DEFAULT_STATE, true, t, state, len);
}

/* Backs the named encrypted volumes up to the target. */
static int cmd_create(qz_cli_t *cli, int argc, char **argv)
{
	struct opts o;
	int rc = qz_cli_backup_opts(
	    cli, argc, argv,
	    "--target --state --full --full-every --key-file --passphrase-fd "
	    "--argon2-ops --argon2-mib --sealed-target --no-settings KEY-OPTIONAL "
	    "ARGS",
	    &o);
	if (rc != 0)
		return rc;
	if (o.nargs == 0)
		return qz_cli_usage(cli, "name the VMs or volumes to back up");
	/* the key first: a wrong one stops the run before anything is sent */
	struct qz_cli_zfs_records sealed;
	if ((rc = qz_cli_zfs_records_open(cli, &o, DEFAULT_STATE, &sealed)) != 0)
		return rc;
	qz_target_t *t = NULL;
	char state[4096];
	if ((rc = qz_cli_open_target(cli, true, o.target, &t)) != 0) {
		qz_cli_zfs_records_close(&sealed);
		return rc;
	}
	if ((rc = state_of(cli, &o, t, state, sizeof(state))) != 0) {
		qz_target_close(t);
		qz_cli_zfs_records_close(&sealed);
		return rc;
	}
	char why[300] = "";
	int err = 0;
	char **vols = NULL;
	size_t nvols = 0;
	/* the qubes' settings, sealed beside their data: only with a key */
	struct qz_cli_qube_settings settings = {0};
	if ((rc = qz_cli_backup_volumes(cli, &o, &vols, &nvols)) != 0 ||
	    (sealed.t != NULL && (rc = qz_cli_qube_settings_read(cli, &o, &settings)) != 0)) {
		qz_cli_free_volumes(vols, nvols);
		qz_target_close(t);
		qz_cli_zfs_records_close(&sealed);
		return rc;
	}
	for (int i = 0; sealed.t == NULL && !o.no_settings && i < o.nargs; i++)
		if (strchr(o.args[i], '/') == NULL) {
			qz_cli_say(cli, "the qubes' settings are not saved: give --key-file (or "
					"--passphrase-fd) to seal them beside the data");
			break;
		}
	qz_backup_opts_t bo = {.state_dir = state,
			       .full = o.full,
			       .full_every = qz_cli_full_every(&o),
			       .progress = qz_cli_backup_progress,
			       .ctx = cli};
	for (size_t i = 0; err == 0 && i < nvols; i++) {
		qz_backup_rec_t rec;
		err = qz_replica_create(cli->be, t, &bo, vols[i], &rec, why, sizeof(why));
		qz_cli_backup_made(cli, vols[i], err, &rec, why, false);
		if (err == EALREADY)
			err = 0;
	}
	qz_cli_free_volumes(vols, nvols);
	qz_target_close(t);
	/* the records of what is whole, this run's and any not sealed before, even if one failed;
	 * then the settings as they were when the backup began, once all the data is */
	rc = qz_cli_zfs_records_seal(cli, &sealed, state);
	if (rc == 0 && err == 0)
		rc = qz_cli_qube_settings_store(cli, sealed.t, &sealed.bo, &settings);
	qz_cli_qube_settings_free(&settings);
	qz_cli_zfs_records_close(&sealed);
	if (err != 0)
		return qz_cli_refused(cli, err == EPERM ? EINVAL : err, why);
	return rc;
}

/* dom0's records of backups to ZFS-receiving targets; with --target, whether it holds each. */
static int cmd_list(qz_cli_t *cli, int argc, char **argv)
{
	struct opts o;
	int rc = qz_cli_backup_opts(
	    cli, argc, argv,
	    "--state --target --key-file --passphrase-fd --sealed-target KEY-OPTIONAL", &o);
	if (rc != 0)
		return rc;
	if (o.target == NULL && (o.key_file != NULL || o.pass_fd >= 0))
		return qz_cli_usage(cli, "a key takes dom0's records back from the store beside "
					 "--target: give it");
	qz_backup_rec_t *all = NULL;
	qz_target_entry_t *held = NULL;
	size_t n = 0, nheld = 0;
	char why[300] = "";
	int err = 0;
	qz_target_t *t = NULL;
	if (o.target == NULL) {
		const char *base = o.state != NULL ? o.state : DEFAULT_STATE;
		if ((err = qz_cli_all_records(base, &all, &n)) != 0)
			snprintf(why, sizeof(why), "%s: %s", base, strerror(err));
	} else {
		char state[4096];
		if ((rc = qz_cli_open_target(cli, true, o.target, &t)) != 0)
			return rc;
		if ((rc = state_of(cli, &o, t, state, sizeof(state))) != 0 ||
		    (rc = qz_cli_zfs_records_fetch(cli, &o, DEFAULT_STATE, state)) != 0) {
			qz_target_close(t);
			return rc;
		}
		if ((err = qz_backup_rec_list(state, &all, &n)) != 0)
			snprintf(why, sizeof(why), "%.200s: %s", state, strerror(err));
		if (err == 0)
			err = qz_target_list(t, &held, &nheld, why, sizeof(why));
		qz_target_close(t);
	}
	if (err != 0) {
		free(all);
		return qz_cli_refused(cli, err, why);
	}
	if (cli->json)
		qz_json_object(&cli->out, NULL), qz_json_array(&cli->out, "backups");
	for (size_t i = 0; i < n; i++) {
		qz_cli_show_backup(cli, &all[i]);
		bool there = false;
		for (size_t j = 0; j < nheld && !there; j++) /* "<chain>.<id>", with its guid */
			there = qz_replica_names(held[j].name, all[i].id) &&
				held[j].size == all[i].toguid;
		if (o.target != NULL && !cli->json && all[i].complete && !there)
			printf("  (the target does not hold it)\n");
	}
	if (cli->json)
		qz_json_end(&cli->out, ']'), qz_json_end(&cli->out, '}');
	free(all);
	free(held);
	return QZ_EXIT_OK;
}

/* Has the target send backups back and verifies them against dom0's records. */
static int cmd_verify(qz_cli_t *cli, int argc, char **argv)
{
	struct opts o;
	int rc =
	    qz_cli_backup_opts(cli, argc, argv,
			       "--target --state --all --key-file --passphrase-fd --sealed-target "
			       "KEY-OPTIONAL ARGS",
			       &o);
	if (rc != 0)
		return rc;
	if ((o.nargs == 0) == !o.all)
		return qz_cli_usage(cli, "name the backups to verify, or --all");
	qz_backup_rec_t *all = NULL;
	size_t n = 0;
	char why[300] = "", state[4096];
	qz_target_t *t = NULL;
	if ((rc = qz_cli_open_target(cli, true, o.target, &t)) != 0)
		return rc;
	if ((rc = state_of(cli, &o, t, state, sizeof(state))) != 0 ||
	    (rc = qz_cli_zfs_records_fetch(cli, &o, DEFAULT_STATE, state)) != 0) {
		qz_target_close(t);
		return rc;
	}
	int err = qz_backup_rec_list(state, &all, &n), failed = 0;
	if (err != 0) {
		qz_target_close(t);
		return qz_cli_fail(cli, state, err);
	}
	size_t count = o.all ? n : (size_t)o.nargs;
	for (size_t i = 0; i < count; i++) {
		if (o.all && !all[i].complete)
			continue;
		const char *id = o.all ? all[i].id : o.args[i];
		int one = qz_replica_verify(t, state, id, why, sizeof(why));
		qz_cli_verified(cli, id, one,
				one == 0 ? "whole and what dom0 sent, with its chain" : why);
		failed += one != 0;
	}
	qz_target_close(t);
	free(all);
	if (failed > 0)
		return qz_cli_refused(cli, EBADMSG, "some backups failed verification");
	return QZ_EXIT_OK;
}

/* Restores the chain of --backup ID, or of the newest whole backup of --volume NAME, into a new
 * volume dataset or over an existing volume. */
static int cmd_restore(qz_cli_t *cli, int argc, char **argv)
{
	struct opts o;
	int rc =
	    qz_cli_backup_opts(cli, argc, argv,
			       "--target --state --to --over --revisions-to-keep "
			       "--pool-passphrase-fd --volume --backup --key-file --passphrase-fd "
			       "--sealed-target KEY-OPTIONAL",
			       &o);
	if (rc != 0)
		return rc;
	if ((o.to == NULL) == (o.over == NULL) || (o.volume == NULL) == (o.backup == NULL))
		return qz_cli_usage(cli, "give --to DATASET or --over VOLUME, and --volume NAME or "
					 "--backup ID");
	qz_volcfg_t cfg;
	int lock = -1;
	qz_secret_t *pool_pass = NULL;
	if ((rc = qz_cli_restore_over(cli, &o, &cfg, &lock, &pool_pass)) != 0)
		return rc;
	qz_target_t *t = NULL;
	if ((rc = qz_cli_open_target(cli, true, o.target, &t)) != 0) {
		qz_unlock_volume(lock);
		qz_secret_free(pool_pass);
		return rc;
	}
	char why[300] = "", state[4096];
	int err = 0;
	if ((rc = state_of(cli, &o, t, state, sizeof(state))) != 0 ||
	    (rc = qz_cli_zfs_records_fetch(cli, &o, DEFAULT_STATE, state)) != 0) {
		qz_target_close(t);
		qz_unlock_volume(lock);
		qz_secret_free(pool_pass);
		return rc;
	}
	/* on a terminal, how far it is */
	qz_cli_reading_t r = {o.to != NULL ? o.to : o.over, NULL, 0, "restored", false};
	qz_read_progress_t pg = {qz_cli_show_reading, &r};
	bool terminal = !cli->json && isatty(STDERR_FILENO);
	err = qz_replica_restore(cli->be, t, state, o.volume, o.backup, o.to, o.over, &cfg,
				 pool_pass, terminal ? &pg : NULL, why, sizeof(why));
	if (terminal) /* the line ends, and what follows begins on its own */
		fputc('\n', stderr);
	qz_target_close(t);
	qz_unlock_volume(lock);
	qz_secret_free(pool_pass);
	if (err != 0)
		return qz_cli_refused(
		    cli, err == EEXIST || err == ENOENT || err == EBUSY ? err : EBADMSG, why);
	return qz_cli_report(cli, "restored", o.to != NULL ? o.to : o.over);
}

/* Deletes the backups retention lets go, from the qube and from dom0's records. */
static int cmd_prune(qz_cli_t *cli, int argc, char **argv)
{
	return qz_cli_prune(cli, argc, argv, true, DEFAULT_STATE, qz_replica_remove);
}

const qz_cmd_t qz_backup_zfs_cmds[] = {
    {"create", cmd_create,
     "--target T [--state DIR] [--full] [--full-every DAYS] [SEALED [--no-settings]] "
     "(VOL | VM | VM-DATASET)...",
     "back encrypted volumes up, raw, to a backup qube that receives them into its ZFS (T: "
     "qube:NAME, zfs:DATASET, exec:CMD); SEALED, (--key-file F | --passphrase-fd N "
     "[--argon2-ops N] [--argon2-mib M]) [--sealed-target S]: dom0's records, and the settings of "
     "the qubes named, sealed beside "
     "them in S (for qube:NAME, that qube's sealed store): a fresh dom0 restores with the key",
     NULL, 0},
    {"list", cmd_list, "[--state DIR] [--target T [SEALED]]",
     "dom0's records of those backups (with --target: whether it holds each; with a key, the "
     "sealed records dom0 lacks taken back first)",
     NULL, QZ_CMD_NOZFS},
    {"verify", cmd_verify, "--target T [--state DIR] [SEALED] (ID... | --all)",
     "have the target send backups back and verify every stream against dom0's records", NULL,
     QZ_CMD_NOZFS},
    {"prune", cmd_prune,
     "--target T [--state DIR] (--keep-last N | --keep-days D)... [--dry-run] [VOL...]",
     "delete the backups retention lets go (never one a kept backup's chain needs)", NULL, 0},
    {"restore", cmd_restore,
     "--target T [--state DIR] [SEALED] (--to DATASET | --over VOL --revisions-to-keep N "
     "[--pool-passphrase-fd N]) (--volume NAME | --backup ID)",
     "restore a chain (full first) into a new volume or over one, every stream verified before "
     "ZFS sees it",
     NULL, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
