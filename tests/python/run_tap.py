# SPDX-License-Identifier: BSD-2-Clause
"""TAP output for unittest: one line per test, what scripts/test counts. Shared by the Python
tier (tests/python/run.py) and the qubes tier (tests/qubes/run.py)."""

import time
import unittest


class TapResult(unittest.TextTestResult):
    """One TAP line per test."""

    count = 0
    prefix = ""  # put before each test's name (the qubes tier: the Qubes release)

    def startTest(self, test):
        super().startTest(test)
        self.started = time.monotonic()  # for the record only: no test depends on pace

    def _line(self, test, status, note=""):
        TapResult.count += 1
        took = time.monotonic() - getattr(self, "started", time.monotonic())
        print("{} {} - {}{}{}".format(status, TapResult.count, self.prefix,
                                      test.id().split(".", 1)[-1], note),
              flush=True)
        print("# took {:.1f} s".format(took), flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(test, "ok")

    def _explain(self, test, err):
        # the exception first: a log cut short in the middle still shows what went wrong
        print("# {}: {}".format(err[0].__name__, err[1]), flush=True)
        print("# " + self._exc_info_to_string(err, test).replace("\n", "\n# "), flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(test, "not ok")
        self._explain(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._line(test, "not ok")
        self._explain(test, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(test, "ok", " # SKIP " + reason)
