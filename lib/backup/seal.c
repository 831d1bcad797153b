/* SPDX-License-Identifier: BSD-2-Clause */
/* The sealed container (see seal.h). */
#include "seal.h"

#include "le.h"
#include "why.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAGIC		"QZFSSEAL"
#define NONCE_BYTES	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES	crypto_aead_xchacha20poly1305_ietf_ABYTES
#define AD_BYTES	49 /* header digest, chunk index, stream offset, mark */
#define MAX_OPSLIMIT	16
#define MAX_MEMLIMIT	(1ull << 30)
#define CHECKPOINT_TAG	"QZCP3"
#define FINISHED_BIT	(1ull << 63) /* in a checkpoint's chunk index */
#define SUBKEY_CONTEXT	"qzfs sealed chunks 3"
#define PRINT_CONTEXT	"qzfs chunk prints 3"
#define NAMEKEY_CONTEXT "qzfs sealed name 2"
#define TRAILER_CONTEXT "qzfs sealed trailer 2"
#define NAME_AT		QZ_SEAL_HEADER_FIXED
#define MARK_FINAL	1

static_assert(QZ_SEAL_ABYTES == 1 + NONCE_BYTES + TAG_BYTES, "ABYTES");
static_assert(QZ_SEAL_PLAIN_AT == 4 + 1 + NONCE_BYTES, "plaintext offset");
static_assert(QZ_SEAL_NAME_SEALED == QZ_SEAL_NAME_PAD + crypto_aead_xchacha20poly1305_ietf_ABYTES,
	      "sealed name");
static_assert(QZ_SEAL_PRINT_BYTES == crypto_onetimeauth_BYTES, "print");
static_assert(NAME_AT + QZ_SEAL_NAME_SEALED == QZ_SEAL_HEADER_MAX, "header length");

/* Where a sealer, or an opener, is in a container. */
struct qz_sealer {
	qz_seal_info_t info;
	uint8_t digest[32];   /* of the whole header: part of every chunk's associated data */
	uint8_t key[32];      /* the chunk key */
	uint8_t printkey[32]; /* whence each chunk's one-time print key */
	uint8_t chain[QZ_SEAL_CHAIN_BYTES]; /* of the prints of the chunks advanced past */
	uint64_t index;			    /* of the next chunk */
	bool finished;			    /* the final chunk is done */
};

struct qz_opener {
	struct qz_sealer c; /* the same state, read the other way */
};

/* ---- keys ---- */

qz_seal_key_t *qz_seal_key_new(void)
{
	if (sodium_init() < 0)
		return NULL;
	qz_seal_key_t *k = sodium_malloc(sizeof(*k));
	if (k != NULL)
		randombytes_buf(k->k, sizeof(k->k));
	return k;
}

void qz_seal_key_free(qz_seal_key_t *k)
{
	if (k != NULL)
		sodium_free(k);
}

int qz_seal_key_read(const char *path, qz_seal_key_t **out, char *why, size_t whylen)
{
	if (sodium_init() < 0)
		return qz_why(why, whylen, ENOMEM, "libsodium did not start");
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return qz_why(why, whylen, errno, "cannot open key file %s: %s", path,
			      strerror(errno));
	struct stat st;
	char text[130];
	ssize_t n = -1;
	int err = 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		err = qz_why(why, whylen, EINVAL, "key file %s is not a regular file", path);
	else if (st.st_mode & 077)
		err = qz_why(why, whylen, EACCES,
			     "key file %s may be read by others (mode %03o): chmod 400 it", path,
			     (unsigned)(st.st_mode & 0777));
	else
		n = read(fd, text, sizeof(text));
	close(fd);
	if (err != 0)
		return err;
	if (n == 65 && text[64] == '\n')
		n = 64;
	qz_seal_key_t *k = sodium_malloc(sizeof(*k));
	if (k == NULL) {
		sodium_memzero(text, sizeof(text));
		return qz_why(why, whylen, ENOMEM, "out of memory");
	}
	size_t bin = 0;
	const char *end = NULL;
	if (n != 64 || sodium_hex2bin(k->k, sizeof(k->k), text, 64, NULL, &bin, &end) != 0 ||
	    bin != sizeof(k->k) || end != text + 64)
		err = qz_why(why, whylen, EINVAL, "key file %s does not hold 64 hex digits", path);
	sodium_memzero(text, sizeof(text));
	if (err != 0) {
		sodium_free(k);
		return err;
	}
	*out = k;
	return 0;
}

