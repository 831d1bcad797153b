/* SPDX-License-Identifier: BSD-2-Clause */
/* The one place where error codes become words for people. */
#ifndef QZFS_ERROR_H
#define QZFS_ERROR_H

/* Exit codes of `qzfs` (documented in README.md). */
enum qz_exit {
	QZ_EXIT_OK = 0,
	QZ_EXIT_FAIL = 1,    /* the operation failed; nothing was changed unless stated */
	QZ_EXIT_USAGE = 2,   /* bad command line */
	QZ_EXIT_NOENT = 3,   /* what was named does not exist */
	QZ_EXIT_EXISTS = 4,  /* it exists already */
	QZ_EXIT_BUSY = 5,    /* in use */
	QZ_EXIT_NOZFS = 6,   /* ZFS is not available on this machine */
	QZ_EXIT_ACCESS = 7,  /* key not loaded or wrong */
	QZ_EXIT_NOSPACE = 8, /* the pool is full */
};

/* A sentence for err as returned by a ZFS operation (libzfs_core or the model). */
const char *qz_strerror(int err);
/* The exit code for err. */
enum qz_exit qz_exit_code(int err);

#endif
