/* SPDX-License-Identifier: BSD-2-Clause */
/* Whole reads and writes on file descriptors, optionally with a time limit per wait. */
#ifndef QZFS_FDIO_H
#define QZFS_FDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Reads len bytes unless the input ends first, waiting at most timeout_ms (-1: forever) for
 * each part: the count read (short at the end of input or on a timeout), or -1 with errno. */
ssize_t qz_read_wait(int fd, void *buf, size_t len, int timeout_ms);
/* Writes all of buf, waiting at most timeout_ms (-1: forever) for each part (fd may be
 * non-blocking): 0, or an errno code (ETIMEDOUT). */
int qz_write_wait(int fd, const void *buf, size_t len, int timeout_ms);
/* Reads len bytes unless the input ends first, or until fd cancel becomes readable (another
 * thread's way of calling the read off): the count read, or -1 with errno (ECANCELED). */
ssize_t qz_read_cancellable(int fd, void *buf, size_t len, int cancel);
/* qz_read_wait and qz_write_wait without a time limit. */
ssize_t qz_read_full(int fd, void *buf, size_t len);
int qz_write_full(int fd, const void *buf, size_t len);

/* Reads all of regular file fd, from its start, into *buf (malloc'd, NUL-terminated beyond
 * its *len bytes): EFBIG beyond max bytes, or if empty and empty is not allowed; EIO if it
 * could not be read whole. */
int qz_read_whole(int fd, size_t max, bool empty, char **buf, size_t *len);
/* qz_read_whole of the file at path (0, or the errno of its open too). */
int qz_read_path(const char *path, size_t max, bool empty, char **buf, size_t *len);

/* Ends the writing of a file made whole or not at all: err (0, or the errno of the writes
 * to fd so far), then fd synced and closed, then temporary file tmp renamed to path; on any
 * error tmp is removed. 0 or the first errno code. */
int qz_file_commit(int fd, int err, const char *tmp, const char *path);

/* Asks for a 1 MiB buffer on pipe fd (fewer wakeups when big chunks go through it); a refusal
 * leaves the pipe as it was. */
void qz_pipe_grow(int fd);

#endif
