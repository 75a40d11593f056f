"""Error of the sampled decode (``decode_samples``) against simulating every decode step.

Usage: python bench/decode_sampling.py [--hw gobo tpu] [--workload gpt2] [--prompt-len 128] [--gen-tokens 64]
                                       [--samples 4 8 16] [--out bench/results/decode_sampling.json]

For each design: the run with every decode step simulated (``decode_samples = 0``) and with each ``--samples``
value; the relative error of the decode cycles, energy and DRAM bytes, and of the mean time per output token.
Timing only (no functional pass).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.io import write_text_atomic  # noqa: E402
from sim.pipeline import run  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hw", nargs="+", default=["gobo", "tpu"])
    ap.add_argument("--workload", default="gpt2")
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--gen-tokens", type=int, default=64)
    ap.add_argument("--samples", nargs="+", type=int, default=[4, 8, 16])
    ap.add_argument("--out", default="bench/results/decode_sampling.json")
    args = ap.parse_args()
    out: dict = {"workload": args.workload, "prompt_len": args.prompt_len, "gen_tokens": args.gen_tokens,
                 "designs": {}}
    for hw in args.hw:
        t0 = time.time()
        exact = run(hw, args.workload, seq_len=args.prompt_len, gen_tokens=args.gen_tokens, decode_samples=0,
                    functional=False).generation
        wall_exact = time.time() - t0
        dec = exact.phases[1]
        rows = []
        for s in args.samples:
            t0 = time.time()
            g = run(hw, args.workload, seq_len=args.prompt_len, gen_tokens=args.gen_tokens, decode_samples=s,
                    functional=False).generation
            d = g.phases[1]
            rows.append({"decode_samples": s, "wall_seconds": round(time.time() - t0, 1),
                         "cycles_rel_err": (d.cycles - dec.cycles) / dec.cycles,
                         "energy_rel_err": (d.energy_pj - dec.energy_pj) / dec.energy_pj,
                         "dram_bytes_rel_err": ((d.dram_read_bytes + d.dram_write_bytes)
                                                - (dec.dram_read_bytes + dec.dram_write_bytes))
                         / (dec.dram_read_bytes + dec.dram_write_bytes),
                         "tpot_mean_rel_err": (g.tpot_mean_seconds - exact.tpot_mean_seconds) / exact.tpot_mean_seconds})
            print(hw, rows[-1], flush=True)
        out["designs"][hw] = {"exact_decode_cycles": dec.cycles, "exact_wall_seconds": round(wall_exact, 1),
                              "sampled": rows}
    write_text_atomic(Path(args.out), json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
