"""Energy and area of every preset on one workload under each SRAM cell type, bank organisation and temperature.

Usage: python bench/cacti/sram_cells.py [--workload bert-base] [--out bench/results/sram_cells.json]

Each preset is simulated once (its own configuration); its action counts and run time are then re-priced with
the buffers' ``cell`` / ``temperature_k`` changed, and with the earlier 16-bank organisation (16 x 32 B weights,
16 x 16 B activations and outputs for gobo; 16 x 64 B everywhere for the others). Changing the cell type changes no
cycle count, so re-pricing is exact; ``clock_hz`` is lowered only so that validation accepts bank organisations
that do not cycle at 1 GHz (the pricing uses the run's own seconds, not the clock). Written per design and
variant: energy, leakage (all and SRAM), SRAM dynamic energy, area and SRAM area; and GOBO's energy advantage
over the TPU-like and tensor-core designs per variant.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sim.api import run  # noqa: E402
from sim.config.loader import load_hardware  # noqa: E402
from sim.cost import price  # noqa: E402
from sim.cost.area import area  # noqa: E402
from sim.io import write_text_atomic  # noqa: E402

DESIGNS = ("gobo", "tpu", "tcore", "gobo-compress-tcore", "gobo-compress-tpu")
BUFFERS = ("weights", "activations", "outputs")
OLD_BANKS = {"gobo": {"weights": (16, 32), "activations": (16, 16), "outputs": (16, 16)}}
OLD_BANKS.update({d: {b: (16, 64) for b in BUFFERS} for d in DESIGNS[1:]})
VARIANTS = [  # name, cell, 16-bank organisation?, temperature
    ("lop, preset banks", "itrs-lop", False, 300), ("lop, 16 banks", "itrs-lop", True, 300),
    ("lstp, preset banks", "itrs-lstp", False, 300), ("lstp, 16 banks", "itrs-lstp", True, 300),
    ("hp, preset banks", "itrs-hp", False, 300), ("hp, 16 banks", "itrs-hp", True, 300),
    ("hp 350 K, preset banks", "itrs-hp", False, 350), ("hp 350 K, 16 banks", "itrs-hp", True, 350),
]


def sets_for(design: str, cell: str, old: bool, temperature: int) -> list[str]:
    out = ["clock_hz=2e8"]
    for b in BUFFERS:
        out += [f"buffers.{b}.cell={cell}", f"buffers.{b}.temperature_k={temperature}"]
        if old:
            banks, port = OLD_BANKS[design][b]
            out += [f"buffers.{b}.banks={banks}", f"buffers.{b}.port_bytes={port}"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="bert-base")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "bench/results/sram_cells.json")
    args = ap.parse_args(argv)
    res: dict = {"workload": args.workload, "node_nm": 45, "designs": {}}
    for d in DESIGNS:
        r = run(d, args.workload, functional=False)
        res["designs"][d] = {"cycles": r.cycles, "seconds": r.seconds, "variants": {}}
        for name, cell, old, temp in VARIANTS:
            hw = load_hardware(d, sets=sets_for(d, cell, old, temp))
            e = price(r.actions, hw, r.seconds)
            a = area(hw)
            res["designs"][d]["variants"][name] = {
                "energy_mj": e.energy_pj / 1e9, "leakage_mj": e.breakdown_pj["leakage"] / 1e9,
                "sram_leakage_mj": sum(v for k, v in e.leakage_by_component_pj.items() if k.startswith("sram.")) / 1e9,
                "sram_dynamic_mj": e.breakdown_pj["sram"] / 1e9, "area_mm2": a.area_mm2,
                "sram_area_mm2": sum(v for k, v in a.area_breakdown_mm2.items() if k.startswith("sram."))}
    v = {d: res["designs"][d]["variants"] for d in DESIGNS}
    res["gobo_advantage"] = {n: {"over_tpu": v["tpu"][n]["energy_mj"] / v["gobo"][n]["energy_mj"],
                                 "over_tcore": v["tcore"][n]["energy_mj"] / v["gobo"][n]["energy_mj"]}
                             for n, *_ in VARIANTS}
    write_text_atomic(args.out, json.dumps(res, indent=1) + "\n")
    for d in DESIGNS:
        for n, x in v[d].items():
            print(f"{d:20s} {n:24s} E {x['energy_mj']:6.2f} mJ  leak {x['leakage_mj']:5.2f} "
                  f"({100 * x['leakage_mj'] / x['energy_mj']:4.1f} %, SRAM {x['sram_leakage_mj']:6.3f})  "
                  f"SRAM dyn {x['sram_dynamic_mj']:5.2f}  area {x['area_mm2']:6.2f} (SRAM {x['sram_area_mm2']:5.2f})")
    for n, g in res["gobo_advantage"].items():
        print(f"GOBO advantage [{n}]: {g['over_tpu']:.3f}x over tpu, {g['over_tcore']:.3f}x over tcore")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
