"""The compare ratios of bert-base before and after each cost-model change, measured at the commits that made them.

Each step is a commit of this repository; the script checks it out into a temporary git worktree, runs
``python -m sim compare --workload bert-base --hw DESIGNS --json`` there (that commit's code, presets and
tables, from its source tree), and tabulates energy, area, cycles and the ratios against the TPU-like design.
Commits between two steps that changed timing rather than cost are listed as their own step, so a number that
moved can be followed to the change that moved it. Writes ``bench/results/cost_history.json``;
``bench/make_results.py`` turns that file into the "cost model, before and after" table of ``docs/RESULTS.md``.

    python bench/cost_history.py            # about a minute per step on 2 cores
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "cost_history.json"
DESIGNS = ["gobo", "tpu", "tcore", "gobo-compress-tcore", "gobo-compress-tpu"]

STEPS = [
    ("7a6be47", "before: SRAM leakage 1 mW/KiB, read energy by a width rule, blanket 3.82x logic overhead"),
    ("a6d841a", "SRAM energy, leakage, area and bank cycle time from CACTI 7 (itrs-lop cells, 300 K)"),
    ("ae9dbd0", "timing, not cost: TPU presets' systolic folds pipelined (TPUv1's double-buffered weights)"),
    ("2a282f8", "per-kind logic overhead from an open 45 nm flow replaces 3.82x; GOBO bins priced from cells"),
    ("HEAD", "now"),
]


def run_step(commit: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        wt = Path(tmp) / "wt"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(wt), commit], check=True)
        try:
            sha = subprocess.run(["git", "-C", str(wt), "rev-parse", "--short", "HEAD"], check=True,
                                 capture_output=True, text=True).stdout.strip()
            out = Path(tmp) / "cmp.json"
            env = dict(os.environ, PYTHONPATH=str(wt))
            subprocess.run([sys.executable, "-m", "sim", "compare", "--workload", "bert-base", "--hw", *DESIGNS,
                            "--json", str(out)], check=True, cwd=tmp, env=env, stdout=subprocess.DEVNULL)
            report = json.loads(out.read_text())
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(wt)], check=False)
    rows = {d["hw"]: {k: d[k] for k in ("cycles", "energy_pj", "area_mm2")} for d in report["designs"]}
    return {"commit": sha, "designs": rows}


def main() -> int:
    steps = []
    for commit, what in STEPS:
        res = run_step(commit)
        res["change"] = what
        steps.append(res)
        e = res["designs"]
        print(f"{res['commit']}: " + ", ".join(f"{hw} {v['energy_pj'] / 1e9:.2f} mJ {v['area_mm2']:.1f} mm2"
                                              for hw, v in e.items()), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"workload": "bert-base", "designs": DESIGNS, "steps": steps}, indent=1) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