int qz_seal_key_write(const char *path, const qz_seal_key_t *k, char *why, size_t whylen)
{
	char text[66];
	sodium_bin2hex(text, sizeof(text), k->k, sizeof(k->k));
	text[64] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0) {
		int err = errno;
		sodium_memzero(text, sizeof(text));
		return qz_why(why, whylen, err, "cannot create key file %s: %s", path,
			      strerror(err));
	}
	int err = write(fd, text, 65) == 65 && fsync(fd) == 0 ? 0 : errno ? errno : EIO;
	sodium_memzero(text, sizeof(text));
	if (close(fd) != 0 && err == 0)
		err = errno;
	if (err != 0) {
		unlink(path);
		return qz_why(why, whylen, err, "cannot write key file %s: %s", path,
			      strerror(err));
	}
	return 0;
}

int qz_seal_key_derive(const char *pass, size_t passlen, const qz_seal_info_t *info,
		       qz_seal_key_t **out, char *why, size_t whylen)
{
	if (sodium_init() < 0)
		return qz_why(why, whylen, ENOMEM, "libsodium did not start");
	if (info->kdf != QZ_KDF_ARGON2ID)
		return qz_why(why, whylen, EINVAL,
			      "this backup is sealed with a key file, not a "
			      "passphrase");
	qz_seal_key_t *k = sodium_malloc(sizeof(*k));
	if (k == NULL)
		return qz_why(why, whylen, ENOMEM, "out of memory");
	if (crypto_pwhash(k->k, sizeof(k->k), pass, passlen, info->salt, info->opslimit,
			  (size_t)info->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		sodium_free(k);
		return qz_why(why, whylen, ENOMEM, "Argon2id needs %llu MiB it cannot have",
			      (unsigned long long)(info->memlimit >> 20));
	}
	*out = k;
	return 0;
}

/* ---- the header ---- */

void qz_seal_info_init(qz_seal_info_t *info, enum qz_seal_kdf kdf)
{
	if (sodium_init() < 0)
		abort(); /* libsodium cannot start only without a random source */
	memset(info, 0, sizeof(*info));
	randombytes_buf(info->id, sizeof(info->id));
	info->chunk_size = QZ_SEAL_DEFAULT_CHUNK;
	info->created = (uint64_t)time(NULL);
	info->kdf = kdf;
	if (kdf == QZ_KDF_ARGON2ID) {
		randombytes_buf(info->salt, sizeof(info->salt));
		info->opslimit = crypto_pwhash_argon2id_OPSLIMIT_MODERATE;
		info->memlimit = crypto_pwhash_argon2id_MEMLIMIT_MODERATE;
	}
}

/* Checks a dataset's name: 1 to 255 printable bytes, no space; EBADMSG with the reason. */
static int check_name(const char *name, size_t n, char *why, size_t whylen)
{
	if (n == 0 || n >= QZ_SEAL_NAME_PAD)
		return qz_why(why, whylen, EBADMSG, "the dataset name is empty or too long");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
			return qz_why(why, whylen, EBADMSG, "the dataset name has a byte 0x%02x",
				      (unsigned char)name[i]);
	return 0;
}

/* Checks the plaintext fields a header carries; EBADMSG with the reason. */
static int check_info(const qz_seal_info_t *info, char *why, size_t whylen)
{
	if (info->document && (info->toguid != 0 || info->fromguid != 0 || info->raw))
		return qz_why(why, whylen, EBADMSG, "a document with a stream's fields");
	if (!info->document && info->toguid == 0)
		return qz_why(why, whylen, EBADMSG, "the snapshot guid is 0");
	if (info->chunk_size < QZ_SEAL_MIN_CHUNK || info->chunk_size > QZ_SEAL_MAX_CHUNK)
		return qz_why(why, whylen, EBADMSG, "chunk size %u is out of bounds",
			      info->chunk_size);
	if (info->kdf == QZ_KDF_KEYFILE) {
		static const uint8_t zero[QZ_SEAL_SALT_BYTES];
		if (info->opslimit != 0 || info->memlimit != 0 ||
		    memcmp(info->salt, zero, sizeof(zero)) != 0)
			return qz_why(why, whylen, EBADMSG,
				      "key-file header with passphrase fields");
	} else if (info->kdf == QZ_KDF_ARGON2ID) {
		if (info->opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
		    info->opslimit > MAX_OPSLIMIT ||
		    info->memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
		    info->memlimit > MAX_MEMLIMIT)
			return qz_why(why, whylen, EBADMSG,
				      "Argon2id limits %llu/%llu MiB are out of bounds",
				      (unsigned long long)info->opslimit,
				      (unsigned long long)(info->memlimit >> 20));
	} else {
		return qz_why(why, whylen, EBADMSG, "unknown key derivation %d", (int)info->kdf);
	}
	return 0;
}

/* A key of backup id for one purpose (context): its sealed name, or its trailer. */
static void id_key(const qz_seal_key_t *master, const char *context,
		   const uint8_t id[QZ_SEAL_ID_BYTES],
		   uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES])
{
	crypto_generichash_state gs;
	crypto_generichash_init(&gs, master->k, sizeof(master->k), 32);
	crypto_generichash_update(&gs, (const uint8_t *)context, strlen(context) + 1);
	crypto_generichash_update(&gs, id, QZ_SEAL_ID_BYTES);
	crypto_generichash_final(&gs, key, 32);
}

