"""Benchmark: sweep throughput, local process pool vs Dask LocalCluster, on one 64-point bert-base sweep.

Usage: python bench/bench_sweep.py [--workers N] [--repeat R] [--out bench/results/sweep.json]

The sweep: GOBO on bert-base (seq 128, batch 1), timing only, compute.tiles x compute.pes_per_tile x
buffers.weights (capacity 256 KiB .. 2 MiB with its bank organisation) = 4 x 4 x 4 = 64 points. The
quantization cache (a fresh temporary
directory) is warmed once first (one GOBO bert-base quantization, timed separately as ``cold_quantize_s``),
so every backend sees the same warm cache. Each backend then runs the same sweep into a fresh directory,
``--repeat`` times, alternating local / dask; reported per backend: the best wall time of the whole
``sim.sweep`` call (spec checks, pool or cluster start-up, runs, result writing), its points/s, and the
time from the first submission to the last result (excluding start-up). The machine's load average is
recorded before and after: other processes on a shared machine slow every figure down.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim import api  # noqa: E402
from sim.sweeps.progress import Progress  # noqa: E402
from sim.sweeps.runner import run_sweep  # noqa: E402

SPEC = {
    "version": 1,
    "name": "bench-gobo-64",
    "base": {"hw": "gobo", "workload": "bert-base", "seq_len": 128, "batch": 1},
    # weight-buffer sizes 256 KiB .. 2 MiB, each in the bank organisation of sweeps/gobo-tiles-pes-wbuf.yaml that
    # cycles at 1 GHz (CACTI 7, 45 nm): 4 MiB has none, so the SRAM bank-clock check refuses it
    "axes": {"compute.tiles": [4, 8, 16, 32], "compute.pes_per_tile": [16, 32, 64, 128],
             "buffers.weights.capacity_bytes,buffers.weights.banks,buffers.weights.port_bytes":
                 [[262144, 16, 32], [524288, 16, 32], [1048576, 64, 8], [2097152, 64, 8]]},
    "mode": "grid",
    "functional": False,
}


class _Timer(Progress):
    """A silent progress reporter that notes when execution starts and ends (after backend start-up)."""

    def __init__(self) -> None:
        super().__init__(io.StringIO(), enabled=True, tty=False)
        self.t_start = self.t_end = 0.0

    def start(self, total: int, label: str = "sweep") -> None:
        self.t_start = time.perf_counter()
        super().start(total, label)

    def close(self) -> None:
        self.t_end = time.perf_counter()
        super().close()


def _one(backend: str, workers: int, root: Path, i: int) -> dict:
    timer = _Timer()
    t0 = time.perf_counter()
    df = run_sweep(SPEC, root / f"{backend}-{i}", backend=backend, workers=workers, progress=timer)
    wall = time.perf_counter() - t0
    n = len(df)
    worker = json.loads((root / f"{backend}-{i}" / "meta.json").read_text())["worker_seconds"]
    return {"wall_s": round(wall, 3), "points": n, "ok": int((df["status"] == "ok").sum()),
            "worker_wall_s_per_point": round(worker["wall"] / n, 3),
            "worker_cpu_s_per_point": round(worker["cpu"] / n, 3),
            "points_per_s": round(n / wall, 3), "exec_s": round(timer.t_end - timer.t_start, 3),
            "startup_s": round(timer.t_start - t0, 3), "frame": df}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeat", type=int, default=1, help="runs per backend (best wall time is reported)")
    p.add_argument("--out", default="bench/results/sweep.json")
    args = p.parse_args(argv)
    try:
        import distributed  # noqa: F401
        backends = ["local", "dask"]
    except ImportError:
        backends = ["local"]
        print("dask.distributed not installed: measuring the local pool only", flush=True)
    load_before = os.getloadavg()
    results: dict[str, list[dict]] = {b: [] for b in backends}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GOBOSIM_CACHE_DIR"] = str(Path(tmp) / "cache")
        t0 = time.perf_counter()
        api.run("gobo", "bert-base", functional=False)  # fills the quantization cache the workers share
        cold = time.perf_counter() - t0
        print(f"cold quantize + first run: {cold:.1f} s", flush=True)
        for i in range(args.repeat):
            for b in backends:
                r = _one(b, args.workers, Path(tmp), i)
                print(f"{b:>5}: {r['points']} points in {r['wall_s']:.1f} s = {r['points_per_s']:.2f} points/s "
                      f"(start-up {r['startup_s']:.1f} s, execution {r['exec_s']:.1f} s; per point in a worker: "
                      f"{r['worker_wall_s_per_point']:.2f} s wall, {r['worker_cpu_s_per_point']:.2f} s CPU)",
                      flush=True)
                results[b].append(r)
    frames = [results[b][0].pop("frame") for b in backends]
    for b in backends:
        for r in results[b]:
            r.pop("frame", None)
    same = True
    if len(frames) == 2:
        cols = [c for c in frames[0].columns]
        same = frames[0][cols].equals(frames[1][cols])
    best = {b: min(results[b], key=lambda r: r["wall_s"]) for b in backends}
    out = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()},
        "load_avg_1_5_15_before": [round(x, 2) for x in load_before],
        "load_avg_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        "sweep": SPEC, "workers": args.workers, "repeat": args.repeat, "cold_quantize_s": round(cold, 2),
        "best": best, "runs": results,
        "aim": {"local_64_points_s": 60.0, "dask_vs_local_throughput": 0.8},
    }
    if "dask" in best:
        out["dask_vs_local_throughput"] = round(best["dask"]["points_per_s"] / best["local"]["points_per_s"], 3)
        out["dask_vs_local_throughput_excl_startup"] = round(best["local"]["exec_s"] / best["dask"]["exec_s"], 3)
        out["dask_results_equal_local"] = bool(same)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    local = best["local"]
    print(f"local: 64 points in {local['wall_s']:.1f} s ({local['points_per_s']:.2f} points/s; aim < 60 s)")
    if "dask" in best:
        print(f"dask / local throughput: {out['dask_vs_local_throughput']:.2f} (aim >= 0.80); excluding start-up "
              f"{out['dask_vs_local_throughput_excl_startup']:.2f}; same results: {same}")
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
