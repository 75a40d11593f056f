"""Build (once) and locate a separate virtualenv holding SCALE-Sim 3.0.0, the reference systolic simulator.

SCALE-Sim (Samajdar et al., "SCALE-Sim: Systolic CNN Accelerator Simulator", arXiv:1811.02883; the v3
package ``scalesim`` on PyPI, source github.com/scalesim-project/scale-sim-v3) is not a dependency of the
project: it pins nothing useful for us and crashes at the end of its memory simulation with numpy >= 2.4, so
it lives in its own virtualenv with ``numpy<2.4``. The venv is cached under ``$GOBOSIM_CACHE`` (default
``~/.cache/gobosim``) as ``scalesim-venv``; building it needs the package registry (pip) and takes ~1 min.

    python bench/scalesim_env.py          # build if missing, print the venv's python
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

SCALESIM_VERSION = "3.0.0"
NUMPY_PIN = "numpy<2.4"
"""numpy 2.4 breaks SCALE-Sim 3.0.0's double-buffered scratchpad (``int()`` of a 1-element array)."""


def venv_dir() -> Path:
    """Where the SCALE-Sim virtualenv lives."""
    root = Path(os.environ.get("GOBOSIM_CACHE", Path.home() / ".cache" / "gobosim"))
    return root / "scalesim-venv"


def venv_python(path: Path | None = None) -> Path:
    """The interpreter of the SCALE-Sim virtualenv."""
    return (path or venv_dir()) / "bin" / "python"


def is_ready(path: Path | None = None) -> bool:
    """True when the venv exists and imports scalesim of the pinned version."""
    py = venv_python(path)
    if not py.exists():
        return False
    probe = ("import importlib.metadata as m, sys; "
             f"sys.exit(0 if m.version('scalesim') == '{SCALESIM_VERSION}' else 1)")
    return subprocess.run([str(py), "-c", probe], capture_output=True, timeout=60).returncode == 0


def ensure(timeout_s: float = 600.0) -> Path:
    """Build the venv if needed; return its python. Raises RuntimeError (with pip's tail) on failure."""
    path = venv_dir()
    if is_ready(path):
        return venv_python(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    cmd = [str(venv_python(path)), "-m", "pip", "install", "-q", "--disable-pip-version-check",
           f"scalesim=={SCALESIM_VERSION}", NUMPY_PIN]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0 or not is_ready(path):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"could not build the SCALE-Sim venv at {path}: {' | '.join(tail)}")
    return venv_python(path)


if __name__ == "__main__":
    try:
        print(ensure())
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
