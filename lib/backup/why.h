/* SPDX-License-Identifier: BSD-2-Clause */
/* Reasons for refusals: the backup code explains every "no" in a sentence for the caller. */
#ifndef QZFS_WHY_H
#define QZFS_WHY_H

#include <stddef.h>

/* Writes the formatted reason into why[len] (if why is not NULL) and returns err. */
int qz_why(char *why, size_t len, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
