"""The cost model against published silicon: TPUv1 (Jouppi et al., ISCA 2017) and a BitFusion 8-bit PE.

Computes the model's numbers (``sim area`` of ``hwconfigs/tpuv1.yaml``, the busy power of a bert-base run,
the int8 MAC PE of ``hwconfigs/tpu.yaml`` at 45 nm) next to the published figures, writes them to
``bench/results/validate_silicon.json`` and the table between the markers in ``docs/VALIDATION.md``.
Nothing here is fitted: the published numbers are checks only.

    python bench/validate_silicon.py            # rewrite the JSON and the doc table
    python bench/validate_silicon.py --check    # exit 1 if either is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
JSON_PATH = ROOT / "bench" / "results" / "validate_silicon.json"
DOC_PATH = ROOT / "docs" / "VALIDATION.md"
BEGIN = "<!-- validate_silicon: begin (bench/validate_silicon.py writes this table) -->"
END = "<!-- validate_silicon: end -->"

# Published figures (docs/sources.md 4.4, 7.5). The TPUv1 die is bounded, not given: Table 2 prints NA with
# a footnote that it is under half of Haswell's 662 mm^2, so floorplan shares are converted at 331 mm^2
# and the absolute areas are upper bounds.
TPUV1_DIE_MAX_MM2 = 331.0
TPUV1_SHARE = {"unified_buffer": 0.29, "matrix_unit": 0.24, "accumulators": 0.06}  # Fig. 2 floorplan
TPUV1_IDLE_W = 28.0  # Table 2, per die, measured idle
TPUV1_BUSY_W = 40.0  # Table 2, per die, measured busy
BITFUSION_PE_UM2 = 8171.7 / 16  # hsharma35/bitfusion systolic_array_synth.csv, 4x4 array of 8/8 PEs, 45 nm
BITFUSION_PE_PJ = 1.6275e-3 / 16 / 500e6 * 1e12  # same row: dynamic power / PEs / 500 MHz


def model_numbers() -> dict[str, Any]:
    """The model's side of every comparison (computed, never stored by hand)."""
    from sim.api import area, run
    from sim.compute.systolic.cost import systolic_pe_parts_um2
    from sim.config.loader import load_hardware
    from sim.cost.energy import resolve_tech

    a = area("tpuv1")
    r = run("tpuv1", "bert-base", functional=False)
    assert r.energy_pj is not None and r.energy_breakdown_pj is not None, "the run report carries energy"
    busy_w = r.energy_pj * 1e-12 / r.seconds
    on_die_w = (r.energy_pj - r.energy_breakdown_pj["dram"]) * 1e-12 / r.seconds
    tpu45 = load_hardware("tpu")
    t45 = resolve_tech(tpu45)
    pe = sum(systolic_pe_parts_um2(tpu45.compute, t45).values())  # type: ignore[arg-type]
    return {
        "total_mm2": a.area_mm2,
        "unified_buffer_mm2": a.area_breakdown_mm2["sram.activations"],
        "matrix_unit_mm2": a.area_breakdown_mm2["systolic"],
        "accumulators_mm2": a.area_breakdown_mm2["sram.outputs"],
        "pe_overhead": a.pe_overhead,
        "leakage_w": a.leakage_mw * 1e-3,
        "busy_bert_base_w": busy_w,
        "busy_bert_base_on_die_w": on_die_w,
        "bert_base_utilization": r.utilization,
        "int8_pe_45nm_um2": pe,
        "int8_pe_45nm_with_overhead_um2": pe * t45.pe_overhead(),
    }


def rows(m: dict[str, Any]) -> list[tuple[str, float, float, str]]:
    """(quantity, model, published, unit) rows of the table."""
    tot = m["total_mm2"]
    out: list[tuple[str, float, float, str]] = [("TPUv1 die area (model: no I/O, PCIe, host interface)", tot,
                                                 TPUV1_DIE_MAX_MM2, "mm2")]
    for key, label in (("unified_buffer", "Unified Buffer (24 MiB)"), ("matrix_unit", "Matrix Multiply Unit"),
                       ("accumulators", "Accumulators (4 MiB)")):
        out.append((f"{label} area", m[f"{key}_mm2"], TPUV1_SHARE[key] * TPUV1_DIE_MAX_MM2, "mm2"))
        out.append((f"{label} share of die", 100 * m[f"{key}_mm2"] / tot, 100 * TPUV1_SHARE[key], "%"))
    out += [("TPUv1 idle power (model: leakage)", m["leakage_w"], TPUV1_IDLE_W, "W"),
            ("TPUv1 busy power (model: bert-base energy / time)", m["busy_bert_base_w"], TPUV1_BUSY_W, "W"),
            ("TPUv1 busy power, DRAM devices excluded", m["busy_bert_base_on_die_w"], TPUV1_BUSY_W, "W"),
            ("BitFusion 8-bit PE area, 45 nm (model: PE parts, no overhead)", m["int8_pe_45nm_um2"],
             BITFUSION_PE_UM2, "um2"),
            ("BitFusion 8-bit PE area, 45 nm (model: x control/wiring factor)",
             m["int8_pe_45nm_with_overhead_um2"], BITFUSION_PE_UM2, "um2")]
    return out


def table(m: dict[str, Any]) -> str:
    """The markdown table of ``rows`` (model, published, error = model / published - 1)."""
    lines = ["| quantity | model | published | error |", "|---|---:|---:|---:|"]
    for q, mv, pv, unit in rows(m):
        lines.append(f"| {q} | {mv:.3g} {unit} | {pv:.3g} {unit} | {100 * (mv / pv - 1):+.0f}% |")
    lines.append(f"\nModel control/wiring factor: {m['pe_overhead']:.3f}; bert-base (seq 128, batch 1) "
                 f"utilization {m['bert_base_utilization']:.3f}.")
    return "\n".join(lines)


def render_doc(doc: str, m: dict[str, Any]) -> str:
    """``doc`` with the text between the markers replaced by the table of ``m``."""
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table(m)}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if the JSON or the doc table is stale")
    args = p.parse_args(argv)
    m = model_numbers()
    doc = DOC_PATH.read_text()
    new_doc = render_doc(doc, m)
    new_json = json.dumps(m, indent=1, sort_keys=True) + "\n"
    if args.check:
        stale = new_doc != doc or not JSON_PATH.exists() or JSON_PATH.read_text() != new_json
        print("stale" if stale else "up to date")
        return 1 if stale else 0
    JSON_PATH.write_text(new_json)
    DOC_PATH.write_text(new_doc)
    print(table(m))
    return 0


if __name__ == "__main__":
    sys.exit(main())
