"""Port-width sweep: cycles and the sram_port stall of each preset on bert-base (seq 128) over SRAM port widths.

Usage: python bench/port_sweep.py [--hw gobo tpu tcore gobo-compress-tpu gobo-compress-tcore]
                                  [--widths 1 2 4 8 16 32 64 128] [--workload bert-base] [--seq-len 128]
                                  [--out bench/results/port_sweep.json] [--png bench/results/port_sweep.png]

Each point sets ``buffers.<b>.port_bytes`` (bytes per bank per cycle; the presets' bank counts are kept) either
for all three buffers together (mode ``all``) or for one buffer at a time, the others at the preset's width
(modes ``weights``, ``activations``, ``outputs``). Runs are timing only (``functional=False``) through
``sim.api.run``. For each design the JSON also gives what its compute steps ask of each buffer at the preset's
widths (bytes per cycle of unit time, peak over steps and the average weighted by cycles) and the knee: the
narrowest width from which the swept buffer(s) add no port time (every wider point has the widest point's
sram_port stall).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim import api  # noqa: E402
from sim.io import write_bytes_atomic, write_text_atomic  # noqa: E402
from sim.prepare import prepare  # noqa: E402
from sim.simulate import map_steps  # noqa: E402

BUFFERS = ("weights", "activations", "outputs")
MODES = ("all", *BUFFERS)


def demand(hw: str, workload: str, seq_len: int) -> dict[str, dict[str, float]]:
    """Per buffer: bytes per cycle the matrix steps move through its ports, relative to the steps' unit cycles
    (peak over steps, and total bytes / total cycles), and the per-bank width the peak step needs."""
    prep = prepare(hw, workload, seq_len=seq_len)
    _, _, steps = map_steps(prep)
    out: dict[str, dict[str, float]] = {}
    matrix = [s for s in steps if s.unit == "matrix" and s.compute.cycles]
    cycles = sum(s.compute.cycles for s in matrix)
    for b in BUFFERS:
        moved = [(sum(s.ports.get(b, (0, 0))), s.compute.cycles) for s in matrix]
        peak = max((m / c for m, c in moved), default=0.0)
        banks = prep.hw.buffers[b].banks
        out[b] = {"peak_bytes_per_cycle": round(peak, 3),
                  "mean_bytes_per_cycle": round(sum(m for m, _ in moved) / cycles, 3) if cycles else 0.0,
                  "banks": banks, "peak_bytes_per_bank_cycle": round(peak / banks, 3)}
    return out


def knee(rows: list[dict]) -> int | None:
    """The narrowest width from which the swept buffer(s) add no port time: every wider point has the widest
    point's sram_port stall (what remains there comes from buffers not swept, or from steps no width fixes)."""
    rows = sorted(rows, key=lambda r: r["port_bytes"])
    floor = rows[-1]["sram_port_cycles"]
    for i, r in enumerate(rows):
        if all(x["sram_port_cycles"] == floor for x in rows[i:]):
            return int(r["port_bytes"])
    return None


