"""The low-bit family on one engine: every family preset on bert-base with its functional check, and the plot.

Usage::

    python bench/bench_family.py              # writes bench/results/family.json and bench/results/family.png
    python bench/bench_family.py --plot-only  # redraws the plot from family.json

Runs ``sim compare --workload bert-base --hw <family> --functional`` (the family presets that exist among
:data:`FAMILY`: the GOBO design, the outlier-aware and low-bit designs, the tensor-core and TPU-like baselines;
all at 4096 peak products per cycle) and plots latency vs energy vs area, each design labelled with the accuracy
of its weight format on all-MiniLM-L6-v2 (the integer model's mean hidden-state cosine against the float model,
from ``bench/results/format_accuracy.json`` (``python bench/bench_formats.py``) and, for int8,
``bench/results/functional_accuracy.json``). Also an iso-area comparison (every design resized to GOBO's area).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
try:
    import sim  # noqa: F401
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "results" / "family.json"
PLOT = ROOT / "bench" / "results" / "family.png"
FAMILY = ["gobo", "olive", "olaccel", "biqgemm", "ternary", "tcore", "tpu"]
"""The family, in plotting order; presets missing from hwconfigs/ are skipped."""


def family_presets() -> list[str]:
    """The names of :data:`FAMILY` that have a preset in ``hwconfigs/``."""
    return [n for n in FAMILY if (ROOT / "hwconfigs" / f"{n}.yaml").is_file()]


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def accuracy_of(hw: str) -> tuple[float | None, str]:
    """(mean hidden-state cosine of the design's weight format on all-MiniLM-L6-v2, how it was measured)."""
    from sim.config import load_hardware
    from sim.quant.olaccel import DEFAULT_OUTLIER_FRACTION  # what an OLAccel design's prepare quantizes with

    cfg = load_hardware(hw)
    w = cfg.weights
    fmt = w.format
    if fmt == "int8":
        for r in _read(ROOT / "bench" / "results" / "functional_accuracy.json").get("results", []):
            if r["mode"] == "int8" and r["kernels"] == "ibert":
                return float(r["hidden_cosine_mean"]), "int8 integer model"
        return None, "int8 (not measured)"
    if fmt == "fp16":
        return None, "fp16 (not measured)"
    want: dict[str, Any] = {"gobo": {"bits": w.bits}, "ternary": {"granularity": w.ternary_granularity},
                            "bcq": {"bits": w.bcq_bits}, "olive": {},
                            "olaccel": {"outlier_fraction": DEFAULT_OUTLIER_FRACTION}}.get(fmt, {})
    for r in _read(ROOT / "bench" / "results" / "format_accuracy.json").get("results", []):
        if r["format"] == fmt and r["embeddings"] is None and all(r["options"].get(k) == v for k, v in want.items()):
            act_bits = getattr(cfg.compute, "act_bits", 8)  # the design's activation width (W4A4 / W4A8)
            if "integer_hidden_cosine_mean" in r and r.get("integer_activation_bits", 8) != act_bits:
                continue
            if "integer_hidden_cosine_mean" in r:
                bits = r.get("integer_activation_bits", 8)
                return float(r["integer_hidden_cosine_mean"]), f"{r['integer_mode']} integer model, A{bits}"
            return float(r["weights_only_hidden_cosine_mean"]), f"{r['case']}, weights only"
    return None, f"{fmt} (not measured)"


def main() -> int:
    from sim import api
    from sim.plotting import save_family_plot

    if "--plot-only" in sys.argv[1:]:  # redraw from bench/results/family.json
        save_family_plot(json.loads(OUT.read_text())["designs"], PLOT)
        print(f"wrote {PLOT.relative_to(ROOT)}")
        return 0
    names = family_presets()
    t0 = time.time()
    rep = api.compare("bert-base", names, functional=True)
    iso = api.compare("bert-base", names, iso="area")
    points = []
    for d in rep.designs:
        acc, how = accuracy_of(d.hw)
        points.append({"hw": d.hw, "seconds": d.seconds, "energy_pj": d.energy_pj, "area_mm2": d.area_mm2,
                       "cycles": d.cycles, "speedup": d.speedup, "energy_efficiency": d.energy_efficiency,
                       "functional_checked": d.functional_checked, "cosine_vs_float": d.cosine_vs_float,
                       "minilm_hidden_cosine": acc, "accuracy_source": how,
                       "label": f"MiniLM cos {acc:.3f}" if acc is not None else how})
    save_family_plot(points, PLOT)
    out = {"workload": "bert-base", "designs": points,
           "iso_area": [{"hw": d.hw, "cycles": d.cycles, "area_mm2": d.area_mm2, "energy_pj": d.energy_pj,
                         "speedup": d.speedup, "energy_efficiency": d.energy_efficiency,
                         "peak_macs_per_cycle": d.peak_macs_per_cycle} for d in iso.designs],
           "seconds": round(time.time() - t0, 1),
           "command": f"sim compare --workload bert-base --hw {' '.join(names)} --functional; python bench/bench_family.py"}
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    for p in points:
        print(f"{p['hw']:<10} {p['seconds'] * 1e3:7.3f} ms {p['energy_pj'] / 1e9:7.2f} mJ {p['area_mm2']:6.1f} mm2 "
              f"checked {p['functional_checked']} cos(bert-base synthetic) "
              f"{p['cosine_vs_float'] if p['cosine_vs_float'] is None else round(p['cosine_vs_float'], 4)} | {p['label']}")
    print(f"wrote {OUT.relative_to(ROOT)}, {PLOT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
