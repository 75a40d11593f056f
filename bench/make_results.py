"""Regenerate docs/RESULTS.md: GOBO against the baselines, sensitivities, breakdowns, systolic cycles, accuracy,
the low-bit family and the weight formats' accuracy.

Usage: python bench/make_results.py [--out docs/RESULTS.md] [--quick]

Every table is computed by this script from the simulator in this state of the code (nothing is
copied in by hand); the accuracy table and the sweep figures are read from the files their own
commands write (bench/results/functional_accuracy.json, bench/results/format_accuracy.json,
bench/results/family.json, plots/), and the section says which command.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim import api  # noqa: E402
from sim.compute.systolic.timing import SystolicParams, systolic_gemm_timing  # noqa: E402
from sim.config import load_hardware  # noqa: E402
from sim.cost.run import price_run  # noqa: E402

DESIGNS = ["gobo", "tcore", "gobo-compress-tcore", "tpu", "gobo-compress-tpu"]


def _table(header: list[str], rows: list[list[object]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _dominant(r) -> str:
    stalls = {k: v for k, v in r.stall_breakdown_cycles.items() if v}
    if not stalls:
        return "none"
    k = max(stalls, key=stalls.get)
    return f"{k} {stalls[k] / r.cycles:.0%}"


def compare_section(workload: str, seq_len: int | None = None) -> tuple[str, dict]:
    rep = api.compare(workload, DESIGNS, seq_len=seq_len).to_dict()
    rows = []
    runs = {}
    for d in rep["designs"]:
        r = api.run(d["hw"], workload, seq_len=seq_len, functional=False)
        runs[d["hw"]] = r
        e = r.energy_breakdown_pj
        rows.append([d["hw"], f"{d['cycles']:,}", f"{d['seconds'] * 1e3:.3f}", f"{r.utilization:.2f}",
                     f"{d['energy_pj'] / 1e9:.2f}", f"{e['dram'] / r.energy_pj:.0%}", f"{e['leakage'] / r.energy_pj:.0%}",
                     f"{d['area_mm2']:.1f}", f"{d['dram_read_bytes'] / 1e6:.1f}", f"{d['speedup']:.2f}",
                     f"{d['energy_efficiency']:.2f}", _dominant(r)])
    head = ["design", "cycles", "ms", "util", "energy mJ", "DRAM share", "leak share", "area mm2", "DRAM read MB",
            "speedup vs gobo", "energy eff vs gobo", "largest stall"]
    return _table(head, rows), runs


def roofline_section(runs: dict, workload: str = "bert-base") -> str:
    """Per design, each GEMM of layer 0 (attention matmuls over all heads): simulated utilization next to
    the roofline's, and which roof binds."""
    names = ["q_proj", "k_proj", "v_proj", "qk", "av", "out_proj", "ffn1", "ffn2"]
    rows = []
    for hw, r in runs.items():
        bound = {o.name: o for o in api.run_bound(hw, workload).ops}
        peak = r.peak_macs_per_cycle
        cells = [hw]
        for n in names:
            op = next((o for o in r.ops if o.layer == 0 and o.name.endswith("." + n)), None)
            if op is None or not op.cycles:
                cells.append("-")
                continue
            b = bound[op.name]
            roof = "C" if b.stall_cycles == 0 else "M"
            cells.append(f"{op.macs / (op.cycles * peak):.2f} ({op.macs / (b.cycles * peak):.2f}{roof})")
        rows.append(cells)
    return _table(["design"] + names, rows)


def sensitivity(designs: list[str], key: str, values: list, workload: str = "bert-base") -> str:
    rows = []
    for v in values:
        row = [v]
        for hw in designs:
            if key == "seq_len":
                r = api.run(hw, workload, seq_len=v, functional=False)
            else:
                r = api.run(load_hardware(hw, [f"{key}={v}"]), workload, functional=False)
            row.append(f"{r.seconds * 1e3:.3f} ms / {r.dram_read_bytes / 1e6:.0f} MB")
        rows.append(row)
    return _table([key] + designs, rows)


