/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A hostile backup qube, for the tests: it runs the real store program (store_proto.h) and
 * passes everything through, except that every stream the store sends back (S) is altered the
 * way a qube that knows fletcher-4 would alter it, with every checksum made again:
 *
 *   payload   one bit of the payload of the middle WRITE record
 *   header    one bit of that record's MAC (a raw WRITE's header, which ZFS checks on read)
 *   swap      the payloads of the middle WRITE record and the next of the same size exchanged
 *   reorder   the middle WRITE record and the next of the same size exchanged whole
 *
 *   hostile-store MODE STORE [ARGS...]
 */
#include "drr.h"
#include "fdio.h"
#include "fletcher.h"
#include "le.h"
#include "store_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void die(const char *what)
{
	fprintf(stderr, "hostile-store: %s\n", what);
	exit(2);
}

static void copy(int in, int out, size_t n)
{
	uint8_t buf[65536];
	while (n > 0) {
		size_t want = n < sizeof(buf) ? n : sizeof(buf);
		if (qz_read_full(in, buf, want) != (ssize_t)want ||
		    qz_write_full(out, buf, want) != 0)
			die("a connection ended");
		n -= want;
	}
}

struct stream {
	uint8_t *buf;
	size_t len, cap;
};

static int keep(void *ctx, const void *buf, size_t len)
{
	struct stream *s = ctx;
	if (s->len + len > s->cap) {
		s->cap = (s->len + len) * 2;
		if ((s->buf = realloc(s->buf, s->cap)) == NULL)
			die("out of memory");
	}
	memcpy(s->buf + s->len, buf, len);
	s->len += len;
	return 0;
}

/* Where the records of s start: up to max of them, into at; how many. */
static size_t records(const struct stream *s, size_t *at, size_t max)
{
	size_t n = 0;
	for (size_t off = 0; off + QZ_DRR_SIZE <= s->len && n < max;) {
		qz_drr_t r;
		memcpy(&r, s->buf + off, sizeof(r));
		at[n++] = off;
		off += QZ_DRR_SIZE + qz_drr_payload_size(&r);
	}
	return n;
}

static void fix_checksums(struct stream *s, const size_t *at, size_t n)
{
	qz_cksum_t ck = {{0, 0, 0, 0}};
	for (size_t i = 0; i < n; i++) {
		size_t end = i + 1 < n ? at[i + 1] : s->len;
		qz_drr_t r;
		memcpy(&r, s->buf + at[i], sizeof(r));
		if (r.type == QZ_DRR_END)
			r.u.end.checksum = ck;
		qz_fletcher4_fold(&ck, &r, QZ_DRR_CKSUM_OFFSET);
		if (r.type != QZ_DRR_BEGIN)
			r.u.tail.checksum = ck;
		qz_fletcher4_fold(&ck, &r.u.tail.checksum, sizeof(qz_cksum_t));
		memcpy(s->buf + at[i], &r, sizeof(r));
		qz_fletcher4_fold(&ck, s->buf + at[i] + QZ_DRR_SIZE, end - at[i] - QZ_DRR_SIZE);
	}
}

static uint32_t type_at(const struct stream *s, size_t off)
{
	uint32_t type;
	memcpy(&type, s->buf + off, sizeof(type));
	return type;
}

static void alter(struct stream *s, const char *mode)
{
	enum { MAX = 1 << 16 };
	static size_t at[MAX];
	size_t n = records(s, at, MAX), writes = 0, mid = n, next = n;
	for (size_t i = 0; i < n; i++)
		writes += type_at(s, at[i]) == QZ_DRR_WRITE;
	for (size_t i = 0, w = 0; i < n && mid == n; i++)
		if (type_at(s, at[i]) == QZ_DRR_WRITE && w++ == writes / 2)
			mid = i;
	if (mid == n)
		die("no WRITE record to alter");
	qz_drr_t a, b;
	memcpy(&a, s->buf + at[mid], sizeof(a));
	size_t plen = (size_t)qz_drr_payload_size(&a);
	for (size_t i = mid + 1; i < n && next == n; i++) {
		memcpy(&b, s->buf + at[i], sizeof(b));
		if (b.type == QZ_DRR_WRITE && qz_drr_payload_size(&b) == plen &&
		    memcmp(s->buf + at[i] + QZ_DRR_SIZE, s->buf + at[mid] + QZ_DRR_SIZE, plen) != 0)
			next = i;
	}
	if (strcmp(mode, "payload") == 0) {
		s->buf[at[mid] + QZ_DRR_SIZE + plen / 2] ^= 0x10;
	} else if (strcmp(mode, "header") == 0) {
		a.u.write.mac[3] ^= 0x01;
		memcpy(s->buf + at[mid], &a, sizeof(a));
	} else if (next == n) {
		die("no second WRITE record of the same size");
	} else if (strcmp(mode, "swap") == 0) {
		uint8_t *tmp = malloc(plen);
		memcpy(tmp, s->buf + at[mid] + QZ_DRR_SIZE, plen);
		memcpy(s->buf + at[mid] + QZ_DRR_SIZE, s->buf + at[next] + QZ_DRR_SIZE, plen);
		memcpy(s->buf + at[next] + QZ_DRR_SIZE, tmp, plen);
		free(tmp);
	} else if (strcmp(mode, "reorder") == 0) {
		size_t len = QZ_DRR_SIZE + plen;
		uint8_t *tmp = malloc(len);
		memcpy(tmp, s->buf + at[mid], len);
		memcpy(s->buf + at[mid], s->buf + at[next], len);
		memcpy(s->buf + at[next], tmp, len);
		free(tmp);
	} else {
		die("unknown mode");
	}
	fix_checksums(s, at, n);
}

