/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Whole-qube backups: each qube named by `backup create` has its settings saved as a sealed
 * document "qube:<name>" beside its volumes' backups; `backup qubes list|restore` read them
 * back. The settings are read and applied through the Qubes Admin API by the qube-settings
 * helper (Python, qubesadmin); what passes between it and qzfs is dom0's own, authenticated
 * data.
 */
#include "backup_cli.h"
#include "error.h"
#include "fdio.h"
#include "json.h"
#include "replica.h"
#include "why.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define HELPER		"/usr/libexec/qubes-storage-zfs/qube-settings"
#define HELPER_NOT_DOM0 3 /* its exit code when the Admin API cannot be reached */
#define HELPER_OUT_MAX	(1u << 20)

/* The helper: $QZFS_QUBE_SETTINGS, else the installed one. */
static const char *helper(void)
{
	const char *env = getenv("QZFS_QUBE_SETTINGS");
	return env != NULL && env[0] != 0 ? env : HELPER;
}

/* Runs the helper with args (its stderr is ours: its plan and warnings are for the user); its
 * stdout, up to HELPER_OUT_MAX bytes, in *out (malloc'd, NUL-terminated) if out is not NULL,
 * else ours. Returns its exit status (128 + signal), or -errno if it could not run. */
static int run_helper(char *const args[], char **out)
{
	size_t n = 0;
	while (args[n] != NULL)
		n++;
	char **argv = calloc(n + 2, sizeof(*argv));
	if (argv == NULL)
		return -ENOMEM;
	argv[0] = (char *)helper();
	memcpy(argv + 1, args, n * sizeof(*argv));
	char path[] = "/tmp/qzfs-helper.XXXXXX";
	int fd = out != NULL ? mkstemp(path) : dup(STDOUT_FILENO);
	if (fd < 0) {
		free(argv);
		return -errno;
	}
	if (out != NULL)
		unlink(path);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	fflush(stdout);
	pid_t pid;
	int err = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	free(argv);
	if (err != 0) {
		close(fd);
		return -err;
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	size_t len = 0;
	if (out != NULL && (err = qz_read_whole(fd, HELPER_OUT_MAX, true, out, &len)) != 0)
		rc = -err;
	close(fd);
	return rc;
}

/* run_helper for a command that reaches qubesd (whose drivers reach ZFS): ZFS let go of while
 * it runs. *rc: the exit code if ZFS could not be taken again. */
static int run_helper_released(qz_cli_t *cli, char *const args[], char **out, int *rc)
{
	qz_cli_backend_release(cli);
	int hr = run_helper(args, out);
	*rc = qz_cli_backend_open(cli);
	return hr;
}

/* Says why the helper failed; the exit code. */
static int helper_failed(qz_cli_t *cli, const char *what, int rc)
{
	if (rc < 0)
		qz_cli_say(cli, "%s: %s cannot run: %s", what, helper(), strerror(-rc));
	else if (rc == HELPER_NOT_DOM0)
		qz_cli_say(cli, "%s: the Qubes Admin API cannot be reached", what);
	else
		qz_cli_say(cli, "%s: the qube-settings helper failed (exit %d)", what, rc);
	return rc == 2 ? QZ_EXIT_USAGE : QZ_EXIT_FAIL;
}

void qz_cli_qube_settings_free(struct qz_cli_qube_settings *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->doc[i]);
		free(s->name[i]);
	}
	free(s->doc);
	free(s->name);
	free(s->len);
	memset(s, 0, sizeof(*s));
}