def systolic_section() -> str:
    shapes = [("Q/K/V/out projection", 128, 768, 768), ("FFN1", 128, 768, 3072), ("FFN2", 128, 3072, 768),
              ("QK^T per head", 128, 64, 128), ("AV per head", 128, 128, 64)]
    rows = []
    for side in (128, 32):
        for name, m, k, n in shapes:
            row = [f"{side}x{side}", f"{name} ({m}x{k}x{n})"]
            for df in ("ws", "os", "is"):
                t = systolic_gemm_timing(SystolicParams(side, side, df), m, k, n)
                row.append(f"{t.cycles:,} ({m * k * n / (t.cycles * side * side):.0%})")
            rows.append(row)
    return _table(["array", "GEMM (M x K x N)", "ws", "os", "is"], rows)


BUFFERS = ("weights", "activations", "outputs")
CELLS = [("itrs-lop", 300), ("itrs-lstp", 300), ("itrs-hp", 300), ("itrs-hp", 350)]
"""SRAM cell variants priced below: the presets' lop, the low-standby-power cells, and hp as the pessimistic case
(hp at 350 K is what the earlier 1 mW/KiB leakage corresponded to)."""


def _cell_sets(cell: str, temperature_k: int) -> list[str]:
    """--set overrides giving every buffer ``cell``; the clock is lowered so that validation accepts banks that do
    not cycle at 1 GHz (lstp): pricing uses the run's own seconds, and no cycle count depends on the cell."""
    sets = ["clock_hz=2e8"]
    for b in BUFFERS:
        sets += [f"buffers.{b}.cell={cell}", f"buffers.{b}.temperature_k={temperature_k}"]
    return sets


def _priced(r, hw: str, node: int, sets: list[str] | None = None):
    """A copy of run ``r`` re-priced at ``node`` nm with the hardware overrides ``sets`` (the run is not touched)."""
    if node == 45 and not sets:
        return r
    return price_run(copy.deepcopy(r), load_hardware(hw, sets=sets or []), node_nm=None if node == 45 else node)


def energy_section(runs: dict, sets: list[str] | None = None) -> str:
    rows = []
    for node in (45, 28):
        for hw, r in runs.items():
            res = _priced(r, hw, node, sets)
            e = res.energy_breakdown_pj
            rows.append([hw, node, f"{res.energy_pj / 1e9:.2f}"] +
                        [f"{e.get(k, 0) / 1e9:.2f}" for k in ("compute", "vector", "sram", "dram", "leakage")] +
                        [f"{res.area_mm2:.1f}"])
    return _table(["design", "nm", "total mJ", "compute", "vector", "sram", "dram", "leakage", "area mm2"], rows)


