/* SPDX-License-Identifier: BSD-2-Clause */
/* What the backup command groups share: options, targets, refusals (backup_cli.h). */
#include "backup_cli.h"
#include "engine.h"
#include "error.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIBEXEC "/usr/libexec/qubes-storage-zfs"

static int parse_uint(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != 0 || s[0] == '-')
		return EINVAL;
	*v = n;
	return 0;
}

enum {
	B_RAW = 1,
	B_RESUMED,
	B_FULL,
	B_DRY_RUN,
	B_ALL,
	B_KEY_FILE,
	B_DATASET,
	B_FROM,
	B_TOKEN,
	B_TARGET,
	B_STATE,
	B_TO,
	B_VOLUME,
	B_BACKUP,
	B_OVER,
	B_KEEP,
	B_PASS_FD,
	B_POOL_PASS_FD,
	B_TOGUID,
	B_FROMGUID,
	B_CHUNK_SIZE,
	B_ARGON2_OPS,
	B_ARGON2_MIB,
	B_KEEP_LAST,
	B_KEEP_DAYS,
	B_THREADS,
	B_FULL_EVERY,
	B_NO_SETTINGS,
	B_RENAME_CONFLICTING,
	B_POOL,
	B_SEALED_TARGET,
	B_ZFS_TARGET,
	B_COUNT
};

/* Every option of the backup commands; each command takes those its `allowed` list names. */
static const struct option all_opts[] = {
    {"raw", no_argument, NULL, B_RAW},
    {"resumed", no_argument, NULL, B_RESUMED},
    {"full", no_argument, NULL, B_FULL},
    {"dry-run", no_argument, NULL, B_DRY_RUN},
    {"all", no_argument, NULL, B_ALL},
    {"key-file", required_argument, NULL, B_KEY_FILE},
    {"dataset", required_argument, NULL, B_DATASET},
    {"from", required_argument, NULL, B_FROM},
    {"token", required_argument, NULL, B_TOKEN},
    {"target", required_argument, NULL, B_TARGET},
    {"state", required_argument, NULL, B_STATE},
    {"to", required_argument, NULL, B_TO},
    {"volume", required_argument, NULL, B_VOLUME},
    {"backup", required_argument, NULL, B_BACKUP},
    {"over", required_argument, NULL, B_OVER},
    {"revisions-to-keep", required_argument, NULL, B_KEEP},
    {"passphrase-fd", required_argument, NULL, B_PASS_FD},
    {"pool-passphrase-fd", required_argument, NULL, B_POOL_PASS_FD},
    {"toguid", required_argument, NULL, B_TOGUID},
    {"fromguid", required_argument, NULL, B_FROMGUID},
    {"chunk-size", required_argument, NULL, B_CHUNK_SIZE},
    {"argon2-ops", required_argument, NULL, B_ARGON2_OPS},
    {"argon2-mib", required_argument, NULL, B_ARGON2_MIB},
    {"keep-last", required_argument, NULL, B_KEEP_LAST},
    {"keep-days", required_argument, NULL, B_KEEP_DAYS},
    {"threads", required_argument, NULL, B_THREADS},
    {"full-every", required_argument, NULL, B_FULL_EVERY},
    {"no-settings", no_argument, NULL, B_NO_SETTINGS},
    {"rename-conflicting", no_argument, NULL, B_RENAME_CONFLICTING},
    {"pool", required_argument, NULL, B_POOL},
    {"sealed-target", required_argument, NULL, B_SEALED_TARGET},
    {"zfs-target", required_argument, NULL, B_ZFS_TARGET},
};

/* Whether allowed ("--a --b") names option name as a whole word. */
static bool option_allowed(const char *allowed, const char *name)
{
	size_t n = strlen(name);
	for (const char *at = strstr(allowed, name); at != NULL; at = strstr(at + 1, name))
		if (at - allowed >= 2 && at[-1] == '-' && at[-2] == '-' &&
		    (at == allowed + 2 || at[-3] == ' ') && (at[n] == ' ' || at[n] == 0))
			return true;
	return false;
}

