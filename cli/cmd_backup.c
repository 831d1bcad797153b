/* SPDX-License-Identifier: BSD-2-Clause */
/* qzfs backup ...: the parts of secure backups that can be tried by hand. */
#include "backup.h"
#include "backup_cli.h"
#include "cli.h"
#include "engine.h"
#include "error.h"
#include "seal_io.h"
#include "stream.h"
#include "token.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Writes to fd (the ctx) what a verifier or an opener passes on. */
static int emit_fd(void *ctx, const void *buf, size_t len)
{
	return qz_write_full(*(int *)ctx, buf, len);
}

/* Verifies a send stream on stdin against what is expected, passing it to stdout. */
static int cmd_verify_stream(qz_cli_t *cli, int argc, char **argv)
{
	struct opts o;
	int rc = qz_cli_backup_opts(cli, argc, argv, "--toguid --fromguid --raw --resumed", &o);
	if (rc != 0)
		return rc;
	if (o.toguid == 0)
		return qz_cli_usage(cli, "give the expected snapshot's --toguid");
	qz_stream_expect_t e = {
	    .toguid = o.toguid, .fromguid = o.fromguid, .raw = o.raw, .resumed = o.resumed};
	int out = STDOUT_FILENO;
	qz_verifier_t *v = NULL;
	if (qz_verifier_new(&e, emit_fd, &out, &v) != 0)
		return qz_cli_fail(cli, "verify", ENOMEM);
	static uint8_t buf[1 << 20];
	int err = 0;
	for (;;) {
		ssize_t n = qz_read_full(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0) {
			err = errno;
			break;
		}
		err = n > 0 ? qz_verifier_feed(v, buf, (size_t)n) : qz_verifier_end(v);
		if (err != 0 || n == 0)
			break;
	}
	uint64_t bytes = 0, records = 0;
	qz_verifier_counts(v, &bytes, &records);
	char why[300];
	snprintf(why, sizeof(why), "%s", qz_verifier_why(v));
	qz_verifier_free(v);
	if (err != 0)
		return qz_cli_refused(cli, err, why);
	fprintf(stderr, "qzfs %s: %" PRIu64 " records, %" PRIu64 " bytes verified\n", cli->cmd,
		records, bytes);
	return QZ_EXIT_OK;
}

/* Sends a snapshot's stream to stdout as dom0 decides it (raw for encrypted data), whole or,
 * with the receiver's resume token, from where it stopped if the token is of this transfer. */
static int cmd_send(qz_cli_t *cli, int argc, char **argv)
{
	if (argc < 1 || argv[0][0] == '-')
		return qz_cli_usage(cli, "name the snapshot to send");
	struct opts o;
	int rc = qz_cli_backup_opts(cli, argc - 1, argv + 1, "--from --token", &o);
	if (rc != 0)
		return rc;
	if (isatty(STDOUT_FILENO))
		return qz_cli_usage(cli, "the stream goes to stdout: not a terminal");
	qz_transfer_t rec;
	int err = qz_transfer_record(cli->be, argv[0], o.from, &rec);
	if (err != 0)
		return qz_cli_fail(cli, argv[0], err);
	char why[300] = "";
	err = qz_transfer_send(cli->be, &rec, o.token, STDOUT_FILENO, why, sizeof(why));
	if (err != 0 && why[0] != 0)
		return qz_cli_refused(cli, err == EPERM ? EBADMSG : err, why);
	return err != 0 ? qz_cli_fail(cli, argv[0], err) : QZ_EXIT_OK;
}

/* Makes a new backup key file. */
static int cmd_keygen(qz_cli_t *cli, int argc, char **argv)
{
	if (argc != 1)
		return qz_cli_usage(cli, "name the key file to create");
	qz_seal_key_t *k = qz_seal_key_new();
	if (k == NULL)
		return qz_cli_fail(cli, argv[0], ENOMEM);
	char why[300] = "";
	int err = qz_seal_key_write(argv[0], k, why, sizeof(why));
	qz_seal_key_free(k);
	return err != 0 ? qz_cli_refused(cli, err, why) : qz_cli_report(cli, "created", argv[0]);
}

/* Reads the key, or the passphrase, that o names. */
static int get_secret(qz_cli_t *cli, const struct opts *o, qz_seal_key_t **key, qz_secret_t **pass)
{
	char why[300] = "";
	*key = NULL;
	*pass = NULL;
	if (o->key_file != NULL) {
		int err = qz_seal_key_read(o->key_file, key, why, sizeof(why));
		return err != 0 ? qz_cli_refused(cli, err, why) : 0;
	}
	int rc = 0;
	*pass = qz_cli_passphrase(cli, o->pass_fd, "Backup passphrase", &rc);
	return rc;
}

