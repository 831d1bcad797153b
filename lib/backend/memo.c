/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A backend that answers a listing asked for again from memory, as long as nothing has been
 * asked of it since but reads. The engine lists a VM's datasets for each of its volumes and
 * once more for each state it reports; a batch of a VM's volumes (qzfs volume batch) asks for
 * the same listing many times, and in the emulated test VM each costs a quarter of a second.
 *
 * Any call that is not a read (list, exists, get_prop, zpool_get, send, send_space, zvol_path,
 * zvol_open for reading) forgets listings, whether it succeeded or not: every listing, except for
 * the changes a VM's start makes (create, snapshot, clone, set_prop). Those forget only the
 * listings they may alter: a listing of local properties only (local_props) is kept where its root
 * is neither the changed dataset, nor above it, nor below it. So the template a start cloned from
 * is listed once, though the VM's own datasets changed in between. What another process changes
 * meanwhile is not seen, as it would not be by a listing made a moment earlier: the caller holds
 * the locks of the volumes it works on.
 */
#include "wrap.h"
#include "zname.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMO_SLOTS 4

typedef struct memo_entry {
	char *key; /* root, depth, kinds and properties, as one string; NULL: empty slot */
	char *root;
	bool local; /* only local_props listed */
	qz_list_t list;
} memo_entry_t;

/*
 * Properties a change to a dataset alters in no row but the rows of that dataset, its snapshots
 * and (set on it, inherited) its descendants: not "used" or "available" (space, of ancestors and
 * of the zpool), not "clones" (a clone's origin). User properties (with a ':') are local.
 */
static const char *const local_props[] = {"type",   "createtxg",     "creation",   "volsize",
					  "origin", "defer_destroy", "referenced", "guid"};

typedef struct memo_backend {
	qz_backend_t be; /* first: the wrapper is handed out as this */
	qz_backend_t *inner;
	memo_entry_t slots[MEMO_SLOTS];
	unsigned next; /* the slot the next new listing takes */
} memo_backend_t;

#define MEMO(be)  ((memo_backend_t *)(be))
#define INNER(be) (MEMO(be)->inner)

static void drop(memo_entry_t *e)
{
	free(e->key);
	free(e->root);
	e->key = e->root = NULL;
	qz_list_free(&e->list);
}

static void forget(qz_backend_t *be)
{
	for (int i = 0; i < MEMO_SLOTS; i++)
		drop(&MEMO(be)->slots[i]);
}

/* Forgets the listings a change of the n datasets or snapshots names may alter: all but those
 * of local properties whose root is not on the line of any of them (above, below or it). */
static void forget_touching(qz_backend_t *be, const char *const *names, size_t n)
{
	for (int i = 0; i < MEMO_SLOTS; i++) {
		memo_entry_t *e = &MEMO(be)->slots[i];
		for (size_t j = 0; e->key != NULL && j < n; j++)
			if (!e->local || qz_name_within(names[j], e->root) ||
			    qz_name_within(e->root, names[j]))
				drop(e);
	}
}

static bool all_local(const char *const *props, size_t nprops)
{
	for (size_t i = 0; i < nprops; i++) {
		bool local = strchr(props[i], ':') != NULL;
		for (size_t j = 0; !local && j < sizeof(local_props) / sizeof(*local_props); j++)
			local = strcmp(props[i], local_props[j]) == 0;
		if (!local)
			return false;
	}
	return true;
}

/* Copies a listing into *to (empty on failure); 0 or ENOMEM. */
static int copy_list(const qz_list_t *from, qz_list_t *to)
{
	size_t n = from->nrows * from->ncols;
	*to = (qz_list_t){0, from->ncols, NULL};
	if (n == 0)
		return 0;
	if ((to->cells = calloc(n, sizeof(*to->cells))) == NULL)
		return ENOMEM;
	to->nrows = from->nrows;
	for (size_t i = 0; i < n; i++) {
		if (from->cells[i] != NULL && (to->cells[i] = strdup(from->cells[i])) == NULL) {
			qz_list_free(to);
			to->ncols = from->ncols;
			return ENOMEM;
		}
	}
	return 0;
}

/* What identifies a listing; NULL if out of memory. */
static char *list_key(const char *root, int depth, unsigned types, const char *const *props,
		      size_t nprops)
{
	size_t len = (root != NULL ? strlen(root) : 0) + 64;
	for (size_t i = 0; i < nprops; i++)
		len += strlen(props[i]) + 1;
	char *key = malloc(len);
	if (key == NULL)
		return NULL;
	size_t k = (size_t)snprintf(key, len, "%s\n%d\n%u", root != NULL ? root : "", depth, types);
	for (size_t i = 0; i < nprops && k < len; i++)
		k += (size_t)snprintf(key + k, len - k, "\n%s", props[i]);
	return key;
}

