/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: what a fresh dom0 finds on a hostile store with the key alone
 * (qz_backup_discover), and the chains and order it makes of that (qz_backup_chain,
 * qz_backup_order_known). The store starts out holding five genuine backups sealed with the
 * fuzzers' key (a chain of three of one volume, two of them made in the same second; a full
 * backup of another volume with the same guid; a qube's settings); the input is a list of edits
 * the store makes before it answers: objects dropped, bits flipped, sizes lied about, objects
 * copied over others or under other names, objects made up, listed but not held, cut short.
 *
 * Oracles beyond "no crash": a backup found is one of the genuine ones, with its genuine fields,
 * from its genuine header; it is whole only if its genuine trailer is held and every chunk is
 * listed at its size; a backup whose objects are all untouched is found, and found whole; every
 * header-named object is either found or counted unopened; the order is by time and seq counts
 * 1..n; a chain is made of whole backups linked guid to guid within one volume, ends where it was
 * asked for, and is the genuine one when all of it is there; dom0's known order only permutes
 * backups within one second. */
#include "backup.h"
#include "fuzz_key.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK	  QZ_SEAL_MIN_CHUNK
#define NGENUINE  5
#define OBJS_MAX  64
#define BYTES_MAX (2 * QZ_SEAL_FRAMED(CHUNK))

typedef struct object {
	char name[QZ_STORE_NAME_MAX + 1];
	uint8_t *data;
	size_t len;
	uint64_t listed; /* the size the store lists */
	bool held, in_listing, touched;
	int genuine; /* the genuine backup it is an object of, -1 for none */
} object_t;

typedef struct genuine {
	qz_backup_rec_t rec;
	uint8_t hdr[QZ_SEAL_HEADER_MAX], trailer[QZ_SEAL_TRAILER_BYTES];
	size_t hdrlen;
	uint64_t chunk_bytes[2];
	int base; /* the backup it is incremental from, -1 for a full one */
} genuine_t;

static qz_seal_key_t key;
static genuine_t gen[NGENUINE];
static object_t pristine[OBJS_MAX];
static size_t npristine;

static void add_object(object_t *objs, size_t *n, const char *name, const uint8_t *data, size_t len,
		       int genuine)
{
	object_t *o = &objs[(*n)++];
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", name);
	o->data = malloc(len ? len : 1);
	memcpy(o->data, data, len);
	o->len = o->listed = len;
	o->held = o->in_listing = true;
	o->genuine = genuine;
}

