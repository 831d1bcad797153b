/* SPDX-License-Identifier: BSD-2-Clause */
/* Conformance: native encryption and keys; send and receive. */
#include "cases.h"
#include "drr.h"
#include "harness.h"
#include "nvlist.h"
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MiB (1024ULL * 1024)

static void encryption_root_and_children(void **s)
{
	(void)s;
	mkenc(N("e"), key_a);
	mkvol(N("e/v"), MiB);
	assert_string_equal(prop(N("e"), "encryption"), "aes-256-gcm");
	assert_string_equal(prop(N("e"), "encryptionroot"), N("e"));
	assert_string_equal(prop(N("e/v"), "encryptionroot"), N("e"));
	assert_string_equal(prop(N("e/v"), "keystatus"), "available");
	assert_string_equal(prop(N("e"), "keyformat"), "raw");
	mkvol(N("plain"), MiB);
	assert_string_equal(prop(N("plain"), "encryption"), "off");
}

/* A listing's encryption properties are get_prop's, at every depth: on OpenZFS 2.1 a channel
 * program reads encryption as off, pbkdf2 as 0, no encryptionroot and keystatus none. */
static void listings_report_encryption_as_get_prop_does(void **s)
{
	(void)s;
	mkenc(N("e"), key_a);
	mkvol(N("e/v"), MiB);
	snap(N("e/v@s"));
	mkvol(N("plain"), MiB);
	static const char *const cols[] = {"encryption", "encryptionroot", "keystatus",
					   "keyformat",	 "pbkdf2iters",	   "guid"};
	const size_t ncols = sizeof(cols) / sizeof(cols[0]);
	for (int depth = 0; depth <= 2; depth++) {
		qz_list_t l;
		assert_int_equal(be->ops->list(be, N("e"), depth,
					       QZ_FILESYSTEM | QZ_VOLUME | QZ_SNAPSHOT, cols, ncols,
					       &l),
				 0);
		assert_int_equal(l.nrows, (size_t)(depth + 1));
		for (size_t r = 0; r < l.nrows; r++)
			for (size_t c = 0; c < ncols; c++)
				assert_string_equal(qz_list_cell(&l, r, c + 1),
						    prop(qz_list_cell(&l, r, 0), cols[c]));
		qz_list_free(&l);
	}
	qz_list_t l;
	assert_int_equal(be->ops->list(be, N("plain"), 0, QZ_VOLUME, cols, ncols, &l), 0);
	assert_int_equal(l.nrows, 1);
	for (size_t c = 0; c < ncols; c++)
		assert_string_equal(qz_list_cell(&l, 0, c + 1), prop(N("plain"), cols[c]));
	qz_list_free(&l);
}

static void encryption_needs_a_key(void **s)
{
	(void)s;
	qz_prop_t p[] = {
	    {"encryption", "aes-256-gcm"}, {"keyformat", "raw"}, {"keylocation", "prompt"}};
	assert_int_not_equal(be->ops->create(be, N("e"), QZ_FILESYSTEM, p, 3, NULL, 0), 0);
	assert_false(be->ops->exists(be, N("e")));
	mkenc(N("e"), key_a);
	/* libzfs forbids it, but the kernel makes an unencrypted child of an encrypted parent
	 * when asked explicitly: the engine must never pass encryption=off */
	qz_prop_t off[] = {{"encryption", "off"}};
	assert_int_equal(be->ops->create(be, N("e/clear"), QZ_FILESYSTEM, off, 1, NULL, 0), 0);
	assert_string_equal(prop(N("e/clear"), "encryption"), "off");
	assert_string_equal(prop(N("e/clear"), "encryptionroot"), "-");
}

