"""Benchmark: simulation speed of `sim run` (timing only, and with the functional pass), events, peak memory.

Usage: python bench/bench_sim.py [--workloads bert-base bert-large] [--hw gobo tpu tcore] [--functional]
                                 [--out bench/results/sim.json]
Each figure is measured in this process: the quantization cache is warmed first (its cold/warm cost is
bench_quant.py's), then each run is timed; peak memory is the process's max RSS after all runs. ``cold_s``
is the first run of a design in the process (quantizing on a cold cache, timing new DRAM transfers);
``second_run_s`` the run right after it; ``timing_only_s`` the best wall time of the ``--repeat`` runs made
``--settle-s`` seconds later (what a sweep worker's later points cost: the quantization cache trusts its
in-process copy of an entry only once the entry's files are 2 s old, so runs right after the cold one still read
it from disk), ``timing_only_cpu_s`` the best process CPU time of the same runs (less disturbed by other processes
on a shared machine); ``events_per_s`` the engine's events over ``timing_only_s``. The machine's load average
is recorded before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim import api  # noqa: E402


def _machine() -> dict:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
            "processor": platform.processor() or platform.machine()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", nargs="+", default=["bert-base", "bert-large"])
    p.add_argument("--hw", nargs="+", default=["gobo", "tpu", "tcore", "gobo-compress-tcore"])
    p.add_argument("--functional", action="store_true", help="also time runs with the functional pass")
    p.add_argument("--repeat", type=int, default=5, help="warm runs per design; the best is reported")
    p.add_argument("--settle-s", type=float, default=2.5,
                   help="seconds between the second run and the warm runs (the quantization cache's 2 s rule)")
    p.add_argument("--out", default="bench/results/sim.json")
    args = p.parse_args(argv)
    load_before = list(os.getloadavg())
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        os.environ["GOBOSIM_CACHE_DIR"] = cache
        for wl in args.workloads:
            for hw in args.hw:
                t0 = time.perf_counter()
                r = api.run(hw, wl, functional=False)  # cold: includes quantizing the synthetic weights for GOBO formats
                cold = time.perf_counter() - t0
                t0 = time.perf_counter()
                api.run(hw, wl, functional=False)
                second = time.perf_counter() - t0
                time.sleep(max(0.0, args.settle_s))
                warm = warm_cpu = float("inf")
                for _ in range(max(1, args.repeat)):
                    t0, c0 = time.perf_counter(), time.process_time()
                    r = api.run(hw, wl, functional=False)
                    warm = min(warm, time.perf_counter() - t0)
                    warm_cpu = min(warm_cpu, time.process_time() - c0)
                row = {"workload": wl, "hw": hw, "cold_s": round(cold, 3), "second_run_s": round(second, 4),
                       "timing_only_s": round(warm, 4),
                       "timing_only_cpu_s": round(warm_cpu, 4),
                       "events": r.events, "events_per_s": round(r.events / warm) if warm > 0 else None,
                       "cycles": r.cycles, "utilization": round(r.utilization, 4),
                       "dram_read_bytes": r.dram_read_bytes}
                if args.functional:
                    t0 = time.perf_counter()
                    f = api.run(hw, wl, functional=True)
                    row["functional_s"] = round(time.perf_counter() - t0, 3)
                    row["functional_checked"] = f.functional.checked if f.functional else None
                rows.append(row)
                print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"machine": _machine(), "load_avg_1_5_15_before": load_before,
           "load_avg_1_5_15_after": list(os.getloadavg()), "repeat": args.repeat, "runs": rows,
           "peak_rss_mb": round(peak_mb, 1)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"peak RSS {peak_mb:.0f} MB; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
