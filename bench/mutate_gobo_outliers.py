"""Mutation check of the GOBO outlier-path tests: apply each mutation by hand, run the covering tests, restore.

Usage: ``python bench/mutate_gobo_outliers.py [NAME ...]`` from the repository root. Every mutation must make at
least one test fail (the script exits 1 otherwise). The sources are restored after each run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TESTS = ["tests/test_hw_gobo_tile.py", "tests/test_gobo_outliers.py"]
SEQ = "        seq_all = np.repeat(op.counts[nb0:nb1, tile.k_chunk], mb)  # column-major"
STALLS = "            stalls = np.repeat(gobo_comparator_stall_cycles(g, op.columns[nb0:nb1, tile.k0:tile.k1]), mb)"

#: name -> (file, original text, mutated text)
MUTATIONS = {
    "timing-free-parallel": (
        "sim/compute/gobo/timing.py",
        "    F = np.where(valid, np.maximum(G, -(-np.maximum(grid, 0) * R // _outlier_rate(params))), 0)",
        "    F = np.where(valid, G, 0)"),
    "timing-free-blocks": ("sim/compute/gobo/timing.py", "    F = np.maximum(G, O)", "    F = G + 0 * O"),
    "mean-count": ("sim/compute/gobo/unit.py", SEQ,
                   "        seq_all = np.repeat(np.full(nb1 - nb0, int(round(op.counts[nb0:nb1, tile.k_chunk].mean()))), mb)"),
    "wrong-k-chunk-0": ("sim/compute/gobo/unit.py", SEQ, "        seq_all = np.repeat(op.counts[nb0:nb1, 0], mb)"),
    "wrong-k-chunk-next": ("sim/compute/gobo/unit.py", SEQ,
                           "        seq_all = np.repeat(op.counts[nb0:nb1, min(tile.k_chunk + 1, op.counts.shape[1] - 1)], mb)"),
    "wrong-k-columns": ("sim/compute/gobo/unit.py", "op.columns[nb0:nb1, tile.k0:tile.k1]",
                        "op.columns[nb0:nb1, 0:tile.k1 - tile.k0]"),
    "comparator-ignored-closed": ("sim/compute/gobo/timing.py", "    G = gobo_gaussian_cycles(params, K) + sgrid",
                                  "    G = gobo_gaussian_cycles(params, K) + 0 * sgrid"),
    "comparator-ignored-unit": ("sim/compute/gobo/unit.py", STALLS, STALLS.replace("stalls = ", "stalls = 0 * ")),
    "comparator-ignored-stepper": ("sim/compute/gobo/stepper.py", "                    lanes = p.outlier_positions_per_cycle",
                                   "                    lanes = 1 << 30"),
    "port-ignored": ("sim/compute/gobo/timing.py",
                     "    return min(params.outlier_macs_per_cycle, params.outlier_port_bytes)",
                     "    return params.outlier_macs_per_cycle"),
    "port-ignored-stepper": ("sim/compute/gobo/stepper.py",
                             "                mac_lanes, port_bytes = p.outlier_macs_per_cycle, p.outlier_port_bytes",
                             "                mac_lanes, port_bytes = p.outlier_macs_per_cycle, 1 << 30"),
}


def main(names: list[str]) -> int:
    survived = []
    for name in names or list(MUTATIONS):
        path, original, mutated = MUTATIONS[name]
        file = Path(path)
        src = file.read_text()
        if src.count(original) != 1:
            print(f"{name}: original text not found once in {path}")
            return 2
        file.write_text(src.replace(original, mutated))
        try:
            r = subprocess.run([sys.executable, "-m", "pytest", *TESTS, "-q", "-p", "no:cacheprovider"],
                               capture_output=True, text=True, check=False)
        finally:
            file.write_text(src)
        failed = [line.split(" ")[1].split("::")[-1] for line in r.stdout.splitlines() if line.startswith("FAILED")]
        print(f"{name}: {len(failed)} failing", *failed, sep="\n    ")
        if not failed:
            survived.append(name)
    if survived:
        print("survived:", ", ".join(survived))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
