# SPDX-License-Identifier: BSD-2-Clause
"""Runs the real qubesd (qubes.tools.qubesd.main, unmodified) in offline mode, with the few
accommodations a machine without Xen and libvirt needs. Each one stands in for something outside
storage; none is on the path of a storage call (see README.md beside this file).

    python3 qubesd_offline.py [qubesd's arguments]   (the harness adds --offline-mode)
"""

import asyncio
import sys

import qubes.app
import qubes.tools.qubesd


def _no_libvirt_events(self, old_connection=None):  # pylint: disable=unused-argument
    """qubesd registers libvirt's domain events at start; offline mode has no libvirt to ask.
    No VM ever runs here, so there is no event to miss."""
    if not self.vmm.offline_mode:
        raise RuntimeError("qubesd_offline.py runs qubesd in offline mode only")


qubes.app.Qubes.register_event_handlers = _no_libvirt_events

# 4.3's SIGTERM handler calls Server.close_clients(), new in Python 3.13; on 3.11 the clients'
# connections are closed when the loop stops, as 4.2's handler leaves them.
if not hasattr(asyncio.base_events.Server, "close_clients"):
    asyncio.base_events.Server.close_clients = lambda self: None

if __name__ == "__main__":
    sys.exit(qubes.tools.qubesd.main(sys.argv[1:]))
