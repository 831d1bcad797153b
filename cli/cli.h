/* SPDX-License-Identifier: BSD-2-Clause */
/* The qzfs command line: global state and the subcommand tables, one file per group. */
#ifndef QZFS_CLI_H
#define QZFS_CLI_H

#include "backend.h"
#include "json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qz_cli {
	bool json;	  /* --json: machine-readable output on stdout */
	qz_backend_t *be; /* opened before a subcommand runs */
	const char *cmd;  /* the subcommand's name, for messages */
	qz_json_t out;
	char why[4096]; /* the last message said (qz_cli_say), as printed after the command */
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
/* main does not open ZFS (cli->be stays NULL): the command needs none, or opens it itself
 * (qz_cli_backend_open) once it has taken its locks. */
#define QZ_CMD_NOZFS 2u

/* The command tables, one file each; NULL-terminated. */
extern const qz_cmd_t qz_dataset_cmds[]; /* plain datasets and snapshots (cmd_dataset.c) */
extern const qz_cmd_t qz_pool_cmds[];	 /* qzfs pool ... (cmd_pool.c) */
extern const qz_cmd_t qz_volume_cmds[];	 /* qzfs volume ... (cmd_volume.c) */
extern const qz_cmd_t qz_udev_cmds[];	 /* qzfs udev ... (cmd_udev.c) */
extern const qz_cmd_t qz_key_cmds[];	 /* qzfs key ... (cmd_key.c) */
extern const qz_cmd_t qz_backup_cmds[];	 /* qzfs backup ... (cmd_backup.c) */
/* The volume a volume command's arguments name (the first that is not an option), or NULL:
 * what main locks before the command runs. */
const char *qz_cli_volume_of(int argc, char **argv);

struct option;
/* What a command does with one of its options: id is the option's val, value its argument
 * (NULL if it takes none); an exit code, 0 to go on. */
typedef int (*qz_opt_fn)(qz_cli_t *cli, void *ctx, int id, char *value);
/* Parses the options of the current command with getopt_long (argv[0] is the command's first
 * argument, argv[-1] its name): anywhere on the line, --name VALUE or --name=VALUE, "--" ends
 * them. Calls on for each; the arguments that are not options end up, in order, in
 * argv[*first..argc). An unknown option or a missing value is reported by name (usage). */
int qz_cli_getopt(qz_cli_t *cli, int argc, char **argv, const struct option *opts, qz_opt_fn on,
		  void *ctx, int *first);

struct qz_secret;
/* Reads a passphrase from fd (prompting without echo on a terminal); NULL with *rc set to the
 * exit code after reporting why. */
struct qz_secret *qz_cli_passphrase(qz_cli_t *cli, int fd, const char *prompt, int *rc);
/* The options of commands that take a passphrase (key load|change, pool setup). */
typedef struct qz_key_opts {
	int fd;		/* --passphrase-fd N (default 0) */
	uint64_t iters; /* --pbkdf2-iters N (default QZ_PBKDF2_ITERS) */
	bool encrypted; /* --encrypted */
	char *devices;	/* --block-devices DEV[,DEV...], or NULL */
	char **args;	/* the arguments that are not options */
} qz_key_opts_t;
#define QZ_KEYOPT_FD	    1u
#define QZ_KEYOPT_ITERS	    2u
#define QZ_KEYOPT_ENCRYPTED 4u
#define QZ_KEYOPT_DEVICES   8u
/* Parses the options takes allows (QZ_KEYOPT_* bits) and exactly npos other arguments (missing
 * says what is needed when there are fewer) into o; an exit code on failure. */
int qz_cli_key_options(qz_cli_t *cli, int argc, char **argv, unsigned takes, int npos,
		       const char *missing, qz_key_opts_t *o);

/* Copies in to out (room for len bytes) with every control or non-ASCII byte written as \xHH:
 * text that may come from a target or a token never reaches a terminal raw. */
void qz_cli_escape(const char *in, char *out, size_t len);
/* Writes "qzfs COMMAND: MESSAGE" to stderr, the message formatted, then escaped. */
void qz_cli_say(qz_cli_t *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports a failed operation on what to stderr and returns the matching exit code. */
int qz_cli_fail(qz_cli_t *cli, const char *what, int err);
/* Prints a result for people, or {"key": value} with --json. */
int qz_cli_report(qz_cli_t *cli, const char *key, const char *value);
struct qz_volinfo;
/* Shows a volume (a JSON object named key inside an object, or at top level when key is NULL). */
void qz_cli_volinfo(qz_cli_t *cli, const char *key, const char *vol, const struct qz_volinfo *in);
/* Reports a usage error for the current subcommand (cli NULL: quietly) and returns
 * QZ_EXIT_USAGE. */
int qz_cli_usage(qz_cli_t *cli, const char *msg);
/* Opens ZFS (or the model QZFS_BACKEND names): 0, or an exit code, said why. main opens it
 * before a command runs, unless the command reaches ZFS itself (QZ_CMD_NOZFS). */
int qz_cli_backend_open(qz_cli_t *cli);
/* Lets go of ZFS while another program that reaches it runs (qubesd, through the Admin API:
 * a stored model is locked by the process that has it open); qz_cli_backend_open takes it
 * again. */
void qz_cli_backend_release(qz_cli_t *cli);

#endif