/* Seals genuine backup g (chunks: 1 or 2, the last one short) into the pristine store. */
static void make_genuine(int g, const char *volume, uint64_t toguid, uint64_t fromguid,
			 uint64_t created, int chunks, bool document, int base)
{
	genuine_t *b = &gen[g];
	qz_seal_info_t info;
	qz_seal_info_init(&info, QZ_KDF_KEYFILE);
	memset(info.id, 0x10 + g, sizeof(info.id));
	snprintf(info.dataset, sizeof(info.dataset), "%s", volume);
	info.toguid = toguid;
	info.fromguid = fromguid;
	info.created = created;
	info.chunk_size = CHUNK;
	info.document = document;
	qz_sealer_t *s = NULL;
	char why[256];
	if (qz_sealer_new(&info, &key, b->hdr, &b->hdrlen, &s, why, sizeof(why)) != 0)
		__builtin_trap();
	qz_backup_rec_t *r = &b->rec;
	for (size_t i = 0; i < QZ_SEAL_ID_BYTES; i++)
		snprintf(r->id + 2 * i, 3, "%02x", info.id[i]);
	snprintf(r->volume, sizeof(r->volume), "%s", volume);
	r->toguid = toguid;
	r->fromguid = fromguid;
	r->created = created;
	r->chunk_size = CHUNK;
	r->document = document;
	r->chunks = (uint64_t)chunks;
	b->base = base;
	char name[80];
	qz_backup_object(name, sizeof(name), r->id, QZ_BACKUP_HEADER);
	add_object(pristine, &npristine, name, b->hdr, b->hdrlen, g);
	static uint8_t plain[CHUNK], out[QZ_SEAL_FRAMED(CHUNK)];
	for (int c = 0; c < chunks; c++) {
		bool final = c + 1 == chunks;
		size_t len = final ? 100 + (size_t)g : CHUNK, outlen = 0;
		memset(plain, 'a' + g, len);
		if (qz_sealer_chunk(s, plain, len, final, out, &outlen) != 0)
			__builtin_trap();
		r->bytes += len;
		qz_backup_object(name, sizeof(name), r->id, c);
		add_object(pristine, &npristine, name, out, outlen, g);
	}
	if (qz_seal_trailer(b->hdr, b->hdrlen, &key, r->chunks, r->bytes, b->trailer) != 0)
		__builtin_trap();
	qz_backup_object(name, sizeof(name), r->id, QZ_BACKUP_TRAILER);
	add_object(pristine, &npristine, name, b->trailer, sizeof(b->trailer), g);
	qz_sealer_free(s);
}

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN); /* the store's answers to a target dom0 gave up on */
	memcpy(key.k, QZ_FUZZ_KEY, sizeof(key.k));
	make_genuine(0, "tank/vm/a/private", 101, 0, 1000, 2, false, -1);
	make_genuine(1, "tank/vm/a/private", 102, 101, 1000, 1, false, 0);
	make_genuine(2, "tank/vm/a/private", 103, 102, 1001, 2, false, 1);
	make_genuine(3, "tank/vm/b/private", 101, 0, 999, 1, false, -1);
	make_genuine(4, "qube:a", 0, 0, 1002, 1, true, -1);
	for (int g = 0; g < NGENUINE; g++)
		gen[g].rec.seq = (uint64_t)g + 1;
}

/* ---- the hostile store, answering on a thread ---- */

typedef struct store {
	object_t objs[OBJS_MAX];
	size_t n;
	int in, out;
} store_t;

