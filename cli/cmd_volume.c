/* SPDX-License-Identifier: BSD-2-Clause */
/* qzfs volume ...: the Qubes storage-volume contract, one subcommand per driver call. */
#include "cli.h"
#include "engine.h"
#include "error.h"
#include "zprop.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOLCFG_USAGE "[CONFIG]"

enum { O_SAVE = 1, O_SNAP, O_EPHEMERAL, O_SHRINK, O_SOURCE, O_SIZE, O_KEEP };

/* CONFIG, the volume's settings from qubes.xml, and resize's --allow-shrink. */
static const struct option volcfg_opts[] = {
    {"save-on-stop", no_argument, NULL, O_SAVE},
    {"snap-on-start", no_argument, NULL, O_SNAP},
    {"ephemeral", no_argument, NULL, O_EPHEMERAL},
    {"allow-shrink", no_argument, NULL, O_SHRINK},
    {"source", required_argument, NULL, O_SOURCE},
    {"size", required_argument, NULL, O_SIZE},
    {"revisions-to-keep", required_argument, NULL, O_KEEP},
    {NULL, 0, NULL, 0},
};

struct volcfg_ctx {
	qz_volcfg_t *cfg;
	bool *allow_shrink; /* NULL: not taken */
};

static int on_volcfg(qz_cli_t *cli, void *ctx, int id, char *value)
{
	struct volcfg_ctx *c = ctx;
	char *end;
	long v;
	switch (id) {
	case O_SAVE:
		c->cfg->save_on_stop = true;
		break;
	case O_SNAP:
		c->cfg->snap_on_start = true;
		break;
	case O_EPHEMERAL:
		c->cfg->ephemeral = true;
		break;
	case O_SHRINK:
		if (c->allow_shrink == NULL)
			return qz_cli_usage(cli, "--allow-shrink is resize's alone");
		*c->allow_shrink = true;
		break;
	case O_SOURCE:
		c->cfg->source = value;
		break;
	case O_SIZE:
		if (qz_parse_size(value, &c->cfg->size) != 0)
			return qz_cli_usage(cli, "--size takes a number of bytes");
		break;
	case O_KEEP:
		v = strtol(value, &end, 10);
		if (*end != '\0' || end == value || v < -1 || v > 1000)
			return qz_cli_usage(cli, "--revisions-to-keep takes -1, 0 or up to 1000");
		c->cfg->revisions_to_keep = (int)v;
		break;
	}
	return 0;
}

/* Splits argv into the volume's config (options, anywhere) and the arguments: at least
 * min_pos and at most npos of them, in pos (the ones not given NULL). */
static int parse(qz_cli_t *cli, int argc, char **argv, qz_volcfg_t *cfg, char **pos, int min_pos,
		 int npos, bool *allow_shrink)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->revisions_to_keep = 1;
	struct volcfg_ctx ctx = {cfg, allow_shrink};
	int first, rc = qz_cli_getopt(cli, argc, argv, volcfg_opts, on_volcfg, &ctx, &first);
	if (rc != 0)
		return rc;
	int n = argc - first;
	if (n < min_pos)
		return qz_cli_usage(cli, "missing arguments");
	if (n > npos)
		return qz_cli_usage(cli, "too many arguments");
	for (int i = 0; i < npos; i++)
		pos[i] = i < n ? argv[first + i] : NULL;
	if (cfg->snap_on_start != (cfg->source != NULL))
		return qz_cli_usage(cli, "--snap-on-start and --source go together");
	return 0;
}

const char *qz_cli_volume_of(int argc, char **argv)
{
	int first;
	qz_volcfg_t cfg;
	bool shrink;
	struct volcfg_ctx ctx = {&cfg, &shrink};
	/* quietly (cli NULL): the command's own parse reports what is wrong */
	int rc = qz_cli_getopt(NULL, argc, argv, volcfg_opts, on_volcfg, &ctx, &first);
	return rc == 0 && first < argc ? argv[first] : NULL;
}

/* Prints what qz_vol_info says of vol (or what the operation before knew of it: state, NULL
 * if nothing): the state a caller caches after each change; with device, also the block device
 * path once it is there. */
