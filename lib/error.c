/* SPDX-License-Identifier: BSD-2-Clause */
#include "error.h"

#include <errno.h>
#include <string.h>

/* ZFS-specific codes above 1024 (ZFS_ERR_* in sys/fs/zfs.h) */
#define ZFS_ERR_CHECKPOINT_EXISTS 1024

const char *qz_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case ENOENT:
		return "does not exist";
	case EEXIST:
		return "exists already, or other datasets depend on it (children or clones)";
	case EBUSY:
		return "is busy (in use, has snapshots, or is held)";
	case EINVAL:
		return "invalid argument or name";
	case ENAMETOOLONG:
		return "name too long (ZFS names are at most 255 characters)";
	case EACCES:
		return "encryption key not loaded or wrong";
	case ENOSPC:
		return "out of space in the pool";
	case EDQUOT:
		return "quota or reservation exceeded";
	case EXDEV:
		return "not the latest snapshot, or names in different pools";
	case ESRCH:
		return "no such snapshot or hold";
	case ENODEV:
		return "the stream does not apply: its base is not the latest snapshot";
	case ETXTBSY:
		return "the destination changed since its latest snapshot";
	case ENOTSUP:
		return "not supported by this ZFS version or pool";
	case ETIMEDOUT:
		return "timed out waiting for the device";
	case EPIPE:
		return "the stream ended early";
	default:
		if (err >= ZFS_ERR_CHECKPOINT_EXISTS)
			return "ZFS refused the operation (ZFS-specific error)";
		return strerror(err);
	}
}

enum qz_exit qz_exit_code(int err)
{
	switch (err) {
	case 0:
		return QZ_EXIT_OK;
	case ENOENT:
	case ESRCH:
		return QZ_EXIT_NOENT;
	case EEXIST:
		return QZ_EXIT_EXISTS;
	case EBUSY:
		return QZ_EXIT_BUSY;
	case EACCES:
		return QZ_EXIT_ACCESS;
	case ENOSPC:
	case EDQUOT:
		return QZ_EXIT_NOSPACE;
	default:
		return QZ_EXIT_FAIL;
	}
}
