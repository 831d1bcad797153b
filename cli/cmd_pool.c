/* SPDX-License-Identifier: BSD-2-Clause */
/* qzfs pool ...: a Qubes pool's root dataset, and the bulk listing of its volumes. */
#include "cli.h"
#include "engine.h"
#include "error.h"
#include "zname.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmd_setup(qz_cli_t *cli, int argc, char **argv)
{
	qz_key_opts_t o;
	int rc = qz_cli_key_options(cli, argc, argv, ~0u, 2,
				    "a root dataset and the Qubes pool's name are needed", &o);
	if (rc != 0)
		return rc;
	const char *root = o.args[0], *name = o.args[1];
	if (o.encrypted && o.devices != NULL)
		return qz_cli_usage(cli, "--encrypted goes on a dataset of an existing zpool");
	if (o.encrypted) {
		qz_secret_t *pass = qz_cli_passphrase(cli, o.fd, "Passphrase", &rc);
		if (pass == NULL)
			return rc;
		int err = qz_pool_setup_encrypted(cli->be, root, name, pass, o.iters);
		qz_secret_free(pass);
		return err != 0 ? qz_cli_fail(cli, root, err) : qz_cli_report(cli, "ready", root);
	}
	const char *devs[40];
	size_t n = 0;
	for (char *d = o.devices != NULL ? strtok(o.devices, ",") : NULL; d != NULL && n < 40;
	     d = strtok(NULL, ","))
		devs[n++] = d;
	if (o.devices != NULL && n == 0)
		return qz_cli_usage(cli, "--block-devices takes DEV[,DEV...]");
	int err = n > 0 ? qz_pool_setup_devices(cli->be, root, name, devs, n)
			: qz_pool_setup(cli->be, root, name);
	return err != 0 ? qz_cli_fail(cli, root, err) : qz_cli_report(cli, "ready", root);
}

static int cmd_destroy(qz_cli_t *cli, int argc, char **argv)
{
	if (argc != 1)
		return qz_cli_usage(cli, "name the pool's root dataset");
	int err = qz_pool_destroy(cli->be, argv[0]);
	return err != 0 ? qz_cli_fail(cli, argv[0], err) : qz_cli_report(cli, "destroyed", argv[0]);
}

/* Prints the pool's size, usage, free space and health; with JSON, into an open object. */
static int summary(qz_cli_t *cli, const char *root)
{
	const char *cols[] = {"used", "available", "qubes-zfs:pool"};
	char zpool[QZ_NAME_MAX], health[64];
	qz_list_t l;
	int err = cli->be->ops->list(cli->be, root, 0, QZ_FILESYSTEM, cols, 3, &l);
	if (err != 0)
		return err;
	snprintf(zpool, sizeof(zpool), "%.*s", (int)qz_name_pool_len(root), root);
	if (cli->be->ops->zpool_get(cli->be, zpool, "health", health, sizeof(health)) != 0)
		snprintf(health, sizeof(health), "UNKNOWN");
	uint64_t used = strtoull(qz_list_cell(&l, 0, 1), NULL, 10);
	uint64_t avail = strtoull(qz_list_cell(&l, 0, 2), NULL, 10);
	if (cli->json) {
		qz_json_string(&cli->out, "root", root);
		qz_json_string(&cli->out, "pool", qz_list_cell(&l, 0, 3));
		qz_json_uint(&cli->out, "size", used + avail);
		qz_json_uint(&cli->out, "usage", used);
		qz_json_uint(&cli->out, "free", avail);
		qz_json_string(&cli->out, "health", health);
	} else {
		printf("%s: pool %s, size %llu, usage %llu, free %llu, zpool %s %s\n", root,
		       qz_list_cell(&l, 0, 3), (unsigned long long)(used + avail),
		       (unsigned long long)used, (unsigned long long)avail, zpool, health);
	}
	qz_list_free(&l);
	return 0;
}

static int cmd_info(qz_cli_t *cli, int argc, char **argv)
{
	if (argc != 1)
		return qz_cli_usage(cli, "name the pool's root dataset");
	if (cli->json)
		qz_json_object(&cli->out, NULL);
	int err = summary(cli, argv[0]);
	if (cli->json)
		qz_json_end(&cli->out, '}');
	return err != 0 ? qz_cli_fail(cli, argv[0], err) : QZ_EXIT_OK;
}

static void print_volume(void *arg, const char *vol, const qz_volinfo_t *in)
{
	qz_cli_volinfo(arg, vol, vol, in);
}

static int cmd_volumes(qz_cli_t *cli, int argc, char **argv)
{
	if (argc != 1)
		return qz_cli_usage(cli, "name the pool's root dataset");
	if (cli->json)
		qz_json_object(&cli->out, NULL);
	int err = summary(cli, argv[0]);
	if (cli->json)
		qz_json_object(&cli->out, "volumes");
	if (err == 0)
		err = qz_pool_volumes(cli->be, argv[0], print_volume, cli);
	if (cli->json) {
		qz_json_end(&cli->out, '}');
		qz_json_end(&cli->out, '}');
	}
	return err != 0 ? qz_cli_fail(cli, argv[0], err) : QZ_EXIT_OK;
}

const qz_cmd_t qz_pool_cmds[] = {
    {"setup", cmd_setup, "ROOT NAME [--block-devices DEV,...|--encrypted [--passphrase-fd N]]",
     "make ROOT the home of Qubes pool NAME (creating its zpool on the devices, or as an "
     "encryption root with a passphrase)",
     NULL, 0},
    {"destroy", cmd_destroy, "ROOT", "remove an empty pool's datasets (never a zpool)", NULL, 0},
    {"info", cmd_info, "ROOT", "size, usage, free space and the zpool's health", NULL, 0},
    {"volumes", cmd_volumes, "ROOT", "the pool's figures and every volume, from one ZFS query",
     NULL, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