static int print_info(qz_cli_t *cli, const char *vol, const qz_volcfg_t *cfg, bool device,
		      const qz_volinfo_t *state)
{
	qz_volinfo_t *info = malloc(sizeof(*info));
	if (info == NULL)
		return qz_cli_fail(cli, vol, ENOMEM);
	int err = 0;
	if (state != NULL)
		*info = *state;
	else
		err = qz_vol_info(cli->be, vol, cfg, info);
	if (err == 0 && device)
		err = qz_vol_device(cli->be, vol, info->device, sizeof(info->device));
	if (err == 0)
		qz_cli_volinfo(cli, NULL, vol, info);
	free(info);
	return err == 0 ? QZ_EXIT_OK : qz_cli_fail(cli, vol, err);
}

/* Reports the outcome of an operation on vol; with --json, the volume's new state. */
static int done(qz_cli_t *cli, const char *vol, const qz_volcfg_t *cfg, int err)
{
	if (err != 0)
		return qz_cli_fail(cli, vol, err);
	return cli->json ? print_info(cli, vol, cfg, false, NULL) : QZ_EXIT_OK;
}

/* Like done, for an operation that leaves vol without a live dataset and without revisions
 * (removed; or stopped, its data thrown away): the state qz_vol_info would find is known,
 * and no listing is needed to print it. */
static int done_gone(qz_cli_t *cli, const char *vol, const qz_volcfg_t *cfg, int err)
{
	if (err != 0 || !cli->json)
		return done(cli, vol, cfg, err);
	qz_volinfo_t *info = calloc(1, sizeof(*info));
	if (info == NULL)
		return qz_cli_fail(cli, vol, ENOMEM);
	info->size = cfg->size;
	qz_cli_volinfo(cli, NULL, vol, info);
	free(info);
	return QZ_EXIT_OK;
}

/* The state an operation knew of a volume after it (NULL: it knew nothing). */
static const qz_volinfo_t *known(const qz_after_t *after)
{
	return after != NULL && after->known ? &after->info : NULL;
}

static int cmd_create(qz_cli_t *cli, int argc, char **argv)
{
	qz_volcfg_t cfg;
	char *vol = NULL;
	int rc = parse(cli, argc, argv, &cfg, &vol, 1, 1, NULL);
	if (rc != 0)
		return rc;
	if (cfg.size == 0 && !cfg.snap_on_start)
		return qz_cli_usage(cli, "--size is needed");
	return done(cli, vol, &cfg, qz_vol_create(cli->be, vol, &cfg));
}

/* The commands that take a volume and its config, and only report success or failure. */
typedef int (*vol_op_t)(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg);

/* Whether an operation leaves its volume gone (see done_gone), given the volume's config. */
typedef bool (*gone_t)(const qz_volcfg_t *cfg);

static int run_op(qz_cli_t *cli, int argc, char **argv, vol_op_t op, gone_t gone)
{
	qz_volcfg_t cfg;
	char *vol = NULL;
	int rc = parse(cli, argc, argv, &cfg, &vol, 1, 1, NULL);
	if (rc != 0)
		return rc;
	int err = op(cli->be, vol, &cfg);
	return gone != NULL && gone(&cfg) ? done_gone(cli, vol, &cfg, err)
					  : done(cli, vol, &cfg, err);
}

static bool always_gone(const qz_volcfg_t *cfg)
{
	(void)cfg;
	return true;
}

/* A volume whose data a stop throws away (volatile, snap_on_start alone) is gone after it. */
static bool gone_unless_saved(const qz_volcfg_t *cfg)
{
	return !cfg->save_on_stop;
}

static int remove_op(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg)
{
	(void)cfg;
	return qz_vol_remove(be, vol);
}

static int recover_op(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg)
{
	(void)cfg;
	return qz_vol_recover(be, vol);
}

static int cmd_remove(qz_cli_t *cli, int argc, char **argv)
{
	return run_op(cli, argc, argv, remove_op, always_gone);
}

/* done_gone, as a batch's teller of a removal (the state the engine knows is not needed). */
static int removed(qz_cli_t *cli, const char *vol, const qz_volcfg_t *cfg, int err,
		   const qz_after_t *after)
{
	(void)after;
	return done_gone(cli, vol, cfg, err);
}

/* Like done, for a start: with --json, also waits for the block device (the VM gets it right
 * after); the state is the engine's (after), where it knows it. */
static int started(qz_cli_t *cli, const char *vol, const qz_volcfg_t *cfg, int err,
		   const qz_after_t *after)
{
	if (err != 0)
		return qz_cli_fail(cli, vol, err);
	return cli->json ? print_info(cli, vol, cfg, true, known(after)) : QZ_EXIT_OK;
}

