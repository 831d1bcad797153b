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
#define SS_HEADER	crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define AD_BYTES	48 /* header digest, chunk index, stream offset */
#define MAX_OPSLIMIT	16
#define MAX_MEMLIMIT	(1ull << 30)
#define CHECKPOINT_TAG	"QZCP1"
#define FINISHED_BIT	(1ull << 63) /* in a checkpoint's chunk index */
#define SUBKEY_CONTEXT	"qzfs sealed stream 1"
#define NAMEKEY_CONTEXT "qzfs sealed name 2"
#define TRAILER_CONTEXT "qzfs sealed trailer 2"
#define NAME_AT		QZ_SEAL_HEADER_FIXED
#define SS_AT		(QZ_SEAL_HEADER_FIXED + QZ_SEAL_NAME_SEALED)

typedef crypto_secretstream_xchacha20poly1305_state ss_state;

static_assert(QZ_SEAL_ABYTES == crypto_secretstream_xchacha20poly1305_ABYTES, "ABYTES");
static_assert(SS_HEADER == 24, "secretstream header");
static_assert(QZ_SEAL_NAME_SEALED == QZ_SEAL_NAME_PAD + crypto_aead_xchacha20poly1305_ietf_ABYTES,
	      "sealed name");
static_assert(SS_AT + SS_HEADER == QZ_SEAL_HEADER_MAX, "header length");