/* Where option id's value goes in o (a text, a flag or a number; one of the three). */
static void slot_of(struct opts *o, int id, const char ***text, bool **flag, uint64_t **num)
{
	*text = NULL, *flag = NULL, *num = NULL;
	switch (id) {
	case B_RAW:
		*flag = &o->raw;
		break;
	case B_RESUMED:
		*flag = &o->resumed;
		break;
	case B_FULL:
		*flag = &o->full;
		break;
	case B_DRY_RUN:
		*flag = &o->dry_run;
		break;
	case B_ALL:
		*flag = &o->all;
		break;
	case B_NO_SETTINGS:
		*flag = &o->no_settings;
		break;
	case B_RENAME_CONFLICTING:
		*flag = &o->rename_conflicting;
		break;
	case B_POOL:
		*text = &o->pool;
		break;
	case B_SEALED_TARGET:
		*text = &o->sealed_target;
		break;
	case B_ZFS_TARGET:
		*text = &o->zfs_target;
		break;
	case B_KEY_FILE:
		*text = &o->key_file;
		break;
	case B_DATASET:
		*text = &o->dataset;
		break;
	case B_FROM:
		*text = &o->from;
		break;
	case B_TOKEN:
		*text = &o->token;
		break;
	case B_TARGET:
		*text = &o->target;
		break;
	case B_STATE:
		*text = &o->state;
		break;
	case B_TO:
		*text = &o->to;
		break;
	case B_VOLUME:
		*text = &o->volume;
		break;
	case B_BACKUP:
		*text = &o->backup;
		break;
	case B_OVER:
		*text = &o->over;
		break;
	case B_KEEP:
		*text = &o->keep;
		break;
	case B_TOGUID:
		*num = &o->toguid;
		break;
	case B_FROMGUID:
		*num = &o->fromguid;
		break;
	case B_CHUNK_SIZE:
		*num = &o->chunk_size;
		break;
	case B_ARGON2_OPS:
		*num = &o->argon2_ops;
		break;
	case B_ARGON2_MIB:
		*num = &o->argon2_mib;
		break;
	case B_KEEP_LAST:
		*num = &o->keep_last;
		break;
	case B_KEEP_DAYS:
		*num = &o->keep_days;
		break;
	case B_THREADS:
		*num = &o->threads;
		break;
	case B_FULL_EVERY:
		*num = &o->full_every_days;
		break;
	}
}

static int on_backup_option(qz_cli_t *cli, void *ctx, int id, char *v)
{
	struct opts *o = ctx;
	const char **text;
	bool *flag;
	uint64_t *num, n = 0;
	slot_of(o, id, &text, &flag, &num);
	if (flag != NULL)
		*flag = true;
	else if (text != NULL)
		*text = v;
	else if (parse_uint(v, &n) != 0)
		return qz_cli_usage(cli, "a number was expected");
	else if (num != NULL)
		*num = n;
	else /* --passphrase-fd, --pool-passphrase-fd */
		*(id == B_PASS_FD ? &o->pass_fd : &o->pool_pass_fd) = n > 1000 ? -1 : (int)n;
	return 0;
}

int qz_cli_backup_opts(qz_cli_t *cli, int argc, char **argv, const char *allowed, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->pass_fd = o->pool_pass_fd = -1;
	struct option opts[sizeof(all_opts) / sizeof(all_opts[0]) + 1];
	size_t k = 0;
	for (size_t i = 0; i < sizeof(all_opts) / sizeof(all_opts[0]); i++)
		if (option_allowed(allowed, all_opts[i].name))
			opts[k++] = all_opts[i];
	opts[k] = (struct option){NULL, 0, NULL, 0};
	int first, rc = qz_cli_getopt(cli, argc, argv, opts, on_backup_option, o, &first);
	if (rc != 0)
		return rc;
	if (first < argc && strstr(allowed, "ARGS") == NULL)
		return qz_cli_usage(cli, "this command takes options only");
	o->args = first < argc ? argv + first : NULL;
	o->nargs = argc - first;
	bool need_key = strstr(allowed, "--key-file") != NULL &&
			strstr(allowed, "KEY-OPTIONAL") == NULL &&
			(strstr(allowed, "KEY-IF-TARGET") == NULL || o->target != NULL);
	if (o->key_file != NULL && o->pass_fd >= 0)
		return qz_cli_usage(cli, "give --key-file FILE or --passphrase-fd N, not both");
	if (need_key && o->key_file == NULL && o->pass_fd < 0)
		return qz_cli_usage(cli, "give --key-file FILE or --passphrase-fd N");
	return 0;
}

uint64_t qz_cli_full_every(const struct opts *o)
{
	return o->full_every_days > UINT64_MAX / 86400 ? UINT64_MAX : o->full_every_days * 86400;
}

int qz_cli_refused(qz_cli_t *cli, int err, const char *why)
{
	if (err == EBADMSG || err == EINVAL || err == EACCES) {
		qz_cli_say(cli, "refused: %s", why);
		return err == EACCES ? QZ_EXIT_ACCESS : QZ_EXIT_FAIL;
	}
	qz_cli_say(cli, "%s", why[0] ? why : strerror(err));
	return err == EEXIST ? QZ_EXIT_EXISTS : QZ_EXIT_FAIL;
}

