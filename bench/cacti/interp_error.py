"""Interpolation error of the CACTI SRAM model (sim/cost/sram.py) at the held-out CACTI runs of the table.

Usage: python bench/cacti/interp_error.py [--out bench/results/cacti_interp.json]

The held-out configurations (``heldout`` in hwconfigs/tech/cacti7_sram.json, generated with the grid by
bench/cacti/gen_tables.py) are off the grid in capacity, port width and bank count. For each, the model's
log-log interpolation between grid points is compared with CACTI's own figure: relative error
``model / cacti - 1`` per figure (read and write energy per access, macro area, leakage sub-threshold and gate at
300 K, bank cycle time), summarised as median, 90th/95th percentile and maximum of ``|error|``, per cell type and
over all.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sim.cost.sram import load_sram_table, sram_macro, table_path  # noqa: E402
from sim.io import write_text_atomic  # noqa: E402

FIGURES = {"read_pj": "read_pj", "write_pj": "write_pj", "area_mm2": "area_mm2", "cycle_ns": "cycle_ns",
           "leak_sub_mw_300k": "leak_sub_mw", "leak_gate_mw_300k": "leak_gate_mw"}


def errors() -> list[dict]:
    """One record per held-out row: its key and the relative error of each figure."""
    raw = json.loads(table_path().read_text())
    cols = raw["columns"]
    t = load_sram_table()
    out = []
    for r in raw["heldout"]["rows"]:
        row = dict(zip(cols, r))
        m = sram_macro(row["capacity_bytes"], row["port_bytes"], row["banks"], row["cell"], 300, row["node_nm"], t)
        rec = {k: row[k] for k in ("node_nm", "cell", "capacity_bytes", "port_bytes", "banks")}
        for col, attr in FIGURES.items():
            cacti = row[col] * (row["banks"] if col.startswith("leak") else 1)  # the model's macro convention
            rec[col] = getattr(m, attr) / cacti - 1.0
        rec["note"] = m.note
        out.append(rec)
    return out


def summary(recs: list[dict]) -> dict:
    """Per figure: n, median, p90, p95 and max of |relative error|, and the signed mean."""
    out = {}
    for col in FIGURES:
        e = np.array([r[col] for r in recs])
        a = np.abs(e)
        out[col] = {"n": int(a.size), "median": float(np.median(a)), "p90": float(np.percentile(a, 90)),
                    "p95": float(np.percentile(a, 95)), "max": float(a.max()), "mean_signed": float(e.mean())}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "bench/results/cacti_interp.json")
    args = ap.parse_args(argv)
    recs = errors()
    res = {"what": "relative error |model/CACTI - 1| of the log-log interpolation at held-out CACTI runs",
           "table": "hwconfigs/tech/cacti7_sram.json", "all": summary(recs),
           "by_cell": {c: summary([r for r in recs if r["cell"] == c]) for c in sorted({r["cell"] for r in recs})},
           "worst": sorted(recs, key=lambda r: -max(abs(r[c]) for c in FIGURES))[:10]}
    write_text_atomic(args.out, json.dumps(res, indent=1) + "\n")
    for col, s in res["all"].items():
        print(f"{col:18s} n={s['n']} median {s['median']:.1%} p90 {s['p90']:.1%} p95 {s['p95']:.1%} max {s['max']:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