int qz_cli_qube_settings_read(qz_cli_t *cli, const struct opts *o, struct qz_cli_qube_settings *s)
{
	memset(s, 0, sizeof(*s));
	if (o->no_settings)
		return 0;
	char **names = calloc((size_t)o->nargs + 3, sizeof(*names));
	if (names == NULL)
		return qz_cli_fail(cli, "the qubes' settings", ENOMEM);
	char dir[] = "/tmp/qzfs-settings.XXXXXX";
	size_t n = 0;
	names[n++] = "dump";
	names[n++] = dir;
	for (int i = 0; i < o->nargs; i++)
		if (strchr(o->args[i], '/') == NULL)
			names[n++] = o->args[i];
	if (n == 2) {
		free(names);
		return 0; /* volumes and VM datasets only */
	}
	if (mkdtemp(dir) == NULL) {
		free(names);
		return qz_cli_fail(cli, "a folder for the qubes' settings", errno);
	}
	int again = 0, rc = run_helper_released(cli, names, NULL, &again);
	if (again != 0) {
		rc = again;
	} else if (rc != 0) {
		rc = helper_failed(cli, "the qubes' settings", rc);
		if (rc == QZ_EXIT_FAIL)
			qz_cli_say(cli, "give --no-settings to back up the volumes of these qubes "
					"without their settings");
	}
	s->doc = calloc(n, sizeof(*s->doc));
	s->name = calloc(n, sizeof(*s->name));
	s->len = calloc(n, sizeof(*s->len));
	if (rc == 0 && (s->doc == NULL || s->name == NULL || s->len == NULL))
		rc = qz_cli_fail(cli, "the qubes' settings", ENOMEM);
	for (size_t i = 2; i < n; i++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s.json", dir, names[i]);
		if (rc == 0) {
			int err = qz_read_path(path, QZ_BACKUP_DOC_MAX, false, &s->doc[s->n],
					       &s->len[s->n]);
			if (err == 0 &&
			    asprintf(&s->name[s->n], "%s%s", QZ_BACKUP_QUBE_PREFIX, names[i]) < 0) {
				free(s->doc[s->n]);
				err = ENOMEM;
			}
			if (err != 0)
				rc = qz_cli_fail(cli, path, err);
			else
				s->n++;
		}
		unlink(path);
	}
	rmdir(dir);
	free(names);
	if (rc != 0)
		qz_cli_qube_settings_free(s);
	return rc;
}

int qz_cli_qube_settings_store(qz_cli_t *cli, qz_target_t *t, const qz_backup_opts_t *bo,
			       const struct qz_cli_qube_settings *s)
{
	for (size_t i = 0; i < s->n; i++) {
		qz_backup_rec_t rec;
		char why[300] = "";
		int err = qz_backup_put_document(t, bo, s->name[i], s->doc[i], s->len[i], &rec, why,
						 sizeof(why));
		if (err != 0)
			return qz_cli_refused(cli, err, why);
		if (cli->json) {
			qz_json_object(&cli->out, NULL);
			qz_json_string(&cli->out, "event", "settings");
			qz_json_string(&cli->out, "qube",
				       s->name[i] + strlen(QZ_BACKUP_QUBE_PREFIX));
			qz_json_string(&cli->out, "id", rec.id);
			qz_json_uint(&cli->out, "bytes", rec.bytes);
			qz_json_end(&cli->out, '}');
			fputc('\n', stdout);
		} else {
			printf("%s %s settings (%" PRIu64 " bytes)\n", rec.id, s->name[i],
			       rec.bytes);
		}
	}
	return QZ_EXIT_OK;
}

/* ---- backup qubes list | restore ---- */

/* What the target holds, opened: every record, and for each qube asked for (all if none),
 * the newest whole settings. */
struct held {
	qz_backup_rec_t *all;
	size_t n;
	size_t *settings; /* indexes into all */
	size_t nsettings;
	/* --zfs-target: that ZFS qube, and dom0's records of the backups it holds (taken back
	 * from --target, the sealed store beside it, where a fresh dom0 lacks them) */
	qz_target_t *zt;
	qz_backup_rec_t *zall;
	size_t zn;
	char zstate[4096];
};

static void held_free(struct held *h)
{
	free(h->all);
	free(h->settings);
	free(h->zall);
	if (h->zt != NULL)
		qz_target_close(h->zt);
	memset(h, 0, sizeof(*h));
}

static bool asked(const struct opts *o, const char *qube)
{
	if (o->nargs == 0)
		return true;
	for (int i = 0; i < o->nargs; i++)
		if (strcmp(o->args[i], qube) == 0)
			return true;
	return false;
}

