/* SPDX-License-Identifier: BSD-2-Clause */
/* Crash points: where tests stop an operation to check that the next one recovers. */
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static unsigned armed, passed;
static int exit_code;
static int from_env = -1;
static void (*before_exit)(void *);
static void *before_exit_arg;

void qz_crash_before_exit(void (*fn)(void *arg), void *arg)
{
	before_exit = fn;
	before_exit_arg = arg;
}

unsigned qz_crash_arm(unsigned n, int code)
{
	unsigned was = passed;
	armed = n;
	exit_code = code;
	passed = 0;
	from_env = 0;
	return was;
}

int qz_crash_point(const char *name)
{
	if (from_env < 0) {
		const char *e = getenv("QZFS_CRASH_AT");
		from_env = 0;
		if (e != NULL && (armed = (unsigned)strtoul(e, NULL, 10)) != 0)
			exit_code = 86;
	}
	passed++;
	if (armed == 0 || passed != armed)
		return 0;
	if (exit_code != 0) {
		fprintf(stderr, "qzfs: crash point %u (%s): stopping here\n", passed, name);
		if (before_exit != NULL)
			before_exit(before_exit_arg);
		_exit(exit_code);
	}
	return ECANCELED;
}
