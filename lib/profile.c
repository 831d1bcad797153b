/* SPDX-License-Identifier: BSD-2-Clause */
/* The per-run profile: a small table of phases, written once at exit (see profile.h). */
#include "profile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PHASES_MAX 48

static struct phase {
	const char *name;
	uint64_t count, ns;
} phases[PHASES_MAX];
static int enabled = -1; /* -1: not looked at yet */
static uint64_t first_now;

bool qz_prof_enabled(void)
{
	if (enabled < 0) {
		const char *path = getenv("QZFS_PROFILE");
		enabled = path != NULL && path[0] != '\0';
	}
	return enabled;
}

uint64_t qz_prof_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (first_now == 0)
		first_now = now;
	return now;
}

void qz_prof_since(const char *phase, uint64_t start)
{
	if (!qz_prof_enabled())
		return;
	uint64_t ns = qz_prof_now() - start;
	for (size_t i = 0; i < PHASES_MAX; i++) {
		if (phases[i].name == NULL)
			phases[i].name = phase;
		else if (strcmp(phases[i].name, phase) != 0)
			continue;
		phases[i].count++;
		phases[i].ns += ns;
		return;
	}
}

int qz_prof_write(const char *command)
{
	if (!qz_prof_enabled())
		return 0;
	qz_prof_since("run", first_now);
	char buf[4096];
	size_t n = 0;
	for (size_t i = 0; i < PHASES_MAX && phases[i].name != NULL && n < sizeof(buf); i++) {
		int w = snprintf(buf + n, sizeof(buf) - n, "%ld %s|%s %llu %llu\n", (long)getpid(),
				 command, phases[i].name, (unsigned long long)phases[i].count,
				 (unsigned long long)(phases[i].ns / 1000));
		if (w < 0)
			return EIO;
		n += (size_t)w;
	}
	if (n > sizeof(buf))
		n = sizeof(buf);
	/* one write with O_APPEND: concurrent runs' lines do not interleave */
	int fd = open(getenv("QZFS_PROFILE"), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	int err = write(fd, buf, n) == (ssize_t)n ? 0 : EIO;
	close(fd);
	return err;
}
