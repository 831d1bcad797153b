/*
 * qzfs: ZFS volume storage for Qubes OS. Every subcommand comes from a table; errors go to stderr
 * as one line and an exit code (see README.md), results to stdout (JSON with --json).
 */
#include "cli.h"
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const qz_cmd_t *const groups[] = {qz_dataset_cmds, NULL};

int qz_cli_fail(qz_cli_t *cli, const char *what, int err)
{
	const char *detail = cli->be != NULL ? qz_be_detail(cli->be) : "";
	if (strcmp(detail, what) == 0)
		detail = "";
	fprintf(stderr, "qzfs %s: %s: %s%s%s\n", cli->cmd, what, qz_strerror(err),
		detail[0] != '\0' ? ": " : "", detail);
	return (int)qz_exit_code(err);
}

int qz_cli_usage(qz_cli_t *cli, const char *msg)
{
	for (const qz_cmd_t *const *g = groups; *g != NULL; g++)
		for (const qz_cmd_t *c = *g; c->name != NULL; c++)
			if (strcmp(c->name, cli->cmd) == 0)
				fprintf(stderr, "qzfs %s: %s\nusage: qzfs %s %s\n", cli->cmd, msg,
					c->name, c->usage);
	return QZ_EXIT_USAGE;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: qzfs [--json] COMMAND [ARGS...]\n"
		   "       qzfs --help | --version\n\ncommands:\n");
	for (const qz_cmd_t *const *g = groups; *g != NULL; g++)
		for (const qz_cmd_t *c = *g; c->name != NULL; c++)
			fprintf(f, "  %-10s %-34s %s\n", c->name, c->usage, c->help);
	fprintf(f, "\nexit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 exists, 5 busy,\n"
		   "            6 ZFS unavailable, 7 key not loaded or wrong, 8 pool full\n"
		   "environment: QZFS_BACKEND=model runs on the in-memory model (tests only)\n");
}

static const qz_cmd_t *lookup(const char *name)
{
	for (const qz_cmd_t *const *g = groups; *g != NULL; g++)
		for (const qz_cmd_t *c = *g; c->name != NULL; c++)
			if (strcmp(c->name, name) == 0)
				return c;
	return NULL;
}

int main(int argc, char **argv)
{
	qz_cli_t cli = {0};
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			cli.json = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return QZ_EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("qzfs %s\n", QZFS_VERSION);
			return QZ_EXIT_OK;
		} else {
			fprintf(stderr, "qzfs: unknown option %s\n", argv[i]);
			usage(stderr);
			return QZ_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return QZ_EXIT_USAGE;
	}
	const qz_cmd_t *cmd = lookup(argv[i]);
	if (cmd == NULL) {
		fprintf(stderr, "qzfs: unknown command '%s' (qzfs --help lists them)\n", argv[i]);
		return QZ_EXIT_USAGE;
	}
	cli.cmd = cmd->name;
	qz_json_init(&cli.out, stdout);
	int err = qz_backend_open(getenv("QZFS_BACKEND"), getenv("QZFS_MODEL_POOL"), &cli.be);
	if (err != 0) {
		fprintf(stderr, "qzfs %s: cannot reach ZFS: %s%s\n", cli.cmd, strerror(err),
			err == ENOENT ? " (is the zfs kernel module loaded?)" : "");
		return QZ_EXIT_NOZFS;
	}
	int rc = cmd->fn(&cli, argc - i - 1, argv + i + 1);
	qz_backend_close(cli.be);
	if (fflush(stdout) != 0 && rc == QZ_EXIT_OK)
		rc = QZ_EXIT_FAIL;
	return rc;
}
