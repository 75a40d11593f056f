"""Run every benchmark, print one table of their headline figures, and write them all to one JSON file.

Usage: python bench/run_all.py [--quick] [--only NAME ...] [--out bench/results/all.json]

Each benchmark is its own script (and writes its own JSON under bench/results/); this runner starts
each in a subprocess (so peak memory is per benchmark), times it, reads its JSON and prints the figures
that the README quotes. --quick skips bert-large.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def _run(args: list[str]) -> tuple[float, float, int]:
    """Run one benchmark script; returns (wall seconds, child peak RSS MB, exit code)."""
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    return time.perf_counter() - t0, peak, proc.returncode


def _load(name: str) -> dict:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else {}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=str(RESULTS / "all.json"))
    p.add_argument("--only", nargs="+", default=None, metavar="NAME",
                   help="run only these benchmarks (quant kernels sim functional sweep main_job); the table still "
                        "reads every benchmark's latest JSON, and --out keeps the other benchmarks' entries")
    args = p.parse_args(argv)
    wl = ["bert-base"] if args.quick else ["bert-base", "bert-large"]
    jobs = {
        "quant": ["bench/bench_quant.py"],
        "kernels": ["bench/bench_kernels.py"],
        "sim": ["bench/bench_sim.py", "--workloads", *wl, "--functional"],
        "functional": ["bench/bench_functional.py", "--blas-threads", "1"],
        "sweep": ["bench/bench_sweep.py"],
        "main_job": ["bench/bench_main_job.py"],
    }
    if args.only:
        unknown = sorted(set(args.only) - set(jobs))
        if unknown:
            p.error(f"unknown benchmark(s) {', '.join(unknown)}; valid: {', '.join(jobs)}")
        jobs = {k: v for k, v in jobs.items() if k in args.only}
    runs = {}
    if args.only and Path(args.out).is_file():
        runs = {k: v for k, v in json.loads(Path(args.out).read_text()).get("benchmarks", {}).items()
                if k not in jobs}
    for name, cmd in jobs.items():
        seconds, peak, rc = _run(cmd)
        runs[name] = {"command": "python " + " ".join(cmd), "seconds": round(seconds, 1),
                      "peak_rss_mb": round(peak, 0), "exit_code": rc}
    rows = []
    q = _load("quant.json").get("bert_base", {})
    rows.append(("quantize bert-base cold / warm (s)", f"{q.get('cold_seconds', float('nan')):.2f} / "
                 f"{q.get('warm_seconds', float('nan')):.3f}"))
    for r in _load("sim.json").get("runs", []):
        rows.append((f"sim run {r['hw']} {r['workload']}: timing-only / with functional (s), events",
                     f"{r['timing_only_s']} / {r.get('functional_s', '-')}, {r['events']:,}"
                     + (f" ({r['events_per_s']:,} events/s)" if r.get("events_per_s") else "")))
    mj = _load("main_job.json")
    if mj:
        cold, warm = mj["cold"], min(mj["warm"], key=lambda w: w["wall_s"])
        rows.append(("main job (sim run --hw gobo.yaml --workload bert-base): cold / warm (s wall, CPU)",
                     f"{cold['wall_s']} ({cold['cpu_s']} CPU) / {warm['wall_s']} ({warm['cpu_s']} CPU)"))
        for pt in mj.get("per_point", []):
            rows.append((f"timing-only {pt['hw']} bert-base point in process (median, ms)",
                         f"{pt['median_s'] * 1e3:.0f} (first in a process {pt['first_in_process_s']:.2f} s)"))
    for r in _load("functional.json").get("results", []):
        rows.append((f"integer forward bert-base seq 128, {r['case']} (s, peak MB)",
                     f"{r['forward_seconds']:.2f}, {r['peak_rss_bytes'] / 2**20:.0f}"))
    sw = _load("sweep.json")
    best = sw.get("best") or {}
    for backend, b in best.items() if isinstance(best, dict) else ():
        rows.append((f"64-point bert-base sweep, {backend} (s wall, points/s)",
                     f"{b.get('wall_s')} ({b.get('points_per_s')} points/s)"))
    if "dask_vs_local_throughput" in sw:
        rows.append(("sweep: Dask / local throughput", f"{sw['dask_vs_local_throughput']:.2f}"))
    width = max(len(k) for k, _ in rows)
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    for name, r in runs.items():
        print(f"  [{name}] {r['command']}: {r['seconds']} s, peak {r['peak_rss_mb']:.0f} MB, exit {r['exit_code']}")
    out = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
           "benchmarks": runs, "figures": dict(rows)}
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if all(r["exit_code"] == 0 for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