static void unload_and_load_key(void **s)
{
	(void)s;
	mkenc(N("e"), key_a);
	mkvol(N("e/v"), MiB);
	fill(N("e/v"), 0, MiB, 9);
	assert_int_equal(be->ops->unload_key(be, N("e")), 0);
	assert_string_equal(prop(N("e/v"), "keystatus"), "unavailable");
	int fd;
	assert_int_not_equal(be->ops->zvol_open(be, N("e/v"), O_RDONLY, &fd), 0);
	assert_int_equal(be->ops->load_key(be, N("e"), key_b, QZ_WKEY_LEN, false), EACCES);
	assert_string_equal(prop(N("e"), "keystatus"), "unavailable");
	assert_int_equal(be->ops->load_key(be, N("e"), key_a, QZ_WKEY_LEN, true), 0);
	assert_string_equal(prop(N("e"), "keystatus"), "unavailable");
	assert_int_equal(be->ops->load_key(be, N("e"), key_a, QZ_WKEY_LEN, false), 0);
	assert_string_equal(prop(N("e"), "keystatus"), "available");
	assert_int_equal(vol_byte(N("e/v"), 12345), 9);
}

static void key_state_errors(void **s)
{
	(void)s;
	mkenc(N("e"), key_a);
	mkfs(N("e/child"));
	mkfs(N("plain"));
	assert_int_equal(be->ops->load_key(be, N("e"), key_a, QZ_WKEY_LEN, false), EEXIST);
	assert_int_not_equal(be->ops->unload_key(be, N("e/child")), 0);
	assert_int_not_equal(be->ops->unload_key(be, N("plain")), 0);
	assert_int_equal(be->ops->unload_key(be, N("none")), ENOENT);
	assert_int_equal(be->ops->unload_key(be, N("e")), 0);
	assert_int_not_equal(be->ops->unload_key(be, N("e")), 0);
	assert_string_equal(prop(N("e"), "keystatus"), "unavailable");
}

static void unload_refused_while_volume_open(void **s)
{
	(void)s;
	mkenc(N("e"), key_a);
	mkvol(N("e/v"), MiB);
	int fd;
	assert_int_equal(be->ops->zvol_open(be, N("e/v"), O_RDWR, &fd), 0);
	assert_int_equal(be->ops->unload_key(be, N("e")), EBUSY);
	assert_string_equal(prop(N("e"), "keystatus"), "available");
	close(fd);
	assert_int_equal(be->ops->unload_key(be, N("e")), 0);
}

static void create_under_unloaded_key_fails(void **s)
{
	(void)s;
	mkenc(N("e"), key_a);
	assert_int_equal(be->ops->unload_key(be, N("e")), 0);
	qz_prop_t p[] = {{"volsize", "1048576"}};
	assert_int_not_equal(be->ops->create(be, N("e/v"), QZ_VOLUME, p, 1, NULL, 0), 0);
	assert_false(be->ops->exists(be, N("e/v")));
}

/* An encryption root under another (what a raw receive makes) joins its parent's root. */
static void inherit_key_joins_the_parent_root(void **s)
{
	(void)s;
	mkenc(N("e"), key_a);
	mkenc(N("e/c"), key_b);
	mkvol(N("e/c/v"), MiB);
	fill(N("e/c/v"), 0, 4096, 7);
	assert_string_equal(prop(N("e/c/v"), "encryptionroot"), N("e/c"));
	assert_int_equal(be->ops->unload_key(be, N("e/c")), 0);
	assert_int_equal(be->ops->inherit_key(be, N("e/c")), EACCES);
	assert_int_equal(be->ops->load_key(be, N("e/c"), key_b, QZ_WKEY_LEN, false), 0);
	assert_int_equal(be->ops->inherit_key(be, N("e/c/v")), EINVAL);
	assert_int_equal(be->ops->inherit_key(be, N("e/c")), 0);
	assert_string_equal(prop(N("e/c"), "encryptionroot"), N("e"));
	assert_string_equal(prop(N("e/c/v"), "encryptionroot"), N("e"));
	/* the parent's key alone opens it now */
	assert_int_equal(be->ops->unload_key(be, N("e")), 0);
	assert_string_equal(prop(N("e/c/v"), "keystatus"), "unavailable");
	assert_int_equal(be->ops->load_key(be, N("e"), key_a, QZ_WKEY_LEN, false), 0);
	assert_int_equal(vol_byte(N("e/c/v"), 100), 7);
	/* nothing to inherit from an unencrypted parent */
	mkenc(N("p"), key_b);
	assert_int_equal(be->ops->inherit_key(be, N("p")), EINVAL);
}

