/* SPDX-License-Identifier: BSD-2-Clause */
/* Engine: encrypted pools with a passphrase (zfs_encrypted), on whichever backend is open. */
#include "cases.h"
#include "drr.h"
#include "engine.h"
#include "harness.h"
#include "stream.h"
#include "token.h"
#include "zname.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MiB   (1024ULL * 1024)
#define OK(x) assert_int_equal((x), 0)
#define ITERS QZ_PBKDF2_MIN_ITERS /* the fewest ZFS takes: the tests run under emulation */

static const qz_volcfg_t private_cfg = {
    .save_on_stop = true, .revisions_to_keep = 1, .size = 4 * MiB};

/* A passphrase as qzfs gets it: read from a pipe, trailing newline and all. */
static qz_secret_t *secret(const char *text)
{
	int p[2], err;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
	close(p[1]);
	qz_secret_t *s = qz_secret_read(p[0], &err);
	close(p[0]);
	return s;
}

static const char *enc_root(void)
{
	return N("encryption/sec");
}

/* A volume's name, kept (N()'s buffers are reused). */
static const char *private_vol(void)
{
	static char name[QZ_NAME_MAX];
	snprintf(name, sizeof(name), "%s", N("encryption/sec/work/private"));
	return name;
}

static int enc_setup(void **s)
{
	if (case_setup(s) != 0)
		return -1;
	qz_secret_t *pass = secret("correct horse battery\n");
	int err = qz_pool_setup_encrypted(be, enc_root(), "sec", pass, ITERS);
	qz_secret_free(pass);
	return err;
}

static bool loaded(void)
{
	bool l = false;
	OK(qz_key_status(be, enc_root(), &l));
	return l;
}

static int load(const char *text)
{
	qz_secret_t *pass = secret(text);
	int err = qz_key_load(be, enc_root(), pass);
	qz_secret_free(pass);
	return err;
}

static void passphrases_are_read_as_zfs_takes_them(void **s)
{
	(void)s;
	qz_secret_t *p = secret("12345678\nrest");
	assert_non_null(p);
	assert_int_equal(p->len, 8); /* up to the newline */
	qz_secret_free(p);
	int err, fd[2];
	assert_null(secret("short\n"));
	assert_int_equal(pipe(fd), 0);
	close(fd[1]);
	assert_null(qz_secret_read(fd[0], &err)); /* nothing at all */
	assert_int_equal(err, ERANGE);
	close(fd[0]);
}

static void volumes_need_the_key(void **s)
{
	(void)s;
	const char *p = private_vol();
	assert_string_equal(prop(enc_root(), "encryptionroot"), enc_root());
	assert_string_equal(prop(enc_root(), "keyformat"), "passphrase");
	assert_int_equal(prop_u64(enc_root(), "pbkdf2iters"), ITERS);
	OK(qz_vol_create(be, p, &private_cfg));
	OK(qz_vol_start(be, p, &private_cfg));
	fill(p, 0, 64 * 1024, 0x5a);
	OK(qz_vol_stop(be, p, &private_cfg));
	uint64_t h = vol_hash(p);
	OK(qz_key_unload(be, enc_root()));
	assert_false(loaded());
	OK(qz_key_unload(be, enc_root())); /* again: nothing to do */
	char path[512];
	OK(qz_vol_start(be, p, &private_cfg)); /* nothing ZFS refuses, but no device to use: */
	assert_int_equal(qz_vol_device(be, p, path, sizeof(path)), EACCES);
	assert_int_equal(load("correct horse battery staple\n"), EACCES);
	assert_false(loaded());
	OK(load("correct horse battery\n"));
	assert_true(loaded());
	OK(load("anything at all\n")); /* loaded: not even looked at */
	OK(qz_vol_start(be, p, &private_cfg));
	assert_int_equal(vol_hash(p), h);
	OK(qz_vol_stop(be, p, &private_cfg));
}

static void unload_refused_while_a_volume_is_open(void **s)
{
	(void)s;
	const char *p = private_vol();
	OK(qz_vol_create(be, p, &private_cfg));
	OK(qz_vol_start(be, p, &private_cfg));
	int fd;
	OK(be->ops->zvol_open(be, p, O_RDWR, &fd));
	assert_int_equal(qz_key_unload(be, enc_root()), EBUSY);
	assert_true(loaded());
	close(fd);
	OK(qz_vol_stop(be, p, &private_cfg));
	OK(qz_key_unload(be, enc_root()));
}

static void change_of_passphrase(void **s)
{
	(void)s;
	qz_secret_t *pass = secret("a new passphrase\n");
	OK(qz_key_change(be, enc_root(), pass, ITERS));
	OK(qz_key_unload(be, enc_root()));
	assert_int_equal(qz_key_change(be, enc_root(), pass, ITERS), EACCES); /* key not loaded */
	qz_secret_free(pass);
	assert_int_equal(load("correct horse battery\n"), EACCES);
	OK(load("a new passphrase\n"));
}

