/* SPDX-License-Identifier: BSD-2-Clause */
/* A backend that times every call of another one into the run's profile (lib/profile.h): what
 * `QZFS_PROFILE` shows as "zfs <call>". It changes nothing else: results, errors and failure
 * details are the inner backend's. */
#include "profile.h"

#include "backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct prof_backend {
	qz_backend_t be; /* first: the wrapper is handed out as this */
	qz_backend_t *inner;
} prof_backend_t;

#define INNER(be) (((prof_backend_t *)(be))->inner)

/* Ends a timed call: the phase's time, and the inner backend's failure detail made ours. */
static int done(qz_backend_t *be, const char *phase, uint64_t t0, int err)
{
	qz_prof_since(phase, t0);
	if (err != 0)
		memcpy(be->detail, INNER(be)->detail, sizeof(be->detail));
	return err;
}

/* One wrapped call: `op` with parameters PARAMS, called with ARGS (be first). */
#define TIMED(op, PARAMS, ARGS)                                                                    \
	static int p_##op PARAMS                                                                   \
	{                                                                                          \
		uint64_t t0 = qz_prof_now();                                                       \
		return done(be, "zfs " #op, t0, INNER(be)->ops->op ARGS);                          \
	}

TIMED(create,
      (qz_backend_t * be, const char *name, enum qz_dstype type, const qz_prop_t *props,
       size_t nprops, const uint8_t *wkey, size_t wkeylen),
      (INNER(be), name, type, props, nprops, wkey, wkeylen))
TIMED(snapshot,
      (qz_backend_t * be, const char *const *snaps, size_t n, const qz_prop_t *props,
       size_t nprops),
      (INNER(be), snaps, n, props, nprops))
TIMED(clone,
      (qz_backend_t * be, const char *origin, const char *target, const qz_prop_t *props,
       size_t nprops),
      (INNER(be), origin, target, props, nprops))
TIMED(promote, (qz_backend_t * be, const char *clone, char *conflict, size_t len),
      (INNER(be), clone, conflict, len))
TIMED(rename, (qz_backend_t * be, const char *from, const char *to), (INNER(be), from, to))
TIMED(destroy, (qz_backend_t * be, const char *name), (INNER(be), name))
TIMED(destroy_snaps, (qz_backend_t * be, const char *const *snaps, size_t n, bool defer),
      (INNER(be), snaps, n, defer))
TIMED(rollback, (qz_backend_t * be, const char *fs, const char *snap), (INNER(be), fs, snap))
TIMED(bookmark, (qz_backend_t * be, const char *snap, const char *bm), (INNER(be), snap, bm))
TIMED(destroy_bookmark, (qz_backend_t * be, const char *bm), (INNER(be), bm))
TIMED(hold, (qz_backend_t * be, const char *snap, const char *tag), (INNER(be), snap, tag))
TIMED(release, (qz_backend_t * be, const char *snap, const char *tag), (INNER(be), snap, tag))
TIMED(get_prop, (qz_backend_t * be, const char *name, const char *prop, char *buf, size_t len),
      (INNER(be), name, prop, buf, len))
TIMED(zpool_get, (qz_backend_t * be, const char *zpool, const char *prop, char *buf, size_t len),
      (INNER(be), zpool, prop, buf, len))
TIMED(set_prop, (qz_backend_t * be, const char *name, const char *prop, const char *value),
      (INNER(be), name, prop, value))
TIMED(list,
      (qz_backend_t * be, const char *root, int depth, unsigned types, const char *const *props,
       size_t nprops, qz_list_t *out),
      (INNER(be), root, depth, types, props, nprops, out))
TIMED(load_key,
      (qz_backend_t * be, const char *root, const uint8_t *wkey, size_t wkeylen, bool noop),
      (INNER(be), root, wkey, wkeylen, noop))
TIMED(unload_key, (qz_backend_t * be, const char *root), (INNER(be), root))
TIMED(change_key,
      (qz_backend_t * be, const char *root, const qz_prop_t *props, size_t nprops,
       const uint8_t *wkey, size_t wkeylen),
      (INNER(be), root, props, nprops, wkey, wkeylen))
TIMED(inherit_key, (qz_backend_t * be, const char *root), (INNER(be), root))
TIMED(send,
      (qz_backend_t * be, const char *snap, const char *from, int fd, unsigned flags, uint64_t obj,
       uint64_t off),
      (INNER(be), snap, from, fd, flags, obj, off))
TIMED(send_space,
      (qz_backend_t * be, const char *snap, const char *from, unsigned flags, uint64_t *bytes),
      (INNER(be), snap, from, flags, bytes))
TIMED(receive, (qz_backend_t * be, const char *snap, int fd, bool resumable, bool raw, bool force),
      (INNER(be), snap, fd, resumable, raw, force))
TIMED(zvol_open, (qz_backend_t * be, const char *vol, int oflags, int *fd),
      (INNER(be), vol, oflags, fd))
TIMED(pool_create, (qz_backend_t * be, const char *pool, const char *const *devices, size_t n),
      (INNER(be), pool, devices, n))
TIMED(zvol_path, (qz_backend_t * be, const char *vol, char *buf, size_t len),
      (INNER(be), vol, buf, len))

static bool p_exists(qz_backend_t *be, const char *name)
{
	uint64_t t0 = qz_prof_now();
	bool yes = INNER(be)->ops->exists(INNER(be), name);
	qz_prof_since("zfs exists", t0);
	return yes;
}

static void p_close(qz_backend_t *be)
{
	qz_backend_close(INNER(be));
	free(be);
}

static const struct qz_backend_ops prof_ops = {
    .name = "profiled",
    .close = p_close,
    .create = p_create,
    .snapshot = p_snapshot,
    .clone = p_clone,
    .promote = p_promote,
    .rename = p_rename,
    .destroy = p_destroy,
    .destroy_snaps = p_destroy_snaps,
    .rollback = p_rollback,
    .bookmark = p_bookmark,
    .destroy_bookmark = p_destroy_bookmark,
    .hold = p_hold,
    .release = p_release,
    .get_prop = p_get_prop,
    .zpool_get = p_zpool_get,
    .set_prop = p_set_prop,
    .list = p_list,
    .exists = p_exists,
    .load_key = p_load_key,
    .unload_key = p_unload_key,
    .change_key = p_change_key,
    .inherit_key = p_inherit_key,
    .send = p_send,
    .send_space = p_send_space,
    .receive = p_receive,
    .zvol_open = p_zvol_open,
    .pool_create = p_pool_create,
    .zvol_path = p_zvol_path,
};

int qz_backend_profiled(qz_backend_t *inner, qz_backend_t **bep)
{
	prof_backend_t *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return ENOMEM;
	p->be.ops = &prof_ops;
	p->inner = inner;
	*bep = &p->be;
	return 0;
}
