/* SPDX-License-Identifier: BSD-2-Clause */
/* See fdio.h. */
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Waits until fd is ready for events, or cancel (if >= 0) is readable: 1, 0 on a timeout, -1
 * with errno (ECANCELED for cancel). */
static int wait_ready(int fd, short events, int cancel, int timeout_ms)
{
	if (timeout_ms < 0 && cancel < 0)
		return 1; /* a blocking call waits by itself */
	for (;;) {
		struct pollfd p[2] = {{fd, events, 0}, {cancel, POLLIN, 0}};
		int r = poll(p, cancel >= 0 ? 2 : 1, timeout_ms);
		if (r > 0 && cancel >= 0 && p[1].revents != 0) {
			errno = ECANCELED;
			return -1;
		}
		if (r >= 0 || errno != EINTR)
			return r;
	}
}

/* qz_read_wait, called off when cancel is readable. */
static ssize_t read_wait(int fd, void *buf, size_t len, int cancel, int timeout_ms)
{
	size_t got = 0;
	while (got < len) {
		int r = wait_ready(fd, POLLIN, cancel, timeout_ms);
		if (r <= 0)
			return r < 0 ? -1 : (ssize_t)got;
		ssize_t n = read(fd, (uint8_t *)buf + got, len - got);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

ssize_t qz_read_wait(int fd, void *buf, size_t len, int timeout_ms)
{
	return read_wait(fd, buf, len, -1, timeout_ms);
}

ssize_t qz_read_cancellable(int fd, void *buf, size_t len, int cancel)
{
	return read_wait(fd, buf, len, cancel, -1);
}

int qz_write_wait(int fd, const void *buf, size_t len, int timeout_ms)
{
	const uint8_t *p = buf;
	while (len > 0) {
		int r = wait_ready(fd, POLLOUT, -1, timeout_ms);
		if (r <= 0)
			return r < 0 ? errno : ETIMEDOUT;
		ssize_t n = write(fd, p, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t qz_read_full(int fd, void *buf, size_t len)
{
	return qz_read_wait(fd, buf, len, -1);
}

int qz_write_full(int fd, const void *buf, size_t len)
{
	return qz_write_wait(fd, buf, len, -1);
}

void qz_pipe_grow(int fd)
{
	(void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
}

int qz_file_commit(int fd, int err, const char *tmp, const char *path)
{
	if (err == 0 && fsync(fd) != 0)
		err = errno;
	if (close(fd) != 0 && err == 0)
		err = errno;
	if (err == 0 && rename(tmp, path) != 0)
		err = errno;
	if (err != 0)
		unlink(tmp);
	return err;
}

int qz_read_whole(int fd, size_t max, bool empty, char **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	struct stat st;
	if (fstat(fd, &st) != 0)
		return errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max || (st.st_size == 0 && !empty))
		return EFBIG;
	if ((*buf = malloc((size_t)st.st_size + 1)) == NULL)
		return ENOMEM;
	if (lseek(fd, 0, SEEK_SET) != 0 ||
	    qz_read_full(fd, *buf, (size_t)st.st_size) != st.st_size) {
		free(*buf);
		*buf = NULL;
		return EIO;
	}
	(*buf)[st.st_size] = 0;
	*len = (size_t)st.st_size;
	return 0;
}

int qz_read_path(const char *path, size_t max, bool empty, char **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int err = qz_read_whole(fd, max, empty, buf, len);
	close(fd);
	return err;
}