/* Finds on the target the newest whole settings of each qube o names (every qube if none). */
static int find_held(qz_cli_t *cli, struct qz_cli_session *ss, const struct opts *o, struct held *h)
{
	char why[300] = "";
	size_t unopened = 0;
	int err = qz_cli_discover(o, QZ_CLI_DEFAULT_STATE, ss->t, &ss->secret, &h->all, &h->n,
				  &unopened, why, sizeof(why));
	if (err != 0)
		return qz_cli_refused(cli, err, why);
	if ((h->settings = calloc(h->n + 1, sizeof(*h->settings))) == NULL)
		return qz_cli_fail(cli, "the target's listing", ENOMEM);
	size_t plen = strlen(QZ_BACKUP_QUBE_PREFIX);
	for (size_t i = h->n; i-- > 0;) { /* newest first: the first seen of a qube is it */
		const qz_backup_rec_t *r = &h->all[i];
		if (!r->document || !r->complete ||
		    strncmp(r->volume, QZ_BACKUP_QUBE_PREFIX, plen) != 0 ||
		    !asked(o, r->volume + plen))
			continue;
		bool seen = false;
		for (size_t k = 0; k < h->nsettings && !seen; k++)
			seen = strcmp(h->all[h->settings[k]].volume, r->volume) == 0;
		if (!seen)
			h->settings[h->nsettings++] = i;
	}
	for (int i = 0; i < o->nargs; i++) {
		bool found = false;
		for (size_t k = 0; k < h->nsettings && !found; k++)
			found = strcmp(h->all[h->settings[k]].volume + plen, o->args[i]) == 0;
		if (!found) {
			snprintf(why, sizeof(why),
				 "the target holds no settings of a qube named %s%s", o->args[i],
				 unopened > 0 ? " (some headers do not open with this key)" : "");
			return qz_cli_refused(cli, ENOENT, why);
		}
	}
	if (h->nsettings == 0)
		return qz_cli_refused(cli, ENOENT, "the target holds no qube's settings");
	return 0;
}

/* Writes {"<volume>": {"bytes": N}} for each volume with a whole chain in all[0..n) that
 * other[0..m) has none of (chain: room for n indexes). */
static void write_volumes(qz_json_t *j, const qz_backup_rec_t *all, size_t n,
			  const qz_backup_rec_t *other, size_t m, size_t *chain)
{
	for (size_t i = 0; i < n; i++) {
		const qz_backup_rec_t *r = &all[i];
		bool newest = !r->document;
		for (size_t k = i + 1; k < n && newest; k++)
			newest = strcmp(all[k].volume, r->volume) != 0;
		if (!newest || (m > 0 && qz_backup_chain_for(other, m, r->volume, NULL, chain) > 0))
			continue;
		size_t len = qz_backup_chain_for(all, n, r->volume, NULL, chain);
		if (len == 0)
			continue; /* none whole: withheld, or unfinished */
		uint64_t bytes = 0;
		for (size_t c = 0; c < len; c++)
			bytes += all[chain[c]].bytes;
		qz_json_object(j, r->volume);
		qz_json_uint(j, "bytes", bytes);
		qz_json_end(j, '}');
	}
}

/* Writes for the helper what the target holds: each qube's settings (opened) and, for each
 * volume with a whole chain, its bytes. */
static int write_held(qz_cli_t *cli, struct qz_cli_session *ss, const struct held *h, FILE *f)
{
	qz_json_t j;
	qz_json_init(&j, f);
	qz_json_object(&j, NULL);
	qz_json_array(&j, "qubes");
	for (size_t k = 0; k < h->nsettings; k++) {
		const qz_backup_rec_t *r = &h->all[h->settings[k]];
		void *doc = NULL;
		size_t len = 0;
		char why[300] = "";
		int err =
		    qz_backup_get_document(ss->t, &ss->secret, r, &doc, &len, why, sizeof(why));
		if (err != 0)
			return qz_cli_refused(cli, err, why);
		qz_json_object(&j, NULL);
		qz_json_string(&j, "id", r->id);
		qz_json_uint(&j, "created", r->created);
		qz_json_raw(&j, "settings", doc);
		qz_json_end(&j, '}');
		free(doc);
	}
	qz_json_end(&j, ']');
	qz_json_object(&j, "volumes");
	size_t *chain = calloc((h->n > h->zn ? h->n : h->zn) + 1, sizeof(*chain));
	if (chain == NULL)
		return qz_cli_fail(cli, "the target's listing", ENOMEM);
	write_volumes(&j, h->all, h->n, NULL, 0, chain);
	write_volumes(&j, h->zall, h->zn, h->all, h->n, chain); /* sealed ones first */
	free(chain);
	qz_json_end(&j, '}');
	qz_json_end(&j, '}');
	return fflush(f) == 0 ? 0 : qz_cli_fail(cli, "the helper's input", errno);
}

