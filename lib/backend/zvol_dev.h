/* SPDX-License-Identifier: BSD-2-Clause */
/* Finding a volume's block device: waiting for udev by events, and checking what a node is. */
#ifndef QZFS_ZVOL_DEV_H
#define QZFS_ZVOL_DEV_H

#include <stddef.h>

/* Waits until path exists, watching its nearest existing parent with inotify, at most
 * timeout_ms milliseconds. Returns 0, ETIMEDOUT, or an errno. */
int qz_wait_path(const char *path, int timeout_ms);
/* Opens path once it is the block device of ZFS volume vol (udev moves links some time after a
 * rename) and ZFS lets it be opened, waiting at most timeout_ms; ETIMEDOUT if it never is, EBUSY
 * if ZFS still refused the open as busy when the time was up. */
int qz_zvol_wait_open(const char *path, const char *vol, int oflags, int timeout_ms, int *fdp);
/* Finds the kernel's node /dev/zdN of ZFS volume vol without udev's links (checked with the
 * zvol's own ioctl) and opens it; ENOENT if there is none. */
int qz_zvol_find_node(const char *vol, int oflags, char *path, size_t len, int *fdp);
/* Waits until udev has handled every device event so far (`udevadm settle`, which waits on
 * udev's queue, not on a clock). Returns 0, or an errno if udev cannot be asked or gave up. */
int qz_udev_settle(void);
/* Stores the name of the ZFS volume whose block device is open as fd; ENODEV if it is none. */
int qz_zvol_name(int fd, char *buf, size_t len);
/* Returns 0 if the block device open as fd is the ZFS volume vol, else ENODEV. */
int qz_zvol_check(int fd, const char *vol);

#endif
