"""The systolic model side by side with the real SCALE-Sim 3.0.0 (Samajdar et al.; PyPI ``scalesim``).

Under ``fold_schedule: scalesim`` the closed form must give SCALE-Sim's compute cycles exactly, for every
dataflow, and the operand SRAM reads and DRAM reads must be identical (what is and is not compared:
``bench/scalesim_compare.py``). SCALE-Sim runs in its own virtualenv (``bench/scalesim_env.py``, cached under
``~/.cache/gobosim/scalesim-venv``); the test builds it when missing and is skipped only if that fails.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import scalesim_compare  # noqa: E402
import scalesim_env  # noqa: E402

ARRAYS = [(4, 4), (8, 4), (3, 5)]
GEMMS = [("square", 16, 16, 16), ("edges", 5, 7, 9), ("deep", 13, 40, 7), ("row", 1, 9, 33), ("one", 1, 1, 1)]


@pytest.fixture(scope="module")
def results() -> list[dict]:
    try:
        scalesim_env.ensure(timeout_s=300)
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        pytest.skip(f"SCALE-Sim 3.0.0 could not be installed in its own virtualenv: {exc}")
    runs = [{"rows": r, "cols": c, "dataflow": df, "sram_kb": 64, "gemms": [list(g) for g in GEMMS]}
            for r, c in ARRAYS for df in ("ws", "os", "is")]
    # a quirk of its os count: 2 MACs in 1 cycle on one PE (1 x 1 x 1 there makes SCALE-Sim divide by zero)
    runs.append({"rows": 1, "cols": 1, "dataflow": "os", "sram_kb": 64, "gemms": [["one-pe", 1, 1, 2]]})
    return scalesim_compare.compare(scalesim_compare.run_scalesim(runs, timeout_s=300))


def test_scalesim_ran_every_case(results: list[dict]) -> None:
    assert len(results) == len(ARRAYS) * 3 * len(GEMMS) + 1
    assert results[-1]["compute_cycles"] == 1
    assert all(r["stall_cycles"] == 0 for r in results)  # bandwidth-estimate mode is stall-free


@pytest.mark.parametrize("field", scalesim_compare.FIELDS)
def test_identical_to_scalesim(results: list[dict], field: str) -> None:
    wrong = [(r["dataflow"], r["rows"], r["cols"], r["m"], r["k"], r["n"], r[field], r["project"][field])
             for r in results if r["diff"][field] != 0]
    assert not wrong, f"{field} differs (dataflow, R, C, M, K, N, SCALE-Sim, project): {wrong}"