/* The target's holdings, written to a private file for the helper (its name in path). */
static int held_file(qz_cli_t *cli, struct qz_cli_session *ss, const struct opts *o, struct held *h,
		     char *path)
{
	int rc = find_held(cli, ss, o, h);
	if (rc != 0)
		return rc;
	int fd = mkstemp(path);
	if (fd < 0)
		return qz_cli_fail(cli, "the helper's input", errno);
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(path);
		return qz_cli_fail(cli, "the helper's input", errno);
	}
	rc = write_held(cli, ss, h, f);
	fclose(f);
	if (rc != 0)
		unlink(path);
	return rc;
}

/* Connects to what o names: the sealed store --target, with the key, and with --zfs-target the
 * ZFS qube that --target is the sealed store beside (dom0's records of its backups taken back
 * from there where this dom0 lacks them); what they hold is written to a private file for the
 * helper (its name in path). On failure nothing is left open. */
static int open_held(qz_cli_t *cli, const struct opts *o, struct qz_cli_session *ss, struct held *h,
		     char *path)
{
	struct opts so = *o, oz = *o;
	char base[3800];
	int rc = 0;
	memset(h, 0, sizeof(*h));
	if (o->zfs_target != NULL) {
		oz.target = o->zfs_target;
		oz.sealed_target = o->target;
		rc = qz_cli_zfs_records_beside(cli, &oz, QZ_CLI_ZFS_DEFAULT_STATE, &so, base,
					       sizeof(base));
	}
	if (rc != 0 || (rc = qz_cli_session_open(cli, &so, ss)) != 0)
		return rc;
	if (o->zfs_target != NULL &&
	    ((rc = qz_cli_open_target(cli, true, o->zfs_target, &h->zt)) != 0 ||
	     (rc = qz_cli_target_state(cli, &oz, QZ_CLI_ZFS_DEFAULT_STATE, true, h->zt, h->zstate,
				       sizeof(h->zstate))) != 0 ||
	     (rc = qz_cli_zfs_records_take(cli, &so, ss, h->zstate)) != 0))
		goto failed;
	int err = o->zfs_target != NULL ? qz_backup_rec_list(h->zstate, &h->zall, &h->zn) : 0;
	if (err != 0) {
		rc = qz_cli_fail(cli, h->zstate, err);
		goto failed;
	}
	if ((rc = held_file(cli, ss, &so, h, path)) == 0)
		return 0;
failed:
	held_free(h);
	qz_cli_session_close(ss);
	return rc;
}

/* Lists the qubes whose settings the target holds. */
static int cmd_qubes_list(qz_cli_t *cli, int argc, char **argv)
{
	struct opts o;
	int rc = qz_cli_backup_opts(
	    cli, argc, argv, "--target --state --key-file --passphrase-fd --zfs-target ARGS", &o);
	if (rc != 0)
		return rc;
	struct qz_cli_session ss;
	struct held h;
	char path[] = "/tmp/qzfs-held.XXXXXX";
	if ((rc = open_held(cli, &o, &ss, &h, path)) != 0)
		return rc;
	char *args[] = {"list", path, NULL};
	int hr = run_helper(args, NULL);
	rc = hr == 0 ? QZ_EXIT_OK : helper_failed(cli, "listing the qubes", hr);
	unlink(path);
	held_free(&h);
	qz_cli_session_close(&ss);
	return rc;
}