def knee_within(rows: list[dict], tolerance: float = 0.01) -> int | None:
    """The narrowest width from which every wider point's cycles are within ``tolerance`` of the widest point's."""
    rows = sorted(rows, key=lambda r: r["port_bytes"])
    floor = rows[-1]["cycles"]
    for i, r in enumerate(rows):
        if all(x["cycles"] <= floor * (1 + tolerance) for x in rows[i:]):
            return int(r["port_bytes"])
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hw", nargs="+", default=["gobo", "tpu", "tcore", "gobo-compress-tpu", "gobo-compress-tcore"])
    p.add_argument("--widths", nargs="+", type=int, default=[1, 2, 4, 8, 16, 32, 64, 128])
    p.add_argument("--workload", default="bert-base")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--out", default="bench/results/port_sweep.json")
    p.add_argument("--png", default="bench/results/port_sweep.png")
    args = p.parse_args(argv)
    points = []
    designs = {}
    t_start = time.perf_counter()
    for hw in args.hw:
        base = api.run(hw, args.workload, seq_len=args.seq_len, functional=False)
        cfg = base.config["hw"]["buffers"]
        designs[hw] = {"preset_cycles": base.cycles, "preset_sram_port": base.stall_breakdown_cycles["sram_port"],
                       "preset_port_bytes": {b: cfg[b]["port_bytes"] for b in BUFFERS},
                       "banks": {b: cfg[b]["banks"] for b in BUFFERS},
                       "demand": demand(hw, args.workload, args.seq_len), "knee_port_bytes": {},
                       "knee_1pct_port_bytes": {}}
        for mode in MODES:
            for w in args.widths:
                targets = BUFFERS if mode == "all" else (mode,)
                sets = [f"buffers.{b}.port_bytes={w}" for b in targets]
                r = api.run(hw, args.workload, seq_len=args.seq_len, sets=sets, functional=False)
                row = {"hw": hw, "mode": mode, "port_bytes": w, "cycles": r.cycles,
                       "sram_port_cycles": r.stall_breakdown_cycles["sram_port"],
                       "slowdown_vs_preset": round(r.cycles / base.cycles, 4)}
                points.append(row)
                print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
            mine = [r for r in points if r["hw"] == hw and r["mode"] == mode]
            designs[hw]["knee_port_bytes"][mode] = knee(mine)
            designs[hw]["knee_1pct_port_bytes"][mode] = knee_within(mine)
    out = {"workload": args.workload, "seq_len": args.seq_len, "widths": args.widths,
           "what": "buffers.<b>.port_bytes per point (bank counts as in the preset); mode all = the three buffers "
                   "together, else that buffer only",
           "designs": designs, "points": points, "seconds": round(time.perf_counter() - t_start, 1)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out, json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")
    if args.png:
        plot(out, args.png)
        print(f"wrote {args.png}")
    return 0


def plot(out: dict, png: str) -> None:
    """Cycles vs port width per design (log x), one panel per mode; the presets' width is marked."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 9), sharex=True)
    for ax, mode in zip(axes.flat, MODES, strict=True):
        for hw, d in out["designs"].items():
            rows = sorted((r for r in out["points"] if r["hw"] == hw and r["mode"] == mode),
                          key=lambda r: r["port_bytes"])
            xs = [r["port_bytes"] for r in rows]
            ys = [r["cycles"] / 1e6 for r in rows]
            compress = hw.startswith("gobo-compress")
            color = f"C{list(out['designs']).index(hw)}"
            line, = ax.plot(xs, ys, marker="o" if not compress else "x", linestyle="--" if compress else "-",
                            markersize=5, label=hw, color=color)
            marks = [("*", 15, d["knee_1pct_port_bytes"].get(mode), "none"),
                     ("s", 10, d["preset_port_bytes"]["weights" if mode == "all" else mode], "none")]
            for marker, size, at, face in marks:
                if at is None or at not in xs:
                    continue
                ky = ys[xs.index(at)]
                if marker == "*":
                    ax.plot([at], [ky], marker=marker, markersize=size, color=line.get_color(), linestyle="none")
                else:
                    ax.plot([at], [ky], marker=marker, markersize=size, markerfacecolor=face,
                            color=line.get_color(), linestyle="none")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"port width of {'all buffers' if mode == 'all' else 'the ' + mode + ' buffer only'}")
        ax.set_ylabel("cycles (millions, log)")
        ax.grid(True, which="both", alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("port width per bank (bytes/cycle; 16 banks)")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{out['workload']} seq {out['seq_len']}: cycles vs SRAM port width\n"
                 "star: knee (narrowest width within 1% of the widest); open square: the preset's width "
                 "(all buffers: the weights buffer's)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_bytes_atomic(png, buf.getvalue())


if __name__ == "__main__":
    raise SystemExit(main())
