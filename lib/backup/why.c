/* SPDX-License-Identifier: BSD-2-Clause */
/* See why.h. */
#include "why.h"

#include <stdarg.h>
#include <stdio.h>

int qz_why(char *why, size_t len, int err, const char *fmt, ...)
{
	if (why != NULL && len > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return err;
}