/* Restores one volume (a line of the helper's plan: BACKED-UP DATASET KEEP QUBE) from the
 * newest chain of its backups on the target. */
static int restore_volume(qz_cli_t *cli, struct qz_cli_session *ss, const struct held *h,
			  const qz_secret_t *pool_pass, char *line)
{
	char *f[6] = {NULL};
	size_t n = 0;
	for (char *p = line; n < 6; n++) {
		f[n] = p;
		if ((p = strchr(p, '\t')) == NULL) {
			n++;
			break;
		}
		*p++ = 0;
	}
	char *end = NULL;
	long keep = n == 5 ? strtol(f[3], &end, 10) : -2;
	if (n != 5 || strcmp(f[0], "restore") != 0 || end == f[3] || *end != 0 || keep < -1)
		return qz_cli_usage(cli, "the qube-settings helper gave a line qzfs does not know");
	size_t *chain = calloc((h->n > h->zn ? h->n : h->zn) + 1, sizeof(*chain));
	if (chain == NULL)
		return qz_cli_fail(cli, f[1], ENOMEM);
	/* the sealed store's chain, else the ZFS qube's (--zfs-target), which is restored as
	 * `backup zfs restore --over` does */
	const qz_backup_rec_t *from = h->all;
	size_t len = qz_backup_chain_for(h->all, h->n, f[1], NULL, chain);
	bool from_zfs =
	    len == 0 && (len = qz_backup_chain_for(h->zall, h->zn, f[1], NULL, chain)) > 0;
	if (from_zfs)
		from = h->zall;
	const char **ids = calloc(len + 1, sizeof(*ids));
	uint64_t *totals = calloc(len + 1, sizeof(*totals));
	for (size_t i = 0; ids != NULL && totals != NULL && i < len; i++) {
		ids[i] = from[chain[i]].id;
		totals[i] = from[chain[i]].bytes; /* as recorded: for progress only */
	}
	free(chain);
	if (ids == NULL || totals == NULL) {
		free(ids);
		free(totals);
		return qz_cli_fail(cli, f[1], ENOMEM);
	}
	/* on a terminal, how far the volume's chain is, of its size, and the time left */
	qz_cli_reading_t r = {f[2], totals, len, "restored", false};
	qz_read_progress_t pg = {qz_cli_show_reading, &r};
	const qz_read_progress_t *shown = !cli->json && isatty(STDERR_FILENO) ? &pg : NULL;
	qz_volcfg_t cfg = {.save_on_stop = true, .revisions_to_keep = (int)keep};
	int lock = -1, rc = qz_lock_volume(f[2], &lock);
	char why[300] = "";
	bool encrypted = qz_cli_encrypted(cli, f[2]);
	int err = rc;
	if (err == 0 && len == 0)
		err = qz_why(why, sizeof(why), ENOENT, "the target has no whole chain of %s", f[1]);
	else if (err == 0 && encrypted && pool_pass == NULL)
		err = qz_why(
		    why, sizeof(why), EINVAL,
		    "%s is in an encrypted pool: give --pool-passphrase-fd N, the passphrase "
		    "of the pool the backup was made of",
		    f[2]);
	else if (err == 0 && from_zfs)
		err = qz_replica_restore(cli->be, h->zt, h->zstate, f[1], NULL, NULL, f[2], &cfg,
					 encrypted ? pool_pass : NULL, shown, why, sizeof(why));
	else if (err == 0)
		err = qz_backup_restore_over(cli->be, ss->t, &ss->secret, ids, len, f[2], &cfg,
					     encrypted ? pool_pass : NULL, shown, why, sizeof(why));
	if (shown != NULL) /* the line ends, and what follows begins on its own */
		fputc('\n', stderr);
	qz_unlock_volume(lock);
	free(ids);
	free(totals);
	if (err != 0)
		return qz_cli_refused(cli, err == ENOENT || err == EBUSY ? err : EBADMSG, why);
	if (cli->json) {
		qz_json_object(&cli->out, NULL);
		qz_json_string(&cli->out, "event", "restored");
		qz_json_string(&cli->out, "qube", f[4]);
		qz_json_string(&cli->out, "volume", f[2]);
		qz_json_string(&cli->out, "from", f[1]);
		qz_json_end(&cli->out, '}');
		fputc('\n', stdout);
	} else {
		printf("%s: %s restored from the backups of %s\n", f[4], f[2], f[1]);
	}
	return 0;
}

