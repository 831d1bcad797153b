/* SPDX-License-Identifier: BSD-2-Clause */
/* A backup target through its store program (see target.h and store_proto.h). */
#include "target.h"

#include "le.h"
#include "seal_io.h"
#include "store_proto.h"
#include "why.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MESSAGE_MAX	   512
#define DEFAULT_TIMEOUT_MS (10 * 60 * 1000) /* a store silent this long is given up on */

extern char **environ;

struct qz_target {
	pid_t pid;
	int to, from; /* the store's stdin and stdout */
	bool broken;  /* a malformed answer: nothing more is read from it */
	int timeout_ms;
};

void qz_target_set_timeout(qz_target_t *t, int ms)
{
	t->timeout_ms = ms;
}

int qz_target_open(char *const argv[], qz_target_t **out, char *why, size_t whylen)
{
	int in[2], outp[2];
	if (pipe2(in, O_CLOEXEC) != 0)
		return qz_why(why, whylen, errno, "pipe: %s", strerror(errno));
	if (pipe2(outp, O_CLOEXEC) != 0) {
		int err = errno;
		close(in[0]);
		close(in[1]);
		return qz_why(why, whylen, err, "pipe: %s", strerror(err));
	}
	/* a store that goes away makes writes fail with EPIPE, not kill qzfs */
	signal(SIGPIPE, SIG_IGN);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, outp[1], STDOUT_FILENO);
	pid_t pid;
	int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(outp[1]);
	if (err != 0) {
		close(in[1]);
		close(outp[0]);
		return qz_why(why, whylen, err, "cannot start %s: %s", argv[0], strerror(err));
	}
	qz_target_t *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		close(in[1]);
		close(outp[0]);
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return qz_why(why, whylen, ENOMEM, "out of memory");
	}
	t->pid = pid;
	t->timeout_ms = DEFAULT_TIMEOUT_MS;
	fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK); /* writes wait in poll */
	qz_pipe_grow(in[1]);
	qz_pipe_grow(outp[0]);
	t->to = in[1];
	t->from = outp[0];
	*out = t;
	return 0;
}

int qz_target_over(int to, int from, qz_target_t **out)
{
	qz_target_t *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return ENOMEM;
	t->pid = -1;
	t->timeout_ms = DEFAULT_TIMEOUT_MS;
	t->to = to;
	t->from = from;
	*out = t;
	return 0;
}

void qz_target_close(qz_target_t *t)
{
	if (t == NULL)
		return;
	close(t->to);
	close(t->from);
	if (t->pid < 0) {
		free(t);
		return;
	}
	if (t->broken) /* it may still be talking, or stalled */
		kill(t->pid, SIGTERM);
	int status;
	while (waitpid(t->pid, &status, 0) < 0 && errno == EINTR)
		;
	free(t);
}

static int broken(qz_target_t *t, char *why, size_t whylen, const char *what)
{
	t->broken = true;
	return qz_why(why, whylen, EBADMSG, "the backup target %s", what);
}

/* Sends a request: op, name, and for a put its data. */
static int request(qz_target_t *t, char op, const char *name, const void *data, size_t len,
		   char *why, size_t whylen)
{
	size_t n = name != NULL ? strlen(name) : 0;
	if (t->broken)
		return qz_why(why, whylen, EBADMSG, "the backup target failed before");
	if (name != NULL && !qz_store_name_ok(name, n))
		return qz_why(why, whylen, EINVAL, "'%s' cannot name a stored object", name);
	uint8_t head[2 + QZ_STORE_NAME_MAX + 8];
	head[0] = (uint8_t)op;
	head[1] = (uint8_t)n;
	if (n > 0)
		memcpy(head + 2, name, n);
	size_t hl = 2 + n;
	if (op == QZ_STORE_PUT) {
		qz_put_le(head + hl, len, 8);
		hl += 8;
	}
	int err = qz_write_wait(t->to, head, hl, t->timeout_ms);
	if (err == 0 && op == QZ_STORE_PUT && len > 0)
		err = qz_write_wait(t->to, data, len, t->timeout_ms);
	if (err != 0) {
		t->broken = true;
		return qz_why(why, whylen, err, "the backup target went away (%s)", strerror(err));
	}
	return 0;
}