/* Writes the header, the name sealed with master; returns its length. */
static size_t write_header(const qz_seal_info_t *info, const qz_seal_key_t *master, uint8_t *h)
{
	memset(h, 0, QZ_SEAL_HEADER_FIXED);
	memcpy(h, MAGIC, 8);
	qz_put_le(h + 8, QZ_SEAL_VERSION, 4);
	qz_put_le(h + 12, QZ_SEAL_HEADER_MAX, 4);
	memcpy(h + 16, info->id, QZ_SEAL_ID_BYTES);
	qz_put_le(h + 32, info->toguid, 8);
	qz_put_le(h + 40, info->fromguid, 8);
	qz_put_le(h + 48, info->chunk_size, 4);
	qz_put_le(h + 52,
		  (info->raw ? QZ_SEAL_FLAG_RAW : 0) | (info->document ? QZ_SEAL_FLAG_DOCUMENT : 0),
		  4);
	qz_put_le(h + 56, (uint64_t)info->kdf, 4);
	qz_put_le(h + 64, info->opslimit, 8);
	qz_put_le(h + 72, info->memlimit, 8);
	memcpy(h + 80, info->salt, QZ_SEAL_SALT_BYTES);
	qz_put_le(h + 96, info->created, 8);
	qz_put_le(h + 104, QZ_SEAL_NAME_SEALED, 2);
	uint8_t padded[QZ_SEAL_NAME_PAD] = {0}, key[32], nonce[24] = {0};
	memcpy(padded, info->dataset, strlen(info->dataset));
	id_key(master, NAMEKEY_CONTEXT, info->id, key);
	crypto_aead_xchacha20poly1305_ietf_encrypt(h + NAME_AT, NULL, padded, sizeof(padded), h,
						   QZ_SEAL_HEADER_FIXED, NULL, nonce, key);
	sodium_memzero(key, sizeof(key));
	return QZ_SEAL_HEADER_MAX;
}

/* Opens the name sealed in header h (read strictly) into info->dataset; EBADMSG if it does not
 * open with master, or is not a name. */
static int open_name(const uint8_t *h, const qz_seal_key_t *master, qz_seal_info_t *info, char *why,
		     size_t whylen)
{
	uint8_t padded[QZ_SEAL_NAME_PAD], key[32], nonce[24] = {0};
	id_key(master, NAMEKEY_CONTEXT, info->id, key);
	int bad = crypto_aead_xchacha20poly1305_ietf_decrypt(padded, NULL, NULL, h + NAME_AT,
							     QZ_SEAL_NAME_SEALED, h,
							     QZ_SEAL_HEADER_FIXED, nonce, key);
	sodium_memzero(key, sizeof(key));
	if (bad)
		return qz_why(why, whylen, EBADMSG,
			      "the header does not open: the wrong key or passphrase, or the "
			      "backup was altered");
	size_t n = strnlen((const char *)padded, sizeof(padded));
	for (size_t i = n; i < sizeof(padded); i++)
		if (padded[i] != 0)
			return qz_why(why, whylen, EBADMSG, "the sealed name is not padded");
	int err = check_name((const char *)padded, n, why, whylen);
	if (err == 0)
		memcpy(info->dataset, padded, n + 1);
	return err;
}