/* Seals a stream on stdin into a container on stdout. */
static int cmd_seal(qz_cli_t *cli, int argc, char **argv)
{
	struct opts o;
	int rc =
	    qz_cli_backup_opts(cli, argc, argv,
			       "--key-file --passphrase-fd --dataset --toguid --fromguid --raw "
			       "--chunk-size --argon2-ops --argon2-mib",
			       &o);
	if (rc != 0)
		return rc;
	if (o.dataset == NULL || o.toguid == 0)
		return qz_cli_usage(cli, "give --dataset and --toguid");
	qz_seal_info_t info;
	qz_seal_info_init(&info, o.key_file != NULL ? QZ_KDF_KEYFILE : QZ_KDF_ARGON2ID);
	snprintf(info.dataset, sizeof(info.dataset), "%s", o.dataset);
	info.toguid = o.toguid;
	info.fromguid = o.fromguid;
	info.raw = o.raw;
	if (o.chunk_size != 0)
		info.chunk_size = o.chunk_size > UINT32_MAX ? 0 : (uint32_t)o.chunk_size;
	qz_seal_key_t *key = NULL;
	if ((rc = qz_cli_sealing_key(cli, &o, NULL, &info, &key)) != 0)
		return rc;
	char why[300] = "";
	uint64_t bytes = 0;
	int err = qz_seal_fd(STDIN_FILENO, STDOUT_FILENO, &info, key, &bytes, why, sizeof(why));
	qz_seal_key_free(key);
	if (err != 0)
		return qz_cli_refused(cli, err, why);
	fprintf(stderr, "qzfs %s: %" PRIu64 " bytes sealed\n", cli->cmd, bytes);
	return QZ_EXIT_OK;
}

struct open_ctx {
	qz_verifier_t *v; /* made when the header is known */
	const qz_seal_info_t *info;
	uint64_t want_toguid; /* dom0's record, or 0 */
	bool other;	      /* the backup is of another snapshot */
	int out;
};

static int emit_verified(void *ctx, const void *buf, size_t len)
{
	struct open_ctx *c = ctx;
	if (c->v == NULL) {
		if (c->want_toguid != 0 && c->info->toguid != c->want_toguid) {
			c->other = true;
			return EBADMSG;
		}
		qz_stream_expect_t e = {.toguid = c->info->toguid,
					.fromguid = c->info->fromguid,
					.raw = c->info->raw,
					.resumed = false};
		if (qz_verifier_new(&e, emit_fd, &c->out, &c->v) != 0)
			return ENOMEM;
	}
	return qz_verifier_feed(c->v, buf, len);
}

/* Opens a container on stdin; the stream inside, verified against the header (and --toguid,
 * dom0's own record, when given), goes to stdout. */
static int cmd_open(qz_cli_t *cli, int argc, char **argv)
{
	struct opts o;
	int rc = qz_cli_backup_opts(cli, argc, argv, "--key-file --passphrase-fd --toguid", &o);
	if (rc != 0)
		return rc;
	qz_seal_key_t *key = NULL;
	qz_secret_t *pass = NULL;
	if ((rc = get_secret(cli, &o, &key, &pass)) != 0)
		return rc;
	qz_open_secret_t secret = {key, pass ? pass->buf : NULL, pass ? pass->len : 0};
	qz_seal_info_t info;
	struct open_ctx c = {NULL, &info, o.toguid, false, STDOUT_FILENO};
	char why[300] = "";
	int err = qz_open_fd(STDIN_FILENO, &secret, emit_verified, &c, &info, why, sizeof(why));
	if (c.other)
		snprintf(why, sizeof(why), "a backup of snapshot guid %" PRIu64 ", not %" PRIu64,
			 info.toguid, o.toguid);
	if (err == 0)
		err = c.v == NULL ? EBADMSG : qz_verifier_end(c.v);
	if (c.v != NULL && qz_verifier_why(c.v)[0] != 0)
		snprintf(why, sizeof(why), "%s", qz_verifier_why(c.v));
	else if (err == EBADMSG && why[0] == 0)
		snprintf(why, sizeof(why), "the backup holds no stream");
	qz_verifier_free(c.v);
	qz_seal_key_free(key);
	qz_secret_free(pass);
	return err != 0 ? qz_cli_refused(cli, err, why) : QZ_EXIT_OK;
}

/* Shows a container's header (read from stdin), which needs no key: all of it but the volume's
 * name, which is sealed. */
static int cmd_info(qz_cli_t *cli, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return qz_cli_usage(cli, "the backup is read from stdin");
	uint8_t hdr[QZ_SEAL_HEADER_MAX];
	size_t len = 0;
	char why[300] = "";
	qz_seal_info_t info;
	ssize_t n = qz_read_full(STDIN_FILENO, hdr, QZ_SEAL_HEADER_FIXED);
	int err = n == QZ_SEAL_HEADER_FIXED ? qz_seal_header_length(hdr, &len, why, sizeof(why))
					    : (snprintf(why, sizeof(why), "no header"), EBADMSG);
	if (err == 0 &&
	    qz_read_full(STDIN_FILENO, hdr + QZ_SEAL_HEADER_FIXED, len - QZ_SEAL_HEADER_FIXED) !=
		(ssize_t)(len - QZ_SEAL_HEADER_FIXED))
		err = EBADMSG, snprintf(why, sizeof(why), "the header is cut short");
	if (err == 0)
		err = qz_seal_header_parse(hdr, len, &info, why, sizeof(why));
	if (err != 0)
		return qz_cli_refused(cli, err, why);
	char id[2 * QZ_SEAL_ID_BYTES + 1];
	for (int i = 0; i < QZ_SEAL_ID_BYTES; i++)
		snprintf(id + 2 * i, 3, "%02x", info.id[i]);
	if (cli->json) {
		qz_json_object(&cli->out, NULL);
		qz_json_string(&cli->out, "id", id);
		qz_json_uint(&cli->out, "toguid", info.toguid);
		qz_json_uint(&cli->out, "fromguid", info.fromguid);
		qz_json_bool(&cli->out, "raw", info.raw);
		qz_json_uint(&cli->out, "chunk_size", info.chunk_size);
		qz_json_uint(&cli->out, "created", info.created);
		qz_json_string(&cli->out, "key",
			       info.kdf == QZ_KDF_ARGON2ID ? "passphrase" : "file");
		qz_json_end(&cli->out, '}');
	} else {
		printf("backup %s (volume name sealed): snapshot guid %" PRIu64
		       ", %s%s, chunks of %u bytes, key from a %s\n",
		       id, info.toguid, info.fromguid ? "incremental" : "full",
		       info.raw ? ", raw" : "", info.chunk_size,
		       info.kdf == QZ_KDF_ARGON2ID ? "passphrase" : "key file");
	}
	return QZ_EXIT_OK;
}