/* Passes one answer of the store on; a stream sent back (after an OK to S) altered. */
static void answer(int from, int to, char op, const char *mode)
{
	uint8_t head[9];
	if (qz_read_full(from, head, sizeof(head)) != (ssize_t)sizeof(head))
		die("the store went away");
	uint64_t len = qz_get_le(head + 1, 8);
	if (qz_write_full(to, head, sizeof(head)) != 0)
		die("dom0 went away");
	copy(from, to, (size_t)len);
	if (op != QZ_STORE_SEND || head[0] != QZ_STORE_OK)
		return;
	struct stream s = {0};
	if (qz_store_pieces_in(from, -1, keep, &s) != 0)
		die("the store's stream ended badly");
	alter(&s, mode);
	for (size_t off = 0; off < s.len; off += QZ_STORE_PIECE_MAX) {
		size_t n = s.len - off < QZ_STORE_PIECE_MAX ? s.len - off : QZ_STORE_PIECE_MAX;
		uint8_t len4[4];
		qz_put_le(len4, n, 4);
		if (qz_write_full(to, len4, 4) != 0 || qz_write_full(to, s.buf + off, n) != 0)
			die("dom0 went away");
	}
	uint8_t end[4] = {0};
	if (qz_write_full(to, end, 4) != 0)
		die("dom0 went away");
	free(s.buf);
	answer(from, to, 0, mode); /* the store's final answer */
}

int main(int argc, char **argv)
{
	if (argc < 3)
		die("usage: hostile-store payload|header|swap|reorder STORE [ARGS...]");
	signal(SIGPIPE, SIG_IGN);
	int in[2], out[2];
	if (pipe(in) != 0 || pipe(out) != 0)
		die("pipe");
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, in[1]);
	posix_spawn_file_actions_addclose(&fa, out[0]);
	pid_t pid;
	if (posix_spawnp(&pid, argv[2], &fa, NULL, argv + 2, environ) != 0)
		die("cannot start the store");
	close(in[0]);
	close(out[1]);
	for (;;) {
		uint8_t req[2];
		ssize_t got = qz_read_full(STDIN_FILENO, req, 2);
		if (got == 0)
			break;
		if (got != 2 || qz_write_full(in[1], req, 2) != 0)
			die("a request was cut short");
		copy(STDIN_FILENO, in[1], req[1]); /* the name */
		if (req[0] == QZ_STORE_PUT) {
			uint8_t len8[8];
			if (qz_read_full(STDIN_FILENO, len8, 8) != 8 ||
			    qz_write_full(in[1], len8, 8))
				die("a put was cut short");
			copy(STDIN_FILENO, in[1], (size_t)qz_get_le(len8, 8));
		} else if (req[0] == QZ_STORE_RECV) { /* the stream's pieces, the ending one too */
			for (;;) {
				uint8_t len4[4];
				if (qz_read_full(STDIN_FILENO, len4, 4) != 4 ||
				    qz_write_full(in[1], len4, 4) != 0)
					die("a stream was cut short");
				size_t n = (size_t)qz_get_le(len4, 4);
				if (n == 0)
					break;
				copy(STDIN_FILENO, in[1], n);
			}
		}
		answer(out[0], STDOUT_FILENO, (char)req[0], argv[1]);
	}
	close(in[1]);
	int status;
	waitpid(pid, &status, 0);
	return 0;
}