int qz_seal_header_length(const uint8_t *h, size_t *len, char *why, size_t whylen)
{
	if (memcmp(h, MAGIC, 8) != 0)
		return qz_why(why, whylen, EBADMSG, "not a qzfs sealed backup (bad magic)");
	if (qz_get_le(h + 8, 4) != QZ_SEAL_VERSION)
		return qz_why(why, whylen, EBADMSG, "sealed format version %llu is not known",
			      (unsigned long long)qz_get_le(h + 8, 4));
	if (qz_get_le(h + 104, 2) != QZ_SEAL_NAME_SEALED ||
	    qz_get_le(h + 12, 4) != QZ_SEAL_HEADER_MAX)
		return qz_why(why, whylen, EBADMSG, "the header's lengths are not the format's");
	*len = QZ_SEAL_HEADER_MAX;
	return 0;
}

int qz_seal_header_parse(const uint8_t *h, size_t len, qz_seal_info_t *info, char *why,
			 size_t whylen)
{
	size_t total = 0;
	if (len < QZ_SEAL_HEADER_FIXED)
		return qz_why(why, whylen, EBADMSG, "the header is cut short");
	int err = qz_seal_header_length(h, &total, why, whylen);
	if (err != 0)
		return err;
	if (total != len)
		return qz_why(why, whylen, EBADMSG, "the header is %zu bytes, not %zu", len, total);
	memset(info, 0, sizeof(*info));
	memcpy(info->id, h + 16, QZ_SEAL_ID_BYTES);
	info->toguid = qz_get_le(h + 32, 8);
	info->fromguid = qz_get_le(h + 40, 8);
	info->chunk_size = (uint32_t)qz_get_le(h + 48, 4);
	uint64_t flags = qz_get_le(h + 52, 4);
	if ((flags & ~(uint64_t)(QZ_SEAL_FLAG_RAW | QZ_SEAL_FLAG_DOCUMENT)) != 0)
		return qz_why(why, whylen, EBADMSG, "unknown header flags 0x%llx",
			      (unsigned long long)flags);
	info->raw = (flags & QZ_SEAL_FLAG_RAW) != 0;
	info->document = (flags & QZ_SEAL_FLAG_DOCUMENT) != 0;
	uint64_t kdf = qz_get_le(h + 56, 4);
	if (kdf > QZ_KDF_ARGON2ID || qz_get_le(h + 60, 4) != 0)
		return qz_why(why, whylen, EBADMSG, "unknown key derivation %llu",
			      (unsigned long long)kdf);
	info->kdf = (enum qz_seal_kdf)kdf;
	info->opslimit = qz_get_le(h + 64, 8);
	info->memlimit = qz_get_le(h + 72, 8);
	memcpy(info->salt, h + 80, QZ_SEAL_SALT_BYTES);
	info->created = qz_get_le(h + 96, 8);
	return check_info(info, why, whylen);
}

/* The chunk key: the master key applied to the whole header. */
static void subkey(const qz_seal_key_t *master, const uint8_t *h, size_t len, uint8_t key[32])
{
	crypto_generichash_state gs;
	crypto_generichash_init(&gs, master->k, sizeof(master->k), 32);
	crypto_generichash_update(&gs, (const uint8_t *)SUBKEY_CONTEXT, sizeof(SUBKEY_CONTEXT));
	crypto_generichash_update(&gs, h, len);
	crypto_generichash_final(&gs, key, 32);
}

/* Sets the chunk key, and the print key that comes from it. */
static void set_key(struct qz_sealer *s, const uint8_t key[32])
{
	memcpy(s->key, key, 32);
	crypto_generichash(s->printkey, 32, (const uint8_t *)PRINT_CONTEXT, sizeof(PRINT_CONTEXT),
			   key, 32);
}

static void chunk_ad(const struct qz_sealer *s, uint64_t index, uint8_t mark, uint8_t ad[AD_BYTES])
{
	memcpy(ad, s->digest, 32);
	qz_put_le(ad + 32, index, 8);
	qz_put_le(ad + 40, index * s->info.chunk_size, 8);
	ad[48] = mark;
}

