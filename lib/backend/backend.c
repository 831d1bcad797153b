/* SPDX-License-Identifier: BSD-2-Clause */
/* What both backends share: opening by kind, failure details, listings. */
#include "backend.h"

#include "profile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int open_kind(const char *kind, const char *model_pool, qz_backend_t **bep)
{
	if (kind == NULL || strcmp(kind, "real") == 0)
		return qz_backend_real_open(bep);
	if (model_pool == NULL)
		model_pool = "tank";
	if (strcmp(kind, "model") == 0)
		return qz_backend_model_open(bep, model_pool, NULL);
	if (strncmp(kind, "model:", 6) == 0 && kind[6] != '\0')
		return qz_backend_model_open(bep, model_pool, kind + 6);
	return EINVAL;
}

int qz_backend_open(const char *kind, const char *model_pool, qz_backend_t **bep)
{
	uint64_t t0 = qz_prof_now();
	int err = open_kind(kind, model_pool, bep);
	qz_prof_since("zfs open", t0);
	if (err != 0)
		return err;
	qz_backend_t *inner = *bep;
	if (qz_prof_enabled() && (err = qz_backend_profiled(inner, bep)) != 0) {
		qz_backend_close(inner);
		return err;
	}
	inner = *bep;
	if ((err = qz_backend_memo(inner, bep)) != 0)
		qz_backend_close(inner);
	return err;
}

void qz_backend_close(qz_backend_t *be)
{
	if (be != NULL)
		be->ops->close(be);
}

const char *qz_be_detail(const qz_backend_t *be)
{
	return be->detail;
}

int qz_be_fail(qz_backend_t *be, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(be->detail, sizeof(be->detail), fmt, ap);
	va_end(ap);
	return err;
}

int qz_be_destroy_each(qz_backend_t *be, const char *const *names, size_t n, bool defer, int *errs)
{
	for (size_t i = 0; i < n; i++)
		errs[i] = strchr(names[i], '@') != NULL
			      ? be->ops->destroy_snaps(be, &names[i], 1, defer)
			      : be->ops->destroy(be, names[i]);
	for (bool progress = true; progress;) { /* again while one going let another go */
		progress = false;
		for (size_t i = 0; i < n; i++)
			if (strchr(names[i], '@') == NULL &&
			    (errs[i] == EBUSY || errs[i] == EEXIST))
				progress |= (errs[i] = be->ops->destroy(be, names[i])) == 0;
	}
	return 0;
}

const char *qz_list_cell(const qz_list_t *l, size_t row, size_t col)
{
	if (row >= l->nrows || col >= l->ncols)
		return NULL;
	return l->cells[row * l->ncols + col];
}

long qz_list_find(const qz_list_t *l, const char *name)
{
	for (size_t r = 0; r < l->nrows; r++)
		if (strcmp(l->cells[r * l->ncols], name) == 0)
			return (long)r;
	return -1;
}

void qz_list_free(qz_list_t *l)
{
	if (l->cells != NULL)
		for (size_t i = 0; i < l->nrows * l->ncols; i++)
			free(l->cells[i]);
	free(l->cells);
	l->cells = NULL;
	l->nrows = 0;
}
