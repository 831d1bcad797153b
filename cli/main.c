/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * qzfs: ZFS volume storage for Qubes OS. Every subcommand comes from a table; errors go to stderr
 * as one line and an exit code (see README.md), results to stdout (JSON with --json).
 */
#include "cli.h"
#include "engine.h"
#include "error.h"
#include "profile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const qz_cmd_t groups_table[] = {
    {"pool", NULL, "COMMAND ...", "Qubes pools", qz_pool_cmds, 0},
    {"volume", NULL, "COMMAND VOLUME ...", "the Qubes volume contract", qz_volume_cmds, 0},
    {"key", NULL, "COMMAND ROOT ...", "the key of an encrypted pool", qz_key_cmds, 0},
    {"backup", NULL, "COMMAND ...", "secure backups (parts)", qz_backup_cmds, 0},
    {"udev", NULL, "COMMAND DEVICE", "questions of the udev rule", qz_udev_cmds, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
static const qz_cmd_t *const groups[] = {groups_table, qz_dataset_cmds, NULL};

int qz_cli_report(qz_cli_t *cli, const char *key, const char *value)
{
	if (cli->json) {
		qz_json_object(&cli->out, NULL);
		qz_json_string(&cli->out, key, value);
		qz_json_end(&cli->out, '}');
	} else {
		printf("%s %s\n", key, value);
	}
	return QZ_EXIT_OK;
}

void qz_cli_escape(const char *in, char *out, size_t len)
{
	size_t k = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p != 0 && k + 5 < len; p++)
		k += (size_t)snprintf(out + k, len - k, *p < 0x20 || *p >= 0x7f ? "\\x%02x" : "%c",
				      *p);
	if (len > 0)
		out[k < len ? k : len - 1] = 0;
}

