"""Helpers of the hostile-input tests: run the CLI and check it ends cleanly (exit 0 or 2, one line, no traceback).

:func:`cli` runs in process (for cases that cannot block); :func:`cli_forked` in a forked child killed after a
timeout (for cases that could: FIFOs, devices), cheaper than a new interpreter.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

import pytest

from sim.cli import main


def cli(capsys, *args: str) -> tuple[int, str]:
    """Run the CLI in process; the exit code must be 0 or 2 and stderr one line at most, no traceback."""
    rc = main(list(args))
    err = capsys.readouterr().err
    assert rc in (0, 2), err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 1, err
    return rc, err


def cli_forked(*args: str, timeout: float = 30, env: dict | None = None) -> tuple[int, str]:
    """Run the CLI in a forked child (cheap: no interpreter start) that is killed if it outlives ``timeout``;
    for the cases that could block. Same checks as :func:`cli`."""
    return run_forked(lambda: main(list(args)), timeout=timeout, env=env)


def run_forked(fn, *, timeout: float = 30, env: dict | None = None) -> tuple[int, str]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: stderr to the pipe, run, exit with the code
        rc = 1
        try:
            os.close(r)
            os.dup2(w, 2)
            sys.stderr = os.fdopen(2, "w", buffering=1)
            os.environ.update(env or {})
            rc = fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent as a traceback marker
            sys.stderr.write(f"Traceback: {type(exc).__name__}: {exc}\n")
        finally:
            sys.stderr.flush()
            os._exit(rc if isinstance(rc, int) else 1)
    os.close(w)
    deadline = time.monotonic() + timeout
    chunks = []
    try:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([r], [], [], max(left, 0))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"the run did not end within {timeout} s")
            data = os.read(r, 65536)
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(r)
    _, status = os.waitpid(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    err = b"".join(chunks).decode("utf-8", "replace")
    assert rc in (0, 2), err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 1, err
    return rc, err
