/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: waiting for a device link while udev makes and removes the directories above it. */
#include "zvol_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static char root[] = "/tmp/qzfs-zvol-dev-XXXXXX";

static void path_in(char *buf, size_t len, const char *rel)
{
	assert_true((size_t)snprintf(buf, len, "%s/%s", root, rel) < len);
}

/* Child: makes and removes root/zvol/pool/ds over and over, as udev does for the links of
 * volumes created and destroyed one after another. */
static pid_t start_flicker(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char a[256], b[256], c[256];
		path_in(a, sizeof(a), "zvol");
		path_in(b, sizeof(b), "zvol/pool");
		path_in(c, sizeof(c), "zvol/pool/ds");
		for (;;) {
			(void)!mkdir(a, 0755);
			(void)!mkdir(b, 0755);
			(void)!mkdir(c, 0755);
			rmdir(c);
			rmdir(b);
			rmdir(a);
		}
	}
	return pid;
}

static void stop_flicker(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	char p[256];
	path_in(p, sizeof(p), "zvol/pool/ds");
	rmdir(p);
	path_in(p, sizeof(p), "zvol/pool");
	rmdir(p);
	path_in(p, sizeof(p), "zvol");
	rmdir(p);
}

/*
 * open64 (what open is with 64-bit offsets) is wrapped at link time (-Wl,--wrap=open64): for the
 * path busy_path it answers EBUSY busy_left times, then busy_then; other paths open for real.
 */
static const char *busy_path;
static int busy_left, busy_then, busy_calls;

int __real_open64(const char *path, int flags, ...);

int __wrap_open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	if (flags & O_CREAT) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (busy_path == NULL || strcmp(path, busy_path) != 0)
		return __real_open64(path, flags, mode);
	busy_calls++;
	errno = busy_left > 0 ? (busy_left--, EBUSY) : busy_then;
	return -1;
}

/* ZFS refuses a zvol's open as busy for a moment after a rename (a probe of the device that
 * still holds the old name owns the dataset): that is waited through like a missing link, not
 * given up on at once. (It once failed a revert's first read with EBUSY.) */
static void a_busy_open_is_tried_again(void **s)
{
	(void)s;
	int fd = -1;
	busy_path = "/dev/zvol/pool/busy";
	busy_calls = 0;
	busy_left = 2;
	busy_then = EACCES; /* ends the wait at once, whatever the clock says */
	assert_int_equal(qz_zvol_wait_open(busy_path, "pool/busy", O_RDONLY, 60000, &fd), EACCES);
	assert_int_equal(busy_calls, 3);
	busy_path = NULL;
}

/* A device still busy when the time is up is said to be busy, not missing. */
static void a_device_busy_to_the_end_is_busy(void **s)
{
	(void)s;
	int fd = -1;
	busy_path = "/dev/zvol/pool/busy";
	busy_calls = 0;
	busy_left = 1000000;
	assert_int_equal(qz_zvol_wait_open(busy_path, "pool/busy", O_RDONLY, 0, &fd), EBUSY);
	assert_true(busy_calls >= 2); /* tried again at least once */
	assert_int_equal(fd, -1);
	busy_path = NULL;
}

/* A parent directory that vanishes while the wait sets its watch is not an error: the wait
 * watches the next one up. (It once gave ENOENT, and a volume just made 'did not exist'.) */
static void vanishing_parents_are_only_waited_through(void **s)
{
	(void)s;
	assert_non_null(mkdtemp(root));
	char target[256];
	path_in(target, sizeof(target), "zvol/pool/ds/vol");
	pid_t pid = start_flicker();
	int counts[3] = {0, 0, 0}; /* ETIMEDOUT, 0, other */
	int other = 0;
	for (int i = 0; i < 3000; i++) {
		int err = qz_wait_path(target, 2);
		if (err == ETIMEDOUT)
			counts[0]++;
		else if (err == 0)
			counts[1]++;
		else {
			counts[2]++;
			other = err;
		}
	}
	stop_flicker(pid);
	rmdir(root);
	printf("# 3000 waits: %d timed out, %d other (last: %s)\n", counts[0], counts[2],
	       other != 0 ? strerror(other) : "none");
	assert_int_equal(counts[1], 0);
	assert_int_equal(counts[2], 0);
}

/* The link appearing under directories made meanwhile is seen. */
static void link_made_later_is_found(void **s)
{
	(void)s;
	strcpy(root, "/tmp/qzfs-zvol-dev-XXXXXX");
	assert_non_null(mkdtemp(root));
	char a[256], b[256], target[256];
	path_in(a, sizeof(a), "zvol");
	path_in(b, sizeof(b), "zvol/pool");
	path_in(target, sizeof(target), "zvol/pool/vol");
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		usleep(50 * 1000);
		mkdir(a, 0755);
		mkdir(b, 0755);
		_exit(symlink("/dev/null", target) == 0 ? 0 : 1);
	}
	assert_int_equal(qz_wait_path(target, 5000), 0);
	int status;
	waitpid(pid, &status, 0);
	assert_int_equal(status, 0);
	assert_int_equal(qz_wait_path(b, 0), 0);
	unlink(target);
	rmdir(b);
	rmdir(a);
	rmdir(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(vanishing_parents_are_only_waited_through),
	    cmocka_unit_test(link_made_later_is_found),
	    cmocka_unit_test(a_busy_open_is_tried_again),
	    cmocka_unit_test(a_device_busy_to_the_end_is_busy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
