/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * qzfs-backup-store DIR: keeps sealed backup objects in DIR for dom0 (store_proto.h), reading
 * requests on stdin and answering on stdout. It runs where backups are kept: in a backup qube
 * (the qrexec service qubes-storage-zfs.BackupStore) or locally for a directory target. It holds
 * no key, knows nothing of ZFS, and never parses what it stores: it cannot read backups, and
 * what it could change, dom0 detects.
 *
 * Objects are written to a temporary name, synced, then renamed into place: an object is either
 * whole or absent.
 */
#include "le.h"
#include "reply.h"
#include "seal_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int dirfd_;

/* Copies len bytes from stdin to fd (or discards them when fd < 0); false if stdin ended. */
static bool copy_in(int fd, uint64_t len, int *err)
{
	static uint8_t buf[1 << 20];
	while (len > 0) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		if (qz_read_full(STDIN_FILENO, buf, n) != (ssize_t)n)
			return false;
		if (fd >= 0 && *err == 0)
			*err = qz_write_full(fd, buf, n);
		len -= n;
	}
	return true;
}

static void put(const char *name, uint64_t len)
{
	char tmp[QZ_STORE_NAME_MAX + 8];
	snprintf(tmp, sizeof(tmp), ".tmp-%s", name);
	int err = len > QZ_STORE_OBJECT_MAX ? EFBIG : 0;
	int fd = err ? -1 : openat(dirfd_, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 && err == 0)
		err = errno;
	if (!copy_in(fd, len, &err))
		exit(1);
	if (fd >= 0) {
		if (err == 0 && fsync(fd) != 0)
			err = errno;
		close(fd);
		if (err == 0 && renameat(dirfd_, tmp, dirfd_, name) != 0)
			err = errno;
		if (err == 0)
			fsync(dirfd_);
		else
			unlinkat(dirfd_, tmp, 0);
	}
	if (err != 0)
		store_fail("storing", err, NULL);
	else
		store_reply(QZ_STORE_OK, NULL, 0);
}

static void get(const char *name)
{
	int fd = openat(dirfd_, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		if (errno == ENOENT)
			store_reply(QZ_STORE_NOENT, NULL, 0);
		else
			store_fail("reading", errno, NULL);
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > QZ_STORE_OBJECT_MAX) {
		close(fd);
		store_fail("reading", EINVAL, NULL);
		return;
	}
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL || qz_read_full(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		close(fd);
		store_fail("reading", EIO, NULL);
		return;
	}
	close(fd);
	store_reply(QZ_STORE_OK, buf, (uint64_t)st.st_size);
	free(buf);
}

static void del(const char *name)
{
	if (unlinkat(dirfd_, name, 0) != 0 && errno != ENOENT)
		store_fail("deleting", errno, NULL);
	else
		store_reply(QZ_STORE_OK, NULL, 0);
}

static void list(void)
{
	int fd = dup(dirfd_);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		store_fail("listing", errno, NULL);
		return;
	}
	/* the dup shares dirfd_'s offset, which the last listing left at the end */
	rewinddir(d);
	store_listing_t l = {0};
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (qz_store_name_ok(de->d_name, strlen(de->d_name)) &&
		    fstatat(dirfd_, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			store_listing_add(&l, de->d_name, (uint64_t)st.st_size);
	}
	closedir(d);
	store_listing_reply(&l);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr,
			"usage: qzfs-backup-store DIR   (speaks the backup store protocol on "
			"stdin/stdout)\n");
		return 2;
	}
	dirfd_ = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd_ < 0) {
		fprintf(stderr, "qzfs-backup-store: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (;;) {
		store_request_t r;
		int got = store_read_request(&r);
		if (got <= 0)
			return got == 0 ? 0 : 1; /* 0: dom0 is done */
		uint8_t lenbuf[8];
		switch (r.op) {
		case QZ_STORE_PUT:
			if (qz_read_full(STDIN_FILENO, lenbuf, 8) != 8)
				return 1;
			if (!r.named)
				return 1; /* its data cannot be skipped safely: end the session */
			put(r.name, qz_get_le(lenbuf, 8));
			break;
		case QZ_STORE_GET:
			r.named ? get(r.name) : store_fail("get", EINVAL, NULL);
			break;
		case QZ_STORE_DEL:
			r.named ? del(r.name) : store_fail("delete", EINVAL, NULL);
			break;
		case QZ_STORE_LIST:
			list();
			break;
		default:
			return 1;
		}
	}
}
