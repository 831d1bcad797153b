/* SPDX-License-Identifier: BSD-2-Clause */
/* qzfs udev ...: what the udev rule asks, to keep our zvols away from dom0's device handling. */
#include "cli.h"
#include "engine.h"
#include "error.h"
#include "zname.h"
#include "zvol_dev.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Prints 1 when the device is a zvol of a qubes-storage-zfs pool (any dataset we marked) or
 * cannot be told apart (hiding is the safe side), 0 for a zvol of someone else. */
static int cmd_is_ours(qz_cli_t *cli, int argc, char **argv)
{
	if (argc != 1)
		return qz_cli_usage(cli, "name the device node (/dev/zdN)");
	char name[QZ_NAME_MAX], role[64] = "-";
	int fd = open(argv[0], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	bool known = fd >= 0 && qz_zvol_name(fd, name, sizeof(name)) == 0 &&
		     cli->be->ops->get_prop(cli->be, name, QZ_ROLE_PROP, role, sizeof(role)) == 0;
	if (fd >= 0)
		close(fd);
	printf("%d\n", !known || strcmp(role, "-") != 0);
	return QZ_EXIT_OK;
}

const qz_cmd_t qz_udev_cmds[] = {
    {"is-ours", cmd_is_ours, "DEVICE",
     "1 if a zvol belongs to a Qubes pool (or is unknown), else 0", NULL, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
