/* SPDX-License-Identifier: BSD-2-Clause */
/* The groups of conformance cases, one file each. */
#ifndef QZFS_CONFORMANCE_CASES_H
#define QZFS_CONFORMANCE_CASES_H

#include "harness.h"

extern const struct CMUnitTest dataset_cases[];
extern const size_t dataset_ncases;
extern const struct CMUnitTest snapshot_cases[];
extern const size_t snapshot_ncases;
extern const struct CMUnitTest crypt_send_cases[];
extern const size_t crypt_send_ncases;

extern const struct CMUnitTest volume_cases[];
extern const size_t volume_ncases;

extern const struct CMUnitTest key_cases[];
extern const size_t key_ncases;

extern const struct CMUnitTest crash_cases[];
extern const size_t crash_ncases;

#endif