/* A new state for the container with header hdr (read strictly), at its first chunk. */
static int state_new(const uint8_t *hdr, size_t hdrlen, struct qz_sealer **out, char *why,
		     size_t whylen)
{
	if (sodium_init() < 0)
		return qz_why(why, whylen, ENOMEM, "libsodium did not start");
	qz_seal_info_t info;
	int err = qz_seal_header_parse(hdr, hdrlen, &info, why, whylen);
	if (err != 0)
		return err;
	struct qz_sealer *s = sodium_malloc(sizeof(*s));
	if (s == NULL)
		return qz_why(why, whylen, ENOMEM, "out of memory");
	memset(s, 0, sizeof(*s));
	s->info = info;
	crypto_generichash(s->digest, 32, hdr, hdrlen, NULL, 0);
	*out = s;
	return 0;
}

/* ---- sealing ---- */

int qz_sealer_new(const qz_seal_info_t *info, const qz_seal_key_t *master, uint8_t *hdr,
		  size_t *hdrlen, qz_sealer_t **out, char *why, size_t whylen)
{
	if (sodium_init() < 0)
		return qz_why(why, whylen, ENOMEM, "libsodium did not start");
	if (check_info(info, why, whylen) != 0 ||
	    check_name(info->dataset, strnlen(info->dataset, sizeof(info->dataset)), why, whylen) !=
		0)
		return EINVAL;
	*hdrlen = write_header(info, master, hdr);
	int err = state_new(hdr, *hdrlen, out, why, whylen);
	if (err == 0) {
		uint8_t key[32];
		subkey(master, hdr, *hdrlen, key);
		set_key(*out, key);
		sodium_memzero(key, sizeof(key));
		memcpy((*out)->info.dataset, info->dataset, sizeof(info->dataset));
	}
	return err;
}

void qz_sealer_print(const qz_sealer_t *s, uint64_t index, const uint8_t *plain, size_t len,
		     bool final, uint8_t print[QZ_SEAL_PRINT_BYTES])
{
	uint8_t what[17], otk[crypto_onetimeauth_KEYBYTES];
	qz_put_le(what, index, 8);
	qz_put_le(what + 8, len, 8);
	what[16] = final ? MARK_FINAL : 0;
	crypto_generichash(otk, sizeof(otk), what, sizeof(what), s->printkey, sizeof(s->printkey));
	crypto_onetimeauth(print, plain, len, otk);
	sodium_memzero(otk, sizeof(otk));
}

int qz_sealer_seal(const qz_sealer_t *s, uint64_t index, uint8_t *buf, size_t len, bool final,
		   size_t *outlen, uint8_t print[QZ_SEAL_PRINT_BYTES])
{
	if (len > s->info.chunk_size || (!final && len != s->info.chunk_size))
		return EINVAL;
	uint8_t *plain = buf + QZ_SEAL_PLAIN_AT, ad[AD_BYTES];
	qz_sealer_print(s, index, plain, len, final, print);
	buf[4] = final ? MARK_FINAL : 0;
	randombytes_buf(buf + 5, NONCE_BYTES);
	chunk_ad(s, index, buf[4], ad);
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(plain, plain + len, NULL, plain, len,
							    ad, sizeof(ad), NULL, buf + 5, s->key);
	qz_put_le(buf, len + QZ_SEAL_ABYTES, 4);
	*outlen = QZ_SEAL_FRAMED(len);
	return 0;
}

void qz_seal_chain(uint8_t chain[QZ_SEAL_CHAIN_BYTES], const uint8_t print[QZ_SEAL_PRINT_BYTES])
{
	uint8_t both[QZ_SEAL_CHAIN_BYTES + QZ_SEAL_PRINT_BYTES];
	memcpy(both, chain, QZ_SEAL_CHAIN_BYTES);
	memcpy(both + QZ_SEAL_CHAIN_BYTES, print, QZ_SEAL_PRINT_BYTES);
	crypto_generichash(chain, QZ_SEAL_CHAIN_BYTES, both, sizeof(both), NULL, 0);
}

