/* SPDX-License-Identifier: BSD-2-Clause */
/* Runs a program (never through a shell) and collects what it prints. */
#ifndef QZFS_ZCMD_H
#define QZFS_ZCMD_H

#include <stddef.h>

struct qz_spawn_out {
	char *out; /* NUL-terminated standard output */
	size_t outlen;
	char err[512]; /* the start of standard error, NUL-terminated */
	int status;    /* exit status, or 128 + signal number */
};

/* Runs argv[0] (searched in PATH) with argv; returns 0 once it ran (see out->status) or errno. */
int qz_spawn(char *const argv[], struct qz_spawn_out *out);
void qz_spawn_free(struct qz_spawn_out *out);

#endif
