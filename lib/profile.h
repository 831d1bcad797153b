/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Where a qzfs run's time goes, when QZFS_PROFILE names a file: named phases (the volume lock,
 * opening ZFS, each backend call, udev waits), how often each ran and for how long. A run
 * appends one line per phase to the file at its end:
 *     <pid> <command>|<phase> <count> <microseconds>
 * plus the phase "run" (from main's start to the end). Costs nothing when not enabled.
 */
#ifndef QZFS_PROFILE_H
#define QZFS_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

/* Whether profiling is on for this process (QZFS_PROFILE is set and not empty). */
bool qz_prof_enabled(void);
/* A monotonic clock in nanoseconds. */
uint64_t qz_prof_now(void);
/* Adds one occurrence of phase, begun at start (qz_prof_now), ending now. phase is a string
 * that outlives the process's profile (a literal). No-op when profiling is off. */
void qz_prof_since(const char *phase, uint64_t start);
/* Appends the lines for command to QZFS_PROFILE; 0 or errno. The "run" phase is from the
 * process's first qz_prof_now (main calls it at once). */
int qz_prof_write(const char *command);

#endif