/* Restores qubes by name: creates them (or continues into those a restore of the same
 * settings began), sets their settings, puts each volume's data in place. */
static int cmd_qubes_restore(qz_cli_t *cli, int argc, char **argv)
{
	struct opts o;
	int rc =
	    qz_cli_backup_opts(cli, argc, argv,
			       "--target --state --key-file --passphrase-fd --dry-run "
			       "--rename-conflicting --pool --pool-passphrase-fd --zfs-target ARGS",
			       &o);
	if (rc != 0)
		return rc;
	if (o.nargs == 0)
		return qz_cli_usage(cli,
				    "name the qubes to restore (backup qubes list shows them)");
	qz_secret_t *pool_pass = NULL;
	if (o.pool_pass_fd >= 0 &&
	    (pool_pass = qz_cli_passphrase(cli, o.pool_pass_fd, "Pool passphrase", &rc)) == NULL)
		return rc;
	struct qz_cli_session ss;
	struct held h;
	char path[] = "/tmp/qzfs-held.XXXXXX", *plan = NULL;
	if ((rc = open_held(cli, &o, &ss, &h, path)) != 0) {
		qz_secret_free(pool_pass);
		return rc;
	}
	char *args[8] = {"apply", path};
	size_t a = 2;
	if (o.dry_run)
		args[a++] = "--dry-run";
	if (o.rename_conflicting)
		args[a++] = "--rename-conflicting";
	if (o.pool != NULL) {
		args[a++] = "--pool";
		args[a++] = (char *)o.pool;
	}
	int hr = run_helper_released(cli, args, &plan, &rc);
	if (rc == 0 && hr != 0)
		rc = helper_failed(cli, "restoring the qubes' settings", hr);
	/* the plan: a line "qube<TAB>NAME" per qube made (or continued into), one per volume;
	 * at most as many qubes as lines */
	size_t lines = 0;
	for (const char *p = plan; p != NULL && (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	char **made = rc == 0 ? calloc(lines + 4, sizeof(*made)) : NULL;
	size_t nmade = 2;
	if (rc == 0 && made == NULL)
		rc = qz_cli_fail(cli, "the restore's plan", ENOMEM);
	for (char *line = plan, *next; rc == 0 && line != NULL && *line != 0; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = 0;
		if (strncmp(line, "qube\t", 5) == 0)
			made[nmade++] = line + 5;
		else
			rc = restore_volume(cli, &ss, &h, pool_pass, line);
	}
	if (rc == 0 && nmade > 2) { /* the data is in place: the restore is done */
		made[0] = "finish";
		made[1] = path;
		int hr = run_helper_released(cli, made, NULL, &rc);
		if (rc == 0 && hr != 0)
			rc = helper_failed(cli, "finishing the restore", hr);
	}
	free(made);
	unlink(path);
	free(plan);
	held_free(&h);
	qz_cli_session_close(&ss);
	qz_secret_free(pool_pass);
	return rc;
}

const qz_cmd_t qz_backup_qubes_cmds[] = {
    {"list", cmd_qubes_list,
     "--target T [--state DIR] (--key-file F | --passphrase-fd N) [--zfs-target Z] [QUBE...]",
     "the qubes whose settings the target holds: name, class, template, when, data bytes", NULL,
     QZ_CMD_NOZFS},
    {"restore", cmd_qubes_restore,
     "--target T [--state DIR] (--key-file F | --passphrase-fd N) [--dry-run] "
     "[--rename-conflicting] [--pool POOL] [--pool-passphrase-fd N] [--zfs-target Z] QUBE...",
     "restore qubes by name: made with their settings (templates first), their volumes' data "
     "put in place (with --zfs-target, from the ZFS qube Z that the sealed store T is beside)",
     NULL, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