/* Parses a receive resume token strictly and shows what it asks for, or why it is refused. */
static int cmd_token(qz_cli_t *cli, int argc, char **argv)
{
	if (argc != 1)
		return qz_cli_usage(cli, "give one resume token");
	qz_token_t t;
	char why[256];
	if (qz_token_parse(argv[0], &t, why, sizeof(why)) != 0) {
		qz_cli_say(cli, "refused: %s", why);
		return QZ_EXIT_FAIL;
	}
	if (cli->json) {
		qz_json_object(&cli->out, NULL);
		qz_json_string(&cli->out, "toname", t.toname);
		qz_json_uint(&cli->out, "toguid", t.toguid);
		if (t.has_fromguid)
			qz_json_uint(&cli->out, "fromguid", t.fromguid);
		qz_json_uint(&cli->out, "object", t.object);
		qz_json_uint(&cli->out, "offset", t.offset);
		qz_json_uint(&cli->out, "bytes", t.bytes);
		qz_json_bool(&cli->out, "rawok", t.rawok);
		qz_json_end(&cli->out, '}');
	} else {
		char name[4 * sizeof(t.toname)];
		qz_cli_escape(t.toname, name, sizeof(name)); /* the token's, made by a qube */
		printf("%s guid %llu%s: object %llu offset %llu, %llu bytes sent%s\n", name,
		       (unsigned long long)t.toguid, t.has_fromguid ? " (incremental)" : "",
		       (unsigned long long)t.object, (unsigned long long)t.offset,
		       (unsigned long long)t.bytes, t.rawok ? ", raw" : "");
	}
	return QZ_EXIT_OK;
}

/* ---- backups of volumes to a target ---- */

#define DEFAULT_STATE QZ_CLI_DEFAULT_STATE

/* The passphrase's Argon2id salt and limits, shared by the backups of a state directory (so a
 * run derives its key once): read from STATE/passphrase-kdf, made there the first time. */
static int state_kdf(const char *state, const struct opts *o, qz_seal_info_t *kdf)
{
	char path[4096], hex[2 * QZ_SEAL_SALT_BYTES + 1];
	snprintf(path, sizeof(path), "%s/passphrase-kdf", state);
	qz_seal_info_init(kdf, QZ_KDF_ARGON2ID);
	FILE *f = fopen(path, "re");
	if (f != NULL) {
		unsigned long long ops, mem;
		int ok = fscanf(f, "%32s %llu %llu", hex, &ops, &mem) == 3 &&
			 sodium_hex2bin(kdf->salt, sizeof(kdf->salt), hex, strlen(hex), NULL, NULL,
					NULL) == 0;
		fclose(f);
		kdf->opslimit = ops;
		kdf->memlimit = mem;
		return ok ? 0 : EINVAL;
	}
	if (o->argon2_ops != 0)
		kdf->opslimit = o->argon2_ops;
	if (o->argon2_mib != 0)
		kdf->memlimit = o->argon2_mib << 20;
	f = fopen(path, "wxe");
	if (f == NULL)
		return errno;
	sodium_bin2hex(hex, sizeof(hex), kdf->salt, sizeof(kdf->salt));
	fprintf(f, "%s %llu %llu\n", hex, (unsigned long long)kdf->opslimit,
		(unsigned long long)kdf->memlimit);
	return fclose(f) != 0 ? errno : 0;
}

/* The master key for sealing: the key file's, or the passphrase's with kdf's salt and limits
 * (the state directory's shared ones when state is given; else kdf's, with --argon2-*
 * applied). An exit code, after saying why, on failure. */
int qz_cli_sealing_key(qz_cli_t *cli, const struct opts *o, const char *state, qz_seal_info_t *kdf,
		       qz_seal_key_t **key)
{
	qz_secret_t *pass = NULL;
	int rc = get_secret(cli, o, key, &pass);
	if (rc != 0 || pass == NULL)
		return rc;
	char why[300] = "";
	int err = 0;
	if (state != NULL && (err = state_kdf(state, o, kdf)) != 0) {
		snprintf(why, sizeof(why), "%s/passphrase-kdf: %s", state, strerror(err));
	} else {
		if (state == NULL && o->argon2_ops != 0)
			kdf->opslimit = o->argon2_ops;
		if (state == NULL && o->argon2_mib != 0)
			kdf->memlimit = o->argon2_mib << 20;
		err = qz_seal_key_derive(pass->buf, pass->len, kdf, key, why, sizeof(why));
	}
	qz_secret_free(pass);
	return err != 0 ? qz_cli_refused(cli, err, why) : 0;
}

/* A terminal's progress line: what, its bytes so far of about total (0: unknown), and the
 * time left at the pace since begin, from bytes `from` on (display only: nothing depends on
 * it). */