int qz_sealer_advance(qz_sealer_t *s, const uint8_t print[QZ_SEAL_PRINT_BYTES], bool final)
{
	if (s->finished)
		return EINVAL;
	qz_seal_chain(s->chain, print);
	s->index++;
	s->finished = final;
	return 0;
}

int qz_sealer_chunk(qz_sealer_t *s, const uint8_t *plain, size_t len, bool final, uint8_t *out,
		    size_t *outlen)
{
	uint8_t print[QZ_SEAL_PRINT_BYTES];
	if (s->finished || len > s->info.chunk_size)
		return EINVAL;
	memmove(out + QZ_SEAL_PLAIN_AT, plain, len);
	int err = qz_sealer_seal(s, s->index, out, len, final, outlen, print);
	return err != 0 ? err : qz_sealer_advance(s, print, final);
}

bool qz_sealer_chain_is(const qz_sealer_t *s, const uint8_t chain[QZ_SEAL_CHAIN_BYTES])
{
	return sodium_memcmp(s->chain, chain, QZ_SEAL_CHAIN_BYTES) == 0;
}

const qz_seal_info_t *qz_sealer_info(const qz_sealer_t *s)
{
	return &s->info;
}

uint64_t qz_sealer_index(const qz_sealer_t *s)
{
	return s->index;
}

bool qz_sealer_finished(const qz_sealer_t *s)
{
	return s->finished;
}

#define CHECKPOINT_BYTES (sizeof(CHECKPOINT_TAG) + 8 + 32 + 32 + QZ_SEAL_CHAIN_BYTES)
static_assert(CHECKPOINT_BYTES <= QZ_SEAL_CHECKPOINT_MAX, "checkpoint size");

void qz_sealer_checkpoint(const qz_sealer_t *s, uint8_t *cp, size_t *len)
{
	size_t o = sizeof(CHECKPOINT_TAG);
	memcpy(cp, CHECKPOINT_TAG, o);
	qz_put_le(cp + o, s->index | (s->finished ? FINISHED_BIT : 0), 8);
	memcpy(cp + o + 8, s->digest, 32);
	memcpy(cp + o + 40, s->key, 32);
	memcpy(cp + o + 72, s->chain, QZ_SEAL_CHAIN_BYTES);
	*len = CHECKPOINT_BYTES;
}

int qz_sealer_resume(const uint8_t *hdr, size_t hdrlen, const uint8_t *cp, size_t cplen,
		     qz_sealer_t **out, char *why, size_t whylen)
{
	qz_sealer_t *s = NULL;
	int err = state_new(hdr, hdrlen, &s, why, whylen);
	if (err != 0)
		return err;
	size_t o = sizeof(CHECKPOINT_TAG);
	if (cplen != CHECKPOINT_BYTES || memcmp(cp, CHECKPOINT_TAG, o) != 0 ||
	    sodium_memcmp(cp + o + 8, s->digest, 32) != 0) {
		qz_sealer_free(s);
		return qz_why(why, whylen, EINVAL, "the checkpoint is not one of this backup");
	}
	uint64_t v = qz_get_le(cp + o, 8);
	s->index = v & ~FINISHED_BIT;
	s->finished = (v & FINISHED_BIT) != 0;
	set_key(s, cp + o + 40);
	memcpy(s->chain, cp + o + 72, QZ_SEAL_CHAIN_BYTES);
	*out = s;
	return 0;
}

void qz_sealer_free(qz_sealer_t *s)
{
	if (s != NULL)
		sodium_free(s);
}

/* ---- the trailer ---- */

int qz_seal_trailer(const uint8_t *hdr, size_t hdrlen, const qz_seal_key_t *master, uint64_t chunks,
		    uint64_t bytes, uint8_t out[QZ_SEAL_TRAILER_BYTES])
{
	qz_seal_info_t info;
	int err = qz_seal_header_parse(hdr, hdrlen, &info, NULL, 0);
	if (err != 0)
		return err;
	uint8_t counts[16], digest[32], key[32], nonce[24] = {0};
	qz_put_le(counts, chunks, 8);
	qz_put_le(counts + 8, bytes, 8);
	crypto_generichash(digest, 32, hdr, hdrlen, NULL, 0);
	id_key(master, TRAILER_CONTEXT, info.id, key);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out, NULL, counts, 16, digest, 32, NULL, nonce,
						   key);
	sodium_memzero(key, sizeof(key));
	return 0;
}

