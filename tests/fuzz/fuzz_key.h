/* SPDX-License-Identifier: BSD-2-Clause */
/* The fuzzers' fixed container key: not a secret, only so that seeds sealed with it open. */
#ifndef QZFS_FUZZ_KEY_H
#define QZFS_FUZZ_KEY_H

#define QZ_FUZZ_KEY "qzfs fuzzing key, not a secret!!" /* 32 bytes */
#define QZ_FUZZ_KEY_HEX "717a66732066757a7a696e67206b65792c206e6f742061207365637265742121"

#endif
