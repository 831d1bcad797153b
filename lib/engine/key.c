/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Encryption roots with a passphrase (zfs_encrypted pools): setting one up, loading, unloading
 * and changing its key. The passphrase arrives on a file descriptor and lives only in a locked,
 * guarded buffer (libsodium) until the wrapping key is derived from it; the derived key is
 * wiped as soon as ZFS has it.
 */
#include "engine.h"
#include "family.h"
#include "pbkdf2.h"
#include "zname.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define WRONG_KEY_DELAY_MS 2000 /* after a wrong passphrase: guessing through qzfs stays slow */

qz_secret_t *qz_secret_read(int fd, int *errp)
{
	if (sodium_init() < 0) {
		*errp = ENOMEM;
		return NULL;
	}
	qz_secret_t *s = sodium_malloc(sizeof(*s));
	if (s == NULL) {
		*errp = ENOMEM;
		return NULL;
	}
	s->len = 0;
	for (;;) {
		ssize_t n = read(fd, s->buf + s->len, sizeof(s->buf) - s->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*errp = errno;
			qz_secret_free(s);
			return NULL;
		}
		if (n == 0)
			break;
		s->len += (size_t)n;
		if (memchr(s->buf, '\n', s->len) != NULL || s->len == sizeof(s->buf))
			break;
	}
	char *nl = memchr(s->buf, '\n', s->len);
	if (nl != NULL) /* a prompt ends the passphrase with a newline: it is not part of it */
		s->len = (size_t)(nl - s->buf);
	if (s->len < QZ_PASSPHRASE_MIN || s->len > QZ_PASSPHRASE_MAX) {
		qz_secret_free(s);
		*errp = ERANGE;
		return NULL;
	}
	*errp = 0;
	return s;
}

void qz_secret_free(qz_secret_t *s)
{
	if (s != NULL)
		sodium_free(s); /* wipes it */
}

