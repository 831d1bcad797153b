# SPDX-License-Identifier: BSD-2-Clause
"""The exceptions qubesd shows to users."""


class QubesException(Exception):
    """What qubesd reports to the caller of an Admin API method."""


class QubesValueError(QubesException, ValueError):
    """A bad value for a property."""


class QubesVMError(QubesException):
    """Something about one VM went wrong."""

    def __init__(self, vm, msg):
        super().__init__(msg)
        self.vm = vm


class StoragePoolException(QubesException):
    """A storage driver's failure; its message reaches the user."""
