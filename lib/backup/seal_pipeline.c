/* SPDX-License-Identifier: BSD-2-Clause */
/* Sealing a stream on several threads (see seal_pipeline.h).
 *
 * Chunk i lives in slot i % nslots, so the slots are used in order like a ring. A slot goes
 * FREE -> READING (the reader fills it; it holds a full chunk until the next read tells whether
 * it was the last) -> FILLED -> SEALING (a sealer took it) -> SEALED -> FREE (handed on by the
 * caller's thread). One mutex and one condition guard all of it: they are taken a few times per
 * chunk of megabytes. */
#include "seal_pipeline.h"

#include "fdio.h"
#include "why.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 4

enum slot_state { FREE, READING, FILLED, SEALING, SEALED };

struct slot {
	uint8_t *buf; /* QZ_SEAL_FRAMED(chunk size): the plaintext at QZ_SEAL_PLAIN_AT */
	size_t len;   /* of the plaintext */
	size_t framed;
	uint64_t index;
	bool final;
	enum slot_state state;
	uint8_t print[QZ_SEAL_PRINT_BYTES];
};

struct pipeline {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot *slots;
	size_t nslots, cs;
	qz_sealer_t *s;
	uint64_t from;	    /* chunks stored before: printed only */
	uint64_t filled;    /* chunks the reader passed on */
	uint64_t next_seal; /* the next chunk for a sealer */
	bool read_done;	    /* the reader passed on its last chunk, or failed */
	int read_err;
	bool stop; /* the caller's thread gave up */
	int in, cancel[2];
};

static void publish(struct pipeline *p, struct slot *sl, bool final)
{
	sl->final = final;
	sl->state = FILLED;
	p->filled++;
	pthread_cond_broadcast(&p->cv);
}

/* The reader: fills the slots in order. A full chunk is held until the next read says whether
 * more follows. */