static void progress_line(const char *what, uint64_t bytes, uint64_t from, uint64_t total,
			  bool begin, const char *verb)
{
	static struct timespec t0;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (begin)
		t0 = now;
	double secs = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
	uint64_t done = bytes > from ? bytes - from : 0;
	fprintf(stderr, "\r%s: %.1f MiB", what, (double)bytes / (1 << 20));
	if (total > 0) {
		uint64_t pct = bytes >= total ? 99 : bytes * 100 / total;
		fprintf(stderr, " of about %.1f MiB (%" PRIu64 "%%)", (double)total / (1 << 20),
			pct);
		if (done > 0 && secs >= 1 && total > bytes) {
			uint64_t left = (uint64_t)((double)(total - bytes) * secs / (double)done);
			fprintf(stderr, ", %" PRIu64 ":%02" PRIu64 " left", left / 60, left % 60);
		}
	}
	fprintf(stderr, " %s\033[K", verb); /* and the rest of an earlier, longer line cleared */
}

void qz_cli_show_reading(void *ctx, size_t i, uint64_t bytes)
{
	qz_cli_reading_t *r = ctx;
	uint64_t before = 0, total = 0;
	for (size_t k = 0; r->totals != NULL && k < r->n; k++) {
		before += k < i ? r->totals[k] : 0;
		total += r->totals[k];
	}
	progress_line(r->what, before + bytes, before, total, !r->shown, r->verb);
	r->shown = true;
}

static bool progress_shown; /* a line is on the terminal, which the next report ends */

/* Progress of a backup: JSON events on stdout with --json (total: ZFS's estimate of the
 * stream's bytes, 0 unknown), else a line on a terminal. */
void qz_cli_backup_progress(void *ctx, const qz_backup_rec_t *rec)
{
	qz_cli_t *cli = ctx;
	bool begin = rec->bytes == rec->resumed_from;
	if (cli->json) {
		qz_json_object(&cli->out, NULL);
		qz_json_string(&cli->out, "event", begin ? "begin" : "progress");
		qz_json_string(&cli->out, "id", rec->id);
		qz_json_string(&cli->out, "volume", rec->volume);
		qz_json_string(&cli->out, "kind", rec->base[0] ? "incremental" : "full");
		qz_json_uint(&cli->out, "bytes", rec->bytes);
		qz_json_uint(&cli->out, "chunks", rec->chunks);
		qz_json_uint(&cli->out, "total", rec->total);
		if (begin)
			qz_json_uint(&cli->out, "resumed_from", rec->resumed_from);
		qz_json_end(&cli->out, '}');
		fflush(stdout);
	} else if (isatty(STDERR_FILENO)) {
		/* a backup to a ZFS qube (its objset MAC kept) sends; the others seal */
		progress_line(rec->volume, rec->bytes, rec->resumed_from, rec->total, begin,
			      rec->has_mac ? "sent" : "sealed");
		progress_shown = true;
	}
}

void qz_cli_verified(qz_cli_t *cli, const char *id, int err, const char *said)
{
	if (!cli->json) {
		printf("%s: %s\n", id, said);
		return;
	}
	qz_json_object(&cli->out, NULL);
	qz_json_string(&cli->out, "event",
		       err == 0	       ? "verified"
		       : err == EAGAIN ? "unfinished"
				       : "failed");
	qz_json_string(&cli->out, "id", id);
	qz_json_string(&cli->out, err == 0 ? "said" : "why", said);
	qz_json_end(&cli->out, '}');
	fflush(stdout);
}

void qz_cli_backup_made(qz_cli_t *cli, const char *vol, int err, const qz_backup_rec_t *rec,
			const char *why, bool sealed)
{
	const char *kind = rec->base[0] ? "incremental" : "full";
	if (cli->json) { /* after begin and progress events, one of these */
		qz_json_object(&cli->out, NULL);
		qz_json_string(&cli->out, "event",
			       err == 0		 ? "done"
			       : err == EALREADY ? "unchanged"
						 : "failed");
		qz_json_string(&cli->out, "volume", vol);
		if (err == 0 || err == EALREADY)
			qz_json_string(&cli->out, "id", rec->id);
		if (err == 0) {
			qz_json_string(&cli->out, "kind", kind);
			qz_json_uint(&cli->out, "bytes", rec->bytes);
			if (sealed)
				qz_json_uint(&cli->out, "chunks", rec->chunks);
			qz_json_uint(&cli->out, "resumed_from", rec->resumed_from);
			if (sealed)
				qz_json_bool(&cli->out, "begun_anew", rec->begun_anew);
		} else if (err != EALREADY) {
			qz_json_string(&cli->out, "why", why);
		}
		qz_json_end(&cli->out, '}');
		fflush(stdout);
	}
	if (progress_shown) { /* the terminal's progress line ends */
		fputc('\n', stderr);
		progress_shown = false;
	}
	if (err == EALREADY) {
		qz_cli_say(cli, "%s", why);
	} else if (err == 0 && !cli->json) {
		printf("%s %s %s, %" PRIu64 " bytes", rec->id, rec->volume, kind, rec->bytes);
		if (sealed)
			printf(" in %" PRIu64 " chunks", rec->chunks);
		if (rec->resumed_from > 0)
			printf(" (resumed after %" PRIu64 " bytes)", rec->resumed_from);
		if (rec->begun_anew)
			printf(" (begun anew: the stream made again differed from the unfinished "
			       "backup's)");
		putchar('\n');
	}
}

