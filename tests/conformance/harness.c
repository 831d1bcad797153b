/* SPDX-License-Identifier: BSD-2-Clause */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

qz_backend_t *be;
static const char *kind;
static char pool[128];
static char base[256];
static unsigned case_no;
static char spare_zpool[64];

const uint8_t key_a[QZ_WKEY_LEN] = {1,	2,  3,	4,  5,	6,  7,	8,  9,	10, 11, 12, 13, 14, 15, 16,
				    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
const uint8_t key_b[QZ_WKEY_LEN] = {0xbb};

const char *N(const char *fmt, ...)
{
	static char bufs[8][512];
	static unsigned k;
	char *b = bufs[k++ % 8];
	int n = snprintf(b, 512, "%s/", base);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b + n, 512 - (size_t)n, fmt, ap);
	va_end(ap);
	return b;
}

void mkvol(const char *name, uint64_t size)
{
	char sz[32];
	snprintf(sz, sizeof(sz), "%llu", (unsigned long long)size);
	qz_prop_t p[] = {{"volsize", sz}, {"volmode", "dev"}};
	assert_int_equal(be->ops->create(be, name, QZ_VOLUME, p, 2, NULL, 0), 0);
}

void mkfs(const char *name)
{
	assert_int_equal(be->ops->create(be, name, QZ_FILESYSTEM, NULL, 0, NULL, 0), 0);
}

void mkenc(const char *name, const uint8_t *key)
{
	qz_prop_t p[] = {
	    {"encryption", "aes-256-gcm"}, {"keyformat", "raw"}, {"keylocation", "prompt"}};
	assert_int_equal(be->ops->create(be, name, QZ_FILESYSTEM, p, 3, key, QZ_WKEY_LEN), 0);
}

void snap(const char *name)
{
	assert_int_equal(be->ops->snapshot(be, &name, 1, NULL, 0), 0);
}

void fill(const char *vol, uint64_t off, uint64_t len, int b)
{
	int fd;
	assert_int_equal(be->ops->zvol_open(be, vol, O_RDWR, &fd), 0);
	char buf[65536];
	memset(buf, b, sizeof(buf));
	while (len > 0) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		assert_int_equal(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
		off += n;
		len -= n;
	}
	assert_int_equal(fsync(fd), 0);
	close(fd);
}

uint64_t vol_hash(const char *vol)
{
	int fd;
	assert_int_equal(be->ops->zvol_open(be, vol, O_RDONLY, &fd), 0);
	uint64_t h = 1469598103934665603ULL;
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
	assert_true(n == 0);
	close(fd);
	return h;
}

int vol_byte(const char *vol, uint64_t off)
{
	int fd;
	assert_int_equal(be->ops->zvol_open(be, vol, O_RDONLY, &fd), 0);
	unsigned char c = 0;
	assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
	close(fd);
	return c;
}

const char *prop(const char *name, const char *p)
{
	static char buf[1024];
	int err = be->ops->get_prop(be, name, p, buf, sizeof(buf));
	if (err != 0)
		fail_msg("get %s of %s: error %d %s", p, name, err, qz_be_detail(be));
	return buf;
}

uint64_t prop_u64(const char *name, const char *p)
{
	return strtoull(prop(name, p), NULL, 10);
}

int send_to_file(const char *snap_name, const char *from, unsigned flags)
{
	char path[] = "/tmp/qzfs-conformance-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(be->ops->send(be, snap_name, from, fd, flags, 0, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* Destroys everything below (and including) root, whatever depends on what. */
static void wipe(const char *root)
{
	for (int pass = 0; pass < 20 && be->ops->exists(be, root); pass++) {
		qz_list_t l;
		const char *cols[] = {"type"};
		if (be->ops->list(be, root, -1,
				  QZ_FILESYSTEM | QZ_VOLUME | QZ_SNAPSHOT | QZ_BOOKMARK, cols, 1,
				  &l) != 0)
			return;
		for (size_t r = l.nrows; r-- > 0;) {
			const char *name = qz_list_cell(&l, r, 0), *type = qz_list_cell(&l, r, 1);
			if (strcmp(type, "snapshot") == 0) {
				be->ops->release(be, name, "conformance");
				be->ops->destroy_snaps(be, &name, 1, true);
			} else if (strcmp(type, "bookmark") == 0) {
				be->ops->destroy_bookmark(be, name);
			} else {
				be->ops->destroy(be, name);
			}
		}
		qz_list_free(&l);
	}
	if (be->ops->exists(be, root))
		fprintf(stderr, "conformance: could not clean up %s\n", root);
}

const char *spare_disk(const char *zpool)
{
	if (strcmp(kind, "model") == 0)
		return "/dev/sdy";
	const char *disk = getenv("QZFS_TEST_SPARE_DISK");
	if (disk == NULL || disk[0] == '\0')
		return NULL;
	snprintf(spare_zpool, sizeof(spare_zpool), "%s", zpool);
	return disk;
}

/* Destroys the case's zpool on the spare disk (real ZFS; a later zpool create needs no force). */
static void drop_spare_zpool(void)
{
	if (spare_zpool[0] == '\0')
		return;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "zpool destroy -f %s", spare_zpool);
	if (system(cmd) != 0)
		fprintf(stderr, "conformance: failed: %s\n", cmd);
	spare_zpool[0] = '\0';
}

int suite_setup(void **state)
{
	(void)state;
	kind = getenv("QZFS_TEST_BACKEND");
	if (kind == NULL)
		kind = "model";
	const char *p = getenv("QZFS_TEST_POOL");
	snprintf(pool, sizeof(pool), "%s", p != NULL ? p : "tank");
	if (strcmp(kind, "real") == 0) {
		int err = qz_backend_real_open(&be);
		if (err != 0 || !be->ops->exists(be, pool)) {
			fprintf(stderr,
				"conformance: real ZFS with pool %s is not available (%d)\n", pool,
				err);
			return -1;
		}
	}
	return 0;
}

int suite_teardown(void **state)
{
	(void)state;
	if (strcmp(kind, "real") == 0)
		qz_backend_close(be);
	return 0;
}

int case_setup(void **state)
{
	(void)state;
	if (strcmp(kind, "model") == 0 && qz_backend_model_open(&be, pool, NULL) != 0)
		return -1;
	/* the process id keeps suites that run side by side on one zpool apart */
	snprintf(base, sizeof(base), "%s/c%ld-%u", pool, (long)getpid(), ++case_no);
	wipe(base);
	qz_prop_t p[] = {{"mountpoint", "none"}};
	return be->ops->create(be, base, QZ_FILESYSTEM, p, 1, NULL, 0) == 0 ? 0 : -1;
}

int case_teardown(void **state)
{
	(void)state;
	wipe(base);
	drop_spare_zpool();
	if (strcmp(kind, "model") == 0)
		qz_backend_close(be);
	return 0;
}