/* Where a sealer, or an opener, is in a container. */
struct qz_sealer {
	qz_seal_info_t info;
	uint8_t digest[32]; /* of the whole header: part of every chunk's associated data */
	ss_state st;
	uint64_t index; /* of the next chunk */
	bool finished;	/* the final chunk is done */
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
	if (info->toguid == 0)
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

/* Writes the header but its secretstream part, the name sealed with master; returns its
 * length. */
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
	qz_put_le(h + 52, info->raw ? 1 : 0, 4);
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
	return SS_AT;
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
	if (flags > 1)
		return qz_why(why, whylen, EBADMSG, "unknown header flags 0x%llx",
			      (unsigned long long)flags);
	info->raw = flags == 1;
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

/* The chunk key: the master key applied to the header (all of it but the secretstream part). */
static void subkey(const qz_seal_key_t *master, const uint8_t *h, size_t len,
		   uint8_t key[crypto_secretstream_xchacha20poly1305_KEYBYTES])
{
	crypto_generichash_state gs;
	crypto_generichash_init(&gs, master->k, sizeof(master->k), 32);
	crypto_generichash_update(&gs, (const uint8_t *)SUBKEY_CONTEXT, sizeof(SUBKEY_CONTEXT));
	crypto_generichash_update(&gs, h, len);
	crypto_generichash_final(&gs, key, 32);
}

static void chunk_ad(const uint8_t digest[32], uint64_t index, uint64_t chunk_size,
		     uint8_t ad[AD_BYTES])
{
	memcpy(ad, digest, 32);
	qz_put_le(ad + 32, index, 8);
	qz_put_le(ad + 40, index * chunk_size, 8);
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
	size_t n = write_header(info, master, hdr);
	uint8_t key[32];
	ss_state st;
	subkey(master, hdr, n, key);
	crypto_secretstream_xchacha20poly1305_init_push(&st, hdr + n, key);
	sodium_memzero(key, sizeof(key));
	*hdrlen = n + SS_HEADER;
	int err = state_new(hdr, *hdrlen, out, why, whylen);
	if (err == 0) {
		(*out)->st = st;
		memcpy((*out)->info.dataset, info->dataset, sizeof(info->dataset));
	}
	sodium_memzero(&st, sizeof(st));
	return err;
}

int qz_sealer_chunk(qz_sealer_t *s, const uint8_t *plain, size_t len, bool final, uint8_t *out,
		    size_t *outlen)
{
	if (s->finished || len > s->info.chunk_size || (!final && len != s->info.chunk_size))
		return EINVAL;
	uint8_t ad[AD_BYTES];
	chunk_ad(s->digest, s->index, s->info.chunk_size, ad);
	unsigned long long clen = 0;
	uint8_t tag = final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
			    : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
	crypto_secretstream_xchacha20poly1305_push(&s->st, out + 4, &clen, plain, len, ad,
						   sizeof(ad), tag);
	qz_put_le(out, clen, 4);
	*outlen = 4 + (size_t)clen;
	s->index++;
	s->finished = final;
	return 0;
}

uint64_t qz_sealer_index(const qz_sealer_t *s)
{
	return s->index;
}

bool qz_sealer_finished(const qz_sealer_t *s)
{
	return s->finished;
}

void qz_sealer_checkpoint(const qz_sealer_t *s, uint8_t *cp, size_t *len)
{
	static_assert(sizeof(CHECKPOINT_TAG) + 8 + 32 + sizeof(ss_state) <= QZ_SEAL_CHECKPOINT_MAX,
		      "checkpoint size");
	size_t o = 0;
	memcpy(cp, CHECKPOINT_TAG, sizeof(CHECKPOINT_TAG));
	o += sizeof(CHECKPOINT_TAG);
	qz_put_le(cp + o, s->index | (s->finished ? FINISHED_BIT : 0), 8);
	o += 8;
	memcpy(cp + o, s->digest, 32);
	o += 32;
	memcpy(cp + o, &s->st, sizeof(s->st));
	*len = o + sizeof(s->st);
}

int qz_sealer_resume(const uint8_t *hdr, size_t hdrlen, const uint8_t *cp, size_t cplen,
		     qz_sealer_t **out, char *why, size_t whylen)
{
	qz_sealer_t *s = NULL;
	int err = state_new(hdr, hdrlen, &s, why, whylen);
	if (err != 0)
		return err;
	size_t o = sizeof(CHECKPOINT_TAG);
	if (cplen != o + 8 + 32 + sizeof(ss_state) || memcmp(cp, CHECKPOINT_TAG, o) != 0 ||
	    sodium_memcmp(cp + o + 8, s->digest, 32) != 0)
		err = qz_why(why, whylen, EINVAL, "the checkpoint is not one of this backup");
	else {
		uint64_t v = qz_get_le(cp + o, 8);
		s->index = v & ~FINISHED_BIT;
		s->finished = (v & FINISHED_BIT) != 0;
	}
	if (err != 0) {
		qz_sealer_free(s);
		return err;
	}
	memcpy(&s->st, cp + o + 8 + 32, sizeof(s->st));
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
	subkey(master, hdr, SS_AT, key);
	crypto_secretstream_xchacha20poly1305_init_pull(&s->st, hdr + hdrlen - SS_HEADER, key);
	sodium_memzero(key, sizeof(key));
	*out = (qz_opener_t *)s; /* its only member */
	return 0;
}

int qz_opener_chunk(qz_opener_t *o, const uint8_t *sealed, size_t len, uint8_t *plain,
		    size_t *plainlen, bool *final, char *why, size_t whylen)
{
	if (o->c.finished)
		return qz_why(why, whylen, EBADMSG, "a chunk after the last one");
	if (len < QZ_SEAL_ABYTES || len > (size_t)o->c.info.chunk_size + QZ_SEAL_ABYTES)
		return qz_why(why, whylen, EBADMSG, "chunk %llu is %zu bytes: out of bounds",
			      (unsigned long long)o->c.index, len);
	uint8_t ad[AD_BYTES];
	chunk_ad(o->c.digest, o->c.index, o->c.info.chunk_size, ad);
	ss_state st = o->c.st; /* a refused chunk leaves the opener as it was */
	unsigned long long mlen = 0;
	uint8_t tag = 0;
	if (crypto_secretstream_xchacha20poly1305_pull(&st, plain, &mlen, &tag, sealed, len, ad,
						       sizeof(ad)) != 0)
		return qz_why(
		    why, whylen, EBADMSG,
		    o->c.index == 0
			? "chunk 0 does not open: the wrong key or passphrase, or the "
			  "backup was altered"
			: "chunk %llu does not open: it was altered, is out of place, or is "
			  "of another backup",
		    (unsigned long long)o->c.index);
	bool last = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
	if (!last && tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
		return qz_why(why, whylen, EBADMSG, "chunk %llu has tag %u",
			      (unsigned long long)o->c.index, tag);
	if (!last && mlen != o->c.info.chunk_size)
		return qz_why(why, whylen, EBADMSG, "chunk %llu is short",
			      (unsigned long long)o->c.index);
	o->c.st = st;
	sodium_memzero(&st, sizeof(st));
	o->c.index++;
	o->c.finished = last;
	*plainlen = (size_t)mlen;
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
