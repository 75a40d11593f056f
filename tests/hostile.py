"""Helpers of the hostile-input suites (tests/test_hostile_*.py): run the CLI in-process, in a forked child killed
after a timeout (cases that could block: FIFOs, devices), or as a limited process, and check the contract: exit 0,
or exit 2 with exactly one line on stderr, never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

MEMORY_LIMIT_BYTES = 3 << 30  # address space of a limited child (numpy + matplotlib need ~1 GiB of it)


def cli(*args: str) -> tuple[int, str, str]:
    """``sim ARGS`` in this process (fast): (exit code, stdout, stderr)."""
    from sim.cli import main

    out, err = io.StringIO(), io.StringIO()
    env = os.environ.pop("SIM_DEBUG", None)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main([str(a) for a in args])
            except SystemExit as exc:  # argparse
                rc = int(exc.code or 0)
    finally:
        if env is not None:
            os.environ["SIM_DEBUG"] = env
    return rc, out.getvalue(), err.getvalue()


def _limits(memory: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def cli_proc(*args: str, timeout: float = 60, memory: int = MEMORY_LIMIT_BYTES, env: dict | None = None,
             cwd: Path | None = None) -> tuple[int, str, str]:
    """``python -m sim ARGS`` as a child with an address-space limit and a time limit (a hang fails the test)."""
    full = dict(os.environ)
    full.pop("SIM_DEBUG", None)
    full["PYTHONPATH"] = str(REPO) + os.pathsep + full.get("PYTHONPATH", "")
    if env:
        for k, v in env.items():
            if v is None:
                full.pop(k, None)
            else:
                full[k] = v
    res = subprocess.run([sys.executable, "-m", "sim", *map(str, args)], env=full, cwd=cwd, capture_output=True,
                         text=True, timeout=timeout, preexec_fn=lambda: _limits(memory))
    return res.returncode, res.stdout, res.stderr


def clean(rc: int, err: str, expect: tuple[int, ...] = (0, 2)) -> bool:
    """The contract: an expected exit code; exit 2 with one line on stderr; no traceback, no internal error."""
    if rc not in expect or "Traceback" in err or "internal error" in err:
        return False
    return rc != 2 or (err.count("\n") == 1 and err.endswith("\n"))


def assert_clean(rc: int, err: str, expect: tuple[int, ...] = (0, 2)) -> None:
    assert clean(rc, err, expect), f"exit {rc}, stderr: {err[:2000]!r}"


_BATCH_CHILD = r"""
import contextlib, io, json, sys, time
from sim.cli import main
for argv in json.loads(sys.stdin.read()):
    out, err = io.StringIO(), io.StringIO()
    t0 = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 2
        except BaseException as exc:
            rc = -1
            err.write(f"Traceback (escaped main): {type(exc).__name__}: {str(exc)[:300]}\n")
    print(json.dumps([rc, err.getvalue()[:20000], time.monotonic() - t0]), flush=True)
"""


def cli_batch(cases: dict[str, list], timeout: float = 120, memory: int = MEMORY_LIMIT_BYTES,
              cwd: Path | None = None) -> dict[str, tuple[int, str, float]]:
    """Run many ``sim`` argument vectors in ONE child process (``sim.cli.main`` in turn, each as the CLI would),
    under an address-space limit and an overall time limit: {case: (exit code, stderr, seconds)}. A case that
    hangs is reported as exit -9 (the ones after it are not run)."""
    full = dict(os.environ)
    full.pop("SIM_DEBUG", None)
    full["PYTHONPATH"] = str(REPO) + os.pathsep + full.get("PYTHONPATH", "")
    names = list(cases)
    payload = json.dumps([[str(a) for a in cases[n]] for n in names])
    try:
        res = subprocess.run([sys.executable, "-c", _BATCH_CHILD], input=payload, env=full, cwd=cwd,
                             capture_output=True, text=True, timeout=timeout, preexec_fn=lambda: _limits(memory))
        stdout, crashed = res.stdout, res.returncode != 0
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ""
        stdout, crashed = out.decode() if isinstance(out, bytes) else out, True
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("[")]
    result = {n: (int(rc), err, float(t)) for n, (rc, err, t) in zip(names, lines)}
    if crashed and len(lines) < len(names):
        result[names[len(lines)]] = (-9, "hung, crashed or was killed (time or memory limit)\n", timeout)
    return result


def unclean(results: dict[str, tuple[int, str, float]], expect: tuple[int, ...] = (0, 2),
            max_seconds: float = 20, max_chars: int = 2000) -> list[str]:
    """The cases of :func:`cli_batch` that broke the contract (with why), empty if none."""
    bad = []
    for name, (rc, err, seconds) in results.items():
        if not clean(rc, err, expect) or len(err) > max_chars or seconds > max_seconds:
            bad.append(f"{name}: exit {rc} in {seconds:.1f} s, {len(err)} chars: {err[:300]!r}")
    return bad


def cli_checked(capsys, *args: str) -> tuple[int, str]:
    """Run the CLI in process; the exit code must be 0 or 2 and stderr one line at most, no traceback."""
    from sim.cli import main

    rc = main(list(args))
    err = capsys.readouterr().err
    assert rc in (0, 2), err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 1, err
    return rc, err


def cli_forked(*args: str, timeout: float = 30, env: dict | None = None) -> tuple[int, str]:
    """Run the CLI in a forked child (cheap: no interpreter start) that is killed if it outlives ``timeout``;
    for the cases that could block. Same checks as :func:`cli_checked`."""
    from sim.cli import main

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
