# SPDX-License-Identifier: BSD-2-Clause
"""Runs the release's `qvm-*` clients for the harness, each in a process forked from this one,
which has imported them once. In the emulated test VM a client's Python start-up and imports
(qubesadmin, argparse, the tool) take over a second, most of a short client's time; a fork of
a process that has them costs a small part of it. The client's own code runs unchanged: its
`main()` as its console script calls it, with its arguments, its stdin, stdout and stderr, in a
process of its own whose exit status is the client's.

It reads one request a line on stdin (JSON: {"module", "prog", "args", "stdin", "stdout",
"stderr"}, the three streams as file paths; "module" "-c" runs the code in args[0] as
`python3 -c` would) and answers each with {"rc": N} once the client has exited. One client at a
time: the harness runs them one after the other."""

import importlib
import json
import os
import sys
import traceback


def exit_status(code):
    """What sys.exit(code) makes of code, as the interpreter does."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def run_client(request, modules):
    """In the forked child: the client's streams, argv and main; never returns."""
    rc = 1
    try:
        for fd, (key, mode) in enumerate((("stdin", os.O_RDONLY),
                                          ("stdout", os.O_WRONLY | os.O_TRUNC),
                                          ("stderr", os.O_WRONLY | os.O_TRUNC))):
            new = os.open(request[key], mode)
            os.dup2(new, fd)
            os.close(new)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # pylint: disable=consider-using-with
        sys.argv = [request["prog"], *request["args"]]
        try:
            if request["module"] == "-c":
                sys.argv = ["-c", *request["args"][1:]]
                code = compile(request["args"][0], "<string>", "exec")
                exec(code, {"__name__": "__main__"})  # pylint: disable=exec-used
                rc = 0
            else:
                rc = exit_status(modules[request["module"]].main(request["args"]))
        except SystemExit as exc:
            rc = exit_status(exc.code)
        except BaseException:  # pylint: disable=broad-except
            traceback.print_exc()
            rc = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc)  # pylint: disable=protected-access


def main():
    modules = {}
    for prog, module in (arg.split("=", 1) for arg in sys.argv[1:]):
        sys.argv[0] = prog  # each tool's parser takes its name from it, at import
        modules[module] = importlib.import_module(module)
    requests = sys.stdin
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # nothing of a client can reach the answers by accident
    answers.write("ready\n")
    answers.flush()
    for line in requests:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            answers.close()
            run_client(request, modules)
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps({"rc": os.waitstatus_to_exitcode(status)}) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
