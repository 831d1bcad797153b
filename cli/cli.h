/* SPDX-License-Identifier: BSD-2-Clause */
/* The qzfs command line: global state and the subcommand tables, one file per group. */
#ifndef QZFS_CLI_H
#define QZFS_CLI_H

#include "backend.h"
#include "json.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct qz_cli {
	bool json;	  /* --json: machine-readable output on stdout */
	qz_backend_t *be; /* opened before a subcommand runs */
	const char *cmd;  /* the subcommand's name, for messages */
	qz_json_t out;
} qz_cli_t;

typedef struct qz_cmd {
	const char *name;
	int (*fn)(qz_cli_t *cli, int argc, char **argv); /* returns an exit code */
	const char *usage;
	const char *help;
	const struct qz_cmd *group; /* a group's subcommands (fn is then NULL) */
	unsigned flags;
} qz_cmd_t;

/* Take the lock of the volume named by the first argument while the command runs. */
#define QZ_CMD_LOCK 1u
/* Needs no ZFS at all (cli->be stays NULL). */
#define QZ_CMD_NOZFS 2u

/* The command tables, one file each; NULL-terminated. */
extern const qz_cmd_t qz_dataset_cmds[]; /* plain datasets and snapshots (cmd_dataset.c) */
extern const qz_cmd_t qz_pool_cmds[];	 /* qzfs pool ... (cmd_pool.c) */
extern const qz_cmd_t qz_volume_cmds[];	 /* qzfs volume ... (cmd_volume.c) */
extern const qz_cmd_t qz_udev_cmds[];	 /* qzfs udev ... (cmd_udev.c) */
extern const qz_cmd_t qz_key_cmds[];	 /* qzfs key ... (cmd_key.c) */
extern const qz_cmd_t qz_backup_cmds[];	 /* qzfs backup ... (cmd_backup.c) */

struct qz_secret;
/* Reads a passphrase from fd (prompting without echo on a terminal); NULL with *rc set to the
 * exit code after reporting why. */
struct qz_secret *qz_cli_passphrase(qz_cli_t *cli, int fd, const char *prompt, int *rc);
/* Parses [--passphrase-fd N] [--pbkdf2-iters N] from argv[first...] (iters NULL: not allowed). */
int qz_cli_key_options(qz_cli_t *cli, int argc, char **argv, int first, int *fd, uint64_t *iters);

/* Reports a failed operation on what to stderr and returns the matching exit code. */
int qz_cli_fail(qz_cli_t *cli, const char *what, int err);
/* Prints a result for people, or {"key": value} with --json. */
int qz_cli_report(qz_cli_t *cli, const char *key, const char *value);
struct qz_volinfo;
/* Shows a volume (a JSON object named key inside an object, or at top level when key is NULL). */
void qz_cli_volinfo(qz_cli_t *cli, const char *key, const char *vol, const struct qz_volinfo *in);
/* Reports a usage error for the current subcommand and returns QZ_EXIT_USAGE. */
int qz_cli_usage(qz_cli_t *cli, const char *msg);

#endif
