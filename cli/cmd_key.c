/* SPDX-License-Identifier: BSD-2-Clause */
/* qzfs key ...: the key of an encrypted pool's root, for people and for the zfs_encrypted
 * driver. Passphrases are read from a file descriptor (--passphrase-fd, default 0), never
 * from arguments or the environment; from a terminal, without echo. */
#include "cli.h"
#include "engine.h"
#include "error.h"

#include <errno.h>
#include <getopt.h>
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

static const struct option key_opts[] = {
    {"passphrase-fd", required_argument, NULL, QZ_KEYOPT_FD},
    {"pbkdf2-iters", required_argument, NULL, QZ_KEYOPT_ITERS},
    {"encrypted", no_argument, NULL, QZ_KEYOPT_ENCRYPTED},
    {"block-devices", required_argument, NULL, QZ_KEYOPT_DEVICES},
    {NULL, 0, NULL, 0},
};

struct key_ctx {
	qz_key_opts_t *o;
	unsigned takes;
};

static int on_key_option(qz_cli_t *cli, void *ctx, int id, char *value)
{
	struct key_ctx *c = ctx;
	char *end;
	if (!((unsigned)id & c->takes)) {
		char msg[80];
		for (const struct option *k = key_opts; k->name != NULL; k++)
			if (k->val == id)
				snprintf(msg, sizeof(msg), "--%s is not an option of this command",
					 k->name);
		return qz_cli_usage(cli, msg);
	}
	if (id == QZ_KEYOPT_FD) {
		long v = strtol(value, &end, 10);
		if (*end != '\0' || end == value || v < 0 || v > 1024)
			return qz_cli_usage(cli, "--passphrase-fd takes a descriptor number");
		c->o->fd = (int)v;
	} else if (id == QZ_KEYOPT_ITERS) {
		unsigned long long v = strtoull(value, &end, 10);
		if (*end != '\0' || v < QZ_PBKDF2_MIN_ITERS || v > 100000000ULL)
			return qz_cli_usage(cli, "--pbkdf2-iters takes 100000 or more");
		c->o->iters = v;
	} else if (id == QZ_KEYOPT_ENCRYPTED) {
		c->o->encrypted = true;
	} else {
		c->o->devices = value;
	}
	return 0;
}

int qz_cli_key_options(qz_cli_t *cli, int argc, char **argv, unsigned takes, int npos,
		       const char *missing, qz_key_opts_t *o)
{
	memset(o, 0, sizeof(*o));
	o->iters = QZ_PBKDF2_ITERS;
	struct key_ctx ctx = {o, takes};
	int first, rc = qz_cli_getopt(cli, argc, argv, key_opts, on_key_option, &ctx, &first);
	if (rc != 0)
		return rc;
	if (argc - first != npos)
		return qz_cli_usage(cli, argc - first < npos ? missing : "too many arguments");
	o->args = argv + first;
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

#define NAME_ROOT "name the encrypted pool's root dataset"

static int cmd_load(qz_cli_t *cli, int argc, char **argv)
{
	qz_key_opts_t o;
	int rc = qz_cli_key_options(cli, argc, argv, QZ_KEYOPT_FD, 1, NAME_ROOT, &o);
	if (rc != 0)
		return rc;
	const char *root = o.args[0];
	bool loaded;
	int err = qz_key_status(cli->be, root, &loaded);
	if (err != 0)
		return qz_cli_fail(cli, root, err);
	if (!loaded) { /* asked only when needed */
		qz_secret_t *pass = qz_cli_passphrase(cli, o.fd, "Passphrase", &rc);
		if (pass == NULL)
			return rc;
		err = qz_key_load(cli->be, root, pass);
		qz_secret_free(pass);
	}
	return err != 0 ? qz_cli_fail(cli, root, err) : qz_cli_report(cli, "loaded", root);
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
	qz_key_opts_t o;
	int rc =
	    qz_cli_key_options(cli, argc, argv, QZ_KEYOPT_FD | QZ_KEYOPT_ITERS, 1, NAME_ROOT, &o);
	if (rc != 0)
		return rc;
	qz_secret_t *pass = qz_cli_passphrase(cli, o.fd, "New passphrase", &rc);
	if (pass == NULL)
		return rc;
	int err = qz_key_change(cli->be, o.args[0], pass, o.iters);
	qz_secret_free(pass);
	return err != 0 ? qz_cli_fail(cli, o.args[0], err)
			: qz_cli_report(cli, "changed", o.args[0]);
}

const qz_cmd_t qz_key_cmds[] = {
    {"status", cmd_status, "ROOT", "is the key of an encrypted pool loaded?", NULL, 0},
    {"load", cmd_load, "ROOT [--passphrase-fd N]", "load the key (asks only if needed)", NULL, 0},
    {"unload", cmd_unload, "ROOT", "forget the key (refused while volumes are open)", NULL, 0},
    {"change", cmd_change, "ROOT [--passphrase-fd N] [--pbkdf2-iters N]",
     "a new passphrase (the key must be loaded)", NULL, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
