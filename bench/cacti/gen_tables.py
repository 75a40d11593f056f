"""Generate the SRAM tables of the cost model (``hwconfigs/tech/cacti7_sram.json``) by running CACTI 7.

Usage::

    python bench/cacti/gen_tables.py --cacti DIR [--commit SHA] [--out hwconfigs/tech/cacti7_sram.json]
                                     [--work DIR] [--heldout N] [--seed S]

``DIR`` is a built CACTI 7 source tree (``HewlettPackard/cacti`` on GitHub; ``make`` builds ``DIR/cacti``; an
``-O2`` build gives the same numbers faster). CACTI is run from ``DIR`` (it reads ``tech_params/`` relative to
the working directory). Only regenerating the tables needs CACTI; the simulator reads the JSON.

Each configuration's cfg is CACTI's own ``cache.cfg`` with the lines of :data:`SUBSTITUTIONS` replaced (every
key must occur exactly once; the rest of the file, including the trailing DRAM-interface block that CACTI
needs to run at all, is kept as is). The template with its ``{placeholders}``, the sha256 of the base file and
the CACTI commit go into the output, so the tables can be regenerated exactly.

What is swept (the grid, :data:`GRID`): total capacity, port width (CACTI's block size; a scratchpad RAM, one
read-write port, direct mapped), bank count (CACTI's UCA banks), node (45/32/22 nm), cell type (the same ITRS
type for the data cells and their periphery: itrs-hp, itrs-lop, itrs-lstp), and temperature (300 and 350 K).
Temperature changes only CACTI's leakage: the 350 K run forces the organisation CACTI chose at 300 K (its
Ndwl, Ndbl, Nspd, Ndcm, Ndsam; no second search), the script checks every other output is identical and stops
if not, and each row holds the leakage at both temperatures.

Per row (see ``columns`` in the output): read and write energy per access of one port-width word (pJ, CACTI's
"Total dynamic read/write energy per access", which includes the H-tree between the macro's edge and the bank);
area of the whole banked macro (mm^2, CACTI's height x width: all banks and the wiring between them); the
bank's random cycle time and the macro's access time (ns); leakage as CACTI prints it for a banked run: one
bank plus the H-tree (sub-threshold and gate leakage separately, mW, at 300 and 350 K); the H-tree's share of
that figure (sub-threshold + gate, mW, 300 K) so the convention used for the whole macro can be bounded.

Held-out points (``--heldout N``, random, off the grid in capacity and port width: 3 x 2^k; the bank count is a
grid value, since CACTI's UCA takes only powers of two) are written under ``heldout`` with the same columns; the
tests measure the model's interpolation error on them.

Runs are cached in ``--work`` (one JSON line per configuration), so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "hwconfigs" / "tech" / "cacti7_sram.json"
DEFAULT_COMMIT = "1ffd8dfb10303d306ecd8d215320aea07651e878"

KIB = 1024
CELLS = ("itrs-hp", "itrs-lop", "itrs-lstp")
NODES_NM = (45, 32, 22)
TEMPERATURES_K = (300, 350)

GRID = {
    "capacity_bytes": [2 ** k for k in range(12, 26)],   # 4 KiB .. 32 MiB
    "port_bytes": [4, 8, 16, 32, 64],
    "banks": [2 ** k for k in range(0, 9)],               # 1 .. 256
}
MIN_BANK_BYTES = 2 * KIB
"""Banks smaller than this are not swept (CACTI finds no organisation for a few rows of a wide word)."""
MAX_BANK_BYTES = 4 * KIB * KIB
"""Banks larger than this are not swept (they cycle far slower than any clock of interest, and CACTI's search of
them is the slowest part of the sweep)."""

#: cache.cfg key (the text before the value) -> value; ``{name}`` are filled per configuration.
SUBSTITUTIONS = {
    "-size (bytes)": "{capacity_bytes}",
    "-block size (bytes)": "{port_bytes}",
    "-associativity": "1",
    "-read-write port": "1",
    "-exclusive read port": "0",
    "-exclusive write port": "0",
    "-single ended read ports": "0",
    "-UCA bank count": "{banks}",
    "-technology (u)": "{technology_um}",
    '-Data array cell type -': '"{cell}"',
    '-Data array peripheral type -': '"{cell}"',
    '-Tag array cell type -': '"{cell}"',
    '-Tag array peripheral type -': '"{cell}"',
    "-output/input bus width": "{bus_bits}",
    "-operating temperature (K)": "{temperature_k}",
    "-cache type": '"ram"',
    "-Add ECC": '"false"',
    "-Print level (DETAILED, CONCISE) -": '"DETAILED"',
    "-Print input parameters -": '"false"',
    "-Cache model (NUCA, UCA)  -": '"UCA"',
    '-Optimize ED or ED^2 (ED, ED^2, NONE):': '"ED^2"',
    "-Force cache config -": '"{force}"',
    "-Ndwl": "{ndwl}",
    "-Ndbl": "{ndbl}",
    "-Nspd": "{nspd}",
    "-Ndcm": "{ndcm}",
    "-Ndsam1": "{ndsam1}",
    "-Ndsam2": "{ndsam2}",
}
SEARCH = {"force": "false", "ndwl": 1, "ndbl": 1, "nspd": 0, "ndcm": 1, "ndsam1": 0, "ndsam2": 0}
"""The organisation fields of a searching run (CACTI's defaults; ignored when ``force`` is false)."""

COLUMNS = ("node_nm", "cell", "capacity_bytes", "port_bytes", "banks", "read_pj", "write_pj", "area_mm2",
           "cycle_ns", "access_ns", "leak_sub_mw_300k", "leak_gate_mw_300k", "leak_sub_mw_350k",
           "leak_gate_mw_350k", "htree_leak_mw_300k")

_PATTERNS = {
    "access_ns": r"^\s*Access time \(ns\):\s*(\S+)",
    "cycle_ns": r"^\s*Cycle time \(ns\):\s*(\S+)",
    "read_nj": r"^\s*Total dynamic read energy per access \(nJ\):\s*(\S+)",
    "write_nj": r"^\s*Total dynamic write energy per access \(nJ\):\s*(\S+)",
    "leak_mw": r"^\s*Total leakage power of a bank \(mW\):\s*(\S+)",
    "gate_mw": r"^\s*Total gate leakage power of a bank \(mW\):\s*(\S+)",
    "hw_mm": r"^\s*Cache height x width \(mm\):\s*(\S+) x (\S+)",
    "htree_sub_mw": r"^\s*Total leakage power in H-tree \(that includes both address and data network\) "
                    r"\(\(mW\)\):\s*(\S+)",
    "htree_gate_mw": r"^\s*Total gate leakage power in H-tree \(that includes both address and data network\) "
                     r"\(\(mW\)\):\s*(\S+)",
    "ndwl": r"^\s*Best Ndwl\s*:\s*(\S+)",
    "ndbl": r"^\s*Best Ndbl\s*:\s*(\S+)",
    "nspd": r"^\s*Best Nspd\s*:\s*(\S+)",
    "ndcm": r"^\s*Best Ndcm\s*:\s*(\S+)",
    "ndsam1": r"^\s*Best Ndsam L1\s*:\s*(\S+)",
    "ndsam2": r"^\s*Best Ndsam L2\s*:\s*(\S+)",
}


def template(base: str) -> str:
    """CACTI's ``cache.cfg`` text with the :data:`SUBSTITUTIONS` lines replaced (each key exactly once)."""
    out = base.replace("{", "{{").replace("}", "}}")
    for key, value in SUBSTITUTIONS.items():
        pat = re.compile(r"^" + re.escape(key) + r"(?=[\s\"]).*$", re.M)
        found = pat.findall(out)
        if len(found) != 1:
            raise SystemExit(f"cache.cfg: key {key!r} occurs {len(found)} times (expected exactly once)")
        out = pat.sub(lambda _m, k=key, v=value: f"{k} {v}", out)
    return out


def parse(text: str) -> dict[str, float] | None:
    """The figures of one CACTI run, or None when CACTI found no organisation (or printed no result)."""
    got: dict[str, float] = {}
    for name, pat in _PATTERNS.items():
        m = re.search(pat, text, re.M)
        if m is None:
            return None
        if name == "hw_mm":
            got["area_mm2"] = float(m.group(1)) * float(m.group(2))
        else:
            got[name] = float(m.group(1))
    return got


def run_one(cacti: Path, tmpl: str, cfg_path: Path, *, node_nm: int, cell: str, capacity_bytes: int,
            port_bytes: int, banks: int, temperature_k: int, org: dict | None = None) -> dict[str, float] | None:
    """One CACTI run; ``org`` forces the organisation (Ndwl, Ndbl, ... of an earlier run) instead of searching."""
    organisation = SEARCH if org is None else {"force": "true", **{k: int(org[k]) for k in SEARCH if k != "force"}}
    cfg_path.write_text(tmpl.format(capacity_bytes=capacity_bytes, port_bytes=port_bytes, banks=banks,
                                    technology_um=f"{node_nm / 1000:.3f}", cell=cell, bus_bits=port_bytes * 8,
                                    temperature_k=temperature_k, **organisation))
    proc = subprocess.run([str(cacti / "cacti"), "-infile", str(cfg_path)], cwd=cacti, capture_output=True,
                          text=True, timeout=600)
    return parse(proc.stdout) if proc.returncode == 0 else None


def row(cacti: Path, tmpl: str, cfg_path: Path, key: tuple[int, str, int, int, int]) -> list | None:
    """One table row (:data:`COLUMNS`) for ``(node_nm, cell, capacity_bytes, port_bytes, banks)``."""
    node, cell, cap, port, banks = key
    spec = dict(node_nm=node, cell=cell, capacity_bytes=cap, port_bytes=port, banks=banks)
    a = run_one(cacti, tmpl, cfg_path, temperature_k=300, **spec)  # type: ignore[arg-type]
    if a is None:
        return None
    # the organisation CACTI chose at 300 K, forced at 350 K (no second search; the check below confirms that
    # only leakage differs)
    b = run_one(cacti, tmpl, cfg_path, temperature_k=350, org=a, **spec)  # type: ignore[arg-type]
    if b is None:
        raise SystemExit(f"{key}: the 300 K organisation gives no result at 350 K")
    for name in ("access_ns", "cycle_ns", "read_nj", "write_nj", "area_mm2"):
        if a[name] != b[name]:
            raise SystemExit(f"{key}: {name} differs between 300 K and 350 K ({a[name]} vs {b[name]}); the table "
                             "format assumes temperature changes only leakage")
    return [node, cell, cap, port, banks, a["read_nj"] * 1e3, a["write_nj"] * 1e3, a["area_mm2"], a["cycle_ns"],
            a["access_ns"], a["leak_mw"], a["gate_mw"], b["leak_mw"], b["gate_mw"],
            a["htree_sub_mw"] + a["htree_gate_mw"]]


def grid_keys() -> list[tuple[int, str, int, int, int]]:
    keys = []
    for node, cell, cap, port, banks in itertools.product(NODES_NM, CELLS, GRID["capacity_bytes"],
                                                          GRID["port_bytes"], GRID["banks"]):
        if MIN_BANK_BYTES <= cap // banks <= MAX_BANK_BYTES:
            keys.append((node, cell, cap, port, banks))
    return keys


def heldout_keys(n: int, seed: int) -> list[tuple[int, str, int, int, int]]:
    """``n`` random configurations off the grid in capacity and port width, inside its range. CACTI's UCA takes
    only power-of-two bank counts, so the bank count is a grid value (and the model's interpolation between bank
    counts has no CACTI answer to be checked against)."""
    rng = random.Random(seed)
    caps = [3 * 2 ** k for k in range(12, 24)]            # 12 KiB .. 24 MiB
    ports = [6, 12, 24, 48]
    out: set[tuple[int, str, int, int, int]] = set()
    while len(out) < n:
        c, p, b = rng.choice(caps), rng.choice(ports), rng.choice(GRID["banks"])
        if MIN_BANK_BYTES <= c // b <= MAX_BANK_BYTES:
            out.add((rng.choice(NODES_NM), rng.choice(CELLS), c, p, b))
    return sorted(out)


def fmt(v):
    return float(f"{v:.5g}") if isinstance(v, float) else v


def sweep(cacti: Path, tmpl: str, keys: list, cache_file: Path) -> tuple[list, list]:
    done: dict[str, list | None] = {}
    if cache_file.exists():
        for line in cache_file.read_text().splitlines():
            rec = json.loads(line)
            done[json.dumps(rec["key"])] = rec["row"]
    cfg_path = cache_file.with_suffix(".cfg")
    t0, n_new = time.time(), 0
    with cache_file.open("a") as log:
        for i, key in enumerate(keys):
            k = json.dumps(list(key))
            if k in done:
                continue
            r = row(cacti, tmpl, cfg_path, key)
            done[k] = r
            log.write(json.dumps({"key": list(key), "row": r}) + "\n")
            log.flush()
            n_new += 1
            if n_new % 200 == 0:
                print(f"  {i + 1}/{len(keys)} ({(time.time() - t0) / n_new:.2f} s per configuration)", flush=True)
    rows, failed = [], []
    for key in keys:
        r = done[json.dumps(list(key))]
        if r is None:
            failed.append(list(key))
        else:
            rows.append([fmt(v) for v in r])
    return rows, failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cacti", type=Path, required=True, help="built CACTI 7 source tree (holds ./cacti)")
    ap.add_argument("--commit", default=DEFAULT_COMMIT, help="the CACTI commit the tree was taken from")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--work", type=Path, default=None, help="directory for the run cache (default: --cacti)")
    ap.add_argument("--heldout", type=int, default=300, help="number of held-out configurations")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    cacti = args.cacti.resolve()
    if not (cacti / "cacti").is_file() or not (cacti / "cache.cfg").is_file():
        print(f"{cacti}: not a built CACTI tree (needs ./cacti and ./cache.cfg)", file=sys.stderr)
        return 2
    base = (cacti / "cache.cfg").read_text()
    tmpl = template(base)
    work = (args.work or cacti).resolve()
    work.mkdir(parents=True, exist_ok=True)
    keys = grid_keys()
    print(f"grid: {len(keys)} configurations x {len(TEMPERATURES_K)} temperatures", flush=True)
    rows, failed = sweep(cacti, tmpl, keys, work / "gobosim_grid.jsonl")
    hkeys = heldout_keys(args.heldout, args.seed)
    print(f"held out: {len(hkeys)} configurations", flush=True)
    hrows, hfailed = sweep(cacti, tmpl, hkeys, work / "gobosim_heldout.jsonl")
    out = {
        "format": "gobosim-cacti7-sram/1",
        "source": "CACTI 7 (Balasubramonian et al., ACM TACO 14(2), 2017), https://github.com/HewlettPackard/cacti",
        "cacti_commit": args.commit,
        "generator": "bench/cacti/gen_tables.py",
        "cfg_base": "cache.cfg of that commit",
        "cfg_base_sha256": hashlib.sha256(base.encode()).hexdigest(),
        "cfg_substitutions": SUBSTITUTIONS,
        "cfg_template": tmpl,
        "conventions": {
            "cell": "the same ITRS device type for the data cells and their periphery",
            "read_pj/write_pj": "CACTI's dynamic energy per access of one port_bytes word, H-tree to the bank included",
            "area_mm2": "the whole banked macro: CACTI's height x width (all banks and the inter-bank H-tree)",
            "cycle_ns": "the bank's random cycle time (CACTI's Cycle time; the H-tree is pipelined)",
            "leak_*": "as CACTI prints it for a banked run: one bank plus the H-tree, sub-threshold and gate "
                      "leakage separately",
            "htree_leak_mw_300k": "the H-tree part of that figure (sub-threshold + gate, 300 K)",
            "temperature": "only leakage depends on it in CACTI (checked for every row)",
        },
        "grid": {"node_nm": list(NODES_NM), "cell": list(CELLS), "temperature_k": list(TEMPERATURES_K),
                 **GRID, "min_bank_bytes": MIN_BANK_BYTES,
                 "max_bank_bytes": MAX_BANK_BYTES},
        "columns": list(COLUMNS),
        "rows": rows,
        "failed": failed,
        "heldout": {"seed": args.seed, "rows": hrows, "failed": hfailed},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    tmp.replace(args.out)
    print(f"wrote {args.out}: {len(rows)} rows ({len(failed)} configurations without a CACTI result), "
          f"{len(hrows)} held-out rows; {args.out.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