/* The props of a new passphrase (a fresh salt) and the wrapping key derived from it. */
static int new_wrapping(const qz_secret_t *pass, uint64_t iters, char salt_s[24], char iters_s[24],
			qz_prop_t props[4], uint8_t wkey[QZ_WKEY_LEN])
{
	uint64_t salt;
	if (getrandom(&salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
		return EIO;
	if (iters < QZ_PBKDF2_MIN_ITERS)
		iters = QZ_PBKDF2_MIN_ITERS;
	snprintf(salt_s, 24, "%" PRIu64, salt);
	snprintf(iters_s, 24, "%" PRIu64, iters);
	props[0] = (qz_prop_t){"keyformat", "passphrase"};
	props[1] = (qz_prop_t){"keylocation", "prompt"};
	props[2] = (qz_prop_t){"pbkdf2salt", salt_s};
	props[3] = (qz_prop_t){"pbkdf2iters", iters_s};
	return qz_zfs_passphrase_key((const uint8_t *)pass->buf, pass->len, salt, iters, wkey);
}

int qz_pool_setup_encrypted(qz_backend_t *be, const char *root, const char *poolname,
			    const qz_secret_t *pass, uint64_t iters)
{
	if (qz_name_check(root, QZ_NAME_DATASET) != 0 || strchr(root, ':') != NULL)
		return qz_be_fail(be, EINVAL, "'%s' is not a valid dataset name", root);
	char parent[QZ_NAME_MAX], enc[64] = "", fmt[64] = "", eroot[QZ_NAME_MAX] = "";
	if (be->ops->exists(be, root)) { /* only an encryption root with a passphrase will do */
		int err = be->ops->get_prop(be, root, "keyformat", fmt, sizeof(fmt));
		if (err == 0)
			err = be->ops->get_prop(be, root, "encryptionroot", eroot, sizeof(eroot));
		if (err != 0)
			return err;
		if (strcmp(fmt, "passphrase") != 0 || strcmp(eroot, root) != 0)
			return qz_be_fail(
			    be, EEXIST, "%s exists and is not an encryption root with a passphrase",
			    root);
		return qz_pool_setup(be, root, poolname);
	}
	int err = qz_pool_make_parents(be, root); /* <zpool>/encryption: plain containers */
	if (err != 0)
		return err;
	(void)qz_name_parent(root, parent, sizeof(parent));
	if (be->ops->get_prop(be, parent, "encryption", enc, sizeof(enc)) == 0 &&
	    strcmp(enc, "off") != 0)
		return qz_be_fail(be, EINVAL, "%s is already encrypted: choose another parent",
				  parent);
	char salt_s[24], iters_s[24];
	qz_prop_t props[10];
	uint8_t *wkey = sodium_malloc(QZ_WKEY_LEN);
	if (wkey == NULL)
		return ENOMEM;
	err = new_wrapping(pass, iters, salt_s, iters_s, props, wkey);
	props[4] = (qz_prop_t){"encryption", "aes-256-gcm"};
	props[5] = (qz_prop_t){"mountpoint", "none"};
	props[6] = (qz_prop_t){"volmode", "dev"};
	props[7] = (qz_prop_t){QZ_ROLE_PROP, "pool"};
	props[8] = (qz_prop_t){QZ_POOL_PROP, poolname};
	if (err == 0)
		err = be->ops->create(be, root, QZ_FILESYSTEM, props, 9, wkey, QZ_WKEY_LEN);
	sodium_free(wkey);
	return err;
}

int qz_key_status(qz_backend_t *be, const char *root, bool *loaded)
{
	char status[64];
	int err = be->ops->get_prop(be, root, "keystatus", status, sizeof(status));
	if (err != 0)
		return err;
	if (strcmp(status, "available") != 0 && strcmp(status, "unavailable") != 0)
		return qz_be_fail(be, EINVAL, "%s is not encrypted", root);
	*loaded = strcmp(status, "available") == 0;
	return 0;
}

int qz_key_load(qz_backend_t *be, const char *root, const qz_secret_t *pass)
{
	bool loaded;
	uint64_t salt, iters;
	int err = qz_key_status(be, root, &loaded);
	if (err != 0 || loaded)
		return err;
	if ((err = qz_prop_u64(be, root, "pbkdf2salt", &salt)) != 0 ||
	    (err = qz_prop_u64(be, root, "pbkdf2iters", &iters)) != 0)
		return err;
	uint8_t *wkey = sodium_malloc(QZ_WKEY_LEN);
	if (wkey == NULL)
		return ENOMEM;
	err = qz_zfs_passphrase_key((const uint8_t *)pass->buf, pass->len, salt, iters, wkey);
	if (err == EINVAL)
		err = qz_be_fail(be, EINVAL, "%s: pbkdf2iters %" PRIu64 " is out of range", root,
				 iters);
	if (err == 0)
		err = be->ops->load_key(be, root, wkey, QZ_WKEY_LEN, false);
	sodium_free(wkey);
	if (err == EEXIST) /* loaded meanwhile */
		return 0;
	if (err == EACCES) {
		struct timespec nap = {WRONG_KEY_DELAY_MS / 1000, 0};
		nanosleep(&nap, NULL);
		return qz_be_fail(be, EACCES, "wrong passphrase for %s", root);
	}
	return err;
}

int qz_key_unload(qz_backend_t *be, const char *root)
{
	bool loaded;
	int err = qz_key_status(be, root, &loaded);
	if (err != 0 || !loaded)
		return err;
	err = be->ops->unload_key(be, root);
	if (err == EBUSY)
		return qz_be_fail(be, EBUSY, "%s has volumes in use: the key stays loaded", root);
	return err == EACCES ? 0 : err; /* EACCES: unloaded meanwhile */
}

int qz_key_change(qz_backend_t *be, const char *root, const qz_secret_t *pass, uint64_t iters)
{
	bool loaded;
	int err = qz_key_status(be, root, &loaded);
	if (err != 0)
		return err;
	if (!loaded)
		return qz_be_fail(be, EACCES, "load the key of %s first", root);
	char salt_s[24], iters_s[24];
	qz_prop_t props[4];
	uint8_t *wkey = sodium_malloc(QZ_WKEY_LEN);
	if (wkey == NULL)
		return ENOMEM;
	err = new_wrapping(pass, iters, salt_s, iters_s, props, wkey);
	if (err == 0)
		err = be->ops->change_key(be, root, props, 4, wkey, QZ_WKEY_LEN);
	sodium_free(wkey);
	return err;
}