static bool read_all(int fd, void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t r = read(fd, (uint8_t *)buf + got, len - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static void answer(int fd, uint8_t status, const void *data, uint64_t len)
{
	uint8_t head[9] = {status};
	for (int i = 0; i < 8; i++)
		head[1 + i] = (uint8_t)(len >> (8 * i));
	if (write(fd, head, sizeof(head)) != (ssize_t)sizeof(head) ||
	    (len > 0 && write(fd, data, len) != (ssize_t)len))
		return; /* dom0 stopped reading */
}

static void *serve(void *arg)
{
	store_t *s = arg;
	uint8_t op, len;
	char name[QZ_STORE_NAME_MAX + 1];
	static __thread uint8_t listing[OBJS_MAX * (1 + QZ_STORE_NAME_MAX + 8)];
	while (read_all(s->in, &op, 1) && read_all(s->in, &len, 1) && read_all(s->in, name, len)) {
		name[len] = 0;
		if (op == QZ_STORE_LIST) {
			size_t at = 0;
			for (size_t i = 0; i < s->n; i++) {
				if (!s->objs[i].in_listing)
					continue;
				size_t nl = strlen(s->objs[i].name);
				listing[at++] = (uint8_t)nl;
				memcpy(listing + at, s->objs[i].name, nl);
				at += nl;
				for (int b = 0; b < 8; b++)
					listing[at++] = (uint8_t)(s->objs[i].listed >> (8 * b));
			}
			answer(s->out, QZ_STORE_OK, listing, at);
			continue;
		}
		const object_t *o = NULL;
		for (size_t i = 0; i < s->n && o == NULL; i++)
			if (s->objs[i].held && strcmp(s->objs[i].name, name) == 0)
				o = &s->objs[i];
		if (op == QZ_STORE_GET && o != NULL)
			answer(s->out, QZ_STORE_OK, o->data, o->len);
		else if (op == QZ_STORE_GET)
			answer(s->out, QZ_STORE_NOENT, NULL, 0);
		else
			answer(s->out, QZ_STORE_FAILED, "no", 2);
	}
	close(s->out);
	return NULL;
}

/*
 * One store thread serves every execution: it is handed each store through a pipe, and says
 * through another when it is done with it. (A thread per execution made ASan keep about 190
 * bytes for each thread that ever ran: 10 M executions went past libFuzzer's memory limit.)
 */
static int to_server[2], from_server[2];

static void *server(void *arg)
{
	(void)arg;
	store_t *s;
	while (read_all(to_server[0], &s, sizeof(s))) {
		serve(s);
		uint8_t done = 1;
		if (write(from_server[1], &done, 1) != 1)
			__builtin_trap();
	}
	return NULL;
}

static void start_server(void)
{
	pthread_t th;
	if (pipe(to_server) != 0 || pipe(from_server) != 0 ||
	    pthread_create(&th, NULL, server, NULL) != 0 || pthread_detach(th) != 0)
		__builtin_trap();
}

/* ---- the edits ---- */

typedef struct input {
	const uint8_t *p;
	size_t left;
} input_t;

static bool take(input_t *in, void *buf, size_t n)
{
	if (in->left < n)
		return false;
	memcpy(buf, in->p, n);
	in->p += n;
	in->left -= n;
	return true;
}

static void set_data(object_t *o, const uint8_t *data, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, data, len);
	free(o->data);
	o->data = copy;
	o->len = len;
}

/* Applies the edits of in to s (each marks what it touches). */
static void edit(store_t *s, input_t *in)
{
	uint8_t op, a, b;
	while (take(in, &op, 1) && take(in, &a, 1)) {
		object_t *o = &s->objs[a % s->n];
		if (op % 9 != 5)
			o->touched = true;
		switch (op % 9) {
		case 0: /* dropped */
			o->held = o->in_listing = false;
			break;
		case 1: { /* a bit flipped */
			uint16_t at = 0;
			if (take(in, &at, 2) && take(in, &b, 1) && o->len > 0)
				o->data[at % o->len] ^= (uint8_t)(1u << (b % 8));
			break;
		}
		case 2: { /* a size lied about */
			uint64_t size = 0;
			take(in, &size, sizeof(size));
			o->listed = size;
			break;
		}
		case 3: /* another object's bytes */
			if (take(in, &b, 1)) {
				object_t *from = &s->objs[b % s->n];
				set_data(o, from->data, from->len);
			}
			break;
		case 4: /* under another backup's name for the same part */
			if (take(in, &b, 1)) {
				const char *dot = strchr(o->name, '.');
				char name[QZ_STORE_NAME_MAX + 1];
				snprintf(name, sizeof(name), "%s%s", gen[b % NGENUINE].rec.id,
					 dot ? dot : ".h");
				memcpy(o->name, name, sizeof(name));
			}
			break;
		case 5: /* made up: a name and bytes from the input */
			if (s->n < OBJS_MAX && take(in, &b, 1)) {
				uint8_t nl = b % (QZ_STORE_NAME_MAX + 1);
				char name[QZ_STORE_NAME_MAX + 1] = "";
				uint16_t len = 0;
				if (!take(in, name, nl) || !take(in, &len, 2))
					break;
				name[nl] = 0;
				len %= BYTES_MAX;
				if (len > in->left)
					len = (uint16_t)in->left;
				add_object(s->objs, &s->n, name, in->p, len, -1);
				s->objs[s->n - 1].touched = true;
				in->p += len;
				in->left -= len;
			}
			break;
		case 6: /* listed, but not held */
			o->held = false;
			break;
		case 7: /* held, but not listed */
			o->in_listing = false;
			break;
		case 8: /* cut short */
			if (take(in, &b, 1) && o->len > 0)
				o->len = b % o->len;
			break;
		}
	}
}

/* ---- the oracles ---- */

static int genuine_of(const char *id)
{
	for (int g = 0; g < NGENUINE; g++)
		if (strcmp(gen[g].rec.id, id) == 0)
			return g;
	return -1;
}

static const object_t *find(const store_t *s, const char *name, bool listed)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->objs[i].name, name) == 0 &&
		    (listed ? s->objs[i].in_listing : s->objs[i].held))
			return &s->objs[i];
	return NULL;
}

