/* SPDX-License-Identifier: BSD-2-Clause */
#include "zcmd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int append(struct qz_spawn_out *o, size_t *cap, const char *buf, size_t n)
{
	if (o->outlen + n + 1 > *cap) {
		size_t ncap = (*cap != 0 ? *cap : 4096);
		while (ncap < o->outlen + n + 1)
			ncap *= 2;
		char *p = realloc(o->out, ncap);
		if (p == NULL)
			return ENOMEM;
		o->out = p;
		*cap = ncap;
	}
	memcpy(o->out + o->outlen, buf, n);
	o->outlen += n;
	o->out[o->outlen] = '\0';
	return 0;
}

int qz_spawn(char *const argv[], struct qz_spawn_out *o)
{
	memset(o, 0, sizeof(*o));
	int po[2], pe[2];
	if (pipe2(po, O_CLOEXEC) != 0)
		return errno;
	if (pipe2(pe, O_CLOEXEC) != 0) {
		int e = errno;
		close(po[0]);
		close(po[1]);
		return e;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	pid_t pid;
	/* udev runs its programs without PATH, and zfs lives in sbin */
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 0);
	int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	if (err != 0) {
		close(po[0]);
		close(pe[0]);
		return err;
	}
	size_t cap = 0, errlen = 0;
	struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
	int open_fds = 2;
	char buf[8192];
	err = append(o, &cap, "", 0);
	while (err == 0 && open_fds > 0) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || fds[i].revents == 0)
				continue;
			ssize_t n = read(fds[i].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
			} else if (i == 0) {
				err = append(o, &cap, buf, (size_t)n);
			} else if (errlen + 1 < sizeof(o->err)) {
				size_t k = (size_t)n < sizeof(o->err) - 1 - errlen
					       ? (size_t)n
					       : sizeof(o->err) - 1 - errlen;
				memcpy(o->err + errlen, buf, k);
				errlen += k;
				o->err[errlen] = '\0';
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return errno;
	o->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (err != 0)
		qz_spawn_free(o);
	return err;
}

void qz_spawn_free(struct qz_spawn_out *o)
{
	free(o->out);
	o->out = NULL;
	o->outlen = 0;
}
