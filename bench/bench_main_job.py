"""Benchmark: the main job, `sim run --hw hwconfigs/gobo.yaml --workload bert-base` (functional pass on), cold and
warm, and the in-process time of one timing-only design point.

Usage: python bench/bench_main_job.py [--repeat 3] [--points 10] [--out bench/results/main_job.json]

* cold: the command in a subprocess with an empty cache directory (``GOBOSIM_CACHE_DIR`` a fresh temporary
  directory): quantization, float weights, calibration, float reference, simulation, functional pass;
* warm: the same command again on that cache, ``--repeat`` times (best and median reported);
* per point: ``sim.run(hw, "bert-base", functional=False)`` in this process after one warm-up run (the
  quantized model, DRAM timings and parsed files are then remembered by the process, as in a sweep worker),
  ``--points`` times per design (median reported), and the first run of a fresh process for comparison.

The children import the package from the source tree with its bytecode compiled beforehand (``compileall`` into a
temporary ``PYTHONPYCACHEPREFIX``), as ``pip install .`` compiles the installed modules at install time; an
environment that sets ``PYTHONDONTWRITEBYTECODE`` would otherwise make every child compile every module again
(~0.3 s), which no installed copy does.

Wall and CPU seconds are recorded (CPU: the child's user + system time), with the load average before and
after: on a shared machine other processes slow the wall-clock figures down.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COMMAND = ["-m", "sim", "run", "--hw", "hwconfigs/gobo.yaml", "--workload", "bert-base", "--quiet"]


def _env(cache: str) -> dict[str, str]:
    """The children's environment: the cache directory, the source tree, and its precompiled bytecode."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "GOBOSIM_CACHE_DIR": cache, "PYTHONPATH": str(ROOT),
            "PYTHONPYCACHEPREFIX": str(Path(cache).parent / "pycache")}


def _compile(cache: str) -> None:
    """Byte-compile the package (and what it imports at start-up) as an install would."""
    code = "import compileall, sys; sys.exit(0 if compileall.compile_dir(sys.argv[1], quiet=1) else 1)"
    subprocess.run([sys.executable, "-c", code, str(ROOT / "sim")], cwd=ROOT, check=True, env=_env(cache))
    subprocess.run([sys.executable, "-c", "import sim.cli, sim.api"], cwd=ROOT, check=True, env=_env(cache))


def _child(cache: str) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *COMMAND], cwd=ROOT, capture_output=True, text=True, env=_env(cache))
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"main job failed ({proc.returncode}): {proc.stderr.strip()[:400]}")
    checked = "checked=True" in proc.stdout
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "functional_checked": checked}


SETTLE_S = 2.5
"""Seconds between a process's first run and its timed runs (the quantization cache trusts its in-process copy of an
entry once the entry is 2 s old; bench_sim.py waits as long)."""


def _points(hw: str, n: int, cache: str) -> dict:
    code = (
        "import json, sys, time\n"
        "from sim import api\n"
        f"t0 = time.perf_counter(); api.run({hw!r}, 'bert-base', functional=False); first = time.perf_counter() - t0\n"
        # as bench_sim.py: past the quantization cache's 2 s rule, so warm runs use the in-process model
        f"time.sleep({SETTLE_S})\n"
        "times = []\n"
        f"for _ in range({n}):\n"
        "    t0 = time.perf_counter(); r = api.run(" + repr(hw) + ", 'bert-base', functional=False)\n"
        "    times.append(time.perf_counter() - t0)\n"
        "print(json.dumps({'first_s': first, 'times_s': times, 'events': r.events}))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          env=_env(cache))
    d = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"hw": hw, "first_in_process_s": round(d["first_s"], 3),
            "median_s": round(statistics.median(d["times_s"]), 4), "best_s": round(min(d["times_s"]), 4),
            "runs": n, "events": d["events"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3, help="warm runs of the main job")
    p.add_argument("--points", type=int, default=10, help="in-process timing-only runs per design")
    p.add_argument("--hw", nargs="+", default=["gobo", "tpu"], help="designs of the per-point figure")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "main_job.json"))
    args = p.parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        cache = str(Path(tmp) / "cache")  # the children's GOBOSIM_CACHE_DIR; their bytecode sits beside it
        _compile(cache)
        cold = _child(cache)
        print(f"main job cold: {cold['wall_s']:.1f} s wall, {cold['cpu_s']:.1f} s CPU", flush=True)
        warm = [_child(cache) for _ in range(args.repeat)]
        for w in warm:
            print(f"main job warm: {w['wall_s']:.1f} s wall, {w['cpu_s']:.1f} s CPU", flush=True)
        points = [_points(hw, args.points, cache) for hw in args.hw]
    for pt in points:
        print(f"timing-only {pt['hw']} bert-base in process: median {pt['median_s'] * 1e3:.0f} ms "
              f"(first run of a process {pt['first_in_process_s']:.2f} s)", flush=True)
    best = min(warm, key=lambda w: w["wall_s"])
    out = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()},
        "load_avg_1_5_15_before": [round(x, 2) for x in load_before],
        "load_avg_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        "command": "sim " + " ".join(COMMAND[2:]),
        "bytecode": "precompiled, as pip install does",
        "cold": cold, "warm": warm,
        "warm_best_wall_s": best["wall_s"], "warm_median_wall_s": statistics.median(w["wall_s"] for w in warm),
        "warm_best_cpu_s": min(w["cpu_s"] for w in warm),
        "per_point": points,
        "targets": {"warm_s": 3.0, "cold_s": 12.0, "gobo_point_s": 0.05},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