/* Like done, for a stop: a volume whose data it throws away is gone after it; the state of
 * one it saved is the engine's (after), where it knows it. */
static int stopped(qz_cli_t *cli, const char *vol, const qz_volcfg_t *cfg, int err,
		   const qz_after_t *after)
{
	if (gone_unless_saved(cfg))
		return done_gone(cli, vol, cfg, err);
	if (err != 0 || !cli->json)
		return done(cli, vol, cfg, err);
	return print_info(cli, vol, cfg, false, known(after));
}

static int cmd_start(qz_cli_t *cli, int argc, char **argv)
{
	qz_volcfg_t cfg;
	char *vol = NULL;
	int rc = parse(cli, argc, argv, &cfg, &vol, 1, 1, NULL);
	if (rc != 0)
		return rc;
	return started(cli, vol, &cfg, qz_vol_start(cli->be, vol, &cfg), NULL);
}

static int cmd_stop(qz_cli_t *cli, int argc, char **argv)
{
	return run_op(cli, argc, argv, qz_vol_stop, gone_unless_saved);
}

static int cmd_recover(qz_cli_t *cli, int argc, char **argv)
{
	return run_op(cli, argc, argv, recover_op, NULL);
}

static int cmd_verify(qz_cli_t *cli, int argc, char **argv)
{
	return run_op(cli, argc, argv, qz_vol_verify, NULL);
}

static int cmd_prune(qz_cli_t *cli, int argc, char **argv)
{
	return run_op(cli, argc, argv, qz_vol_prune, NULL);
}

static int cmd_info(qz_cli_t *cli, int argc, char **argv)
{
	qz_volcfg_t cfg;
	char *vol = NULL;
	int rc = parse(cli, argc, argv, &cfg, &vol, 1, 1, NULL);
	return rc != 0 ? rc : print_info(cli, vol, &cfg, false, NULL);
}

static int cmd_revert(qz_cli_t *cli, int argc, char **argv)
{
	qz_volcfg_t cfg;
	char *pos[2] = {NULL, NULL};
	int rc = parse(cli, argc, argv, &cfg, pos, 1, 2, NULL);
	if (rc != 0)
		return rc;
	return done(cli, pos[0], &cfg, qz_vol_revert(cli->be, pos[0], &cfg, pos[1]));
}

static int cmd_resize(qz_cli_t *cli, int argc, char **argv)
{
	qz_volcfg_t cfg;
	char *pos[2] = {NULL, NULL};
	bool shrink = false;
	uint64_t size;
	int rc = parse(cli, argc, argv, &cfg, pos, 2, 2, &shrink);
	if (rc != 0)
		return rc;
	if (qz_parse_size(pos[1], &size) != 0)
		return qz_cli_usage(cli, "the size is a number of bytes (K/M/G/T allowed)");
	return done(cli, pos[0], &cfg, qz_vol_resize(cli->be, pos[0], &cfg, size, shrink));
}

static int cmd_device(qz_cli_t *cli, int argc, char **argv)
{
	qz_volcfg_t cfg;
	char *vol = NULL, path[512];
	int rc = parse(cli, argc, argv, &cfg, &vol, 1, 1, NULL);
	if (rc != 0)
		return rc;
	int err = qz_vol_device(cli->be, vol, path, sizeof(path));
	return err != 0 ? qz_cli_fail(cli, vol, err) : qz_cli_report(cli, "path", path);
}

static int cmd_import_data(qz_cli_t *cli, int argc, char **argv)
{
	qz_volcfg_t cfg;
	char *pos[2] = {NULL, NULL}, path[512];
	uint64_t size;
	int rc = parse(cli, argc, argv, &cfg, pos, 2, 2, NULL);
	if (rc != 0)
		return rc;
	if (qz_parse_size(pos[1], &size) != 0)
		return qz_cli_usage(cli, "the size is a number of bytes");
	int err = qz_vol_import_begin(cli->be, pos[0], &cfg, size, path, sizeof(path));
	return err != 0 ? qz_cli_fail(cli, pos[0], err) : qz_cli_report(cli, "path", path);
}