static void setup_takes_only_an_encryption_root(void **s)
{
	(void)s;
	qz_secret_t *pass = secret("correct horse battery\n");
	OK(qz_pool_setup_encrypted(be, enc_root(), "sec", pass, ITERS)); /* again: fine */
	mkfs(N("encryption/plain"));
	assert_int_equal(qz_pool_setup_encrypted(be, N("encryption/plain"), "p", pass, ITERS),
			 EEXIST);
	assert_int_equal(qz_key_status(be, N("encryption"), &(bool){false}), EINVAL);
	qz_secret_free(pass);
}

static void ephemeral_volatile_inside(void **s)
{
	(void)s;
	const char *v = N("encryption/sec/work/volatile");
	qz_volcfg_t cfg = {.ephemeral = true, .size = 4 * MiB};
	OK(qz_vol_create(be, v, &cfg));
	OK(qz_vol_start(be, v, &cfg));
	fill(v, 0, 4096, 0x11);
	assert_int_equal(vol_byte(v, 10), 0x11);
	OK(qz_vol_stop(be, v, &cfg));
}

static int count_bytes(void *ctx, const void *buf, size_t len)
{
	(void)buf;
	*(size_t *)ctx += len;
	return 0;
}

/* Backup transfers: dom0 decides raw from the data, not from anyone's say. */
static void transfers_of_encrypted_data_are_raw(void **s)
{
	(void)s;
	const char *v = private_vol();
	OK(qz_vol_create(be, v, &private_cfg));
	char snap[QZ_NAME_MAX + 8], plain[QZ_NAME_MAX], psnap[QZ_NAME_MAX + 8];
	snprintf(snap, sizeof(snap), "%s@b1", v);
	snprintf(plain, sizeof(plain), "%s", N("plainvol"));
	snprintf(psnap, sizeof(psnap), "%s@b1", plain);
	const qz_prop_t size = {"volsize", "4194304"};
	OK(be->ops->create(be, plain, QZ_VOLUME, &size, 1, NULL, 0));
	const char *snaps[] = {snap, psnap};
	OK(be->ops->snapshot(be, snaps, 2, NULL, 0));
	qz_transfer_t rec, prec;
	OK(qz_transfer_record(be, snap, NULL, &rec));
	OK(qz_transfer_record(be, psnap, NULL, &prec));
	assert_true(rec.raw);
	assert_int_equal(rec.send_flags, QZ_SEND_RAW);
	assert_false(prec.raw);
	assert_true(rec.toguid != 0 && prec.toguid != 0 && rec.toguid != prec.toguid);
	/* the stream dom0 sends is raw, and passes the verifier expecting exactly that */
	FILE *tmp = tmpfile();
	char why0[256] = "";
	OK(qz_transfer_send(be, &rec, NULL, fileno(tmp), why0, sizeof(why0)));
	off_t len = lseek(fileno(tmp), 0, SEEK_END);
	assert_true(len > 312);
	uint8_t *buf = malloc((size_t)len);
	assert_int_equal(pread(fileno(tmp), buf, (size_t)len, 0), len);
	fclose(tmp);
	qz_stream_expect_t e = {.toguid = rec.toguid, .fromguid = 0, .raw = true, .resumed = false};
	size_t out = 0;
	qz_verifier_t *ver = NULL;
	OK(qz_verifier_new(&e, count_bytes, &out, &ver));
	OK(qz_verifier_feed(ver, buf, (size_t)len));
	OK(qz_verifier_end(ver));
	assert_int_equal(out, (size_t)len);
	qz_verifier_free(ver);
	e.raw = false; /* and what expects plaintext refuses it */
	OK(qz_verifier_new(&e, count_bytes, &out, &ver));
	assert_int_equal(qz_verifier_feed(ver, buf, (size_t)len), EBADMSG);
	qz_verifier_free(ver);
	free(buf);
	/* a malformed token is refused before anything is sent */
	int p[2];
	assert_int_equal(pipe(p), 0);
	char why[256] = "";
	assert_int_equal(qz_transfer_send(be, &rec, "1-0-10-789c00", p[1], why, sizeof(why)),
			 EINVAL);
	assert_true(why[0] != 0);
	close(p[1]);
	char c;
	assert_int_equal(read(p[0], &c, 1), 0);
	close(p[0]);
}

/* A raw receive cut short (as a ZFS-receiving backup qube's would be) answers a token that
 * dom0's parser reads and that names the transfer; the send resumed from it, only with dom0's
 * record, completes that very snapshot; another transfer's record refuses the token. */
