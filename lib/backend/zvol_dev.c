/* SPDX-License-Identifier: BSD-2-Clause */
#include "zvol_dev.h"

#include "profile.h"
#include "zcmd.h"
#include "zname.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The zvol ioctl that returns a device's dataset name (what udev's zvol_id asks). */
#define BLKZNAME _IOR(0x12, 125, char[QZ_NAME_MAX])

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * Watches the nearest existing ancestor directory of path. udev removes directories it has
 * emptied, so one may vanish between being found and being watched: its parent is watched then.
 */
static int watch_nearest(int ifd, const char *path)
{
	char dir[QZ_NAME_MAX + 64];
	if (strlen(path) >= sizeof(dir))
		return ENAMETOOLONG;
	strcpy(dir, path);
	for (;;) {
		char *slash = strrchr(dir, '/');
		if (slash == NULL || slash == dir)
			return inotify_add_watch(ifd, "/", IN_CREATE | IN_MOVED_TO | IN_DELETE) < 0
				   ? errno
				   : 0;
		*slash = '\0';
		if (inotify_add_watch(ifd, dir, IN_CREATE | IN_MOVED_TO | IN_DELETE) >= 0)
			return 0;
		if (errno != ENOENT && errno != ENOTDIR)
			return errno;
	}
}

/* ERESTARTSYS: OpenZFS 2.1 fails a zvol open with it while another thread holds the pool
 * namespace lock (busy pools, many volumes at once); on some kernels it reaches userspace. */
#define ERESTARTSYS_LEAKED 512
#define RECHECK_MS	   100 /* attempts also run this often: transient failures give no event */

/*
 * Runs attempt(arg) until it returns anything but EAGAIN, watching the nearest existing parent
 * of path between attempts (the watch is set before each attempt, so no change is missed).
 */
static int retry_on_change(const char *path, int timeout_ms, int (*attempt)(void *), void *arg)
{
	int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0)
		return errno;
	long deadline = now_ms() + timeout_ms;
	int err;
	for (;;) {
		if ((err = watch_nearest(ifd, path)) != 0 || (err = attempt(arg)) != EAGAIN)
			break;
		long left = deadline - now_ms();
		if (left <= 0) {
			err = ETIMEDOUT;
			break;
		}
		struct pollfd p = {ifd, POLLIN, 0};
		if (poll(&p, 1, (int)(left < RECHECK_MS ? left : RECHECK_MS)) < 0 &&
		    errno != EINTR) {
			err = errno;
			break;
		}
		char buf[4096];
		while (read(ifd, buf, sizeof(buf)) > 0)
			;
	}
	close(ifd);
	return err;
}

static int path_exists(void *arg)
{
	return access(arg, F_OK) == 0 ? 0 : EAGAIN;
}

int qz_wait_path(const char *path, int timeout_ms)
{
	if (access(path, F_OK) == 0)
		return 0;
	return retry_on_change(path, timeout_ms, path_exists, (void *)path);
}

struct open_arg {
	const char *path, *vol;
	int oflags, fd;
	bool busy; /* the last attempt was answered EBUSY */
};

/*
 * EBUSY: a zvol's first open takes ownership of its dataset, by the name the device holds. Just
 * after a rename that name can be stale for a moment (ZFS renames its devices from a task queue),
 * so a probe of the old device by udev owns the dataset now holding the name, and an open of
 * that dataset's own device is refused until the probe ends.
 */
static int open_if_right(void *arg)
{
	struct open_arg *a = arg;
	a->fd = open(a->path, a->oflags | O_CLOEXEC);
	a->busy = a->fd < 0 && errno == EBUSY;
	if (a->fd < 0)
		return errno == ENOENT || errno == ERESTARTSYS_LEAKED || errno == EINTR ||
			       errno == EBUSY
			   ? EAGAIN
			   : errno;
	if (qz_zvol_check(a->fd, a->vol) == 0)
		return 0;
	close(a->fd); /* udev has not yet moved the link to the renamed volume */
	a->fd = -1;
	return EAGAIN;
}

int qz_zvol_wait_open(const char *path, const char *vol, int oflags, int timeout_ms, int *fdp)
{
	struct open_arg a = {path, vol, oflags, -1, false};
	int err = open_if_right(&a);
	if (err == EAGAIN)
		err = retry_on_change(path, timeout_ms, open_if_right, &a);
	if (err == ETIMEDOUT && a.busy)
		err = EBUSY;
	if (err == 0)
		*fdp = a.fd;
	return err;
}

int qz_udev_settle(void)
{
	/* udevadm's own limit only ends a wait for a udev that has stopped working */
	char *argv[] = {"udevadm", "settle", "--timeout=120", NULL};
	struct qz_spawn_out out;
	uint64_t t0 = qz_prof_now();
	int err = qz_spawn(argv, &out);
	qz_prof_since("udev settle", t0);
	if (err == 0 && out.status != 0)
		err = ETIMEDOUT;
	qz_spawn_free(&out);
	return err;
}

int qz_zvol_name(int fd, char *buf, size_t len)
{
	struct stat st;
	char name[QZ_NAME_MAX] = "";
	if (fstat(fd, &st) != 0 || !S_ISBLK(st.st_mode) || ioctl(fd, BLKZNAME, name) != 0)
		return ENODEV;
	name[sizeof(name) - 1] = '\0';
	return (size_t)snprintf(buf, len, "%s", name) < len ? 0 : ENAMETOOLONG;
}

int qz_zvol_check(int fd, const char *vol)
{
	char name[QZ_NAME_MAX];
	if (qz_zvol_name(fd, name, sizeof(name)) != 0 || strcmp(name, vol) != 0)
		return ENODEV;
	return 0;
}

int qz_zvol_find_node(const char *vol, int oflags, char *path, size_t len, int *fdp)
{
	DIR *dev = opendir("/dev");
	if (dev == NULL)
		return errno;
	int err = ENOENT;
	for (struct dirent *e; err == ENOENT && (e = readdir(dev)) != NULL;) {
		const char *n = e->d_name;
		if (strncmp(n, "zd", 2) != 0 || n[2] == '\0' ||
		    strspn(n + 2, "0123456789") != strlen(n + 2))
			continue; /* zdN only: zdNpM are partitions */
		char node[300];
		snprintf(node, sizeof(node), "/dev/%s", n);
		int fd = open(node, oflags | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (qz_zvol_check(fd, vol) != 0) {
			close(fd);
			continue;
		}
		err = (size_t)snprintf(path, len, "%s", node) < len ? 0 : ENAMETOOLONG;
		if (err == 0)
			*fdp = fd;
		else
			close(fd);
	}
	closedir(dev);
	return err;
}