static int cmd_import_data_end(qz_cli_t *cli, int argc, char **argv)
{
	qz_volcfg_t cfg;
	char *pos[2] = {NULL, NULL};
	int rc = parse(cli, argc, argv, &cfg, pos, 2, 2, NULL);
	if (rc != 0)
		return rc;
	bool ok = strcmp(pos[1], "ok") == 0;
	if (!ok && strcmp(pos[1], "fail") != 0)
		return qz_cli_usage(cli, "say ok or fail");
	return done(cli, pos[0], &cfg, qz_vol_import_end(cli->be, pos[0], &cfg, ok));
}

static int cmd_import_volume(qz_cli_t *cli, int argc, char **argv)
{
	qz_volcfg_t cfg;
	char *pos[2] = {NULL, NULL};
	int rc = parse(cli, argc, argv, &cfg, pos, 2, 2, NULL);
	if (rc != 0)
		return rc;
	return done(cli, pos[0], &cfg, qz_vol_import_volume(cli->be, pos[0], &cfg, pos[1]));
}

static int cmd_export(qz_cli_t *cli, int argc, char **argv)
{
	qz_volcfg_t cfg;
	char *vol = NULL, path[512];
	int rc = parse(cli, argc, argv, &cfg, &vol, 1, 1, NULL);
	if (rc != 0)
		return rc;
	int err = qz_vol_export(cli->be, vol, &cfg, path, sizeof(path));
	return err != 0 ? qz_cli_fail(cli, vol, err) : qz_cli_report(cli, "path", path);
}

static int cmd_export_end(qz_cli_t *cli, int argc, char **argv)
{
	qz_volcfg_t cfg;
	char *pos[2] = {NULL, NULL};
	int rc = parse(cli, argc, argv, &cfg, pos, 2, 2, NULL);
	if (rc != 0)
		return rc;
	return done(cli, pos[0], &cfg, qz_vol_export_end(cli->be, pos[0], pos[1]));
}

/* The operations a batch may hold: what qubesd asks of all of a VM's volumes at once. */
static const qz_cmd_t batch_ops[] = {
    {"create", cmd_create, NULL, NULL, NULL, 0}, {"verify", cmd_verify, NULL, NULL, NULL, 0},
    {"start", cmd_start, NULL, NULL, NULL, 0},	 {"stop", cmd_stop, NULL, NULL, NULL, 0},
    {"remove", cmd_remove, NULL, NULL, NULL, 0}, {NULL, NULL, NULL, NULL, NULL, 0},
};

#define BATCH_SEP "+"

struct batch_op {
	const qz_cmd_t *cmd;
	int argc; /* the operation's arguments (after its name), as its own command takes them */
	char **argv;
	const char *vol;
	int lockfd;
};

/* Orders operations by their volume's name, the order their locks are taken in. */
static int by_volume(const void *a, const void *b)
{
	const struct batch_op *const *x = a, *const *y = b;
	return strcmp((*x)->vol, (*y)->vol);
}

/* Splits argv at BATCH_SEP into ops (n of them, room for argc) and checks each as its own
 * command would, before anything is done: 0 or an exit code, said why. */
static int batch_parse(qz_cli_t *cli, int argc, char **argv, struct batch_op *ops, size_t *n)
{
	*n = 0;
	for (int i = 0; i < argc;) {
		int end = i;
		while (end < argc && strcmp(argv[end], BATCH_SEP) != 0)
			end++;
		const qz_cmd_t *c = batch_ops;
		while (c->name != NULL && strcmp(c->name, argv[i]) != 0)
			c++;
		if (i == end || c->name == NULL)
			return qz_cli_usage(
			    cli, "each operation is create, verify, start, stop or remove");
		struct batch_op *op = &ops[(*n)++];
		*op = (struct batch_op){c, end - i - 1, argv + i + 1, NULL, -1};
		qz_volcfg_t cfg;
		char *vol = NULL;
		int rc = parse(cli, op->argc, op->argv, &cfg, &vol, 1, 1, NULL);
		if (rc != 0)
			return rc;
		op->vol = vol;
		i = end + 1;
		if (end == argc - 1) /* a trailing separator */
			return qz_cli_usage(cli, "an operation is missing after " BATCH_SEP);
	}
	return *n == 0 ? qz_cli_usage(cli, "no operation given") : 0;
}

/* Takes the locks of the ops' volumes in order of name (never a deadlock with another batch),
 * each once. 0 or an errno; on failure none is held. */
