/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * For backends that wrap another one (profile.c, memo.c): every call of the interface but
 * close and exists, as X(KIND, name, PARAMS, ARGS). PARAMS are the call's parameters, ARGS the
 * same passed on to the wrapped backend, INNER(be), which the includer defines. KIND says what
 * the call does to ZFS: READ (nothing), CHANGE (anything else; SCOPED for the changes of one
 * dataset's line that a VM's start makes), and LIST and OPEN for list and zvol_open (a read, or
 * with write access a change of the volume's data).
 */
#ifndef QZFS_BACKEND_WRAP_H
#define QZFS_BACKEND_WRAP_H

#include "backend.h"

#define QZ_BACKEND_CALLS(X)                                                                        \
	X(SCOPED, create,                                                                          \
	  (qz_backend_t * be, const char *name, enum qz_dstype type, const qz_prop_t *props,       \
	   size_t nprops, const uint8_t *wkey, size_t wkeylen),                                    \
	  (INNER(be), name, type, props, nprops, wkey, wkeylen))                                   \
	X(SCOPED, snapshot,                                                                        \
	  (qz_backend_t * be, const char *const *snaps, size_t n, const qz_prop_t *props,          \
	   size_t nprops),                                                                         \
	  (INNER(be), snaps, n, props, nprops))                                                    \
	X(SCOPED, clone,                                                                           \
	  (qz_backend_t * be, const char *origin, const char *target, const qz_prop_t *props,      \
	   size_t nprops),                                                                         \
	  (INNER(be), origin, target, props, nprops))                                              \
	X(CHANGE, promote, (qz_backend_t * be, const char *clone, char *conflict, size_t len),     \
	  (INNER(be), clone, conflict, len))                                                       \
	X(CHANGE, rename, (qz_backend_t * be, const char *from, const char *to),                   \
	  (INNER(be), from, to))                                                                   \
	X(CHANGE, destroy, (qz_backend_t * be, const char *name), (INNER(be), name))               \
	X(CHANGE, destroy_snaps,                                                                   \
	  (qz_backend_t * be, const char *const *snaps, size_t n, bool defer),                     \
	  (INNER(be), snaps, n, defer))                                                            \
	X(CHANGE, destroy_all,                                                                     \
	  (qz_backend_t * be, const char *const *names, size_t n, bool defer, int *errs),          \
	  (INNER(be), names, n, defer, errs))                                                      \
	X(CHANGE, rollback, (qz_backend_t * be, const char *fs, const char *snap),                 \
	  (INNER(be), fs, snap))                                                                   \
	X(CHANGE, bookmark, (qz_backend_t * be, const char *snap, const char *bm),                 \
	  (INNER(be), snap, bm))                                                                   \
	X(CHANGE, destroy_bookmark, (qz_backend_t * be, const char *bm), (INNER(be), bm))          \
	X(CHANGE, hold, (qz_backend_t * be, const char *snap, const char *tag),                    \
	  (INNER(be), snap, tag))                                                                  \
	X(CHANGE, release, (qz_backend_t * be, const char *snap, const char *tag),                 \
	  (INNER(be), snap, tag))                                                                  \
	X(READ, get_prop,                                                                          \
	  (qz_backend_t * be, const char *name, const char *prop, char *buf, size_t len),          \
	  (INNER(be), name, prop, buf, len))                                                       \
	X(READ, zpool_get,                                                                         \
	  (qz_backend_t * be, const char *zpool, const char *prop, char *buf, size_t len),         \
	  (INNER(be), zpool, prop, buf, len))                                                      \
	X(SCOPED, set_prop,                                                                        \
	  (qz_backend_t * be, const char *name, const char *prop, const char *value),              \
	  (INNER(be), name, prop, value))                                                          \
	X(LIST, list,                                                                              \
	  (qz_backend_t * be, const char *root, int depth, unsigned types,                         \
	   const char *const *props, size_t nprops, qz_list_t *out),                               \
	  (INNER(be), root, depth, types, props, nprops, out))                                     \
	X(CHANGE, load_key,                                                                        \
	  (qz_backend_t * be, const char *root, const uint8_t *wkey, size_t wkeylen, bool noop),   \
	  (INNER(be), root, wkey, wkeylen, noop))                                                  \
	X(CHANGE, unload_key, (qz_backend_t * be, const char *root), (INNER(be), root))            \
	X(CHANGE, change_key,                                                                      \
	  (qz_backend_t * be, const char *root, const qz_prop_t *props, size_t nprops,             \
	   const uint8_t *wkey, size_t wkeylen),                                                   \
	  (INNER(be), root, props, nprops, wkey, wkeylen))                                         \
	X(CHANGE, inherit_key, (qz_backend_t * be, const char *root), (INNER(be), root))           \
	X(READ, send,                                                                              \
	  (qz_backend_t * be, const char *snap, const char *from, int fd, unsigned flags,          \
	   uint64_t obj, uint64_t off),                                                            \
	  (INNER(be), snap, from, fd, flags, obj, off))                                            \
	X(READ, send_space,                                                                        \
	  (qz_backend_t * be, const char *snap, const char *from, unsigned flags,                  \
	   uint64_t *bytes),                                                                       \
	  (INNER(be), snap, from, flags, bytes))                                                   \
	X(CHANGE, receive,                                                                         \
	  (qz_backend_t * be, const char *snap, int fd, bool resumable, bool raw, bool force),     \
	  (INNER(be), snap, fd, resumable, raw, force))                                            \
	X(OPEN, zvol_open, (qz_backend_t * be, const char *vol, int oflags, int *fd),              \
	  (INNER(be), vol, oflags, fd))                                                            \
	X(CHANGE, pool_create,                                                                     \
	  (qz_backend_t * be, const char *pool, const char *const *devices, size_t n),             \
	  (INNER(be), pool, devices, n))                                                           \
	X(READ, zvol_path, (qz_backend_t * be, const char *vol, char *buf, size_t len),            \
	  (INNER(be), vol, buf, len))

/* An ops table's entry for each call, named PREFIX_<call>. */
#define QZ_BACKEND_ENTRY(prefix, KIND, op, PARAMS, ARGS) .op = prefix##_##op,

#endif