void qz_cli_say(qz_cli_t *cli, const char *fmt, ...)
{
	char msg[1024], safe[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	qz_cli_escape(msg, safe, sizeof(safe));
	snprintf(cli->why, sizeof(cli->why), "%s", safe);
	fprintf(stderr, "qzfs %s: %s\n", cli->cmd, safe);
}

int qz_cli_fail(qz_cli_t *cli, const char *what, int err)
{
	const char *detail = cli->be != NULL ? qz_be_detail(cli->be) : "";
	if (strcmp(detail, what) == 0)
		detail = "";
	qz_cli_say(cli, "%s: %s%s%s", what, qz_strerror(err), detail[0] != '\0' ? ": " : "",
		   detail);
	return (int)qz_exit_code(err);
}

static const qz_cmd_t *current;

#define CONFIG_HELP                                                                                \
	"CONFIG, the volume's settings from qubes.xml: [--save-on-stop] [--snap-on-start\n"        \
	"  --source VOL] [--revisions-to-keep N] [--size BYTES] [--ephemeral]\n"

int qz_cli_usage(qz_cli_t *cli, const char *msg)
{
	if (cli == NULL)
		return QZ_EXIT_USAGE;
	qz_cli_say(cli, "%s", msg);
	fprintf(stderr, "usage: qzfs %s %s\n", cli->cmd, current != NULL ? current->usage : "");
	return QZ_EXIT_USAGE;
}

static void list_table(FILE *f, const char *prefix, const qz_cmd_t *t)
{
	for (const qz_cmd_t *c = t; c->name != NULL; c++) {
		char name[64];
		if ((size_t)snprintf(name, sizeof(name), "%s%s%s", prefix, c->name,
				     c->group != NULL ? " " : "") >= sizeof(name))
			continue; /* no command name is that long */
		if (c->group != NULL)
			list_table(f, name, c->group);
		else
			fprintf(f, "  %-24s %-34s %s\n", name, c->usage, c->help);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: qzfs [--json] COMMAND [ARGS...]   (options anywhere; --json too)\n"
		   "       qzfs COMMAND --help | qzfs --help | qzfs --version\n\ncommands:\n");
	for (const qz_cmd_t *const *g = groups; *g != NULL; g++)
		list_table(f, "", *g);
	fprintf(f, "\n%s", CONFIG_HELP);
	fprintf(f, "\nexit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 exists, 5 busy,\n"
		   "            6 ZFS unavailable, 7 key not loaded or wrong, 8 pool full\n"
		   "environment: QZFS_BACKEND=model runs on the in-memory model (tests only)\n");
}

static const qz_cmd_t *lookup(const qz_cmd_t *const *tables, const char *name)
{
	for (const qz_cmd_t *const *g = tables; *g != NULL; g++)
		for (const qz_cmd_t *c = *g; c->name != NULL; c++)
			if (strcmp(c->name, name) == 0)
				return c;
	return NULL;
}

/* At a crash point (tests): keep what the operation did so far, as ZFS would. */
static void close_backend(void *be)
{
	qz_backend_close(be);
}

void qz_cli_backend_release(qz_cli_t *cli)
{
	qz_crash_before_exit(NULL, NULL);
	qz_backend_close(cli->be);
	cli->be = NULL;
}

int qz_cli_backend_open(qz_cli_t *cli)
{
	int err = qz_backend_open(getenv("QZFS_BACKEND"), getenv("QZFS_MODEL_POOL"), &cli->be);
	if (err != 0) {
		cli->be = NULL;
		qz_cli_say(cli, "cannot reach ZFS: %s%s", strerror(err),
			   err == ENOENT ? " (is the zfs kernel module loaded?)" : "");
		return QZ_EXIT_NOZFS;
	}
	qz_crash_before_exit(close_backend, cli->be);
	return 0;
}

/* Takes --json out of argv wherever it is (before a "--"): it is every command's. */
static bool take_json(int *argc, char **argv)
{
	bool json = false;
	int k = 1;
	for (int j = 1; j < *argc; j++) {
		if (strcmp(argv[j], "--") == 0) {
			while (j < *argc)
				argv[k++] = argv[j++];
			break;
		}
		if (strcmp(argv[j], "--json") == 0)
			json = true;
		else
			argv[k++] = argv[j];
	}
	argv[k] = NULL;
	*argc = k;
	return json;
}

/* Whether a command's arguments ask for its help (--help or -h before a "--"). */
static bool wants_help(int argc, char **argv)
{
	for (int j = 0; j < argc && strcmp(argv[j], "--") != 0; j++)
		if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	qz_prof_now(); /* the run's start, for its profile */
	qz_cli_t cli = {0};
	cli.json = take_json(&argc, argv);
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
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
	const qz_cmd_t *cmd = lookup(groups, argv[i]);
	static char cmdname[64];
	snprintf(cmdname, sizeof(cmdname), "%s", argv[i]);
	while (cmd != NULL && cmd->group != NULL) { /* "pool info", "volume start" */
		const qz_cmd_t *const sub[] = {cmd->group, NULL};
		if (++i >= argc) {
			fprintf(stderr, "qzfs %s: which command? (qzfs --help lists them)\n",
				cmdname);
			return QZ_EXIT_USAGE;
		}
		cmd = lookup(sub, argv[i]);
		snprintf(cmdname + strlen(cmdname), sizeof(cmdname) - strlen(cmdname), " %s",
			 argv[i]);
	}
	if (cmd == NULL) {
		fprintf(stderr, "qzfs: unknown command '%s' (qzfs --help lists them)\n", cmdname);
		return QZ_EXIT_USAGE;
	}
	current = cmd;
	cli.cmd = cmdname;
	if (wants_help(argc - i - 1, argv + i + 1)) {
		printf("usage: qzfs %s %s\n%s\n", cmdname, cmd->usage, cmd->help);
		if (strstr(cmd->usage, "CONFIG") != NULL)
			printf("%s", CONFIG_HELP);
		return QZ_EXIT_OK;
	}
	qz_json_init(&cli.out, stdout);
	/* the volume's lock first: a stored model's lock is taken by opening the backend */
	int lockfd = -1, err = 0;
	const char *vol =
	    (cmd->flags & QZ_CMD_LOCK) ? qz_cli_volume_of(argc - i - 1, argv + i + 1) : NULL;
	uint64_t t0 = qz_prof_now();
	if (vol != NULL && (err = qz_lock_volume(vol, &lockfd)) != 0) {
		fprintf(stderr, "qzfs %s: %s: cannot take the volume's lock: %s\n", cli.cmd, vol,
			strerror(err));
		return QZ_EXIT_FAIL;
	}
	if (vol != NULL)
		qz_prof_since("volume lock", t0);
	if (!(cmd->flags & QZ_CMD_NOZFS) && (err = qz_cli_backend_open(&cli)) != 0) {
		qz_unlock_volume(lockfd);
		return err;
	}
	int rc = cmd->fn(&cli, argc - i - 1, argv + i + 1);
	qz_backend_close(cli.be);
	qz_unlock_volume(lockfd);
	if (fflush(stdout) != 0 && rc == QZ_EXIT_OK)
		rc = QZ_EXIT_FAIL;
	qz_prof_write(cli.cmd);
	return rc;
}