/* Whether every object of genuine backup g is there as it was made (none touched). */
static bool untouched(const store_t *s, int g)
{
	size_t count = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (s->objs[i].genuine != g)
			continue;
		if (s->objs[i].touched)
			return false;
		count++;
	}
	for (size_t i = 0; i < s->n; i++) /* nor shadowed by a made-up object of its name */
		if (s->objs[i].genuine != g && s->objs[i].touched &&
		    strncmp(s->objs[i].name, gen[g].rec.id, QZ_BACKUP_ID_HEX) == 0)
			return false;
	return count == gen[g].rec.chunks + 2;
}

static bool header_named(const char *name)
{
	if (strlen(name) != QZ_BACKUP_ID_HEX + 2 || strcmp(name + QZ_BACKUP_ID_HEX, ".h") != 0)
		return false;
	for (size_t i = 0; i < QZ_BACKUP_ID_HEX; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return true;
}

/* Whether an object dom0 may ask for is larger than it takes (the target is given up on). */
static bool oversized(const store_t *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const object_t *o = &s->objs[i];
		size_t dot = strlen(o->name) > 2 ? strlen(o->name) - 2 : 0;
		if (o->held &&
		    ((strcmp(o->name + dot, ".h") == 0 && o->len > QZ_SEAL_HEADER_MAX) ||
		     (strcmp(o->name + dot, ".e") == 0 && o->len > QZ_SEAL_TRAILER_BYTES)))
			return true;
	}
	return false;
}

/* Whether the listing is malformed: a name no object may have, or one named twice (the target
 * refuses such a listing). */
static bool listing_malformed(const store_t *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->objs[i].in_listing &&
		    !qz_store_name_ok(s->objs[i].name, strlen(s->objs[i].name)))
			return true;
	for (size_t i = 0; i < s->n; i++)
		for (size_t j = i + 1; j < s->n; j++)
			if (s->objs[i].in_listing && s->objs[j].in_listing &&
			    strcmp(s->objs[i].name, s->objs[j].name) == 0)
				return true;
	return false;
}

static void check_found(const store_t *s, const qz_backup_rec_t *all, size_t n, size_t unopened)
{
	size_t headers = 0;
	for (size_t i = 0; i < s->n; i++)
		headers += s->objs[i].in_listing && header_named(s->objs[i].name);
	if (n + unopened != headers)
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		const qz_backup_rec_t *r = &all[i];
		int g = genuine_of(r->id);
		if (g < 0 || r->seq != i + 1)
			__builtin_trap();
		const qz_backup_rec_t *t = &gen[g].rec;
		char name[80];
		qz_backup_object(name, sizeof(name), r->id, QZ_BACKUP_HEADER);
		const object_t *h = find(s, name, false);
		if (h == NULL || h->len != gen[g].hdrlen ||
		    memcmp(h->data, gen[g].hdr, h->len) != 0 || strcmp(r->volume, t->volume) != 0 ||
		    r->toguid != t->toguid || r->fromguid != t->fromguid ||
		    r->created != t->created || r->chunk_size != t->chunk_size ||
		    r->document != t->document || r->raw)
			__builtin_trap();
		for (size_t j = 0; j < i; j++)
			if (strcmp(all[j].id, r->id) == 0 || all[j].created > r->created)
				__builtin_trap();
		if (r->complete) {
			qz_backup_object(name, sizeof(name), r->id, QZ_BACKUP_TRAILER);
			const object_t *e = find(s, name, false);
			if (e == NULL || e->len != sizeof(gen[g].trailer) ||
			    memcmp(e->data, gen[g].trailer, e->len) != 0 ||
			    r->chunks != t->chunks || r->bytes != t->bytes)
				__builtin_trap();
			for (uint64_t c = 0; c < t->chunks; c++) {
				qz_backup_object(name, sizeof(name), r->id, (long)c);
				const object_t *o = find(s, name, true);
				if (o == NULL || o->listed > QZ_SEAL_FRAMED(CHUNK) ||
				    (c + 1 < t->chunks && o->listed != QZ_SEAL_FRAMED(CHUNK)))
					__builtin_trap();
			}
		}
	}
	for (int g = 0; g < NGENUINE; g++) { /* what is untouched is found whole */
		if (!untouched(s, g))
			continue;
		size_t i = 0;
		while (i < n && strcmp(all[i].id, gen[g].rec.id) != 0)
			i++;
		if (i == n || !all[i].complete)
			__builtin_trap();
	}
}