/* Reads an answer's status and length; a failure's message becomes the reason. */
static int answer(qz_target_t *t, uint64_t max, uint64_t *len, char *why, size_t whylen)
{
	uint8_t head[9];
	ssize_t n = qz_read_wait(t->from, head, sizeof(head), t->timeout_ms);
	if (n != (ssize_t)sizeof(head))
		return broken(t, why, whylen, n < 0 ? "cannot be read" : "went away or stalled");
	*len = qz_get_le(head + 1, 8);
	switch (head[0]) {
	case QZ_STORE_OK:
		if (*len > max)
			return broken(t, why, whylen, "answered more than was asked for");
		return 0;
	case QZ_STORE_NOENT:
		if (*len != 0)
			return broken(t, why, whylen, "answered malformed");
		return qz_why(why, whylen, ENOENT, "the backup target has no such object");
	case QZ_STORE_FAILED: {
		char msg[MESSAGE_MAX + 1];
		if (*len > MESSAGE_MAX ||
		    qz_read_wait(t->from, msg, *len, t->timeout_ms) != (ssize_t)*len)
			return broken(t, why, whylen, "answered malformed");
		msg[*len] = 0;
		for (size_t i = 0; i < *len; i++) /* a message for a terminal: printable only */
			if ((unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] > 0x7e)
				msg[i] = '?';
		return qz_why(why, whylen, EIO, "the backup target failed: %s", msg);
	}
	default:
		return broken(t, why, whylen, "answered malformed");
	}
}

int qz_target_put(qz_target_t *t, const char *name, const void *buf, size_t len, char *why,
		  size_t whylen)
{
	uint64_t n = 0;
	int err = request(t, QZ_STORE_PUT, name, buf, len, why, whylen);
	if (err == 0)
		err = answer(t, 0, &n, why, whylen);
	return err;
}

/* A request for op on name answered with at most max bytes, read into buf. */
static int ask(qz_target_t *t, char op, const char *name, void *buf, size_t max, size_t *len,
	       char *why, size_t whylen)
{
	uint64_t n = 0;
	int err = request(t, op, name, NULL, 0, why, whylen);
	if (err == 0)
		err = answer(t, max, &n, why, whylen);
	if (err != 0)
		return err;
	if (qz_read_wait(t->from, buf, (size_t)n, t->timeout_ms) != (ssize_t)n)
		return broken(t, why, whylen, "went away");
	*len = (size_t)n;
	return 0;
}

int qz_target_get(qz_target_t *t, const char *name, void *buf, size_t max, size_t *len, char *why,
		  size_t whylen)
{
	return ask(t, QZ_STORE_GET, name, buf, max, len, why, whylen);
}

int qz_target_delete(qz_target_t *t, const char *name, char *why, size_t whylen)
{
	uint64_t n = 0;
	int err = request(t, QZ_STORE_DEL, name, NULL, 0, why, whylen);
	if (err == 0)
		err = answer(t, 0, &n, why, whylen);
	return err == ENOENT ? 0 : err;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const qz_target_entry_t *)a)->name, ((const qz_target_entry_t *)b)->name);
}

int qz_target_parse_listing(const uint8_t *buf, size_t n, qz_target_entry_t **out, size_t *count,
			    char *why, size_t whylen)
{
	qz_target_entry_t *e = NULL; /* grown as entries come, up to QZ_STORE_LIST_ENTRIES_MAX */
	size_t cap = 0, k = 0;
	int err = 0;
	for (size_t o = 0; o < n; k++) {
		size_t l = buf[o];
		if (o + 1 + l + 8 > n || !qz_store_name_ok((const char *)buf + o + 1, l)) {
			err = qz_why(why, whylen, EBADMSG,
				     "the backup target listed a malformed entry");
			break;
		}
		if (k == cap) {
			if (cap == QZ_STORE_LIST_ENTRIES_MAX) {
				err =
				    qz_why(why, whylen, EBADMSG,
					   "the backup target listed more objects than dom0 takes");
				break;
			}
			cap = cap == 0 ? 256 : cap * 2;
			qz_target_entry_t *more = realloc(e, cap * sizeof(*e));
			if (more == NULL) {
				err = qz_why(why, whylen, ENOMEM, "out of memory");
				break;
			}
			e = more;
		}
		memcpy(e[k].name, buf + o + 1, l);
		e[k].name[l] = 0;
		e[k].size = qz_get_le(buf + o + 1 + l, 8);
		o += 1 + l + 8;
	}
	if (err == 0 && k > 1) {
		qsort(e, k, sizeof(*e), by_name);
		for (size_t i = 1; i < k && err == 0; i++)
			if (strcmp(e[i - 1].name, e[i].name) == 0)
				err = qz_why(why, whylen, EBADMSG,
					     "the backup target listed an object twice");
	}
	if (err != 0) {
		free(e);
		return err;
	}
	*out = e;
	*count = k;
	return 0;
}