static void send_receive_full(void **s)
{
	(void)s;
	mkvol(N("v"), 2 * MiB);
	fill(N("v"), 4096, MiB, 0x11);
	snap(N("v@s"));
	uint64_t h = vol_hash(N("v"));
	int fd = send_to_file(N("v@s"), NULL, QZ_SEND_COMPRESS);
	assert_int_equal(be->ops->receive(be, N("copy@s"), fd, false, false, false), 0);
	close(fd);
	assert_int_equal(vol_hash(N("copy")), h);
	assert_int_equal(prop_u64(N("copy@s"), "guid"), prop_u64(N("v@s"), "guid"));
	assert_int_equal(prop_u64(N("copy"), "volsize"), 2 * MiB);
}

/* The bytes a send writes, from the file send_to_file wrote it to. */
static uint64_t sent_bytes(const char *snap_name, const char *from)
{
	int fd = send_to_file(snap_name, from, 0);
	off_t n = lseek(fd, 0, SEEK_END);
	close(fd);
	assert_true(n > 0);
	return (uint64_t)n;
}

static void send_space_estimates_the_stream(void **s)
{
	(void)s;
	mkvol(N("v"), 4 * MiB);
	fill(N("v"), 0, 2 * MiB, 0x33);
	snap(N("v@a"));
	fill(N("v"), MiB, 64 * 1024, 0x44);
	snap(N("v@b"));
	uint64_t full = 0, inc = 0;
	assert_int_equal(be->ops->send_space(be, N("v@a"), NULL, 0, &full), 0);
	assert_int_equal(be->ops->send_space(be, N("v@b"), N("v@a"), 0, &inc), 0);
	/* an estimate, within a factor of two of what the send writes */
	uint64_t full_sent = sent_bytes(N("v@a"), NULL), inc_sent = sent_bytes(N("v@b"), N("v@a"));
	assert_true(full >= full_sent / 2 && full <= full_sent * 2);
	assert_true(inc >= inc_sent / 2 && inc <= inc_sent * 2);
	assert_true(inc < full / 4);
	assert_int_equal(be->ops->send_space(be, N("v@none"), NULL, 0, &full), ENOENT);
}

static void send_receive_incremental(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	fill(N("v"), 0, MiB, 1);
	snap(N("v@a"));
	int fd = send_to_file(N("v@a"), NULL, 0);
	assert_int_equal(be->ops->receive(be, N("copy@a"), fd, false, false, false), 0);
	close(fd);
	fill(N("v"), 65536, 8192, 2);
	snap(N("v@b"));
	fd = send_to_file(N("v@b"), N("v@a"), 0);
	assert_int_equal(be->ops->receive(be, N("copy@b"), fd, false, false, false), 0);
	close(fd);
	assert_int_equal(vol_hash(N("copy")), vol_hash(N("v")));
	assert_int_equal(vol_byte(N("copy"), 65536), 2);
}

static void incremental_from_bookmark(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	fill(N("v"), 0, 8192, 1);
	snap(N("v@a"));
	int fd = send_to_file(N("v@a"), NULL, 0);
	assert_int_equal(be->ops->receive(be, N("copy@a"), fd, false, false, false), 0);
	close(fd);
	assert_int_equal(be->ops->bookmark(be, N("v@a"), N("v#a")), 0);
	fill(N("v"), 8192, 8192, 2);
	snap(N("v@b"));
	const char *sa = N("v@a");
	assert_int_equal(be->ops->destroy_snaps(be, &sa, 1, false), 0);
	fd = send_to_file(N("v@b"), N("v#a"), 0);
	assert_int_equal(be->ops->receive(be, N("copy@b"), fd, false, false, false), 0);
	close(fd);
	assert_int_equal(vol_hash(N("copy")), vol_hash(N("v")));
}

