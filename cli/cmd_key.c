/* SPDX-License-Identifier: BSD-2-Clause */
/* qzfs key ...: the key of an encrypted pool's root, for people and for the zfs_encrypted
 * driver. Passphrases are read from a file descriptor (--passphrase-fd, default 0), never
 * from arguments or the environment; from a terminal, without echo. */
#include "cli.h"
#include "engine.h"
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

qz_secret_t *qz_cli_passphrase(qz_cli_t *cli, int fd, const char *prompt, int *rc)
{
	struct termios old, quiet;
	bool tty = isatty(fd) && tcgetattr(fd, &old) == 0;
	if (tty) {
		fprintf(stderr, "%s: ", prompt);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	int err;
	qz_secret_t *s = qz_secret_read(fd, &err);
	if (tty) {
		tcsetattr(fd, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (s == NULL)
		*rc = err == ERANGE ? qz_cli_usage(cli, "a passphrase has 8 to 512 bytes")
				    : qz_cli_fail(cli, "reading the passphrase", err);
	return s;
}

int qz_cli_key_options(qz_cli_t *cli, int argc, char **argv, int first, int *fd, uint64_t *iters)
{
	*fd = 0;
	if (iters != NULL)
		*iters = QZ_PBKDF2_ITERS;
	for (int i = first; i < argc; i++) {
		char *end;
		if (strcmp(argv[i], "--passphrase-fd") == 0 && i + 1 < argc) {
			long v = strtol(argv[++i], &end, 10);
			if (*end != '\0' || v < 0 || v > 1024)
				return qz_cli_usage(cli,
						    "--passphrase-fd takes a descriptor number");
			*fd = (int)v;
		} else if (strcmp(argv[i], "--pbkdf2-iters") == 0 && iters != NULL &&
			   i + 1 < argc) {
			unsigned long long v = strtoull(argv[++i], &end, 10);
			if (*end != '\0' || v < QZ_PBKDF2_MIN_ITERS || v > 100000000ULL)
				return qz_cli_usage(cli, "--pbkdf2-iters takes 100000 or more");
			*iters = v;
		} else {
			return qz_cli_usage(cli, "unknown option");
		}
	}
	return 0;
}

static int cmd_status(qz_cli_t *cli, int argc, char **argv)
{
	if (argc != 1)
		return qz_cli_usage(cli, "name the encrypted pool's root dataset");
	bool loaded;
	int err = qz_key_status(cli->be, argv[0], &loaded);
	if (err != 0)
		return qz_cli_fail(cli, argv[0], err);
	if (cli->json) {
		qz_json_object(&cli->out, NULL);
		qz_json_string(&cli->out, "root", argv[0]);
		qz_json_bool(&cli->out, "loaded", loaded);
		qz_json_end(&cli->out, '}');
	} else {
		printf("%s: key %s\n", argv[0], loaded ? "loaded" : "not loaded");
	}
	return QZ_EXIT_OK;
}

static int cmd_load(qz_cli_t *cli, int argc, char **argv)
{
	int fd, rc;
	if (argc < 1)
		return qz_cli_usage(cli, "name the encrypted pool's root dataset");
	if ((rc = qz_cli_key_options(cli, argc, argv, 1, &fd, NULL)) != 0)
		return rc;
	bool loaded;
	int err = qz_key_status(cli->be, argv[0], &loaded);
	if (err != 0)
		return qz_cli_fail(cli, argv[0], err);
	if (!loaded) { /* asked only when needed */
		qz_secret_t *pass = qz_cli_passphrase(cli, fd, "Passphrase", &rc);
		if (pass == NULL)
			return rc;
		err = qz_key_load(cli->be, argv[0], pass);
		qz_secret_free(pass);
	}
	return err != 0 ? qz_cli_fail(cli, argv[0], err) : qz_cli_report(cli, "loaded", argv[0]);
}

static int cmd_unload(qz_cli_t *cli, int argc, char **argv)
{
	if (argc != 1)
		return qz_cli_usage(cli, "name the encrypted pool's root dataset");
	int err = qz_key_unload(cli->be, argv[0]);
	return err != 0 ? qz_cli_fail(cli, argv[0], err) : qz_cli_report(cli, "unloaded", argv[0]);
}

static int cmd_change(qz_cli_t *cli, int argc, char **argv)
{
	int fd, rc;
	uint64_t iters;
	if (argc < 1)
		return qz_cli_usage(cli, "name the encrypted pool's root dataset");
	if ((rc = qz_cli_key_options(cli, argc, argv, 1, &fd, &iters)) != 0)
		return rc;
	qz_secret_t *pass = qz_cli_passphrase(cli, fd, "New passphrase", &rc);
	if (pass == NULL)
		return rc;
	int err = qz_key_change(cli->be, argv[0], pass, iters);
	qz_secret_free(pass);
	return err != 0 ? qz_cli_fail(cli, argv[0], err) : qz_cli_report(cli, "changed", argv[0]);
}

const qz_cmd_t qz_key_cmds[] = {
    {"status", cmd_status, "ROOT", "is the key of an encrypted pool loaded?", NULL, 0},
    {"load", cmd_load, "ROOT [--passphrase-fd N]", "load the key (asks only if needed)", NULL, 0},
    {"unload", cmd_unload, "ROOT", "forget the key (refused while volumes are open)", NULL, 0},
    {"change", cmd_change, "ROOT [--passphrase-fd N] [--pbkdf2-iters N]",
     "a new passphrase (the key must be loaded)", NULL, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
