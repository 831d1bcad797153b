/* SPDX-License-Identifier: BSD-2-Clause */
/* qzfs create | snapshot | clone | destroy | device | list: plain dataset operations on real ZFS.
 */
#include "cli.h"
#include "error.h"
#include "zname.h"
#include "zprop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROPS 32

/* Splits PROP=VALUE arguments into props; returns the count or -1 on a malformed one. */
static int parse_props(int argc, char **argv, qz_prop_t *props)
{
	if (argc > MAX_PROPS)
		return -1;
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (eq == NULL || eq == argv[i])
			return -1;
		*eq = '\0';
		props[i].name = argv[i];
		props[i].value = eq + 1;
	}
	return argc;
}

static int cmd_create(qz_cli_t *cli, int argc, char **argv)
{
	if (argc < 2)
		return qz_cli_usage(cli, "a volume name and a size are needed");
	const char *name = argv[0];
	uint64_t size;
	if (qz_name_check(name, QZ_NAME_DATASET) != 0)
		return qz_cli_usage(cli, "not a valid ZFS volume name");
	if (qz_parse_size(argv[1], &size) != 0 || size == 0)
		return qz_cli_usage(cli,
				    "the size must be a positive number with an optional K/M/G/T");
	qz_prop_t props[MAX_PROPS + 1];
	int n = parse_props(argc - 2, argv + 2, props);
	if (n < 0)
		return qz_cli_usage(cli, "properties are given as PROP=VALUE");
	char sizebuf[32];
	snprintf(sizebuf, sizeof(sizebuf), "%llu", (unsigned long long)size);
	props[n].name = "volsize";
	props[n].value = sizebuf;
	int err = cli->be->ops->create(cli->be, name, QZ_VOLUME, props, (size_t)n + 1, NULL, 0);
	if (err != 0)
		return qz_cli_fail(cli, name, err);
	return qz_cli_report(cli, "created", name);
}

static int cmd_snapshot(qz_cli_t *cli, int argc, char **argv)
{
	if (argc < 1)
		return qz_cli_usage(cli, "at least one DATASET@SNAPSHOT is needed");
	for (int i = 0; i < argc; i++)
		if (qz_name_check(argv[i], QZ_NAME_SNAPSHOT) != 0)
			return qz_cli_usage(cli, "snapshot names look like pool/dataset@name");
	int err = cli->be->ops->snapshot(cli->be, (const char *const *)argv, (size_t)argc, NULL, 0);
	if (err != 0)
		return qz_cli_fail(cli, argc == 1 ? argv[0] : "snapshots", err);
	for (int i = 0; i < argc; i++)
		qz_cli_report(cli, "snapshot", argv[i]);
	return QZ_EXIT_OK;
}

static int cmd_clone(qz_cli_t *cli, int argc, char **argv)
{
	if (argc != 2)
		return qz_cli_usage(cli, "a snapshot and a new name are needed");
	if (qz_name_check(argv[0], QZ_NAME_SNAPSHOT) != 0 ||
	    qz_name_check(argv[1], QZ_NAME_DATASET) != 0)
		return qz_cli_usage(cli, "clone pool/dataset@snapshot pool/newname");
	int err = cli->be->ops->clone(cli->be, argv[0], argv[1], NULL, 0);
	if (err != 0)
		return qz_cli_fail(cli, argv[1], err);
	return qz_cli_report(cli, "cloned", argv[1]);
}