/* Backs the named volumes up to the target. */
static int cmd_create(qz_cli_t *cli, int argc, char **argv)
{
	struct opts o;
	int rc = qz_cli_backup_opts(
	    cli, argc, argv,
	    "--target --state --key-file --passphrase-fd --chunk-size --argon2-ops "
	    "--argon2-mib --full --full-every --threads --no-settings ARGS",
	    &o);
	if (rc != 0)
		return rc;
	if (o.nargs == 0)
		return qz_cli_usage(cli, "name the VMs or volumes to back up");
	if (o.threads > 4)
		return qz_cli_usage(cli,
				    "--threads takes 1 to 4 (0 or none: one per CPU, at most 4)");
	char base[3800], state[4096];
	if ((rc = qz_cli_state_base(cli, &o, DEFAULT_STATE, base, sizeof(base))) != 0)
		return rc;
	qz_seal_info_t kdf;
	qz_seal_key_t *key = NULL;
	if ((rc = qz_cli_sealing_key(cli, &o, base, &kdf, &key)) != 0)
		return rc;
	char why[300] = "";
	int err = 0;
	qz_target_t *t = NULL;
	if ((rc = qz_cli_open_target(cli, false, o.target, &t)) != 0 ||
	    (rc = qz_cli_target_state(cli, &o, DEFAULT_STATE, false, t, state, sizeof(state))) !=
		0) {
		if (t != NULL)
			qz_target_close(t);
		qz_seal_key_free(key);
		return rc;
	}
	qz_backup_opts_t bo = {.state_dir = state,
			       .key = key,
			       .kdf = o.key_file == NULL ? &kdf : NULL,
			       .chunk_size = (uint32_t)o.chunk_size,
			       .threads = (unsigned)o.threads,
			       .full = o.full,
			       .full_every = qz_cli_full_every(&o),
			       .progress = qz_cli_backup_progress,
			       .ctx = cli};
	char **vols = NULL;
	size_t nvols = 0;
	struct qz_cli_qube_settings settings;
	if ((rc = qz_cli_backup_volumes(cli, &o, &vols, &nvols)) != 0 ||
	    (rc = qz_cli_qube_settings_read(cli, &o, &settings)) != 0) {
		qz_cli_free_volumes(vols, nvols);
		qz_target_close(t);
		qz_seal_key_free(key);
		return rc;
	}
	for (size_t i = 0; err == 0 && i < nvols; i++) {
		qz_backup_rec_t rec;
		err = qz_backup_create(cli->be, t, &bo, vols[i], &rec, why, sizeof(why));
		qz_cli_backup_made(cli, vols[i], err, &rec, why, true);
		if (err == EALREADY)
			err = 0;
	}
	/* the settings as they were when the backup began, stored once the data is */
	rc = err != 0 ? qz_cli_refused(cli, err, why)
		      : qz_cli_qube_settings_store(cli, t, &bo, &settings);
	qz_cli_qube_settings_free(&settings);
	qz_cli_free_volumes(vols, nvols);
	qz_target_close(t);
	qz_seal_key_free(key);
	return rc;
}

int qz_cli_session_open(qz_cli_t *cli, const struct opts *o, struct qz_cli_session *s)
{
	memset(s, 0, sizeof(*s));
	int rc = get_secret(cli, o, &s->key, &s->pass);
	if (rc == 0 && (rc = qz_cli_open_target(cli, false, o->target, &s->t)) != 0) {
		qz_seal_key_free(s->key);
		qz_secret_free(s->pass);
	}
	s->secret.key = s->key;
	s->secret.pass = s->pass != NULL ? s->pass->buf : NULL;
	s->secret.passlen = s->pass != NULL ? s->pass->len : 0;
	return rc;
}

void qz_cli_session_close(struct qz_cli_session *s)
{
	qz_target_close(s->t);
	qz_seal_key_free(s->key);
	qz_secret_free(s->pass);
}

/* One backup, as `backup list` shows it. */
void qz_cli_show_backup(qz_cli_t *cli, const qz_backup_rec_t *r)
{
	char when[32] = "";
	time_t t = (time_t)r->created;
	struct tm tm;
	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (cli->json) {
		qz_json_object(&cli->out, NULL);
		qz_json_string(&cli->out, "id", r->id);
		qz_json_string(&cli->out, "volume", r->volume);
		qz_json_string(&cli->out, "snapshot", r->snapshot);
		qz_json_string(&cli->out, "base", r->base);
		qz_json_uint(&cli->out, "toguid", r->toguid);
		qz_json_uint(&cli->out, "fromguid", r->fromguid);
		qz_json_uint(&cli->out, "created", r->created);
		qz_json_uint(&cli->out, "bytes", r->bytes);
		qz_json_uint(&cli->out, "chunks", r->chunks);
		qz_json_bool(&cli->out, "raw", r->raw);
		qz_json_bool(&cli->out, "complete", r->complete);
		qz_json_string(&cli->out, "kind", r->document ? "settings" : "volume");
		if (r->target[0] != 0)
			qz_json_string(&cli->out, "target", r->target);
		qz_json_end(&cli->out, '}');
	} else {
		printf("%s %s %s%s%s %" PRIu64 " bytes %s%s%s\n", r->id, r->volume,
		       r->document	  ? "settings"
		       : r->fromguid != 0 ? "incremental"
					  : "full",
		       r->raw ? " raw" : "", r->complete ? "" : " (unfinished)", r->bytes, when,
		       r->target[0] != 0 ? " to " : "", r->target);
	}
}