static void incremental_needs_matching_base(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	snap(N("v@a"));
	fill(N("v"), 0, 4096, 1);
	snap(N("v@b"));
	fill(N("v"), 0, 4096, 2);
	snap(N("v@c"));
	int fd = send_to_file(N("v@a"), NULL, 0);
	assert_int_equal(be->ops->receive(be, N("copy@a"), fd, false, false, false), 0);
	close(fd);
	fd = send_to_file(N("v@c"), N("v@b"), 0);
	assert_int_equal(be->ops->receive(be, N("copy@c"), fd, false, false, false), ENODEV);
	close(fd);
	assert_false(be->ops->exists(be, N("copy@c")));
}

static void full_receive_into_existing_is_eexist(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	snap(N("v@a"));
	mkvol(N("copy"), MiB);
	int fd = send_to_file(N("v@a"), NULL, 0);
	assert_int_equal(be->ops->receive(be, N("copy@a"), fd, false, false, false), EEXIST);
	close(fd);
	assert_false(be->ops->exists(be, N("copy@a")));
}

static void receive_garbage_is_refused(void **s)
{
	(void)s;
	char path[] = "/tmp/qzfs-garbage-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	char junk[4096];
	memset(junk, 0x42, sizeof(junk));
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	lseek(fd, 0, SEEK_SET);
	assert_int_not_equal(be->ops->receive(be, N("copy@a"), fd, false, false, false), 0);
	close(fd);
	assert_false(be->ops->exists(be, N("copy")));
}

static void raw_send_with_key_unloaded(void **s)
{
	(void)s;
	mkenc(N("e"), key_a);
	mkvol(N("e/v"), MiB);
	fill(N("e/v"), 0, MiB, 0x33);
	snap(N("e/v@s"));
	uint64_t h = vol_hash(N("e/v"));
	assert_int_equal(be->ops->unload_key(be, N("e")), 0);
	char path[] = "/tmp/qzfs-send-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	assert_int_equal(be->ops->send(be, N("e/v@s"), NULL, fd, 0, 0, 0), EACCES);
	assert_int_equal(ftruncate(fd, 0), 0);
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(be->ops->send(be, N("e/v@s"), NULL, fd, QZ_SEND_RAW, 0, 0), 0);
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(be->ops->receive(be, N("copy@s"), fd, false, true, false), 0);
	close(fd);
	assert_string_equal(prop(N("copy"), "encryptionroot"), N("copy"));
	assert_string_equal(prop(N("copy"), "keystatus"), "unavailable");
	assert_int_equal(be->ops->load_key(be, N("copy"), key_a, QZ_WKEY_LEN, false), 0);
	assert_int_equal(vol_hash(N("copy")), h);
}

static void truncated_receive(void **s)
{
	(void)s;
	mkvol(N("v"), 4 * MiB);
	fill(N("v"), 0, 4 * MiB, 0x44);
	snap(N("v@s"));
	int fd = send_to_file(N("v@s"), NULL, 0);
	off_t size = lseek(fd, 0, SEEK_END);
	assert_int_equal(ftruncate(fd, size / 2), 0);
	lseek(fd, 0, SEEK_SET);
	assert_int_not_equal(be->ops->receive(be, N("gone@s"), fd, false, false, false), 0);
	assert_false(be->ops->exists(be, N("gone")));
	lseek(fd, 0, SEEK_SET);
	assert_int_not_equal(be->ops->receive(be, N("part@s"), fd, true, false, false), 0);
	close(fd);
	assert_true(be->ops->exists(be, N("part")));
	assert_false(be->ops->exists(be, N("part@s")));
	assert_memory_equal(prop(N("part"), "receive_resume_token"), "1-", 2);
}

/* An incremental receive cut short keeps its partial state aside ("%recv"): the dataset stays
 * as it was, a token names the transfer (base included), a new receive is refused until it is
 * resumed, and the resumed stream completes it. */