static int cmd_destroy(qz_cli_t *cli, int argc, char **argv)
{
	if (argc < 1)
		return qz_cli_usage(cli, "name what to destroy");
	for (int i = 0; i < argc; i++) {
		enum qz_name_kind kind = qz_name_kind_of(argv[i]);
		if (qz_name_check(argv[i], kind) != 0 || kind == QZ_NAME_BOOKMARK)
			return qz_cli_usage(cli, "not a dataset or snapshot name");
		if (strchr(argv[i], '/') == NULL && kind == QZ_NAME_DATASET)
			return qz_cli_usage(cli, "refusing to destroy a pool's root dataset");
	}
	for (int i = 0; i < argc; i++) {
		int err = qz_name_kind_of(argv[i]) == QZ_NAME_SNAPSHOT
			      ? cli->be->ops->destroy_snaps(cli->be, (const char *const *)&argv[i],
							    1, false)
			      : cli->be->ops->destroy(cli->be, argv[i]);
		if (err != 0)
			return qz_cli_fail(cli, argv[i], err);
		qz_cli_report(cli, "destroyed", argv[i]);
	}
	return QZ_EXIT_OK;
}

static int cmd_list(qz_cli_t *cli, int argc, char **argv)
{
	if (argc != 1)
		return qz_cli_usage(cli, "name the dataset to list");
	static const char *const cols[] = {"type", "volsize", "used", "origin", "guid"};
	qz_list_t l;
	int err = cli->be->ops->list(cli->be, argv[0], -1, QZ_FILESYSTEM | QZ_VOLUME | QZ_SNAPSHOT,
				     cols, 5, &l);
	if (err != 0)
		return qz_cli_fail(cli, argv[0], err);
	if (cli->json)
		qz_json_array(&cli->out, NULL);
	else
		printf("%-40s %-10s %14s %12s %s\n", "NAME", "TYPE", "VOLSIZE", "USED", "ORIGIN");
	for (size_t r = 0; r < l.nrows; r++) {
		const char *name = qz_list_cell(&l, r, 0), *type = qz_list_cell(&l, r, 1),
			   *volsize = qz_list_cell(&l, r, 2), *used = qz_list_cell(&l, r, 3),
			   *origin = qz_list_cell(&l, r, 4), *guid = qz_list_cell(&l, r, 5);
		if (!cli->json) {
			printf("%-40s %-10s %14s %12s %s\n", name, type, volsize, used, origin);
			continue;
		}
		qz_json_object(&cli->out, NULL);
		qz_json_string(&cli->out, "name", name);
		qz_json_string(&cli->out, "type", type);
		if (strcmp(volsize, "-") != 0)
			qz_json_uint(&cli->out, "volsize", strtoull(volsize, NULL, 10));
		qz_json_uint(&cli->out, "used", strtoull(used, NULL, 10));
		if (strcmp(origin, "-") != 0)
			qz_json_string(&cli->out, "origin", origin);
		qz_json_string(&cli->out, "guid", guid);
		qz_json_end(&cli->out, '}');
	}
	if (cli->json)
		qz_json_end(&cli->out, ']');
	qz_list_free(&l);
	return QZ_EXIT_OK;
}

static int cmd_device(qz_cli_t *cli, int argc, char **argv)
{
	if (argc != 1 || qz_name_check(argv[0], QZ_NAME_DATASET) != 0)
		return qz_cli_usage(cli, "name one volume");
	char path[512];
	int err = cli->be->ops->zvol_path(cli->be, argv[0], path, sizeof(path));
	if (err != 0)
		return qz_cli_fail(cli, argv[0], err);
	return qz_cli_report(cli, "device", path);
}

const qz_cmd_t qz_dataset_cmds[] = {
    {"create", cmd_create, "VOLUME SIZE [PROP=VALUE]...", "create a sparse volume", NULL, 0},
    {"snapshot", cmd_snapshot, "DATASET@SNAP...", "take snapshots, all in one transaction", NULL,
     0},
    {"clone", cmd_clone, "DATASET@SNAP NEWNAME", "clone a snapshot", NULL, 0},
    {"destroy", cmd_destroy, "NAME...", "destroy volumes, datasets or snapshots", NULL, 0},
    {"device", cmd_device, "VOLUME", "wait for a volume's block device; print its path", NULL, 0},
    {"list", cmd_list, "DATASET", "list a dataset, its descendants and snapshots", NULL, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