static void check_chains(const store_t *s, const qz_backup_rec_t *all, size_t n)
{
	size_t chain[NGENUINE + OBJS_MAX];
	for (size_t i = 0; i < n; i++) {
		size_t len = qz_backup_chain(all, n, i, chain);
		if (len > n || (len > 0 && (chain[len - 1] != i || all[chain[0]].fromguid != 0)))
			__builtin_trap();
		for (size_t k = 0; k < len; k++) {
			if (!all[chain[k]].complete)
				__builtin_trap();
			for (size_t j = 0; j < k; j++)
				if (chain[j] == chain[k])
					__builtin_trap();
			if (k > 0 && (all[chain[k]].fromguid != all[chain[k - 1]].toguid ||
				      strcmp(all[chain[k]].volume, all[chain[k - 1]].volume) != 0))
				__builtin_trap();
		}
		/* the genuine chain, when all of it is untouched */
		int g = genuine_of(all[i].id);
		size_t want = 0;
		bool whole = true;
		for (int b = g; b >= 0 && whole; b = gen[b].base, want++)
			whole = untouched(s, b);
		if (whole && len != want)
			__builtin_trap();
	}
}

static void check_order_known(qz_backup_rec_t *all, size_t n)
{
	qz_backup_rec_t *before = malloc((n ? n : 1) * sizeof(*before)), known[NGENUINE];
	if (n > 0)
		memcpy(before, all, n * sizeof(*before));
	for (int g = 0; g < NGENUINE; g++)
		known[g] = gen[g].rec;
	qz_backup_order_known(all, n, known, NGENUINE);
	for (size_t i = 0; i < n; i++) {
		if (all[i].seq != i + 1 || all[i].created != before[i].created)
			__builtin_trap(); /* only moved within its second */
		size_t same = 0;
		for (size_t j = 0; j < n; j++)
			same += strcmp(before[j].id, all[i].id) == 0;
		if (same != 1)
			__builtin_trap();
		if (i > 0 && all[i].created == all[i - 1].created &&
		    genuine_of(all[i].id) < genuine_of(all[i - 1].id))
			__builtin_trap(); /* dom0's order within the second */
	}
	free(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		setup();
		start_server();
		ready = true;
	}
	store_t *s = calloc(1, sizeof(*s));
	for (size_t i = 0; i < npristine; i++)
		add_object(s->objs, &s->n, pristine[i].name, pristine[i].data, pristine[i].len,
			   pristine[i].genuine);
	input_t in = {data, size};
	edit(s, &in);
	int req[2], ans[2];
	if (pipe(req) != 0 || pipe(ans) != 0)
		__builtin_trap();
	s->in = req[0];
	s->out = ans[1];
	if (write(to_server[1], &s, sizeof(s)) != (ssize_t)sizeof(s))
		__builtin_trap();
	qz_target_t *t = NULL;
	if (qz_target_over(req[1], ans[0], &t) != 0)
		__builtin_trap();
	qz_open_secret_t secret = {.key = &key};
	qz_backup_rec_t *all = NULL;
	size_t n = 0, unopened = 0;
	char why[300] = "";
	int err = qz_backup_discover(t, &secret, &all, &n, &unopened, why, sizeof(why));
	qz_target_close(t); /* closes req[1] and ans[0]: the store's thread is done with s */
	uint8_t done;
	if (!read_all(from_server[0], &done, 1))
		__builtin_trap();
	close(req[0]);
	if (err != 0 &&
	    (all != NULL || n != 0 || why[0] == 0 || !(listing_malformed(s) || oversized(s))))
		__builtin_trap(); /* only a malformed listing or answer fails discovery */
	if (err == 0) {
		check_found(s, all, n, unopened);
		check_chains(s, all, n);
		check_order_known(all, n);
	}
	free(all);
	for (size_t i = 0; i < s->n; i++)
		free(s->objs[i].data);
	free(s);
	return 0;
}
