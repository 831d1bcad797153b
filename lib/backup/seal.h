/*
 * The sealed container: how a ZFS stream leaves dom0 for an untrusted backup target. The stream
 * is cut into chunks of a fixed size, each sealed with libsodium's secretstream
 * (XChaCha20-Poly1305); the last one carries the FINAL tag, so a stream cut short is detected.
 * A header describes the backup (id, guids, chunk size, key derivation) in plaintext, and the
 * name of the volume it is of sealed (padded, so not even its length shows), with the plaintext
 * fields as associated data: with the key, a header opens whole or not at all. The header's
 * digest, with the chunk's index and stream offset, is every chunk's associated data, and the
 * sealing key is derived from the master key and the header, so no header field can be changed
 * and no chunk moved, dropped, repeated, or taken from another backup without the opener
 * refusing it. The target holds no key.
 *
 * The master key is 32 bytes from a dom0 key file, or derived from a passphrase with Argon2id
 * (salt and limits in the header, so a fresh dom0 can open a backup with the passphrase alone).
 *
 * Wire format, little-endian: the header, then per chunk a 32-bit sealed length and the sealed
 * bytes (plaintext + QZ_SEAL_ABYTES). Chunk i holds stream bytes [i * chunk_size, ...): every
 * chunk but the last is exactly chunk_size bytes of plaintext.
 *
 *   0 magic "QZFSSEAL"    8 version (2)       12 header length (402)      16 backup id (16 bytes)
 *  32 toguid             40 fromguid         48 chunk size      52 flags (1: raw stream)
 *  56 kdf (0 key file, 1 Argon2id)           60 zero            64 opslimit   72 memlimit
 *  80 salt (16 bytes)    96 creation time   104 sealed name length (272)
 * 106 the sealed name: the dataset's name NUL-padded to 256 bytes, XChaCha20-Poly1305 (IETF)
 *     under a key derived from the master key and the id (nonce 0), bytes 0-105 as associated
 *     data
 * 378 secretstream header (24 bytes)
 *
 * A trailer, stored once the last chunk is, says the backup is whole: its chunk and byte counts
 * sealed under a key derived from the master key and the id, with the header's digest as
 * associated data. A target can withhold it (the backup then looks unfinished) but not make one.
 */
#ifndef QZFS_SEAL_H
#define QZFS_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QZ_SEAL_VERSION	       2
#define QZ_SEAL_HEADER_FIXED   106 /* the header up to the sealed name */
#define QZ_SEAL_NAME_PAD       256 /* a name is padded to this many bytes, then sealed */
#define QZ_SEAL_NAME_SEALED    (QZ_SEAL_NAME_PAD + 16)
#define QZ_SEAL_HEADER_MAX     (QZ_SEAL_HEADER_FIXED + QZ_SEAL_NAME_SEALED + 24)
#define QZ_SEAL_ABYTES	       17 /* what sealing adds to a chunk */
#define QZ_SEAL_MIN_CHUNK      4096
#define QZ_SEAL_MAX_CHUNK      (16u << 20)
#define QZ_SEAL_DEFAULT_CHUNK  (4u << 20)
#define QZ_SEAL_KEY_BYTES      32
#define QZ_SEAL_ID_BYTES       16
#define QZ_SEAL_SALT_BYTES     16
#define QZ_SEAL_CHECKPOINT_MAX 128
#define QZ_SEAL_TRAILER_BYTES  (16 + 16) /* chunk and byte counts, sealed */

enum qz_seal_kdf { QZ_KDF_KEYFILE = 0, QZ_KDF_ARGON2ID = 1 };

/* What a header says. */
typedef struct qz_seal_info {
	uint8_t id[QZ_SEAL_ID_BYTES];	/* the backup's random id */
	char dataset[QZ_SEAL_NAME_PAD]; /* the volume it is of (sealed; "" until opened) */
	uint64_t toguid, fromguid;	/* the stream's snapshot and incremental base (0: full) */
	uint32_t chunk_size;
	bool raw;	  /* a raw stream of encrypted data */
	uint64_t created; /* seconds since 1970 */
	enum qz_seal_kdf kdf;
	uint64_t opslimit, memlimit; /* Argon2id's, when kdf is QZ_KDF_ARGON2ID */
	uint8_t salt[QZ_SEAL_SALT_BYTES];
} qz_seal_info_t;

/* A master key in guarded memory (sodium_malloc). */
typedef struct qz_seal_key {
	uint8_t k[QZ_SEAL_KEY_BYTES];
} qz_seal_key_t;

typedef struct qz_sealer qz_sealer_t;
typedef struct qz_opener qz_opener_t;

/* A new random key; NULL without memory. */
qz_seal_key_t *qz_seal_key_new(void);
/* Reads a key file (64 hex digits, a newline allowed), which only its owner may read. 0, or
 * EACCES / EINVAL / errno with the reason in why. */