/* The store program for a local target: $QZFS_STORE (or $QZFS_ZFS_STORE), else the one beside
 * qzfs (a build tree), else dom0's installed one, else from PATH. */
static const char *store_program(bool zfs, char *buf, size_t len)
{
	const char *name = zfs ? "qzfs-backup-zfs-store" : "qzfs-backup-store";
	const char *env = getenv(zfs ? "QZFS_ZFS_STORE" : "QZFS_STORE");
	if (env != NULL && env[0] != 0)
		return env;
	ssize_t n = readlink("/proc/self/exe", buf, len - 32);
	if (n > 0) {
		buf[n] = 0;
		char *slash = strrchr(buf, '/');
		if (slash != NULL) {
			strcpy(slash + 1, name);
			if (access(buf, X_OK) == 0)
				return buf;
		}
	}
	snprintf(buf, len, "%s/%s", LIBEXEC, name);
	if (access(buf, X_OK) == 0)
		return buf;
	return name;
}

int qz_cli_open_target(qz_cli_t *cli, bool zfs, const char *spec, qz_target_t **t)
{
	const char *usage = zfs ? "give --target zfs:DATASET, qube:NAME or exec:COMMAND"
				: "give --target dir:PATH, qube:NAME or exec:COMMAND";
	if (spec == NULL)
		return qz_cli_usage(cli, usage);
	char buf[4096], words[1024], why[300] = "";
	char *argv[16] = {NULL};
	const char *local = zfs ? "zfs:" : "dir:";
	if (strncmp(spec, local, 4) == 0 && spec[4] != 0) {
		argv[0] = (char *)store_program(zfs, buf, sizeof(buf));
		argv[1] = (char *)spec + 4;
	} else if (strncmp(spec, "qube:", 5) == 0 && spec[5] != 0) {
		char *qv[] = {"qvm-run",
			      "--pass-io",
			      "--no-autostart",
			      "--service",
			      "--",
			      (char *)spec + 5,
			      zfs ? "qubes-storage-zfs.BackupZfs"
				  : "qubes-storage-zfs.BackupStore"};
		memcpy(argv, qv, sizeof(qv));
	} else if (strncmp(spec, "exec:", 5) == 0 && strlen(spec + 5) < sizeof(words)) {
		strcpy(words, spec + 5);
		int n = 0;
		for (char *w = strtok(words, " "); w != NULL && n < 15; w = strtok(NULL, " "))
			argv[n++] = w;
	}
	if (argv[0] == NULL)
		return qz_cli_usage(cli, usage);
	int err = qz_target_open(argv, t, why, sizeof(why));
	return err != 0 ? qz_cli_refused(cli, err, why) : 0;
}

bool qz_cli_encrypted(qz_cli_t *cli, const char *vol)
{
	char enc[32] = "";
	return cli->be->ops->get_prop(cli->be, vol, "encryption", enc, sizeof(enc)) == 0 &&
	       strcmp(enc, "off") != 0;
}

int qz_cli_restore_over(qz_cli_t *cli, const struct opts *o, qz_volcfg_t *cfg, int *lock,
			qz_secret_t **pool_pass)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->save_on_stop = true;
	*lock = -1;
	*pool_pass = NULL;
	if (o->over == NULL)
		return 0;
	char *end = NULL;
	long keep = o->keep != NULL ? strtol(o->keep, &end, 10) : -2;
	if (o->keep == NULL || *end != 0 || keep < -1 || keep > 1000)
		return qz_cli_usage(cli, "--over needs --revisions-to-keep N, as the volume's pool "
					 "keeps them");
	cfg->revisions_to_keep = (int)keep;
	/* an encrypted backup arrives with its key wrapped as its pool had it when it was made */
	if (qz_cli_encrypted(cli, o->over)) {
		if (o->pool_pass_fd < 0)
			return qz_cli_usage(
			    cli, "over an encrypted volume, give --pool-passphrase-fd N: "
				 "the passphrase of the pool the backup was made of");
		int rc = 0;
		if ((*pool_pass =
			 qz_cli_passphrase(cli, o->pool_pass_fd, "Pool passphrase", &rc)) == NULL)
			return rc;
	}
	int rc = qz_lock_volume(o->over, lock);
	if (rc != 0) {
		qz_secret_free(*pool_pass);
		*pool_pass = NULL;
		return qz_cli_fail(cli, o->over, rc);
	}
	return 0;
}

/* Collects, of the volumes qz_pool_volumes describes, those of one VM that have a committed state.
 */
struct vm_volumes {
	const char *vm; /* R/<vm> */
	size_t len;
	char **vols;
	size_t n, cap;
	int err;
};

