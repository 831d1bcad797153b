/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: waiting for a device link while udev makes and removes the directories above it. */
#include "zvol_dev.h"

#include <errno.h>
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
