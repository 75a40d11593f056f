"""Shared fixtures: tiny inputs so the suite stays fast."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own cache directory, so no test reads another's (or the user's) cache."""
    monkeypatch.setenv("GOBOSIM_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def run_json(tmp_path_factory) -> Path:
    """A timing-only run report of tpu on tiny, written once per test module."""
    from sim import api

    path = tmp_path_factory.mktemp("run") / "run.json"
    api.run("tpu", "tiny", functional=False).to_json(path)
    return path


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m sim ARGS`` in a subprocess (as a user would), capturing output."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300)
