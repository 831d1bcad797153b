# SPDX-License-Identifier: BSD-2-Clause
"""A stand-in for the parts of qubes-core-admin (4.2/4.3) that qubes-storage-zfs uses.

Written for the tests from the documented behaviour of qubesd (see
../../../shared/qubes-storage-contract.md in the workplace, and qubes-core-admin's
`qubes/storage/__init__.py`): the classes, signatures and call order the driver meets in
dom0, and nothing else. It is not qubes-core-admin's code."""