static int batch_lock(struct batch_op *ops, size_t n)
{
	struct batch_op **order = calloc(n, sizeof(*order));
	if (order == NULL)
		return ENOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = &ops[i];
	qsort(order, n, sizeof(*order), by_volume);
	int err = 0;
	for (size_t i = 0; i < n && err == 0; i++)
		if (i == 0 || strcmp(order[i]->vol, order[i - 1]->vol) != 0)
			err = qz_lock_volume(order[i]->vol, &order[i]->lockfd);
	free(order);
	for (size_t i = 0; err != 0 && i < n; i++) {
		qz_unlock_volume(ops[i].lockfd);
		ops[i].lockfd = -1;
	}
	return err;
}

/* Ends op's part of a batch: with --json, its failure (exit code r) in its place; its own
 * command printed its state on success. */
static void batch_answered(qz_cli_t *cli, const struct batch_op *op, int r)
{
	if (r == QZ_EXIT_OK || !cli->json)
		return;
	qz_json_object(&cli->out, NULL);
	qz_json_string(&cli->out, "name", op->vol);
	qz_json_string(&cli->out, "error", cli->why);
	qz_json_int(&cli->out, "exit", r);
	qz_json_end(&cli->out, '}');
}

/* What one engine pass does to a VM's volumes together (qz_vol_*_many), and how each
 * volume's outcome is told. */
typedef int (*many_fn)(qz_backend_t *be, size_t n, const char *const *vols, const qz_volcfg_t *cfgs,
		       int *errs, char (*details)[QZ_DETAIL_MAX], qz_after_t *after);
typedef int (*told_fn)(qz_cli_t *cli, const char *vol, const qz_volcfg_t *cfg, int err,
		       const qz_after_t *after);

/* A batch of one operation alone (a VM's start, stop or removal): all its volumes in one pass
 * of the engine, one listing, and one transaction group per kind of change; the states told
 * after, as the engine knew them (a listing made once for those it did not). The first
 * failure's exit code, or 0. */
static int batch_many(qz_cli_t *cli, struct batch_op *ops, size_t n, many_fn many, told_fn told)
{
	const char **vols = calloc(n, sizeof(*vols));
	qz_volcfg_t *cfgs = calloc(n, sizeof(*cfgs));
	int *errs = calloc(n, sizeof(*errs)), rc = 0;
	char(*details)[QZ_DETAIL_MAX] = calloc(n, sizeof(*details));
	qz_after_t *after = cli->json ? calloc(n, sizeof(*after)) : NULL;
	if (vols == NULL || cfgs == NULL || errs == NULL || details == NULL ||
	    (cli->json && after == NULL))
		rc = qz_cli_fail(cli, "batch", ENOMEM);
	for (size_t i = 0; rc == 0 && i < n; i++) { /* checked by batch_parse already */
		char *vol = NULL;
		rc = parse(cli, ops[i].argc, ops[i].argv, &cfgs[i], &vol, 1, 1, NULL);
		vols[i] = vol;
	}
	bool ran = rc == 0;
	if (ran)
		many(cli->be, n, vols, cfgs, errs, details, after);
	for (size_t i = 0; ran && i < n; i++) {
		cli->why[0] = '\0';
		if (errs[i] != 0)
			qz_be_fail(cli->be, errs[i], "%s", details[i]);
		int r = told(cli, vols[i], &cfgs[i], errs[i], after != NULL ? &after[i] : NULL);
		batch_answered(cli, &ops[i], r);
		if (rc == 0)
			rc = r;
	}
	free(vols);
	free(cfgs);
	free(errs);
	free(details);
	free(after);
	return rc;
}

/*
 * qzfs volume batch OP VOL [CONFIG] [+ OP VOL [CONFIG]]...: several volumes' create, verify,
 * start, stop or remove in one run, as qubesd asks for a VM's volumes together. Each operation is
 * done as its own command does it, one after the other, with the locks of all its volumes taken
 * first; one failing does not stop the others. A batch of starts, stops or removes alone (a VM's
 * start, stop, removal) goes through the engine together (qz_vol_*_many). With --json: {"volumes":
 * [...]}, in the order given, each the state its own command prints or {"name", "error", "exit"}.
 * The exit code is the first failure's. A malformed operation refuses the whole batch before
 * anything is done.
 */