int qz_seal_key_read(const char *path, qz_seal_key_t **out, char *why, size_t whylen);
/* Writes key k to a new file (mode 0400); EEXIST if it exists. */
int qz_seal_key_write(const char *path, const qz_seal_key_t *k, char *why, size_t whylen);
/* The master key of a passphrase, with info's salt and limits (kdf must be Argon2id). */
int qz_seal_key_derive(const char *pass, size_t passlen, const qz_seal_info_t *info,
		       qz_seal_key_t **out, char *why, size_t whylen);
void qz_seal_key_free(qz_seal_key_t *k);

/* Starts sealing: writes the header to hdr (room for QZ_SEAL_HEADER_MAX) and its length to
 * *hdrlen. info's id, salt and created are the caller's (qz_seal_info_init fills them). */
int qz_sealer_new(const qz_seal_info_t *info, const qz_seal_key_t *master, uint8_t *hdr,
		  size_t *hdrlen, qz_sealer_t **out, char *why, size_t whylen);
/* Fills a fresh info: a random id and salt, the current time, the default chunk size, and for
 * passphrases Argon2id with libsodium's "moderate" limits. */
void qz_seal_info_init(qz_seal_info_t *info, enum qz_seal_kdf kdf);
/* Seals the next chunk: len must be chunk_size unless final. out needs len + QZ_SEAL_ABYTES + 4
 * bytes (the framed chunk); *outlen is what was written. EINVAL after the final chunk. */
int qz_sealer_chunk(qz_sealer_t *s, const uint8_t *plain, size_t len, bool final, uint8_t *out,
		    size_t *outlen);
/* The index of the next chunk. */
uint64_t qz_sealer_index(const qz_sealer_t *s);
/* Whether the final chunk was sealed. */
bool qz_sealer_finished(const qz_sealer_t *s);
/* A checkpoint after the chunks sealed so far (secret: it holds key state; dom0 keeps it), from
 * which qz_sealer_resume continues; *len is at most QZ_SEAL_CHECKPOINT_MAX. */
void qz_sealer_checkpoint(const qz_sealer_t *s, uint8_t *cp, size_t *len);
/* A sealer that continues the container with header hdr from checkpoint cp (which carries the
 * chunk key: no master key is needed); one that sealed the final chunk already is finished. */
int qz_sealer_resume(const uint8_t *hdr, size_t hdrlen, const uint8_t *cp, size_t cplen,
		     qz_sealer_t **out, char *why, size_t whylen);
void qz_sealer_free(qz_sealer_t *s);

/* The whole header's length from its first QZ_SEAL_HEADER_FIXED bytes; EBADMSG if they are not
 * a header. */
int qz_seal_header_length(const uint8_t *fixed, size_t *len, char *why, size_t whylen);
/* Reads a header of exactly len bytes, strictly (every field checked, limits bounded); the
 * dataset's name, sealed, is left "" (qz_opener_info has it). */
int qz_seal_header_parse(const uint8_t *hdr, size_t len, qz_seal_info_t *info, char *why,
			 size_t whylen);

/* The trailer of the container with header hdr, whose chunks hold bytes stream bytes. */
int qz_seal_trailer(const uint8_t *hdr, size_t hdrlen, const qz_seal_key_t *master, uint64_t chunks,
		    uint64_t bytes, uint8_t out[QZ_SEAL_TRAILER_BYTES]);
/* Opens trailer t (len bytes) of the container with header hdr: its counts. EBADMSG if it is
 * not that container's trailer. */
int qz_seal_trailer_open(const uint8_t *hdr, size_t hdrlen, const qz_seal_key_t *master,
			 const uint8_t *t, size_t len, uint64_t *chunks, uint64_t *bytes, char *why,
			 size_t whylen);

/* Starts opening the container with header hdr: its sealed name is opened, which proves the
 * whole header is one sealed with this master key. EBADMSG if the header is refused. */
int qz_opener_new(const uint8_t *hdr, size_t hdrlen, const qz_seal_key_t *master, qz_opener_t **out,
		  char *why, size_t whylen);
/* Opens the next chunk's sealed bytes (without the length prefix) into plain (room for
 * chunk_size bytes). EBADMSG if it is not the next chunk of this container, untouched. */
int qz_opener_chunk(qz_opener_t *o, const uint8_t *sealed, size_t len, uint8_t *plain,
		    size_t *plainlen, bool *final, char *why, size_t whylen);
/* The input ended: 0 if the final chunk was opened, EBADMSG otherwise. */
int qz_opener_end(const qz_opener_t *o, char *why, size_t whylen);
const qz_seal_info_t *qz_opener_info(const qz_opener_t *o);
void qz_opener_free(qz_opener_t *o);

#endif