def cell_section(runs: dict, png: Path) -> str:
    """Energy of every design under each SRAM cell type (45 nm), the GOBO ratios per cell, and the plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [f"{c.removeprefix('itrs-')} {k} K" for c, k in CELLS]
    energy: dict[str, list[tuple[float, float]]] = {}
    for hw, r in runs.items():
        energy[hw] = []
        for cell, temp in CELLS:
            res = _priced(r, hw, 45, _cell_sets(cell, temp))
            energy[hw].append((res.energy_pj / 1e9, res.energy_breakdown_pj["leakage"] / 1e9))
    rows = [[hw] + [f"{e:.2f} ({lk / e:.0%})" for e, lk in v] for hw, v in energy.items()]
    if "gobo" in energy:
        for base in ("tpu", "tcore"):
            if base in energy:
                rows.append([f"{base} / gobo energy"] +
                            [f"{b[0] / g[0]:.2f}x" for b, g in zip(energy[base], energy["gobo"], strict=True)])
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.8 / len(CELLS)
    for j, name in enumerate(names):
        xs = [i + (j - (len(CELLS) - 1) / 2) * width for i in range(len(energy))]
        tot = [v[j][0] for v in energy.values()]
        leak = [v[j][1] for v in energy.values()]
        bars = ax.bar(xs, tot, width, label=name, color=f"C{j}")
        ax.bar(xs, leak, width, color="none", edgecolor="black", hatch="//", linewidth=0.5)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(energy)), list(energy), fontsize=8)
    ax.set_ylabel("energy per inference (mJ)")
    ax.set_title("bert-base seq 128, 45 nm: energy by SRAM cell type (hatched: leakage)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return _table(["design"] + [f"{n} mJ (leak share)" for n in names], rows)


def history_section(path: Path) -> str:
    """The compare ratios before and after each cost-model change (bench/cost_history.py's measurements)."""
    if not path.is_file():
        return f"(not measured: run `python bench/cost_history.py` to write {path.relative_to(ROOT)})"
    h = json.loads(path.read_text())
    designs = h["designs"]
    rows = []
    for s in h["steps"]:
        d = s["designs"]
        cells = [s["commit"], s["change"]] + [f"{d[x]['energy_pj'] / 1e9:.2f} / {d[x]['area_mm2']:.1f}" for x in designs]
        g = d["gobo"]
        cells += [f"{d['tpu']['energy_pj'] / g['energy_pj']:.2f}x", f"{d['tcore']['energy_pj'] / g['energy_pj']:.2f}x",
                  f"{d['tpu']['cycles'] / g['cycles']:.2f}x", f"{d['tcore']['cycles'] / g['cycles']:.2f}x"]
        rows.append(cells)
    head = ["commit", "change"] + [f"{x} mJ / mm2" for x in designs] + \
        ["tpu/gobo energy", "tcore/gobo energy", "gobo speedup vs tpu", "gobo speedup vs tcore"]
    return _table(head, rows)


def area_section() -> str:
    from sim.cost.area import area

    rows = []
    for hw in DESIGNS:
        a = area(load_hardware(hw))
        parts = ", ".join(f"{k} {v:.1f}" for k, v in a.area_breakdown_mm2.items())
        rows.append([hw, f"{a.area_mm2:.1f}", parts])
    return _table(["design", "area mm2 (45 nm)", "breakdown mm2"], rows)


def _per_product(hw, kind: str, products: int) -> tuple[float, float]:
    """(area with overhead, area before overhead) of a design's compute component per product/cycle, um^2."""
    from sim.cost.area import area

    a = area(hw)
    total = a.area_breakdown_mm2[kind]
    over = a.area_detail_mm2.get(f"{kind}.placement_overhead", 0.0)
    return total * 1e6 / products, (total - over) * 1e6 / products


def gobo_pe_energy_pj(hw, k_depth: int) -> dict[str, float]:
    """Dynamic energy per product of the GOBO PE array in steady state (pJ), by part, counted as the tile
    timing model counts its actions: the bin accumulate (by bin width and storage), the PE's index read and
    index/mask pipeline registers (shared by its R rows), the tile's activation broadcast (shared by its PEs)
    and the post-reduction of one output (C centroid products with dictionary reads, C-1 tree adds, the merge,
    32-bit registers; once per K products)."""
    from sim.compute.gobo.cost import bin_accumulate_pj
    from sim.cost.tech import tech

    c, b = hw.compute, hw.weights.bits
    t = tech(hw.tech.table, hw.tech.node_nm)
    e, reg = t.energy_pj, t.energy_pj("reg_bit")
    r, n_bins, stages = c.rows_per_pe, 2 ** b, c.decode_latency_cycles + c.add_latency_cycles
    out = {f"bin {k}": v for k, v in bin_accumulate_pj(c, t).items()}
    out["index"] = (b * reg + (b + 1) * stages * reg) / r
    out["broadcast"] = 8 * r * stages * reg / (c.pes_per_tile * r)
    out["post-reduction"] = (n_bins * (e("mul_int8x32") + 8 * reg) + n_bins * e("add_int32")
                             + 32 * (2 * n_bins) * reg) / k_depth
    return out


def gobo_pe_section(k_depth: int = 768) -> str:
    """Area and energy per product per cycle: the GOBO PE under each bin choice, the int8 MAC PE, the fp16 FMA."""
    from sim.cost.tech import tech

    rows = []
    tpu, tc = load_hardware("tpu"), load_hardware("tcore")
    t = tech(tpu.tech.table, tpu.tech.node_nm)
    e, reg = t.energy_pj, t.energy_pj("reg_bit")
    mac_area, mac_bare = _per_product(tpu, "systolic", tpu.compute.rows * tpu.compute.cols)
    mac_e = e("mac_int8_acc32") + (8 + 32) * reg  # one MAC, the forwarded operand and the partial sum latched
    cc = tc.compute
    lanes = cc.units * cc.mma_m * cc.mma_n * cc.mma_k
    fma_area, fma_bare = _per_product(tc, "tensorcore", lanes)
    frag = 16 * (cc.mma_m * cc.mma_k + cc.mma_k * cc.mma_n)
    acc = 32 * cc.mma_m * cc.mma_n
    per = cc.mma_m * cc.mma_n * cc.mma_k
    fma_e = e("fma_fp16_acc32") + (frag + acc) / per * reg + frag / per * t.energy_pj("rf_bit")
    bound = 12 + 8 + 1  # ceil(log2 K_max) + activation bits + 1, K_max = 3072 (bert-base FFN2) or 4096 (bert-large)
    for storage in ("flipflop", "latch", "regfile"):
        for bits in (32, bound):
            for double in (True, False):
                hw = load_hardware("gobo", [f"compute.bin_storage={storage}", f"compute.bin_bits={bits}",
                                            f"compute.double_buffered_bins={str(double).lower()}"])
                a, bare = _per_product(hw, "gobo", hw.compute.peak_macs_per_cycle())
                en = sum(gobo_pe_energy_pj(hw, k_depth).values())
                rows.append([f"GOBO PE, {storage}, {bits}-bit bins, {'double' if double else 'single'}",
                             f"{bare:,.0f}", f"{a:,.0f}", f"{en:.3f}", f"{a / mac_area:.2f}x", f"{a / fma_area:.2f}x",
                             "true" if a <= mac_area else "false", "true" if a <= fma_area else "false"])
    rows.append(["int8 MAC PE (tpu.yaml systolic, int32 accumulate)", f"{mac_bare:,.0f}", f"{mac_area:,.0f}",
                 f"{mac_e:.3f}", "1.00x", f"{mac_area / fma_area:.2f}x", "", ""])
    rows.append(["fp16 FMA lane, fp32 accumulate (tcore.yaml tensor core)", f"{fma_bare:,.0f}", f"{fma_area:,.0f}",
                 f"{fma_e:.3f}", f"{fma_area / mac_area:.2f}x", "1.00x", "", ""])
    return _table(["PE (per product per cycle)", "area um2 before overhead", "area um2", "energy pJ",
                   "area vs int8 MAC", "area vs fp16 FMA", "(i) vs int8 MAC", "(i) vs fp16 FMA"], rows)


def accuracy_section() -> str:
    path = ROOT / "bench" / "results" / "functional_accuracy.json"
    if not path.is_file():
        return "(not generated: run `python bench/bench_functional.py --accuracy`)"
    data = json.loads(path.read_text())
    rows = []
    for r in data.get("results", []):
        rows.append([r["mode"], r["kernels"], r.get("engine", ""), f"{r['hidden_cosine_mean']:.4f}",
                     f"{r['hidden_max_abs_err']:.3f}", f"{r['embedding_cosine_mean']:.4f}",
                     f"{r['embedding_max_abs_err']:.4f}", f"{r['weights_only_hidden_cosine_mean']:.4f}",
                     r.get("checked")])
    head = ["weights", "kernels", "dataflow", "hidden cos (mean)", "hidden max abs err", "embedding cos (mean)",
            "embedding max abs err", "hidden cos, weights only", "GEMMs == reference"]
    return f"{data.get('sentences', '?')} sentences, {data.get('model', '')}\n\n" + _table(head, rows)


def vit_accuracy_section() -> str:
    path = ROOT / "bench" / "results" / "functional_accuracy_vit.json"
    if not path.is_file():
        return "(not generated: run `python bench/bench_functional.py --vit-accuracy`)"
    data = json.loads(path.read_text())
    rows = []
    for r in data.get("results", []):
        logits = r.get("logits_cosine_mean")
        top1 = r.get("top1_agreement")
        rows.append([r["model"], r["images"], r["mode"], r["kernels"], r.get("engine", ""),
                     f"{r['hidden_cosine_mean']:.4f}", f"{r['hidden_cosine_min']:.4f}", f"{r['hidden_max_abs_err']:.3f}",
                     f"{r['cls_cosine']:.4f}", "" if logits is None else f"{logits:.4f}",
                     "" if top1 is None else f"{top1:.2f}", f"{r['weights_only_hidden_cosine_mean']:.4f}",
                     r.get("checked")])
    head = ["model", "images", "weights", "kernels", "dataflow", "hidden cos (mean)", "hidden cos (min)",
            "hidden max abs err", "[CLS] cos", "logits cos", "top-1 agree", "hidden cos, weights only",
            "GEMMs == reference"]
    return f"Reference: {data.get('reference', '')}; images: {data.get('images', '')}\n\n" + _table(head, rows)


def format_accuracy_section() -> str:
    """The accuracy of every weight format on all-MiniLM-L6-v2 (bench/results/format_accuracy.json; one row per
    case of bench/bench_formats.py's CASES)."""
    path = ROOT / "bench" / "results" / "format_accuracy.json"
    if not path.is_file():
        return "(not generated: run `python bench/bench_formats.py`)"
    data = json.loads(path.read_text())

    def f(r: dict, key: str) -> str:
        return f"{r[key]:.4f}" if r.get(key) is not None else "-"

    rows = []
    for r in data.get("results", []):
        emb = f"{r['embedding_bits_per_weight']:.2f}" if r.get("embedding_bits_per_weight") else "fp32"
        rows.append([r["case"], f"{r['fc_bits_per_weight']:.2f}", emb, f(r, "weights_only_hidden_cosine_mean"),
                     f(r, "weights_only_embedding_cosine_mean"), r.get("integer_mode", "-"),
                     r.get("integer_activation_bits", 8) if r.get("integer_mode") else "-",
                     f(r, "integer_hidden_cosine_mean"), f(r, "integer_embedding_cosine_mean"), r.get("checked", "-")])
    head = ["format", "FC bits/weight (packed)", "word-embedding bits/weight", "hidden cos, weights only",
            "sentence-embedding cos, weights only", "integer mode", "activation bits", "hidden cos, integer", "sentence-embedding cos, "
            "integer", "GEMMs == reference"]
    return (f"{data.get('sentences', '?')} sentences, {data.get('model', '')}; mixed-bit embedding frequencies: "
            f"{data.get('frequencies', '')}\n\n" + _table(head, rows))


def family_designs() -> list[str]:
    """The family presets that exist (bench/bench_family.py's FAMILY)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_family import family_presets

    return family_presets()


def family_section(workload: str, iso: str | None = None, checked_column: bool = False) -> str:
    """The family on one workload (timing only), with the functional check and MiniLM accuracy where measured."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_family import accuracy_of

    names = family_designs()
    rep = api.compare(workload, names, iso=iso)
    checked = {d["hw"]: d.get("functional_checked") for d in
               json.loads((ROOT / "bench" / "results" / "family.json").read_text()).get("designs", [])} \
        if (ROOT / "bench" / "results" / "family.json").is_file() else {}
    rows = []
    for d in rep.designs:
        acc, how = accuracy_of(d.hw)
        rows.append([d.hw, f"{d.peak_macs_per_cycle:,}", f"{d.cycles:,}", f"{d.seconds * 1e3:.3f}",
                     f"{d.energy_pj / 1e9:.2f}", f"{d.area_mm2:.1f}", f"{d.dram_read_bytes / 1e6:.1f}",
                     f"{d.speedup:.2f}", f"{d.energy_efficiency:.2f}",
                     f"{acc:.3f} ({how})" if acc is not None else how]
                    + ([checked.get(d.hw, "-")] if checked_column else []))
    head = ["design", "peak MAC/cycle", "cycles", "ms", "energy mJ", "area mm2", "DRAM read MB", "speedup vs gobo",
            "energy eff vs gobo", "MiniLM hidden cos"] + (["functional.checked"] if checked_column else [])
    return _table(head, rows)


PUBLISHED = [
    # (claim, source, our designs (baseline, design), quantity: "speedup" or "energy_efficiency", published value)
    ("OliVe vs GOBO speed-up", "Guo et al. ISCA 2023, abstract", ("gobo", "olive"), "speedup", 4.5),
    ("OliVe vs GOBO energy reduction", "Guo et al. ISCA 2023, abstract", ("gobo", "olive"), "energy_efficiency", 4.0),
]
"""Published relative claims placed next to ours (a row is filled when both presets exist)."""


def published_section() -> str:
    names = set(family_designs())
    rows = []
    for claim, src, (base, other), qty, value in PUBLISHED:
        if base in names and other in names:
            d = api.compare("bert-base", [base, other]).designs[1]
            ours = f"{getattr(d, qty):.2f}x"
        else:
            ours = f"not modelled here (no hwconfigs/{other}.yaml)"
        rows.append([claim, src, f"{value}x", ours])
    return _table(["claim", "source", "published", "ours (bert-base, seq 128, iso-peak 4096)"], rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "RESULTS.md"))
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    base_tab, base_runs = compare_section("bert-base")
    large_tab, _ = compare_section("bert-large")
    seq = sensitivity(["gobo", "tpu", "tcore", "gobo-compress-tcore"], "seq_len", [64, 128, 256, 512])
    wbuf = sensitivity(["gobo", "tpu", "tcore", "gobo-compress-tcore"], "buffers.weights.capacity_bytes",
                       [262144, 524288, 1048576, 2097152])
    family = " ".join(family_designs())
    fam_base, fam_large, fam_iso = family_section("bert-base", checked_column=True), family_section("bert-large"), \
        family_section("bert-base", iso="area")
    doc = f"""# gobosim results

Generated by `python bench/make_results.py` ({time.perf_counter() - t0:.0f} s on {os.cpu_count()} cores,
Python {platform.python_version()}); every number below is computed by the simulator in this state of
the code. All designs: 1 GHz, 45 nm (logic from the Horowitz table, SRAM from the CACTI 7 tables, itrs-lop
cells at 300 K), 2 MiB weight / 1 MiB activation / 512 KiB output
buffers, two DDR4-3200 channels, 4096 peak MACs per cycle (see `hwconfigs/`). GOBO weights are seeded
synthetic weights calibrated on all-MiniLM-L6-v2 (`sim/quant/calibration.py`).

## GOBO against the baselines, bert-base, seq 128, batch 1
Command: `sim compare --workload bert-base --hw {' '.join(DESIGNS)}`

{base_tab}

## bert-large, seq 128, batch 1
Command: `sim compare --workload bert-large --hw {' '.join(DESIGNS)}`

{large_tab}

## Utilization per GEMM against the roofline (bert-base, seq 128, layer 0)
Simulated utilization (MACs / (cycles x peak)), with the roofline's in brackets (C: compute roof, M: memory
roof: the operator's compulsory DRAM bytes at peak bandwidth). A design far under its roof loses the
difference to fill/drain, sub-tiling, stalls or its epilogue; at its roof only more peak or bandwidth helps.
A memory-roofed operator can beat its own roof: the loader prefetches its weights while earlier operators
compute (the bound holds for the whole run, not per operator).
Command: `sim run --hw HW --workload bert-base` and `python -c "import sim.api as a; a.run_bound('HW', 'bert-base')"`

{roofline_section(base_runs)}

## Sequence length (bert-base): latency / DRAM bytes read
Command: `sim run --hw HW --workload bert-base --seq-len N`

{seq}

## Weight-buffer size (bert-base, seq 128): latency / DRAM bytes read
Command: `sim run --hw HW --workload bert-base --set buffers.weights.capacity_bytes=B`

{wbuf}

## Energy breakdown (mJ), bert-base, at 45 nm and re-priced at 28 nm
Command: `sim run --hw HW --workload bert-base --json run.json && sim price run.json --node-nm 28`

{energy_section(base_runs)}

### The same under itrs-hp cells (300 K): the pessimistic case
High-performance cells leak 20-1000x more than lop/lstp (CACTI 7); accelerator buffers are rarely built from
them, but a reader who assumes they are gets these numbers (timing unchanged: only the prices move).
Command: `sim price run.json` after `sim run --hw HW --workload bert-base --set buffers.B.cell=itrs-hp ...`

{energy_section(base_runs, _cell_sets("itrs-hp", 300))}

### Energy by SRAM cell type (45 nm)
Each design's bert-base run re-priced with all three buffers in each cell type (no cycle count depends on it;
lstp banks of these sizes do not cycle at 1 GHz in CACTI 7, so the lstp column prices a buffer that would need
more banks). Bottom rows: the baselines' energy over GOBO's per cell type. Plot:
[`bench/results/energy_vs_cell.png`](../bench/results/energy_vs_cell.png).

{cell_section(base_runs, ROOT / "bench" / "results" / "energy_vs_cell.png")}

### The cost model, before and after, per change (bert-base, 45 nm)
Measured at the commit of each change with that commit's code and presets (`python bench/cost_history.py`
writes `bench/results/cost_history.json`; this table is generated from it). Energy mJ / area mm2 per design, then
the ratios the comparison reports. The first row is the model before the CACTI and bottom-up logic work.

{history_section(ROOT / "bench" / "results" / "cost_history.json")}

## Area (45 nm)
Command: `sim area --hw HW`

{area_section()}

## The GOBO PE sized from its arithmetic (45 nm, per product per cycle)
Area: the design's compute component (PEs, per-tile outlier unit and broadcast, bin register-file macros, the
logic overhead) over its peak products per cycle. Energy: dynamic, steady state, the GOBO post-reduction
amortised over K = 768 (bert-base projections); leakage not included. 21-bit bins are the accumulation bound
ceil(log2 K_max) + 8 + 1 for K_max = 3072/4096 (bert-base/large; the functional datapath checks the configured
width and stops with an error naming `compute.bin_bits` when a sum does not fit). Register-file bins are priced
per bit from the smallest CACTI macro (4 KiB), a lower bound for macros of a few dozen bytes. Claim (i) of the
GOBO paper, "GOBO's PEs are area efficient", is read as: area per product at most that of the compared PE.
Command: `sim area --hw gobo --set compute.bin_storage=S --set compute.bin_bits=B --set compute.double_buffered_bins=D`

{gobo_pe_section()}

## Systolic compute cycles of bert-base GEMMs (one GEMM; utilization in brackets)
Command: `python -c "from sim.compute.systolic.timing import *; print(systolic_gemm_timing(SystolicParams(128, 128, 'ws'), 128, 768, 768))"`

{systolic_section()}

## Integer accuracy on all-MiniLM-L6-v2 (against the float model)
Command: `python bench/bench_functional.py --accuracy`

{accuracy_section()}

## Integer-only ViT accuracy (against the float ViT)
The whole ViT in integers (int8 patch GEMM, class token and positions added in 22-bit integers, pre-LN blocks
with the integer LayerNorm, Shiftmax or I-BERT softmax, ShiftGELU or I-BERT GELU, integer residuals, the
classifier GEMM); the images are the one float-to-int8 step. Weights: int8 per channel (smoothed), or GOBO
3/4-bit for the encoder GEMMs (patch projection, classifier, class token and positions stay int8: the GOBO
quantizer does not select them). The tiny ViT is the seeded Hugging Face model of `tests/data/vit_tiny/`;
vit-base has the synthetic weights (calibrated on BERT statistics, not a trained ViT).
Command: `python bench/bench_functional.py --vit-accuracy`

{vit_accuracy_section()}

## The outlier-aware and low-bit family on one engine, bert-base, seq 128, batch 1
Every design at 4096 peak products per cycle (iso-peak by construction of the presets), the same buffers,
DRAM, vector unit, energy tables and integer kernels. MiniLM hidden cos: the design's weight format on the real
all-MiniLM-L6-v2 weights (next section). functional.checked: `sim compare ... --functional` on bert-base
(seeded synthetic weights; `python bench/bench_family.py`, which also draws `bench/results/family.png`:
latency vs energy vs area).
Command: `sim compare --workload bert-base --hw {family}`

{fam_base}

### bert-large
Command: `sim compare --workload bert-large --hw {family}`

{fam_large}

### Iso-area (every design's compute resized to GOBO's total area), bert-base
Command: `sim compare --workload bert-base --hw {family} --iso area`

{fam_iso}

### Published relative claims next to ours
{published_section()}

## Weight formats on all-MiniLM-L6-v2 (float model vs each format)
Every encoder FC weight and the pooler in the format (`sim.quant.formats`); "weights only": the float model
with the dequantized weights; "integer": the design's bit-accurate integer pipeline (activations as the "activation bits" column says: int8, or the design's 4-bit format; I-BERT
kernels, the format's datapath; embedding tables 4-bit GOBO for gobo, int8 otherwise). Cosine per sentence
over its real tokens (hidden) and of the mean-pooled, normalized sentence embedding, averaged over the
sentences. Post-training only: TernaryBERT trains the ternary model with distillation, Chung et al. fine-tune
with BCQ in the loop; neither is done here.
Command: `python bench/bench_formats.py`

{format_accuracy_section()}
"""
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(doc)
    print(doc)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
