"""The project's systolic model next to SCALE-Sim 3.0.0 on GEMMs (used by ``tests/test_scalesim.py`` and
``bench/validate_scalesim.py``).

What is compared, per GEMM ``C[M, N] = A[M, K] @ B[K, N]`` on an ``R x C`` array and dataflow:

- **compute cycles**: SCALE-Sim's reported compute cycles minus its stall cycles (0 in its bandwidth-estimate
  mode) against ``systolic_gemm_timing`` under ``fold_schedule: scalesim``;
- **SRAM reads** of the two operands: SCALE-Sim's ifmap (A) and filter (B) SRAM read requests against the
  array's operand reads in the project (``SystolicUnit.gemm_sram_reads``; 1-byte words, so requests = bytes).
  Both count one read per operand element each time a fold streams or pins it;
- **DRAM reads** of A and B: SCALE-Sim fetches each operand from DRAM once when one half of its
  double-buffered SRAM holds it (measured: a 4608-byte operand is fetched 5536, 4818 and 4608 times with 4,
  8 and 16 KiB SRAMs); the project's compulsory traffic of an int8 GEMM is the same ``M*K`` and ``K*N``
  bytes. The comparison is meaningful only in that regime, so the callers size SCALE-Sim's SRAMs for it.

Not compared, because the two count different things: SCALE-Sim's ofmap SRAM writes and DRAM writes. For
ws/is it writes every K fold's partial sums out (``M*N*ceil(K/R)`` words) where the project accumulates them
in the int32 output accumulators (its output-buffer traffic is in 4-byte partial sums, and the result leaves
once, requantized); its os ofmap SRAM writes also include a per-fold skew count of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import scalesim_env  # noqa: E402

from sim.compute.systolic.timing import SystolicParams, systolic_gemm_timing  # noqa: E402
from sim.compute.systolic.unit import SystolicUnit  # noqa: E402

FIELDS = ("compute_cycles", "ifmap_sram_reads", "filter_sram_reads", "ifmap_dram_reads", "filter_dram_reads")


def project_side(rows: int, cols: int, dataflow: str, m: int, k: int, n: int) -> dict[str, int]:
    """The project's figures for what SCALE-Sim reports in :data:`FIELDS`."""
    p = SystolicParams(rows, cols, dataflow, "scalesim")  # type: ignore[arg-type]
    w_reads, a_reads = SystolicUnit(p).gemm_sram_reads(k * n, m, k, n)
    return {"compute_cycles": systolic_gemm_timing(p, m, k, n).cycles, "ifmap_sram_reads": a_reads,
            "filter_sram_reads": w_reads, "ifmap_dram_reads": m * k, "filter_dram_reads": k * n}


def run_scalesim(runs: list[dict], timeout_s: float = 600.0) -> list[dict]:
    """SCALE-Sim's results for ``runs`` (see ``bench/scalesim_driver.py``), in one driver process."""
    py = scalesim_env.ensure()
    proc = subprocess.run([str(py), str(HERE / "scalesim_driver.py")], input=json.dumps({"runs": runs}),
                          capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"SCALE-Sim driver failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout)


def compare(results: list[dict]) -> list[dict]:
    """Each SCALE-Sim result with the project's figures and the differences (project - SCALE-Sim)."""
    rows = []
    for r in results:
        ours = project_side(r["rows"], r["cols"], r["dataflow"], r["m"], r["k"], r["n"])
        rows.append({**r, "project": ours, "diff": {f: ours[f] - r[f] for f in FIELDS}})
    return rows
