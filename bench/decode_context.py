"""Time per output token vs context length (and batch), GOBO against GOBO compression only and the baselines.

Usage: python bench/decode_context.py [--workload gpt2] [--hw gobo gobo-compress-tcore tcore tpu]
                                      [--contexts 128 256 512 1024] [--batches 1 8] [--prefill 128 512]
                                      [--out bench/results/decode_context.json] [--png bench/results/decode_context.png]
                                      [--replot]

A decode point at context ``L`` is the decode step that attends over ``L`` tokens (``L - 1`` cached + the new
one): the same mapping and engine simulation ``sim run`` does for that step (``sim.generation``), with the KV
cache placed for a run whose final context is ``L``. Its time is the time per output token at that context;
its DRAM bytes are split into weights and KV cache. The prefill points are the prompt pass (time to first
token) at each ``--prefill`` length. Timing only (no functional pass). Everything is written to ``--out``; the
plot shows TPOT vs context per batch, one line per design.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.io import write_bytes_atomic, write_text_atomic  # noqa: E402
from sim.mapping.kvcache import KV  # noqa: E402
from sim.prepare import prepare  # noqa: E402
from sim.simulate import simulate_steps  # noqa: E402
from sim.workload.decoder import lower_decoder  # noqa: E402


def _split(steps) -> dict[str, int]:
    out = {"weights": 0, "kv_cache": 0, "other": 0}
    for s in steps:
        for t in (*s.loads, *s.stores):
            key = "weights" if t.what in ("weights", "outliers") else "kv_cache" if t.what == KV else "other"
            out[key] += t.nbytes
    return out


def decode_point(hw: str, workload: str, context: int, batch: int) -> dict:
    prep = prepare(hw, workload, seq_len=context - 1, batch=batch, gen_tokens=1)
    step = dataclasses.replace(prep, graph=lower_decoder(prep.workload, "decode", context))
    r, _, steps = simulate_steps(step)
    return {"hw": hw, "context": context, "batch": batch, "tpot_seconds": r.seconds, "cycles": r.cycles,
            "energy_per_token_pj": r.energy_pj / batch, "dram_bytes": _split(steps),
            "utilization": r.utilization}


def prefill_point(hw: str, workload: str, prompt: int, batch: int) -> dict:
    prep = prepare(hw, workload, seq_len=prompt, batch=batch, gen_tokens=0)
    r, _, steps = simulate_steps(prep)
    return {"hw": hw, "prompt": prompt, "batch": batch, "ttft_seconds": r.seconds, "cycles": r.cycles,
            "energy_pj": r.energy_pj, "dram_bytes": _split(steps), "utilization": r.utilization}


def plot(data: dict, png: Path) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batches = data["batches"]
    fig, axes = plt.subplots(1, len(batches), figsize=(5.5 * len(batches), 4.2), squeeze=False)
    for ax, b in zip(axes[0], batches, strict=True):
        for hw in data["designs"]:
            pts = sorted((p["context"], p["tpot_seconds"] * 1e3) for p in data["decode"]
                         if p["hw"] == hw and p["batch"] == b)
            ax.plot([c for c, _ in pts], [t for _, t in pts], marker="o", label=hw)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("context length (tokens attended per decode step)")
        ax.set_ylabel("time per output token (ms)")
        ax.set_title(f"{data['workload']}, batch {b}")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_bytes_atomic(png, buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="gpt2")
    ap.add_argument("--hw", nargs="+", default=["gobo", "gobo-compress-tcore", "tcore", "tpu"])
    ap.add_argument("--contexts", nargs="+", type=int, default=[128, 256, 512, 1024])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--prefill", nargs="+", type=int, default=[128, 512])
    ap.add_argument("--out", default="bench/results/decode_context.json")
    ap.add_argument("--png", default="bench/results/decode_context.png")
    ap.add_argument("--replot", action="store_true", help="only redraw --png from an existing --out")
    args = ap.parse_args()
    if args.replot:
        plot(json.loads(Path(args.out).read_text()), Path(args.png))
        return
    t0 = time.time()
    data: dict = {"workload": args.workload, "designs": args.hw, "contexts": args.contexts, "batches": args.batches,
                  "decode": [], "prefill": []}
    for hw in args.hw:
        for b in args.batches:
            for c in args.contexts:
                data["decode"].append(decode_point(hw, args.workload, c, b))
                print(f"decode {hw} batch {b} context {c}: {data['decode'][-1]['tpot_seconds'] * 1e3:.4f} ms",
                      flush=True)
            for p in args.prefill:
                data["prefill"].append(prefill_point(hw, args.workload, p, b))
                print(f"prefill {hw} batch {b} prompt {p}: {data['prefill'][-1]['ttft_seconds'] * 1e3:.4f} ms",
                      flush=True)
    base = args.hw[0]
    for kind, key, x in (("decode", "tpot_seconds", "context"), ("prefill", "ttft_seconds", "prompt")):
        ref = {(p["batch"], p[x]): p[key] for p in data[kind] if p["hw"] == base}
        for p in data[kind]:
            p[f"{base}_speedup"] = p[key] / ref[(p["batch"], p[x])]  # >1: the baseline is slower than GOBO
    data["wall_seconds"] = round(time.time() - t0, 1)
    write_text_atomic(Path(args.out), json.dumps(data, indent=1) + "\n")
    plot(data, Path(args.png))
    print(f"wrote {args.out} and {args.png}")


if __name__ == "__main__":
    main()