/* Lists dom0's records of backups or, with --target and the key, what the target holds. */
static int cmd_list(qz_cli_t *cli, int argc, char **argv)
{
	struct opts o;
	int rc = qz_cli_backup_opts(
	    cli, argc, argv, "--state --target --key-file --passphrase-fd KEY-IF-TARGET", &o);
	if (rc != 0)
		return rc;
	qz_backup_rec_t *all = NULL;
	size_t n = 0, unopened = 0;
	char why[300] = "";
	int err = 0;
	if (o.target != NULL) {
		struct qz_cli_session ss;
		if ((rc = qz_cli_session_open(cli, &o, &ss)) != 0)
			return rc;
		err = qz_cli_discover(&o, DEFAULT_STATE, ss.t, &ss.secret, &all, &n, &unopened, why,
				      sizeof(why));
		qz_cli_session_close(&ss);
	} else if ((err = qz_cli_all_records(o.state ? o.state : DEFAULT_STATE, &all, &n)) != 0) {
		snprintf(why, sizeof(why), "%s: %s", o.state ? o.state : DEFAULT_STATE,
			 strerror(err));
	}
	if (err != 0)
		return qz_cli_refused(cli, err, why);
	if (cli->json)
		qz_json_object(&cli->out, NULL), qz_json_array(&cli->out, "backups");
	for (size_t i = 0; i < n; i++)
		qz_cli_show_backup(cli, &all[i]);
	if (cli->json) {
		qz_json_end(&cli->out, ']');
		if (o.target != NULL)
			qz_json_uint(&cli->out, "unopened", unopened);
		qz_json_end(&cli->out, '}');
	}
	if (unopened > 0)
		fprintf(stderr,
			"qzfs %s: %zu backup header(s) on the target do not open with this key\n",
			cli->cmd, unopened);
	free(all);
	return QZ_EXIT_OK;
}

/* What a prune lets go: each shown as `backup list` shows it, and its id kept (a ZFS qube's
 * backups have their records sealed beside them: those go too). */
struct dropped {
	qz_cli_t *cli;
	char (*ids)[QZ_BACKUP_ID_HEX + 1];
	size_t n;
};

static void say_dropped(void *ctx, const qz_backup_rec_t *r)
{
	struct dropped *d = ctx;
	qz_cli_show_backup(d->cli, r);
	char(*more)[QZ_BACKUP_ID_HEX + 1] = realloc(d->ids, (d->n + 1) * sizeof(*d->ids));
	if (more != NULL) { /* else its sealed record stays: nothing is lost */
		d->ids = more;
		memcpy(d->ids[d->n++], r->id, sizeof(*d->ids));
	}
}

int qz_cli_prune(qz_cli_t *cli, int argc, char **argv, bool zfs, const char *default_state,
		 qz_backup_remove_fn remove)
{
	struct opts o;
	int rc = qz_cli_backup_opts(cli, argc, argv,
				    zfs ? "--target --state --keep-last --keep-days --dry-run "
					  "--sealed-target ARGS"
					: "--target --state --keep-last --keep-days --dry-run ARGS",
				    &o);
	if (rc != 0)
		return rc;
	if (o.keep_last == 0 && o.keep_days == 0)
		return qz_cli_usage(cli, "say what to keep: --keep-last N and/or --keep-days D");
	qz_target_t *t = NULL;
	char state[4096];
	if ((!o.dry_run && (rc = qz_cli_open_target(cli, zfs, o.target, &t)) != 0) ||
	    (rc = qz_cli_target_state(cli, &o, default_state, zfs, t, state, sizeof(state))) != 0) {
		if (t != NULL)
			qz_target_close(t);
		return rc;
	}
	qz_backup_keep_t k = {o.keep_last, o.keep_days, (uint64_t)time(NULL)};
	char why[300] = "";
	if (cli->json)
		qz_json_object(&cli->out, NULL),
		    qz_json_array(&cli->out, o.dry_run ? "would_drop" : "dropped");
	else if (o.dry_run)
		printf("would drop:\n");
	struct dropped d = {cli, NULL, 0};
	int err =
	    qz_backup_prune(cli->be, t, state, &k, (const char *const *)o.args, (size_t)o.nargs,
			    o.dry_run, remove, say_dropped, &d, why, sizeof(why));
	if (cli->json)
		qz_json_end(&cli->out, ']'), qz_json_end(&cli->out, '}');
	if (t != NULL)
		qz_target_close(t);
	/* dom0's records of a ZFS qube's backups let go, sealed beside them: they go too */
	rc = err != 0 ? qz_cli_refused(cli, err, why) : QZ_EXIT_OK;
	if (err == 0 && zfs && !o.dry_run && d.n > 0)
		rc = qz_cli_zfs_records_forget(cli, &o, default_state,
					       (const char(*)[QZ_BACKUP_ID_HEX + 1]) d.ids, d.n);
	free(d.ids);
	return rc;
}

/* Deletes the backups retention lets go, from the target and from dom0's records. */
static int cmd_prune(qz_cli_t *cli, int argc, char **argv)
{
	return qz_cli_prune(cli, argc, argv, false, DEFAULT_STATE, qz_backup_remove_sealed);
}

