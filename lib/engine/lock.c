/* SPDX-License-Identifier: BSD-2-Clause */
/* Per-volume locks: operations on one volume are serialised, different volumes run in parallel.
 * An flock dies with its holder, so a crashed qzfs never leaves a volume locked. */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int qz_lock_volume(const char *vol, int *fdp)
{
	const char *dir = getenv("QZFS_LOCK_DIR");
	if (dir == NULL)
		dir = "/run/qubes-storage-zfs";
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return errno;
	/* one lock file per volume family, named by a hash of the live dataset's name */
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = vol; *p != '\0' && *p != ':' && *p != '@'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	char path[512];
	snprintf(path, sizeof(path), "%s/%016llx.lock", dir, (unsigned long long)h);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return e;
		}
	}
	*fdp = fd;
	return 0;
}

void qz_unlock_volume(int fd)
{
	if (fd >= 0)
		close(fd);
}
