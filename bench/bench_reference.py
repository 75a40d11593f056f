"""The fast engine against the whole-run reference on many randomized small runs (not in CI: ~1 s a run).

    python bench/bench_reference.py [--cases 200] [--designs gobo tpu ...] [--out bench/results/reference.json]

For every design, ``--cases`` seeds are drawn (:func:`sim.reference.cases.random_case`: small encoders, buffers
small enough to spill, banks, port widths, output slots, DRAM kind and channels, vector and compute sizes);
seeds the mapper refuses as bad input are replaced by the next ones. Each valid run is simulated by the
engine and by the reference, and every total, per-operator number (cycles, compute, stalls by reason, DRAM
bytes) and action count is compared exactly. Writes the JSON (per design: runs, exact, refused seeds, which
stall reasons and spills the runs reached, every mismatch) and a scatter plot of engine vs reference cycles.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.reference.cases import DESIGNS, compare_case, random_case  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--designs", nargs="*", default=list(DESIGNS))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "reference.json"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    report: dict = {"what": "engine vs whole-run reference, exact comparison", "cases_per_design": args.cases,
                    "designs": {}}
    points: dict[str, list[tuple[int, int]]] = {}
    for design in args.designs:
        t0 = time.time()
        runs = exact = refused = 0
        reached = {"spilled_loads": 0, "dram_read": 0, "buffer_full": 0, "vector_busy": 0, "dram_write": 0,
                   "sram_port": 0}
        mismatches = []
        seed = 0
        pts = points.setdefault(design, [])
        while runs < args.cases:
            case = random_case(seed, design)
            res = compare_case(case)
            seed += 1
            if res is None:
                refused += 1
                continue
            diffs, info = res
            runs += 1
            exact += not diffs
            for k in reached:
                reached[k] += info[k] > 0
            pts.append((info["cycles"], info["cycles"] if not diffs else -1))
            if diffs:
                mismatches.append({"seed": seed - 1, "case": case.describe(), "diffs": diffs[:20]})
        report["designs"][design] = {
            "runs": runs, "exact": exact, "refused_seeds": refused, "runs_reaching": reached,
            "cycles_min": min(p[0] for p in pts), "cycles_max": max(p[0] for p in pts),
            "seconds": round(time.time() - t0, 1), "mismatches": mismatches}
        print(f"{design}: {exact}/{runs} exact ({refused} seeds refused), {time.time() - t0:.0f} s", flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
    _plot(points, out.with_suffix(".png"))
    return 0 if all(d["exact"] == d["runs"] for d in report["designs"].values()) else 1


def _plot(points: dict[str, list[tuple[int, int]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    for design, pts in points.items():
        ok = [p for p in pts if p[1] >= 0]
        ax.scatter([p[0] for p in ok], [p[1] for p in ok], s=8, label=f"{design} ({len(ok)}/{len(pts)} exact)")
    lo = min(p[0] for pts in points.values() for p in pts)
    hi = max(p[0] for pts in points.values() for p in pts)
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("engine cycles")
    ax.set_ylabel("whole-run reference cycles")
    ax.set_title("Fast engine vs cycle-stepped whole-run reference")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    raise SystemExit(main())