/* Reads backups back from the target and checks them against dom0's records. */
static int cmd_verify(qz_cli_t *cli, int argc, char **argv)
{
	struct opts o;
	int rc = qz_cli_backup_opts(cli, argc, argv,
				    "--target --state --key-file --passphrase-fd --all ARGS", &o);
	if (rc != 0)
		return rc;
	if ((o.nargs == 0) == !o.all)
		return qz_cli_usage(cli, "name the backups to verify, or --all");
	struct qz_cli_session ss;
	char state[4096];
	if ((rc = qz_cli_session_open(cli, &o, &ss)) != 0)
		return rc;
	if ((rc = qz_cli_target_state(cli, &o, DEFAULT_STATE, false, ss.t, state, sizeof(state))) !=
	    0) {
		qz_cli_session_close(&ss);
		return rc;
	}
	char why[300] = "";
	qz_backup_rec_t *found = NULL;
	size_t n = (size_t)o.nargs, unopened = 0;
	int err = 0, failed = 0;
	if (o.all) /* what the target holds, each against dom0's record of it if there is one */
		err = qz_backup_discover(ss.t, &ss.secret, &found, &n, &unopened, why, sizeof(why));
	for (size_t i = 0; err == 0 && i < n; i++) {
		qz_backup_rec_t rec;
		const char *id = found != NULL ? found[i].id : o.args[i];
		int one = qz_backup_rec_read(state, id, &rec);
		if (one != 0 && found != NULL) {
			rec = found[i];
			one = 0;
		} else if (one != 0) {
			snprintf(why, sizeof(why), "dom0 has no record of backup %s", id);
		}
		if (one == 0 && !rec.complete) {
			one = EAGAIN;
			snprintf(why, sizeof(why), "unfinished");
		}
		qz_cli_reading_t r = {id, &rec.bytes, 1, "verified", false};
		qz_read_progress_t pg = {qz_cli_show_reading, &r};
		bool term = !cli->json && isatty(STDERR_FILENO);
		if (one == 0)
			one = qz_backup_verify(ss.t, &ss.secret, &rec, term ? &pg : NULL, why,
					       sizeof(why));
		if (r.shown)
			fputc('\n', stderr);
		if (one == 0) {
			char said[64];
			snprintf(said, sizeof(said), "whole, %" PRIu64 " bytes verified",
				 rec.bytes);
			qz_cli_verified(cli, id, 0, said);
		} else if (found != NULL) { /* --all: every backup looked at, each failure said */
			qz_cli_verified(cli, id, one, why);
			failed += one != EAGAIN;
		} else {
			err = one;
		}
	}
	free(found);
	qz_cli_session_close(&ss);
	if (unopened > 0)
		fprintf(stderr, "qzfs %s: %zu backup header(s) do not open with this key\n",
			cli->cmd, unopened);
	if (err == 0 && failed > 0)
		err = EBADMSG, snprintf(why, sizeof(why), "%d backup(s) failed", failed);
	return err != 0 ? qz_cli_refused(cli, err == ENOENT ? EINVAL : err, why) : QZ_EXIT_OK;
}

/* The chain of backups that restores --backup ID, or the newest whole backup of --volume NAME,
 * from what the target holds (opened with the key): ids (malloc'd) in *ids, *n of them, and
 * the bytes of each in *bytes (malloc'd). */
static int find_chain(qz_target_t *t, const qz_open_secret_t *secret, const struct opts *o,
		      char ***ids, uint64_t **bytes, size_t *n, char *why, size_t whylen)
{
	qz_backup_rec_t *all = NULL;
	size_t nall = 0, unopened = 0, len = 0;
	*ids = NULL;
	int err = qz_cli_discover(o, DEFAULT_STATE, t, secret, &all, &nall, &unopened, why, whylen);
	size_t *chain = err == 0 ? calloc(nall + 1, sizeof(*chain)) : NULL;
	if (err == 0 && chain == NULL)
		err = ENOMEM;
	if (err == 0)
		len = qz_backup_chain_for(all, nall, o->volume, o->backup, chain);
	if (err == 0 && len == 0) {
		snprintf(why, whylen,
			 "the target has no whole chain of backups that restores %s%s%s",
			 o->backup != NULL ? "backup " : "volume ",
			 o->backup != NULL ? o->backup : o->volume,
			 unopened > 0 ? " (some of its headers do not open with this key)" : "");
		err = ENOENT;
	}
	if (err == 0 && ((*ids = calloc(len, sizeof(**ids))) == NULL ||
			 (*bytes = calloc(len, sizeof(**bytes))) == NULL))
		err = ENOMEM;
	for (size_t i = 0; err == 0 && i < len; i++) {
		(*bytes)[i] = all[chain[i]].bytes; /* as its trailer says: for progress only */
		if (((*ids)[i] = strdup(all[chain[i]].id)) == NULL)
			err = ENOMEM;
	}
	*n = len;
	free(chain);
	free(all);
	return err;
}

/* Restores a chain of backups (full first) into a new volume dataset: the ids given, or the
 * chain found on the target for --backup ID or --volume NAME. */