static void a_cut_receive_resumes_from_its_token(void **s)
{
	(void)s;
	const char *v = private_vol();
	OK(qz_vol_create(be, v, &private_cfg));
	OK(qz_vol_start(be, v, &private_cfg));
	fill(v, 0, 3 * MiB, 0x5a);
	OK(qz_vol_stop(be, v, &private_cfg));
	char snap[QZ_NAME_MAX + 8], snap2[QZ_NAME_MAX + 8], copy[QZ_NAME_MAX + 8];
	snprintf(snap, sizeof(snap), "%s@t1", v);
	snprintf(snap2, sizeof(snap2), "%s@t2", v);
	snprintf(copy, sizeof(copy), "%s@t1", N("encryption/copy"));
	const char *snaps[] = {snap};
	OK(be->ops->snapshot(be, snaps, 1, NULL, 0));
	snaps[0] = snap2;
	OK(be->ops->snapshot(be, snaps, 1, NULL, 0));
	qz_transfer_t rec, other;
	OK(qz_transfer_record(be, snap, NULL, &rec));
	OK(qz_transfer_record(be, snap2, NULL, &other));
	char why[256] = "";
	FILE *tmp = tmpfile();
	OK(qz_transfer_send(be, &rec, NULL, fileno(tmp), why, sizeof(why)));
	off_t len = lseek(fileno(tmp), 0, SEEK_END);
	assert_int_equal(ftruncate(fileno(tmp), len * 2 / 3), 0);
	lseek(fileno(tmp), 0, SEEK_SET);
	assert_int_not_equal(be->ops->receive(be, copy, fileno(tmp), true, true, false), 0);
	fclose(tmp);
	char token[QZ_TOKEN_MAX_TEXT];
	snprintf(token, sizeof(token), "%s", prop(N("encryption/copy"), "receive_resume_token"));
	qz_token_t t;
	OK(qz_token_parse(token, &t, why, sizeof(why)));
	assert_int_equal(t.toguid, rec.toguid);
	assert_true(t.rawok);
	assert_false(t.has_fromguid);
	assert_true(t.object != 0 && t.bytes > 0);
	/* it is exactly what dom0 learns of the transfer from ZFS: where a block of the volume's
	 * data starts, the stream's features as flags (compressed and raw; no embedded data in an
	 * encrypted dataset), the name the stream carries */
	qz_transfer_t known = rec;
	OK(qz_transfer_learn(be, &known, NULL, NULL, why, sizeof(why)));
	assert_true(known.learned);
	assert_int_equal(known.blocksize, 16384);
	assert_int_equal(known.volsize, private_cfg.size);
	assert_int_equal(t.object, 1);
	assert_int_equal(t.offset % known.blocksize, 0);
	assert_true(t.offset < known.volsize);
	assert_true(t.rawok && t.compressok && !t.embedok);
	assert_int_equal(t.largeblockok, (known.features & QZ_FEATURE_LARGE_BLOCKS) != 0);
	assert_true((known.features & (QZ_FEATURE_RAW | QZ_FEATURE_COMPRESSED)) ==
		    (QZ_FEATURE_RAW | QZ_FEATURE_COMPRESSED));
	assert_string_equal(t.toname, snap);
	qz_resume_t plan;
	OK(qz_token_plan(&t, &known, &plan, why, sizeof(why)));
	/* the same token with one flag more, or for a stream renamed on its way, is refused */
	qz_token_t more = t;
	more.embedok = true;
	assert_int_equal(qz_token_plan(&more, &known, &plan, why, sizeof(why)), EPERM);
	known.toname = "backup/k@s";
	assert_int_equal(qz_token_plan(&t, &known, &plan, why, sizeof(why)), EPERM);
	/* another transfer's record refuses it, and nothing is sent */
	tmp = tmpfile();
	assert_int_equal(qz_transfer_send(be, &other, token, fileno(tmp), why, sizeof(why)), EPERM);
	assert_int_equal(lseek(fileno(tmp), 0, SEEK_END), 0);
	OK(qz_transfer_send(be, &rec, token, fileno(tmp), why, sizeof(why)));
	assert_true(lseek(fileno(tmp), 0, SEEK_END) < len); /* only the rest */
	lseek(fileno(tmp), 0, SEEK_SET);
	OK(be->ops->receive(be, copy, fileno(tmp), true, true, false));
	fclose(tmp);
	assert_int_equal(prop_u64(copy, "guid"), rec.toguid);
	assert_string_equal(prop(N("encryption/copy"), "receive_resume_token"), "-");
}

#define KCASE(f) cmocka_unit_test_setup_teardown(f, enc_setup, case_teardown)

const struct CMUnitTest key_cases[] = {
    cmocka_unit_test_setup_teardown(passphrases_are_read_as_zfs_takes_them, case_setup,
				    case_teardown),
    KCASE(volumes_need_the_key),
    KCASE(unload_refused_while_a_volume_is_open),
    KCASE(change_of_passphrase),
    KCASE(setup_takes_only_an_encryption_root),
    KCASE(ephemeral_volatile_inside),
    KCASE(transfers_of_encrypted_data_are_raw),
    KCASE(a_cut_receive_resumes_from_its_token),
};
const size_t key_ncases = sizeof(key_cases) / sizeof(key_cases[0]);
