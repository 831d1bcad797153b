/* SPDX-License-Identifier: BSD-2-Clause */
/* A backend that times every call of another one into the run's profile (lib/profile.h): what
 * `QZFS_PROFILE` shows as "zfs <call>". It changes nothing else: results, errors and failure
 * details are the inner backend's. */
#include "profile.h"

#include "wrap.h"

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
#define TIMED(KIND, op, PARAMS, ARGS)                                                              \
	static int p_##op PARAMS                                                                   \
	{                                                                                          \
		uint64_t t0 = qz_prof_now();                                                       \
		return done(be, "zfs " #op, t0, INNER(be)->ops->op ARGS);                          \
	}
QZ_BACKEND_CALLS(TIMED)

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

#define P_ENTRY(KIND, op, PARAMS, ARGS) QZ_BACKEND_ENTRY(p, KIND, op, PARAMS, ARGS)
static const struct qz_backend_ops prof_ops = {
    .name = "profiled", .close = p_close, .exists = p_exists, QZ_BACKEND_CALLS(P_ENTRY)};

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
