"""Helpers of the hostile-input suites (tests/test_hostile_*.py): run the CLI in-process or as a limited process,
and check the contract: exit 0, or exit 2 with exactly one line on stderr, never a traceback."""

from __future__ import annotations

import contextlib
import io
import os
import resource
import subprocess
import sys
from pathlib import Path

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
