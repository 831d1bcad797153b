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
#include "seal_io.h"
#include "store_proto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int dirfd_;

/* Answers status with len bytes of data; exits if stdout is gone. */
static void reply(int status, const void *data, uint64_t len)
{
	uint8_t head[9];
	head[0] = (uint8_t)status;
	qz_put_le(head + 1, len, 8);
	if (qz_write_full(STDOUT_FILENO, head, sizeof(head)) != 0 ||
	    (len > 0 && qz_write_full(STDOUT_FILENO, data, (size_t)len) != 0))
		exit(1);
}

static void fail(const char *what, int err)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
	reply(QZ_STORE_FAILED, msg, (uint64_t)n);
}

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
		fail("storing", err);
	else
		reply(QZ_STORE_OK, NULL, 0);
}

static void get(const char *name)
{
	int fd = openat(dirfd_, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		if (errno == ENOENT)
			reply(QZ_STORE_NOENT, NULL, 0);
		else
			fail("reading", errno);
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > QZ_STORE_OBJECT_MAX) {
		close(fd);
		fail("reading", EINVAL);
		return;
	}
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL || qz_read_full(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		close(fd);
		fail("reading", EIO);
		return;
	}
	close(fd);
	reply(QZ_STORE_OK, buf, (uint64_t)st.st_size);
	free(buf);
}

static void del(const char *name)
{
	if (unlinkat(dirfd_, name, 0) != 0 && errno != ENOENT)
		fail("deleting", errno);
	else
		reply(QZ_STORE_OK, NULL, 0);
}

static void list(void)
{
	int fd = dup(dirfd_);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		fail("listing", errno);
		return;
	}
	size_t cap = 4096, len = 0;
	uint8_t *out = malloc(cap);
	struct dirent *de;
	while (out != NULL && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		struct stat st;
		if (!qz_store_name_ok(de->d_name, n) ||
		    fstatat(dirfd_, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (len + 1 + n + 8 > cap) {
			uint8_t *bigger = realloc(out, cap * 2);
			if (bigger == NULL) {
				free(out);
				out = NULL;
				break;
			}
			out = bigger;
			cap *= 2;
		}
		out[len] = (uint8_t)n;
		memcpy(out + len + 1, de->d_name, n);
		qz_put_le(out + len + 1 + n, (uint64_t)st.st_size, 8);
		len += 1 + n + 8;
	}
	closedir(d);
	if (out == NULL)
		fail("listing", ENOMEM);
	else
		reply(QZ_STORE_OK, out, len);
	free(out);
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
		uint8_t head[2];
		char name[QZ_STORE_NAME_MAX + 1];
		ssize_t n = qz_read_full(STDIN_FILENO, head, 2);
		if (n == 0)
			return 0; /* dom0 is done */
		if (n != 2 || qz_read_full(STDIN_FILENO, name, head[1]) != head[1])
			return 1;
		name[head[1]] = 0;
		bool named = qz_store_name_ok(name, head[1]);
		uint8_t lenbuf[8];
		switch (head[0]) {
		case QZ_STORE_PUT:
			if (qz_read_full(STDIN_FILENO, lenbuf, 8) != 8)
				return 1;
			if (!named)
				return 1; /* its data cannot be skipped safely: end the session */
			put(name, qz_get_le(lenbuf, 8));
			break;
		case QZ_STORE_GET:
			named ? get(name) : fail("get", EINVAL);
			break;
		case QZ_STORE_DEL:
			named ? del(name) : fail("delete", EINVAL);
			break;
		case QZ_STORE_LIST:
			list();
			break;
		default:
			return 1;
		}
	}
}