static void add_volume(struct vm_volumes *c, const char *vol)
{
	if (c->err != 0)
		return;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		char **v = realloc(c->vols, cap * sizeof(*v));
		if (v == NULL) {
			c->err = ENOMEM;
			return;
		}
		c->vols = v;
		c->cap = cap;
	}
	if ((c->vols[c->n] = strdup(vol)) == NULL)
		c->err = ENOMEM;
	else
		c->n++;
}

static void collect_committed(void *arg, const char *vol, const qz_volinfo_t *info)
{
	struct vm_volumes *c = arg;
	if (strncmp(vol, c->vm, c->len) == 0 && vol[c->len] == '/' &&
	    strchr(vol + c->len + 1, '/') == NULL && info->current[0] != '\0')
		add_volume(c, vol);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A usage error about one argument: "ARG: WHAT". */
static int usage_about(qz_cli_t *cli, const char *arg, const char *what)
{
	char msg[QZ_NAME_MAX + 256];
	snprintf(msg, sizeof(msg), "%s: %s", arg, what);
	return qz_cli_usage(cli, msg);
}

/* A usage error: VM arg has no volume to back up. */
static int nothing_committed(qz_cli_t *cli, const char *arg)
{
	return usage_about(cli, arg,
			   "this VM has no volume with a committed state to back up (a private "
			   "volume, a template's root)");
}

/* Adds to all, in name order, the volumes of VM dataset dir (R/<vm>) that have a committed
 * state; with require, a usage error if it has none. */
static int add_vm(qz_cli_t *cli, const char *dir, struct vm_volumes *all, bool require)
{
	char root[QZ_NAME_MAX];
	struct vm_volumes vm = {.vm = dir, .len = strlen(dir)};
	int err = qz_name_parent(dir, root, sizeof(root));
	if (err == 0)
		err = qz_pool_volumes(cli->be, root, collect_committed, &vm);
	if (err == 0 && vm.err == 0 && vm.n == 0 && require)
		err = nothing_committed(cli, dir);
	else if (err != 0 || vm.err != 0)
		err = qz_cli_fail(cli, dir, err != 0 ? err : vm.err);
	if (vm.n > 0)
		qsort(vm.vols, vm.n, sizeof(*vm.vols), by_name);
	for (size_t k = 0; k < vm.n; k++)
		add_volume(all, vm.vols[k]);
	qz_cli_free_volumes(vm.vols, vm.n);
	return err;
}

struct vm_dirs {
	qz_cli_t *cli;
	struct vm_volumes *all;
	int err;
};

static void add_vm_dir(void *arg, const char *dir)
{
	struct vm_dirs *d = arg;
	if (d->err == 0) /* one of the VM's datasets may hold only what a start makes anew */
		d->err = add_vm(d->cli, dir, d->all, false);
}

/* One argument: a VM's name (no '/'), a VM's dataset or a volume. */
static int add_arg(qz_cli_t *cli, const char *arg, struct vm_volumes *all)
{
	if (strchr(arg, '/') == NULL) {
		struct vm_dirs d = {cli, all, 0};
		size_t found = 0, before = all->n;
		int err = qz_pool_find_vm(cli->be, arg, add_vm_dir, &d, &found);
		if (err == EINVAL)
			return usage_about(cli, arg, "not a Qubes VM name (nor a dataset)");
		if (err != 0)
			return qz_cli_fail(cli, arg, err);
		if (d.err == 0 && found == 0)
			return usage_about(cli, arg,
					   "no VM of this name has volumes in a pool of "
					   "qubes-storage-zfs (is its zpool imported?)");
		if (d.err == 0 && all->err == 0 && all->n == before)
			return nothing_committed(cli, arg);
		return d.err;
	}
	char role[16] = "";
	if (cli->be->ops->get_prop(cli->be, arg, QZ_ROLE_PROP, role, sizeof(role)) == 0 &&
	    strcmp(role, "vm") == 0)
		return add_vm(cli, arg, all, true);
	add_volume(all, arg); /* a volume; the backup tells what is wrong */
	return 0;
}

int qz_cli_backup_volumes(qz_cli_t *cli, const struct opts *o, char ***vols, size_t *n)
{
	struct vm_volumes all = {0};
	int err = 0;
	for (int i = 0; err == 0 && all.err == 0 && i < o->nargs; i++)
		err = add_arg(cli, o->args[i], &all);
	if (err == 0 && all.err != 0)
		err = qz_cli_fail(cli, "naming the volumes", all.err);
	if (err != 0) {
		qz_cli_free_volumes(all.vols, all.n);
		return err;
	}
	*vols = all.vols;
	*n = all.n;
	return 0;
}

void qz_cli_free_volumes(char **vols, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(vols[i]);
	free(vols);
}