int qz_target_list(qz_target_t *t, qz_target_entry_t **out, size_t *count, char *why, size_t whylen)
{
	uint64_t n = 0;
	int err = request(t, QZ_STORE_LIST, NULL, NULL, 0, why, whylen);
	if (err == 0)
		err = answer(t, QZ_STORE_LIST_MAX, &n, why, whylen);
	if (err != 0)
		return err;
	uint8_t *buf = malloc(n ? n : 1);
	if (buf == NULL) {
		t->broken = true; /* the answer stays unread */
		return qz_why(why, whylen, ENOMEM, "out of memory");
	}
	if (qz_read_wait(t->from, buf, (size_t)n, t->timeout_ms) != (ssize_t)n) {
		free(buf);
		return broken(t, why, whylen, "went away");
	}
	*out = NULL;
	*count = 0;
	err = qz_target_parse_listing(buf, (size_t)n, out, count, why, whylen);
	free(buf);
	if (err == EBADMSG)
		t->broken = true; /* a store that lies once is not asked again */
	return err;
}

int qz_target_receive(qz_target_t *t, const char *name, int fd, uint64_t *bytes,
		      const qz_store_sent_t *sent, char *why, size_t whylen)
{
	uint64_t n = 0;
	char which = 0;
	int err = request(t, QZ_STORE_RECV, name, NULL, 0, why, whylen);
	if (err != 0)
		return err;
	err = qz_store_pieces_out(fd, t->to, t->timeout_ms, bytes, &which, sent);
	if (err != 0 && which == 'w') {
		t->broken = true;
		return qz_why(why, whylen, err, "the backup target went away (%s)", strerror(err));
	}
	if (err != 0) { /* the stream could not be read: end it early, the target keeps a part */
		uint8_t end[4] = {0};
		if (qz_write_wait(t->to, end, 4, t->timeout_ms) != 0)
			t->broken = true;
	}
	int answered = t->broken ? EBADMSG : answer(t, 0, &n, why, whylen);
	return err != 0
		   ? qz_why(why, whylen, EIO, "the stream could not be read (%s)", strerror(err))
		   : answered;
}

int qz_target_token(qz_target_t *t, const char *name, char *buf, size_t max, char *why,
		    size_t whylen)
{
	size_t len = 0;
	int err = ask(t, QZ_STORE_TOKEN, name, buf, max - 1, &len, why, whylen);
	if (err == 0)
		buf[len] = 0;
	return err;
}

int qz_target_abort(qz_target_t *t, const char *name, char *why, size_t whylen)
{
	size_t len = 0;
	int err = ask(t, QZ_STORE_ABORT, name, NULL, 0, &len, why, whylen);
	return err == ENOENT ? 0 : err;
}

struct relay {
	int (*emit)(void *ctx, const void *buf, size_t len);
	void *ctx;
	int err; /* the emitter's first error */
};

static int relay(void *ctx, const void *buf, size_t len)
{
	struct relay *r = ctx;
	if (r->err == 0)
		r->err = r->emit(r->ctx, buf, len);
	return 0;
}

int qz_target_send_back(qz_target_t *t, const char *name,
			int (*emit)(void *ctx, const void *buf, size_t len), void *ctx, char *why,
			size_t whylen)
{
	uint64_t n = 0;
	int err = request(t, QZ_STORE_SEND, name, NULL, 0, why, whylen);
	if (err == 0)
		err = answer(t, 0, &n, why, whylen);
	if (err != 0)
		return err;
	struct relay r = {emit, ctx, 0};
	if (qz_store_pieces_in(t->from, t->timeout_ms, relay, &r) != 0)
		return broken(t, why, whylen, "sent a stream cut short or malformed");
	err = answer(t, 0, &n, why, whylen);
	return r.err != 0 ? r.err : err;
}
