# SPDX-License-Identifier: BSD-2-Clause
"""Default sizes qubesd gives new volumes."""

defaults = {
    "root_img_size": 20 * 1024**3,
    "private_img_size": 2 * 1024**3,
}