static void incremental_receive_cut_resumes(void **s)
{
	(void)s;
	mkvol(N("v"), 4 * MiB);
	fill(N("v"), 0, 4 * MiB, 1);
	snap(N("v@a"));
	int fd = send_to_file(N("v@a"), NULL, 0);
	assert_int_equal(be->ops->receive(be, N("copy@a"), fd, false, false, false), 0);
	close(fd);
	uint64_t before = vol_hash(N("copy"));
	fill(N("v"), 0, 4 * MiB, 2);
	snap(N("v@b"));
	fd = send_to_file(N("v@b"), N("v@a"), 0);
	off_t size = lseek(fd, 0, SEEK_END);
	assert_int_equal(ftruncate(fd, size / 2), 0);
	lseek(fd, 0, SEEK_SET);
	assert_int_not_equal(be->ops->receive(be, N("copy@b"), fd, true, false, false), 0);
	close(fd);
	assert_false(be->ops->exists(be, N("copy@b")));
	assert_int_equal(vol_hash(N("copy")), before);
	qz_token_t t;
	char why[200];
	assert_int_equal(
	    qz_token_parse(prop(N("copy"), "receive_resume_token"), &t, why, sizeof(why)), 0);
	assert_int_equal(t.toguid, prop_u64(N("v@b"), "guid"));
	assert_int_equal(t.fromguid, prop_u64(N("v@a"), "guid"));
	assert_true(t.bytes > 0 && t.bytes < (uint64_t)size);
	/* the same stream from its start is refused while the partial state is there */
	fd = send_to_file(N("v@b"), N("v@a"), 0);
	assert_int_equal(be->ops->receive(be, N("copy@b"), fd, true, false, false), EBUSY);
	close(fd);
	/* the resumed stream completes it */
	char path[] = "/tmp/qzfs-conformance-XXXXXX";
	fd = mkstemp(path);
	unlink(path);
	assert_int_equal(be->ops->send(be, N("v@b"), N("v@a"), fd, 0, t.object, t.offset), 0);
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(be->ops->receive(be, N("copy@b"), fd, true, false, false), 0);
	close(fd);
	assert_int_equal(vol_hash(N("copy")), vol_hash(N("v")));
	assert_string_equal(prop(N("copy"), "receive_resume_token"), "-");
	assert_false(be->ops->exists(be, N("copy/%%recv")));
}

/* The portable objset MAC in the BEGIN record of the stream in fd (at offset 0): true and into
 * mac if it carries one (crypt_keydata/portable_mac). */
static bool objset_mac_in(int fd, uint8_t mac[32])
{
	static const char *const path[] = {"crypt_keydata", "portable_mac"};
	qz_drr_t begin;
	assert_int_equal(pread(fd, &begin, sizeof(begin), 0), (ssize_t)sizeof(begin));
	assert_int_equal(begin.type, QZ_DRR_BEGIN);
	uint8_t *payload = malloc(begin.payloadlen + 1);
	assert_int_equal(pread(fd, payload, begin.payloadlen, sizeof(begin)),
			 (ssize_t)begin.payloadlen);
	qz_nvpair_t p;
	bool has = qz_nvl_find(payload, begin.payloadlen, path, 2, &p) == 0;
	if (has) {
		assert_int_equal(p.type, QZ_NV_UINT8_ARRAY);
		assert_int_equal(p.nelem, 32);
		memcpy(mac, p.val, 32);
	}
	free(payload);
	return has;
}