static int cmd_batch(qz_cli_t *cli, int argc, char **argv)
{
	struct batch_op *ops = calloc((size_t)argc + 1, sizeof(*ops));
	if (ops == NULL)
		return qz_cli_fail(cli, "batch", ENOMEM);
	size_t n, same = 0;
	int rc = batch_parse(cli, argc, argv, ops, &n), err;
	if (rc == 0 && (err = batch_lock(ops, n)) != 0) {
		qz_cli_say(cli, "cannot take the volumes' locks: %s", strerror(err));
		rc = QZ_EXIT_FAIL;
	}
	if (rc != 0 || (rc = qz_cli_backend_open(cli)) != 0)
		goto out;
	if (cli->json) {
		qz_json_object(&cli->out, NULL);
		qz_json_array(&cli->out, "volumes");
	}
	for (size_t i = 0; i < n; i++)
		same += ops[i].cmd == ops[0].cmd;
	bool together = same == n;
	if (together && ops[0].cmd->fn == cmd_remove)
		rc = batch_many(cli, ops, n, qz_vol_remove_many, removed);
	else if (together && ops[0].cmd->fn == cmd_start)
		rc = batch_many(cli, ops, n, qz_vol_start_many, started);
	else if (together && ops[0].cmd->fn == cmd_stop)
		rc = batch_many(cli, ops, n, qz_vol_stop_many, stopped);
	else
		together = false;
	for (size_t i = 0; !together && i < n; i++) {
		cli->why[0] = '\0';
		int r = ops[i].cmd->fn(cli, ops[i].argc, ops[i].argv);
		batch_answered(cli, &ops[i], r);
		if (rc == 0)
			rc = r;
	}
	if (cli->json) {
		qz_json_end(&cli->out, ']');
		qz_json_end(&cli->out, '}');
	}
out:
	for (size_t i = 0; i < n && ops[i].cmd != NULL; i++)
		qz_unlock_volume(ops[i].lockfd);
	free(ops);
	return rc;
}

const qz_cmd_t qz_volume_cmds[] = {
    {"create", cmd_create, "VOL " VOLCFG_USAGE, "create a volume", NULL, QZ_CMD_LOCK},
    {"remove", cmd_remove, "VOL", "remove a volume and its revisions", NULL, QZ_CMD_LOCK},
    {"start", cmd_start, "VOL " VOLCFG_USAGE, "prepare a volume for its VM", NULL, QZ_CMD_LOCK},
    {"stop", cmd_stop, "VOL " VOLCFG_USAGE, "commit or discard after the VM", NULL, QZ_CMD_LOCK},
    {"prune", cmd_prune, "VOL " VOLCFG_USAGE,
     "drop revisions beyond --revisions-to-keep (all with -1)", NULL, QZ_CMD_LOCK},
    {"info", cmd_info, "VOL " VOLCFG_USAGE, "size, usage, dirty, outdated, revisions", NULL, 0},
    {"revert", cmd_revert, "VOL [REVISION]", "make a revision current; nothing is lost", NULL,
     QZ_CMD_LOCK},
    {"resize", cmd_resize, "VOL SIZE [--allow-shrink]", "change a volume's size", NULL,
     QZ_CMD_LOCK},
    {"device", cmd_device, "VOL", "the volume's block device", NULL, 0},
    {"import-data", cmd_import_data, "VOL SIZE", "a fresh target to write into", NULL, QZ_CMD_LOCK},
    {"import-data-end", cmd_import_data_end, "VOL ok|fail", "swap the import in, or drop it", NULL,
     QZ_CMD_LOCK},
    {"import-volume", cmd_import_volume, "VOL SOURCE-VOL", "copy another volume's state", NULL,
     QZ_CMD_LOCK},
    {"export", cmd_export, "VOL", "a device with the committed data", NULL, QZ_CMD_LOCK},
    {"export-end", cmd_export_end, "VOL PATH", "release an export", NULL, QZ_CMD_LOCK},
    {"verify", cmd_verify, "VOL " VOLCFG_USAGE, "check that the volume can start", NULL, 0},
    {"recover", cmd_recover, "VOL", "finish what a crash interrupted", NULL, QZ_CMD_LOCK},
    {"batch", cmd_batch, "OP VOL [CONFIG] [+ OP VOL [CONFIG]]...",
     "several volumes' create/verify/start/stop/remove in one run", NULL, QZ_CMD_NOZFS},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