static void *reader(void *arg)
{
	struct pipeline *p = arg;
	struct slot *held = NULL;
	pthread_mutex_lock(&p->mu);
	for (uint64_t i = 0;; i++) {
		struct slot *sl = &p->slots[i % p->nslots];
		while (sl->state != FREE && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		sl->state = READING;
		pthread_mutex_unlock(&p->mu);
		ssize_t n =
		    qz_read_cancellable(p->in, sl->buf + QZ_SEAL_PLAIN_AT, p->cs, p->cancel[0]);
		int err = n < 0 ? errno : 0;
		pthread_mutex_lock(&p->mu);
		if (n < 0) {
			p->read_err = err ? err : EIO;
			break;
		}
		sl->len = (size_t)n;
		sl->index = i;
		if (held != NULL)
			publish(p, held, n == 0);
		held = NULL;
		if (n == 0 && i > 0) { /* the chunk before was the last */
			sl->state = FREE;
			break;
		}
		if ((size_t)n < p->cs) { /* the last chunk (or an empty stream's only one) */
			publish(p, sl, true);
			break;
		}
		held = sl;
	}
	p->read_done = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* A sealer: seals (or, before p->from, prints) the next filled chunk, in any order with the
 * others. */
static void *sealer(void *arg)
{
	struct pipeline *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->next_seal >= p->filled && !p->read_done)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop || p->next_seal >= p->filled)
			break;
		struct slot *sl = &p->slots[p->next_seal++ % p->nslots];
		sl->state = SEALING;
		pthread_mutex_unlock(&p->mu);
		if (sl->index < p->from)
			qz_sealer_print(p->s, sl->index, sl->buf + QZ_SEAL_PLAIN_AT, sl->len,
					sl->final, sl->print);
		else
			(void)qz_sealer_seal(p->s, sl->index, sl->buf, sl->len, sl->final,
					     &sl->framed, sl->print); /* the reader sized it */
		pthread_mutex_lock(&p->mu);
		sl->state = SEALED;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Waits for chunk i sealed: its slot, or NULL once the stream ended before it (or could not be
 * read: *err). */
static struct slot *wait_sealed(struct pipeline *p, uint64_t i, int *err)
{
	struct slot *sl = &p->slots[i % p->nslots];
	pthread_mutex_lock(&p->mu);
	while (!(sl->state == SEALED && sl->index == i) && !(p->read_done && i >= p->filled))
		pthread_cond_wait(&p->cv, &p->mu);
	bool there = sl->state == SEALED && sl->index == i;
	*err = p->read_err;
	pthread_mutex_unlock(&p->mu);
	return there ? sl : NULL;
}

static void release(struct pipeline *p, struct slot *sl)
{
	pthread_mutex_lock(&p->mu);
	sl->state = FREE;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* The caller's thread: checks the printed chunks against the sealer's chain, then hands each
 * sealed chunk to put, in order, until the final one. */
static int hand_on(struct pipeline *p, qz_seal_put_fn put, void *ctx, char *why, size_t whylen)
{
	uint8_t chain[QZ_SEAL_CHAIN_BYTES] = {0};
	for (uint64_t i = 0;; i++) {
		int rerr = 0;
		struct slot *sl = wait_sealed(p, i, &rerr);
		if (sl == NULL && rerr != 0)
			return qz_why(why, whylen, rerr, "cannot read the stream: %s",
				      strerror(rerr));
		if (sl == NULL) /* the reader always ends with a final chunk or an error */
			return qz_why(why, whylen, EIO, "the stream ended without its last chunk");
		int err = 0;
		bool final = sl->final;
		if (i < p->from) {
			qz_seal_chain(chain, sl->print);
			if (i + 1 == p->from && !qz_sealer_chain_is(p->s, chain))
				err = qz_why(why, whylen, ESTALE, "the stream differs from before");
			else if (final && i + 1 < p->from)
				err = qz_why(why, whylen, ESTALE,
					     "the stream is shorter than before");
		} else if ((err = qz_sealer_advance(p->s, sl->print, final)) != 0) {
			qz_why(why, whylen, err, "the stream goes on after its last chunk");
		} else {
			err = put(ctx, sl->buf, sl->framed, sl->len);
		}
		release(p, sl);
		if (err != 0 || final)
			return err;
	}
}

static unsigned thread_count(unsigned threads)
{
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n < 1 ? 1 : (unsigned)n;
	}
	return threads > MAX_THREADS ? MAX_THREADS : threads;
}

int qz_seal_chunks(int in, qz_sealer_t *s, unsigned threads, qz_seal_put_fn put, void *ctx,
		   char *why, size_t whylen)
{
	unsigned nt = thread_count(threads);
	struct pipeline p = {.cs = qz_sealer_info(s)->chunk_size,
			     .s = s,
			     .from = qz_sealer_index(s),
			     .in = in,
			     .nslots = nt + 3}; /* the reader holds two, put one */
	pthread_t reader_id, sealer_id[MAX_THREADS];
	unsigned started = 0;
	bool reading = false;
	int err = 0;
	if (pipe2(p.cancel, O_CLOEXEC) != 0)
		return qz_why(why, whylen, errno, "pipe: %s", strerror(errno));
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	p.slots = calloc(p.nslots, sizeof(*p.slots));
	for (size_t i = 0; p.slots != NULL && i < p.nslots && err == 0; i++)
		if ((p.slots[i].buf = malloc(QZ_SEAL_FRAMED(p.cs))) == NULL)
			err = ENOMEM;
	if (p.slots == NULL || err != 0)
		err = qz_why(why, whylen, ENOMEM, "out of memory");
	if (err == 0 && (err = pthread_create(&reader_id, NULL, reader, &p)) == 0)
		reading = true;
	while (err == 0 && started < nt &&
	       (err = pthread_create(&sealer_id[started], NULL, sealer, &p)) == 0)
		started++;
	if (err != 0 && why != NULL && why[0] == 0)
		qz_why(why, whylen, err, "cannot start a thread: %s", strerror(err));
	if (err == 0)
		err = hand_on(&p, put, ctx, why, whylen);
	pthread_mutex_lock(&p.mu);
	p.stop = true;
	pthread_cond_broadcast(&p.cv);
	pthread_mutex_unlock(&p.mu);
	ssize_t w = write(p.cancel[1], "x", 1); /* wakes a reader waiting for input */
	(void)w;
	if (reading)
		pthread_join(reader_id, NULL);
	while (started > 0)
		pthread_join(sealer_id[--started], NULL);
	for (size_t i = 0; p.slots != NULL && i < p.nslots; i++) {
		if (p.slots[i].buf != NULL)
			sodium_memzero(p.slots[i].buf, QZ_SEAL_FRAMED(p.cs));
		free(p.slots[i].buf);
	}
	free(p.slots);
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv);
	close(p.cancel[0]);
	close(p.cancel[1]);
	return err;
}