static void raw_streams_carry_the_snapshots_objset_mac(void **s)
{
	(void)s;
	mkenc(N("e"), key_a);
	mkvol(N("e/v"), MiB);
	fill(N("e/v"), 0, 65536, 0x11);
	snap(N("e/v@a"));
	fill(N("e/v"), 65536, 65536, 0x22);
	snap(N("e/v@b"));
	uint8_t a[32], b[32], again[32], inc[32];
	int fa = send_to_file(N("e/v@a"), NULL, QZ_SEND_RAW);
	assert_true(objset_mac_in(fa, a));
	int fb = send_to_file(N("e/v@b"), NULL, QZ_SEND_RAW);
	assert_true(objset_mac_in(fb, b));
	close(fb);
	assert_memory_not_equal(a, b, 32); /* one per state */
	int fi = send_to_file(N("e/v@b"), N("e/v@a"), QZ_SEND_RAW);
	assert_true(objset_mac_in(fi, inc));
	assert_memory_equal(inc, b, 32); /* an incremental carries its snapshot's */
	/* received raw elsewhere, each state is sent on with the MAC it came with */
	assert_int_equal(be->ops->receive(be, N("copy@a"), fa, false, true, false), 0);
	assert_int_equal(be->ops->receive(be, N("copy@b"), fi, false, true, false), 0);
	close(fa);
	close(fi);
	int fr = send_to_file(N("copy@a"), NULL, QZ_SEND_RAW);
	assert_true(objset_mac_in(fr, again));
	close(fr);
	assert_memory_equal(again, a, 32);
	fr = send_to_file(N("copy@b"), N("copy@a"), QZ_SEND_RAW);
	assert_true(objset_mac_in(fr, again));
	close(fr);
	assert_memory_equal(again, b, 32);
	/* unencrypted data has none */
	mkvol(N("plain"), MiB);
	fill(N("plain"), 0, 65536, 0x33);
	snap(N("plain@a"));
	int fp = send_to_file(N("plain@a"), NULL, QZ_SEND_RAW);
	assert_false(objset_mac_in(fp, again));
	close(fp);
}

/* An incremental from a clone's origin is a clone stream: ZFS takes it into a new dataset
 * only, never as an incremental into an existing copy (qzfs clears the flag: stream.h). */
static void incremental_from_a_clones_origin_is_a_clone_stream(void **s)
{
	(void)s;
	mkvol(N("v"), MiB);
	fill(N("v"), 0, 8192, 1);
	snap(N("v@a"));
	int fd = send_to_file(N("v@a"), NULL, 0);
	assert_int_equal(be->ops->receive(be, N("copy@a"), fd, false, false, false), 0);
	close(fd);
	assert_int_equal(be->ops->clone(be, N("v@a"), N("c"), NULL, 0), 0);
	fill(N("c"), 8192, 8192, 2);
	snap(N("c@b"));
	fd = send_to_file(N("c@b"), N("v@a"), 0);
	qz_drr_t begin;
	assert_int_equal(pread(fd, &begin, sizeof(begin), 0), (ssize_t)sizeof(begin));
	assert_true(begin.u.begin.flags & QZ_DRR_FLAG_CLONE);
	assert_int_equal(be->ops->receive(be, N("copy@b"), fd, false, false, false), EINVAL);
	close(fd);
	assert_false(be->ops->exists(be, N("copy@b")));
}

const struct CMUnitTest crypt_send_cases[] = {
    CASE(encryption_root_and_children),
    CASE(listings_report_encryption_as_get_prop_does),
    CASE(encryption_needs_a_key),
    CASE(unload_and_load_key),
    CASE(key_state_errors),
    CASE(unload_refused_while_volume_open),
    CASE(create_under_unloaded_key_fails),
    CASE(inherit_key_joins_the_parent_root),
    CASE(send_receive_full),
    CASE(send_receive_incremental),
    CASE(incremental_from_bookmark),
    CASE(send_space_estimates_the_stream),
    CASE(incremental_needs_matching_base),
    CASE(full_receive_into_existing_is_eexist),
    CASE(receive_garbage_is_refused),
    CASE(raw_send_with_key_unloaded),
    CASE(truncated_receive),
    CASE(incremental_receive_cut_resumes),
    CASE(incremental_from_a_clones_origin_is_a_clone_stream),
    CASE(raw_streams_carry_the_snapshots_objset_mac),
};
const size_t crypt_send_ncases = sizeof(crypt_send_cases) / sizeof(crypt_send_cases[0]);