static int cmd_restore(qz_cli_t *cli, int argc, char **argv)
{
	struct opts o;
	int rc = qz_cli_backup_opts(
	    cli, argc, argv,
	    "--target --state --to --over --revisions-to-keep --pool-passphrase-fd "
	    "--volume --backup --key-file --passphrase-fd ARGS",
	    &o);
	if (rc != 0)
		return rc;
	int ways = (o.nargs > 0) + (o.volume != NULL) + (o.backup != NULL);
	if (ways != 1 || (o.to == NULL) == (o.over == NULL))
		return qz_cli_usage(cli,
				    "give --to DATASET or --over VOLUME, and the backups (full "
				    "one first), or --volume NAME, or --backup ID");
	qz_volcfg_t cfg;
	int lock = -1;
	qz_secret_t *pool_pass = NULL;
	if ((rc = qz_cli_restore_over(cli, &o, &cfg, &lock, &pool_pass)) != 0)
		return rc;
	struct qz_cli_session ss;
	if ((rc = qz_cli_session_open(cli, &o, &ss)) != 0) {
		qz_unlock_volume(lock);
		qz_secret_free(pool_pass);
		return rc;
	}
	char why[300] = "", **found = NULL;
	uint64_t *totals = NULL;
	size_t n = (size_t)o.nargs;
	int err = 0;
	if (o.nargs == 0 &&
	    (err = find_chain(ss.t, &ss.secret, &o, &found, &totals, &n, why, sizeof(why))) == 0 &&
	    !cli->json) {
		printf("restoring %zu backup(s):", n);
		for (size_t i = 0; i < n; i++)
			printf(" %s", found[i]);
		putchar('\n');
	}
	const char *const *ids =
	    found != NULL ? (const char *const *)found : (const char *const *)o.args;
	/* on a terminal, each backup's child process shows how far the chain is */
	qz_cli_reading_t r = {o.over != NULL ? o.over : o.to, totals, n, "restored", false};
	qz_read_progress_t pg = {qz_cli_show_reading, &r};
	const qz_read_progress_t *shown =
	    !cli->json && isatty(STDERR_FILENO) && err == 0 ? &pg : NULL;
	if (err == 0 && o.over != NULL)
		err = qz_backup_restore_over(cli->be, ss.t, &ss.secret, ids, n, o.over, &cfg,
					     pool_pass, shown, why, sizeof(why));
	else if (err == 0)
		err = qz_backup_restore(cli->be, ss.t, &ss.secret, ids, n, o.to, shown, why,
					sizeof(why));
	if (shown != NULL)
		fputc('\n', stderr);
	free(totals);
	qz_unlock_volume(lock);
	qz_secret_free(pool_pass);
	for (size_t i = 0; found != NULL && i < n; i++)
		free(found[i]);
	free(found);
	qz_cli_session_close(&ss);
	if (err != 0)
		return qz_cli_refused(
		    cli, err == EEXIST || err == ENOENT || err == EBUSY ? err : EBADMSG, why);
	return qz_cli_report(cli, "restored", o.to != NULL ? o.to : o.over);
}

const qz_cmd_t qz_backup_cmds[] = {
    {"token", cmd_token, "TOKEN", "read a receive resume token strictly", NULL, QZ_CMD_NOZFS},
    {"verify-stream", cmd_verify_stream, "--toguid G [--fromguid G] [--raw] [--resumed]",
     "verify a send stream from stdin, passing it to stdout", NULL, QZ_CMD_NOZFS},
    {"send", cmd_send, "SNAP [--from SNAP|BOOKMARK] [--token TOKEN]",
     "send a snapshot's stream to stdout (raw if encrypted), resumed only by a token of it", NULL,
     0},
    {"keygen", cmd_keygen, "FILE", "make a new backup key file (mode 0400)", NULL, QZ_CMD_NOZFS},
    {"seal", cmd_seal,
     "(--key-file F | --passphrase-fd N) --dataset D --toguid G [--fromguid G] [--raw] "
     "[--chunk-size BYTES]",
     "seal a stream from stdin into a backup container on stdout", NULL, QZ_CMD_NOZFS},
    {"open", cmd_open, "(--key-file F | --passphrase-fd N) [--toguid G]",
     "open a backup container from stdin; its verified stream goes to stdout", NULL, QZ_CMD_NOZFS},
    {"info", cmd_info, "", "show a backup container's header (stdin)", NULL, QZ_CMD_NOZFS},
    {"create", cmd_create,
     "--target T [--state DIR] (--key-file F | --passphrase-fd N) [--chunk-size B] [--full] "
     "[--full-every DAYS] [--threads N] [--no-settings] (VOL | VM | VM-DATASET)...",
     "back volumes up to target T (dir:PATH, qube:NAME, exec:CMD), sealed; a VM named also has "
     "its Qubes settings saved",
     NULL, 0},
    {"list", cmd_list, "[--state DIR | --target T (--key-file F | --passphrase-fd N)]",
     "dom0's records of backups, or what a target holds (opened with the key)", NULL, QZ_CMD_NOZFS},
    {"prune", cmd_prune,
     "--target T [--state DIR] (--keep-last N | --keep-days D)... [--dry-run] [VOL...]",
     "delete the backups retention lets go (never one a kept backup's chain needs)", NULL, 0},
    {"verify", cmd_verify,
     "--target T [--state DIR] (--key-file F | --passphrase-fd N) (ID... | --all)",
     "read backups back, open and verify everything, compare with dom0's records", NULL,
     QZ_CMD_NOZFS},
    {"restore", cmd_restore,
     "--target T (--to DATASET | --over VOL --revisions-to-keep N [--pool-passphrase-fd N]) "
     "(--key-file F | --passphrase-fd N) (ID... | --volume NAME | --backup ID)",
     "restore a chain of backups (full first; or found on the target) into a new volume", NULL, 0},
    {"zfs", NULL, "COMMAND ...",
     "backups of encrypted volumes to a backup qube that receives them into its own ZFS",
     qz_backup_zfs_cmds, 0},
    {"qubes", NULL, "COMMAND ...",
     "whole qubes (settings and data) restored by name from sealed backups", qz_backup_qubes_cmds,
     0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