int qz_seal_trailer_open(const uint8_t *hdr, size_t hdrlen, const qz_seal_key_t *master,
			 const uint8_t *t, size_t len, uint64_t *chunks, uint64_t *bytes, char *why,
			 size_t whylen)
{
	qz_seal_info_t info;
	int err = qz_seal_header_parse(hdr, hdrlen, &info, why, whylen);
	if (err != 0)
		return err;
	uint8_t counts[16], digest[32], key[32], nonce[24] = {0};
	crypto_generichash(digest, 32, hdr, hdrlen, NULL, 0);
	id_key(master, TRAILER_CONTEXT, info.id, key);
	int bad = len != QZ_SEAL_TRAILER_BYTES ||
		  crypto_aead_xchacha20poly1305_ietf_decrypt(counts, NULL, NULL, t, len, digest, 32,
							     nonce, key) != 0;
	sodium_memzero(key, sizeof(key));
	if (bad)
		return qz_why(why, whylen, EBADMSG, "the trailer is not this backup's");
	*chunks = qz_get_le(counts, 8);
	*bytes = qz_get_le(counts + 8, 8);
	return 0;
}

/* ---- opening ---- */

int qz_opener_new(const uint8_t *hdr, size_t hdrlen, const qz_seal_key_t *master, qz_opener_t **out,
		  char *why, size_t whylen)
{
	struct qz_sealer *s = NULL;
	int err = state_new(hdr, hdrlen, &s, why, whylen);
	if (err == 0 && (err = open_name(hdr, master, &s->info, why, whylen)) != 0)
		qz_sealer_free(s);
	if (err != 0)
		return err;
	uint8_t key[32];
	subkey(master, hdr, hdrlen, key);
	set_key(s, key);
	sodium_memzero(key, sizeof(key));
	*out = (qz_opener_t *)s; /* its only member */
	return 0;
}

int qz_opener_chunk(qz_opener_t *o, const uint8_t *sealed, size_t len, uint8_t *plain,
		    size_t *plainlen, bool *final, char *why, size_t whylen)
{
	struct qz_sealer *c = &o->c;
	if (c->finished)
		return qz_why(why, whylen, EBADMSG, "a chunk after the last one");
	if (len < QZ_SEAL_ABYTES || len > (size_t)c->info.chunk_size + QZ_SEAL_ABYTES)
		return qz_why(why, whylen, EBADMSG, "chunk %llu is %zu bytes: out of bounds",
			      (unsigned long long)c->index, len);
	uint8_t mark = sealed[0], ad[AD_BYTES];
	size_t mlen = len - QZ_SEAL_ABYTES;
	chunk_ad(c, c->index, mark, ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
		plain, NULL, sealed + 1 + NONCE_BYTES, mlen, sealed + len - TAG_BYTES, ad,
		sizeof(ad), sealed + 1, c->key) != 0)
		return qz_why(
		    why, whylen, EBADMSG,
		    c->index == 0
			? "chunk 0 does not open: the wrong key or passphrase, or the "
			  "backup was altered"
			: "chunk %llu does not open: it was altered, is out of place, or is "
			  "of another backup",
		    (unsigned long long)c->index);
	bool last = mark == MARK_FINAL;
	if (!last && mark != 0) /* sealed so: only dom0 could have */
		return qz_why(why, whylen, EBADMSG, "chunk %llu has mark %u",
			      (unsigned long long)c->index, mark);
	if (!last && mlen != c->info.chunk_size)
		return qz_why(why, whylen, EBADMSG, "chunk %llu is short",
			      (unsigned long long)c->index);
	c->index++;
	c->finished = last;
	*plainlen = mlen;
	*final = last;
	return 0;
}

int qz_opener_end(const qz_opener_t *o, char *why, size_t whylen)
{
	if (!o->c.finished)
		return qz_why(why, whylen, EBADMSG,
			      "the backup is cut short: %llu chunks, and not the last one",
			      (unsigned long long)o->c.index);
	return 0;
}

const qz_seal_info_t *qz_opener_info(const qz_opener_t *o)
{
	return &o->c.info;
}

void qz_opener_free(qz_opener_t *o)
{
	if (o != NULL)
		sodium_free(o);
}
