/* SPDX-License-Identifier: BSD-2-Clause */
/* What a target holds: its objects' names, what dom0 can prove of them with the key alone (a
 * fresh dom0 has no records), and the chains that restore it (see backup.h). */
#include "backup.h"
#include "why.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qz_backup_object(char *buf, size_t len, const char *id, long chunk)
{
	if (chunk == QZ_BACKUP_HEADER)
		snprintf(buf, len, "%s.h", id);
	else if (chunk == QZ_BACKUP_TRAILER)
		snprintf(buf, len, "%s.e", id);
	else
		snprintf(buf, len, "%s.c%08lx", id, (unsigned long)chunk & 0xffffffffUL);
}

/* Whether name is "<id>.h" for a well-formed id (copied to id). */
static bool header_object(const char *name, char id[QZ_BACKUP_ID_HEX + 1])
{
	if (strlen(name) != QZ_BACKUP_ID_HEX + 2 || strcmp(name + QZ_BACKUP_ID_HEX, ".h") != 0)
		return false;
	for (size_t i = 0; i < QZ_BACKUP_ID_HEX; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	memcpy(id, name, QZ_BACKUP_ID_HEX);
	id[QZ_BACKUP_ID_HEX] = 0;
	return true;
}

/* The size the target lists for object name, or UINT64_MAX if it lists none (e is sorted). */
static uint64_t listed(const qz_target_entry_t *e, size_t ne, const char *name)
{
	size_t lo = 0, hi = ne;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(e[mid].name, name);
		if (c == 0)
			return e[mid].size;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return UINT64_MAX;
}

bool qz_backup_listed_whole(const qz_target_entry_t *e, size_t ne, const char *id, uint64_t chunks,
			    uint32_t chunk_size, bool last_short)
{
	char name[80];
	uint64_t full = (uint64_t)chunk_size + QZ_SEAL_ABYTES + 4;
	qz_backup_object(name, sizeof(name), id, QZ_BACKUP_HEADER);
	bool all = listed(e, ne, name) != UINT64_MAX;
	for (uint64_t c = 0; c < chunks && all; c++) {
		qz_backup_object(name, sizeof(name), id, (long)c);
		uint64_t size = listed(e, ne, name);
		all = size == full || (last_short && c + 1 == chunks && size < full);
	}
	return all;
}

/* The master key for a header: the key file's, or the passphrase's with the header's salt and
 * limits (derived once per distinct salt and limits: a run's backups share them). */
struct keys {
	const qz_open_secret_t *secret;
	qz_seal_key_t *derived;
	qz_seal_info_t params; /* what derived was derived with */
};

static int key_for(struct keys *k, const qz_seal_info_t *info, const qz_seal_key_t **key, char *why,
		   size_t whylen)
{
	if (k->secret->key != NULL) {
		*key = k->secret->key;
		return 0;
	}
	if (k->derived == NULL || info->opslimit != k->params.opslimit ||
	    info->memlimit != k->params.memlimit ||
	    memcmp(info->salt, k->params.salt, sizeof(info->salt)) != 0) {
		qz_seal_key_free(k->derived);
		k->derived = NULL;
		int err = qz_seal_key_derive(k->secret->pass, k->secret->passlen, info, &k->derived,
					     why, whylen);
		if (err != 0)
			return err;
		k->params = *info;
	}
	*key = k->derived;
	return 0;
}

/* Reads backup id's header and trailer from t into r: *opened is false if its header does not
 * open (or is listed but not held). An error only when the target itself fails (a malformed or
 * oversized answer: it is not asked again), with the reason in why. */
static int find_one(qz_target_t *t, struct keys *k, const char *id, const qz_target_entry_t *e,
		    size_t ne, qz_backup_rec_t *r, bool *opened, char *why, size_t whylen)
{
	uint8_t hdr[QZ_SEAL_HEADER_MAX], trailer[QZ_SEAL_TRAILER_BYTES];
	size_t hdrlen = 0, tlen = 0;
	char name[80], ignored[300];
	qz_seal_info_t info;
	const qz_seal_key_t *key = NULL;
	qz_opener_t *o = NULL;
	*opened = false;
	qz_backup_object(name, sizeof(name), id, QZ_BACKUP_HEADER);
	int err = qz_target_get(t, name, hdr, sizeof(hdr), &hdrlen, why, whylen);
	if (err != 0)
		return err == ENOENT ? 0 : err;
	if (qz_seal_header_parse(hdr, hdrlen, &info, ignored, sizeof(ignored)) != 0)
		return 0;
	if ((err = key_for(k, &info, &key, why, whylen)) != 0)
		return err == EINVAL ? 0 : err; /* sealed with a key file: not one of ours */
	if (qz_opener_new(hdr, hdrlen, key, &o, ignored, sizeof(ignored)) != 0)
		return 0;
	info = *qz_opener_info(o);
	qz_opener_free(o);
	char hex[QZ_BACKUP_ID_HEX + 1];
	for (size_t i = 0; i < QZ_SEAL_ID_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", info.id[i]);
	if (strcmp(hex, id) != 0)
		return 0; /* another backup's header, under this one's name */
	*opened = true;
	memset(r, 0, sizeof(*r));
	strcpy(r->id, id);
	snprintf(r->volume, sizeof(r->volume), "%s", info.dataset);
	r->toguid = info.toguid;
	r->fromguid = info.fromguid;
	r->created = info.created;
	r->chunk_size = info.chunk_size;
	r->raw = info.raw;
	r->document = info.document;
	/* whole: the trailer opens, and every chunk it counts is listed, whole but the last */
	uint64_t chunks = 0, bytes = 0;
	qz_backup_object(name, sizeof(name), id, QZ_BACKUP_TRAILER);
	if (listed(e, ne, name) != QZ_SEAL_TRAILER_BYTES)
		return 0; /* unfinished, as far as dom0 can tell */
	err = qz_target_get(t, name, trailer, sizeof(trailer), &tlen, why, whylen);
	if (err != 0)
		return err == ENOENT ? 0 : err;
	if (qz_seal_trailer_open(hdr, hdrlen, key, trailer, tlen, &chunks, &bytes, NULL, 0) != 0)
		return 0;
	r->complete =
	    chunks > 0 && qz_backup_listed_whole(e, ne, id, chunks, info.chunk_size, true);
	r->chunks = chunks;
	r->bytes = bytes;
	return 0;
}

/* Backups in the order they were made: by time (whole seconds), and within one second, an
 * incremental after the backup it is made from (its depth in its chain is one more). */
struct ordered {
	qz_backup_rec_t r;
	uint64_t depth;
};

static int by_time(const void *a, const void *b)
{
	const struct ordered *x = a, *y = b;
	if (x->r.created != y->r.created)
		return x->r.created < y->r.created ? -1 : 1;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return strcmp(x->r.id, y->r.id);
}

/* Sorts all[0..n) in the order the backups were made. */
static int sort_by_time(qz_backup_rec_t *all, size_t n)
{
	struct ordered *o = calloc(n, sizeof(*o));
	size_t *pred = calloc(n, sizeof(*pred));
	if (o == NULL || pred == NULL) {
		free(o);
		free(pred);
		return ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		o[i].r = all[i];
		pred[i] = n;
		for (size_t j = 0; j < n && all[i].fromguid != 0; j++)
			if (all[j].toguid == all[i].fromguid &&
			    strcmp(all[j].volume, all[i].volume) == 0)
				pred[i] = j;
	}
	for (size_t i = 0; i < n; i++) /* bounded: a cycle of guids cannot loop */
		for (size_t j = pred[i], steps = 0; j != n && steps < n; j = pred[j], steps++)
			o[i].depth++;
	qsort(o, n, sizeof(*o), by_time);
	for (size_t i = 0; i < n; i++)
		all[i] = o[i].r;
	free(o);
	free(pred);
	return 0;
}

int qz_backup_discover(qz_target_t *t, const qz_open_secret_t *secret, qz_backup_rec_t **out,
		       size_t *n, size_t *unopened, char *why, size_t whylen)
{
	*out = NULL;
	*n = 0;
	*unopened = 0;
	qz_target_entry_t *e = NULL;
	size_t ne = 0;
	int err = qz_target_list(t, &e, &ne, why, whylen);
	if (err != 0)
		return err;
	struct keys k;
	memset(&k, 0, sizeof(k));
	k.secret = secret;
	for (size_t i = 0; i < ne && err == 0; i++) {
		char id[QZ_BACKUP_ID_HEX + 1];
		if (!header_object(e[i].name, id))
			continue;
		qz_backup_rec_t r;
		bool opened = false;
		if ((err = find_one(t, &k, id, e, ne, &r, &opened, why, whylen)) != 0)
			break;
		if (!opened) {
			(*unopened)++;
			continue;
		}
		qz_backup_rec_t *bigger = realloc(*out, (*n + 1) * sizeof(**out));
		if (bigger == NULL) {
			err = qz_why(why, whylen, ENOMEM, "out of memory");
			break;
		}
		*out = bigger;
		(*out)[(*n)++] = r;
	}
	qz_seal_key_free(k.derived);
	free(e);
	if (err != 0) {
		free(*out);
		*out = NULL;
		*n = 0;
		return err;
	}
	if (*n > 1 && sort_by_time(*out, *n) != 0) {
		free(*out);
		*out = NULL;
		*n = 0;
		return qz_why(why, whylen, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < *n; i++)
		(*out)[i].seq = i + 1;
	return 0;
}

/* dom0's seq of backup id in known[0..n), 0 if it has no record of it. */
static uint64_t known_seq(const qz_backup_rec_t *known, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(known[i].id, id) == 0)
			return known[i].seq;
	return 0;
}

void qz_backup_order_known(qz_backup_rec_t *all, size_t n, const qz_backup_rec_t *known,
			   size_t nknown)
{
	for (size_t a = 0, b; a < n; a = b) {
		for (b = a + 1; b < n && all[b].created == all[a].created; b++)
			;
		/* within the second [a, b): the known ones, in their places, sorted by dom0's seq
		 * (a run of at most a few: insertion sort) */
		for (size_t i = a; i < b; i++) {
			uint64_t si = known_seq(known, nknown, all[i].id);
			if (si == 0)
				continue;
			for (size_t j = i + 1; j < b; j++) {
				uint64_t sj = known_seq(known, nknown, all[j].id);
				if (sj != 0 && sj < si) {
					qz_backup_rec_t t = all[i];
					all[i] = all[j];
					all[j] = t;
					si = sj;
				}
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		all[i].seq = i + 1;
}

size_t qz_backup_chain(const qz_backup_rec_t *all, size_t n, size_t i, size_t *chain)
{
	size_t len = 0;
	for (;;) {
		if (!all[i].complete || len == n)
			return 0;
		chain[len++] = i;
		if (all[i].fromguid == 0)
			break;
		size_t best = n; /* the newest whole backup of that snapshot */
		for (size_t j = 0; j < n; j++)
			if (all[j].complete && all[j].toguid == all[i].fromguid &&
			    strcmp(all[j].volume, all[i].volume) == 0 &&
			    (best == n || all[j].created >= all[best].created))
				best = j;
		if (best == n)
			return 0;
		i = best;
	}
	for (size_t a = 0, b = len - 1; a < b; a++, b--) {
		size_t x = chain[a];
		chain[a] = chain[b];
		chain[b] = x;
	}
	return len;
}

size_t qz_backup_chain_for(const qz_backup_rec_t *all, size_t n, const char *volume, const char *id,
			   size_t *chain)
{
	for (size_t i = n; i-- > 0;) {
		if (id != NULL ? strcmp(all[i].id, id) == 0 : strcmp(all[i].volume, volume) == 0) {
			size_t len = qz_backup_chain(all, n, i, chain);
			if (len > 0 || id != NULL)
				return len;
		}
	}
	return 0;
}
