/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sealed container: how a ZFS stream leaves dom0 for an untrusted backup target. The stream
 * is cut into chunks of a fixed size, each sealed on its own with XChaCha20-Poly1305 (IETF)
 * under a random nonce, so chunks can be sealed in parallel; the last one is marked final, so a
 * stream cut short is detected. A header describes the backup (id, guids, chunk size, key
 * derivation) in plaintext, and the name of the volume it is of sealed (padded, so not even its
 * length shows), with the plaintext fields as associated data: with the key, a header opens
 * whole or not at all. The header's digest, with the chunk's index, stream offset and final
 * mark, is every chunk's associated data, and the chunk key is derived from the master key and
 * the header, so no header field can be changed and no chunk moved, dropped, repeated, or taken
 * from another backup without the opener refusing it. The target holds no key.
 *
 * The master key is 32 bytes from a dom0 key file, or derived from a passphrase with Argon2id
 * (salt and limits in the header, so a fresh dom0 can open a backup with the passphrase alone).
 *
 * Wire format, little-endian: the header, then per chunk a 32-bit sealed length and the sealed
 * bytes: a mark (1 byte: 1 for the final chunk, else 0), the nonce (24 bytes), the ciphertext,
 * the tag (16 bytes); QZ_SEAL_ABYTES more than the plaintext. Chunk i holds stream bytes
 * [i * chunk_size, ...): every chunk but the last is exactly chunk_size bytes of plaintext.
 *
 *   0 magic "QZFSSEAL"    8 version (3)       12 header length (378)      16 backup id (16 bytes)
 *  32 toguid             40 fromguid         48 chunk size      52 flags (1: raw stream,
 *                                                                    2: a document, not a stream)
 *  56 kdf (0 key file, 1 Argon2id)           60 zero            64 opslimit   72 memlimit
 *  80 salt (16 bytes)    96 creation time   104 sealed name length (272)
 * 106 the sealed name: the dataset's name NUL-padded to 256 bytes, XChaCha20-Poly1305 (IETF)
 *     under a key derived from the master key and the id (nonce 0), bytes 0-105 as associated
 *     data
 *
 * A trailer, stored once the last chunk is, says the backup is whole: its chunk and byte counts
 * sealed under a key derived from the master key and the id, with the header's digest as
 * associated data. A target can withhold it (the backup then looks unfinished) but not make one.
 *
 * Resuming: a sealer keeps a chain of its chunks' prints (a Poly1305 tag of each chunk's
 * plaintext under a one-time key of its index, length and mark: cheap, and secret to dom0), so
 * a stream made again after an interruption can be checked to be the same up to where it
 * stopped without a hash of all its bytes.
 */
#ifndef QZFS_SEAL_H
#define QZFS_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QZ_SEAL_VERSION	       3
#define QZ_SEAL_HEADER_FIXED   106 /* the header up to the sealed name */
#define QZ_SEAL_NAME_PAD       256 /* a name is padded to this many bytes, then sealed */
#define QZ_SEAL_NAME_SEALED    (QZ_SEAL_NAME_PAD + 16)
#define QZ_SEAL_HEADER_MAX     (QZ_SEAL_HEADER_FIXED + QZ_SEAL_NAME_SEALED)
#define QZ_SEAL_ABYTES	       (1 + 24 + 16) /* what sealing adds to a chunk: mark, nonce, tag */
#define QZ_SEAL_FRAMED(n)      ((n) + QZ_SEAL_ABYTES + 4) /* a framed chunk of n bytes */
#define QZ_SEAL_PLAIN_AT       (4 + 1 + 24) /* where a framed chunk's plaintext goes */
#define QZ_SEAL_PRINT_BYTES    16
#define QZ_SEAL_CHAIN_BYTES    32
#define QZ_SEAL_MIN_CHUNK      4096
#define QZ_SEAL_MAX_CHUNK      (16u << 20)
#define QZ_SEAL_DEFAULT_CHUNK  (4u << 20)
#define QZ_SEAL_KEY_BYTES      32
#define QZ_SEAL_ID_BYTES       16
#define QZ_SEAL_SALT_BYTES     16
#define QZ_SEAL_CHECKPOINT_MAX 128
#define QZ_SEAL_TRAILER_BYTES  (16 + 16) /* chunk and byte counts, sealed */
#define QZ_SEAL_FLAG_RAW       1u
#define QZ_SEAL_FLAG_DOCUMENT  2u /* dom0's own document (a qube's settings), toguid 0 */

enum qz_seal_kdf { QZ_KDF_KEYFILE = 0, QZ_KDF_ARGON2ID = 1 };

/* What a header says. */
typedef struct qz_seal_info {
	uint8_t id[QZ_SEAL_ID_BYTES];	/* the backup's random id */
	char dataset[QZ_SEAL_NAME_PAD]; /* the volume it is of (sealed; "" until opened) */
	uint64_t toguid, fromguid;	/* the stream's snapshot and incremental base (0: full) */
	uint32_t chunk_size;
	bool raw;	  /* a raw stream of encrypted data */
	bool document;	  /* not a ZFS stream: a document of dom0's (no guids) */
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
/* Seals chunk `index` of the stream in place: its plaintext (len bytes, chunk_size unless
 * final) is at buf + QZ_SEAL_PLAIN_AT, and buf (room for QZ_SEAL_FRAMED(chunk_size)) becomes the
 * framed chunk, *outlen bytes; print receives the chunk's print. s is only read: chunks may be
 * sealed in parallel. EINVAL if len does not fit. */
int qz_sealer_seal(const qz_sealer_t *s, uint64_t index, uint8_t *buf, size_t len, bool final,
		   size_t *outlen, uint8_t print[QZ_SEAL_PRINT_BYTES]);
/* The print of chunk `index` holding plain (len bytes; final or not), as qz_sealer_seal gives
 * it. */
void qz_sealer_print(const qz_sealer_t *s, uint64_t index, const uint8_t *plain, size_t len,
		     bool final, uint8_t print[QZ_SEAL_PRINT_BYTES]);
/* Records that the next chunk (qz_sealer_index) was sealed with print, final or not: the
 * sealer moves past it. EINVAL after the final chunk. */
int qz_sealer_advance(qz_sealer_t *s, const uint8_t print[QZ_SEAL_PRINT_BYTES], bool final);
/* Seals the next chunk and advances: plain's len bytes (chunk_size unless final) into out
 * (room for QZ_SEAL_FRAMED(len)), *outlen bytes. EINVAL after the final chunk. */
int qz_sealer_chunk(qz_sealer_t *s, const uint8_t *plain, size_t len, bool final, uint8_t *out,
		    size_t *outlen);
/* Folds a chunk's print into a chain of prints (all zero before the first chunk). */
void qz_seal_chain(uint8_t chain[QZ_SEAL_CHAIN_BYTES], const uint8_t print[QZ_SEAL_PRINT_BYTES]);
/* Whether chain is the chain of the prints of the chunks the sealer advanced past. */
bool qz_sealer_chain_is(const qz_sealer_t *s, const uint8_t chain[QZ_SEAL_CHAIN_BYTES]);
/* What the sealer's header says. */
const qz_seal_info_t *qz_sealer_info(const qz_sealer_t *s);
/* The index of the next chunk. */
uint64_t qz_sealer_index(const qz_sealer_t *s);
/* Whether the final chunk was sealed. */
bool qz_sealer_finished(const qz_sealer_t *s);
/* A checkpoint after the chunks sealed so far (secret: it holds the chunk key; dom0 keeps it),
 * from which qz_sealer_resume continues; *len is at most QZ_SEAL_CHECKPOINT_MAX. */
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
