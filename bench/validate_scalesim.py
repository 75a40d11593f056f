"""The systolic model against the real SCALE-Sim 3.0.0 on bert-base's encoder GEMMs (seq 128).

For every distinct GEMM shape of one bert-base encoder layer (Q/K/V/output projections, FFN1, FFN2, and
one head's Q K^T and P V), on 128x128, 32x32 and 16x16 arrays, every dataflow: SCALE-Sim's compute cycles,
operand SRAM reads and DRAM reads (bandwidth-estimate mode) next to the project's figures under
``fold_schedule: scalesim`` (what is compared: ``bench/scalesim_compare.py``). Prints the worst difference
and writes ``bench/results/scalesim.json`` (each run with SCALE-Sim's wall time; written after every
array/dataflow group, so a partial grid is kept). SCALE-Sim is slow on large GEMMs (one 128x128 FFN1 takes
~17 s; small arrays much longer): run it in the background.

    nice -n 10 python bench/validate_scalesim.py [--arrays 128,32,16] [--dataflows ws,os,is]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import scalesim_compare  # noqa: E402
import scalesim_env  # noqa: E402

from sim.io import write_text_atomic  # noqa: E402
from sim.workload import load_workload  # noqa: E402
from sim.workload.graph import lower  # noqa: E402

OUT = HERE / "results" / "scalesim.json"


def bert_gemms(seq_len: int = 128) -> list[list]:
    """Distinct (name, M, K, N) of one bert-base encoder layer, from the project's operator graph."""
    graph = lower(load_workload("bert-base", seq_len=seq_len))
    seen: dict[tuple[int, int, int], list] = {}
    for op in graph.ops:
        if op.layer != 0 or not op.is_matmul:
            continue
        m = op.m * op.count if op.kind == "gemm" else op.m
        shape = (m, op.k, op.n)
        if shape in seen:
            seen[shape][0] += "+" + op.name
        else:
            seen[shape] = [op.name, m, op.k, op.n]
    return list(seen.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arrays", default="128,32,16", help="square array sides, comma separated")
    ap.add_argument("--dataflows", default="ws,os,is")
    ap.add_argument("--sram-kb", type=int, default=4096,
                    help="each SCALE-Sim SRAM (KiB); the DRAM reads compare with the compulsory bytes only when "
                         "half of it (its double buffer) holds the operand")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    scalesim_env.ensure()
    gemms = bert_gemms()
    doc: dict = {"tool": f"scalesim=={scalesim_env.SCALESIM_VERSION} ({scalesim_env.NUMPY_PIN}), "
                         f"InterfaceBandwidth CALC, SRAMs {args.sram_kb} KiB each",
                 "command": "nice -n 10 python bench/validate_scalesim.py " + " ".join(sys.argv[1:]),
                 "workload": "bert-base encoder layer GEMMs, seq 128", "gemms": gemms, "runs": []}
    worst = {f: 0 for f in scalesim_compare.FIELDS}
    t0 = time.time()
    for side in (int(s) for s in args.arrays.split(",")):
        for df in args.dataflows.split(","):
            res = scalesim_compare.compare(scalesim_compare.run_scalesim(
                [{"rows": side, "cols": side, "dataflow": df, "sram_kb": args.sram_kb, "gemms": gemms}],
                timeout_s=36000))
            for r in res:
                for f in worst:
                    worst[f] = max(worst[f], abs(r["diff"][f]))
                print(f"{side}x{side} {df} {r['name']:<24} M={r['m']} K={r['k']} N={r['n']}: SCALE-Sim "
                      f"{r['compute_cycles']} cycles, project {r['project']['compute_cycles']}; "
                      f"diffs {r['diff']} ({r['wall_s']} s)", flush=True)
            doc["runs"] += res
            doc["worst_abs_diff"] = worst
            doc["wall_s"] = round(time.time() - t0, 1)
            write_text_atomic(args.out, json.dumps(doc, indent=1) + "\n")
    print(f"worst |project - SCALE-Sim| over {len(doc['runs'])} runs: {worst}")


if __name__ == "__main__":
    main()