static int m_list(qz_backend_t *be, const char *root, int depth, unsigned types,
		  const char *const *props, size_t nprops, qz_list_t *out)
{
	memo_backend_t *m = MEMO(be);
	char *key = list_key(root, depth, types, props, nprops);
	for (int i = 0; key != NULL && i < MEMO_SLOTS; i++) {
		if (m->slots[i].key != NULL && strcmp(m->slots[i].key, key) == 0) {
			free(key);
			return copy_list(&m->slots[i].list, out);
		}
	}
	int err = INNER(be)->ops->list(INNER(be), root, depth, types, props, nprops, out);
	if (err != 0) {
		memcpy(be->detail, INNER(be)->detail, sizeof(be->detail));
		free(key);
		return err;
	}
	memo_entry_t *e = &m->slots[m->next];
	qz_list_t copy;
	char *r = key != NULL ? strdup(root != NULL ? root : "") : NULL;
	if (r != NULL && copy_list(out, &copy) == 0) { /* else just not remembered */
		drop(e);
		/* a listing of every zpool (root NULL) is on every line */
		*e = (memo_entry_t){key, r, root != NULL && all_local(props, nprops), copy};
		m->next = (m->next + 1) % MEMO_SLOTS;
	} else {
		free(key);
		free(r);
	}
	return 0;
}

/* Ends a call passed to the inner backend: its failure detail made ours. */
static int passed(qz_backend_t *be, int err)
{
	if (err != 0)
		memcpy(be->detail, INNER(be)->detail, sizeof(be->detail));
	return err;
}

/* A read, passed on. */
#define MEMO_READ(op, PARAMS, ARGS)                                                                \
	static int m_##op PARAMS                                                                   \
	{                                                                                          \
		return passed(be, INNER(be)->ops->op ARGS);                                        \
	}
/* Anything else: every listing is forgotten, then it is passed on. */
#define MEMO_CHANGE(op, PARAMS, ARGS)                                                              \
	static int m_##op PARAMS                                                                   \
	{                                                                                          \
		forget(be);                                                                        \
		return passed(be, INNER(be)->ops->op ARGS);                                        \
	}
/* A change a start makes: forgets only what it may alter (m_create and the others below). */
#define MEMO_SCOPED(op, PARAMS, ARGS)
#define MEMO_LIST(op, PARAMS, ARGS)	  /* m_list above */
#define MEMO_OPEN(op, PARAMS, ARGS)	  /* m_zvol_open below */
#define MEMO_CALL(KIND, op, PARAMS, ARGS) MEMO_##KIND(op, PARAMS, ARGS)
QZ_BACKEND_CALLS(MEMO_CALL)

static int m_create(qz_backend_t *be, const char *name, enum qz_dstype type, const qz_prop_t *props,
		    size_t nprops, const uint8_t *wkey, size_t wkeylen)
{
	forget_touching(be, &name, 1);
	return passed(be,
		      INNER(be)->ops->create(INNER(be), name, type, props, nprops, wkey, wkeylen));
}

static int m_snapshot(qz_backend_t *be, const char *const *snaps, size_t n, const qz_prop_t *props,
		      size_t nprops)
{
	forget_touching(be, snaps, n);
	return passed(be, INNER(be)->ops->snapshot(INNER(be), snaps, n, props, nprops));
}

/* The origin gains a clone, which no local property shows: only the clone's line is touched. */
static int m_clone(qz_backend_t *be, const char *origin, const char *target, const qz_prop_t *props,
		   size_t nprops)
{
	forget_touching(be, &target, 1);
	return passed(be, INNER(be)->ops->clone(INNER(be), origin, target, props, nprops));
}

static int m_set_prop(qz_backend_t *be, const char *name, const char *prop, const char *value)
{
	forget_touching(be, &name, 1);
	return passed(be, INNER(be)->ops->set_prop(INNER(be), name, prop, value));
}

/* Opened for writing, the volume's usage may change: forgotten too. */
static int m_zvol_open(qz_backend_t *be, const char *vol, int oflags, int *fd)
{
	if ((oflags & O_ACCMODE) != O_RDONLY)
		forget(be);
	return passed(be, INNER(be)->ops->zvol_open(INNER(be), vol, oflags, fd));
}

static bool m_exists(qz_backend_t *be, const char *name)
{
	return INNER(be)->ops->exists(INNER(be), name);
}

static void m_close(qz_backend_t *be)
{
	forget(be);
	qz_backend_close(INNER(be));
	free(be);
}

#define M_ENTRY(KIND, op, PARAMS, ARGS) QZ_BACKEND_ENTRY(m, KIND, op, PARAMS, ARGS)
static const struct qz_backend_ops memo_ops = {
    .name = "memo", .close = m_close, .exists = m_exists, QZ_BACKEND_CALLS(M_ENTRY)};

int qz_backend_memo(qz_backend_t *inner, qz_backend_t **bep)
{
	memo_backend_t *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return ENOMEM;
	m->be.ops = &memo_ops;
	m->inner = inner;
	*bep = &m->be;
	return 0;
}
