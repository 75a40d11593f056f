"""Throughput of the integer kernels at BERT-base shapes (seq 128), and a bert-base forward estimate.

Usage: ``python bench/bench_kernels.py [--out bench/results/kernels.json] [--repeat 3]``

Prints one line per kernel (best of ``--repeat`` runs: seconds, elements/s, and MAC/s for the GEMMs)
and writes the same figures as JSON. The forward estimate sums one encoder layer's kernels
(4 + 2 GOBO GEMMs, 24 attention int_gemms, softmax, GELU, 2 LayerNorms) times 12 layers.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

try:
    from sim.kernels import gemm, ibert, ivit
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sim.kernels import gemm, ibert, ivit

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "kernels.json"


def best_time(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def gobo_weights(rng: np.random.Generator, k: int, n: int, bits: int = 3, outlier_frac: float = 1e-3):
    idx = rng.integers(0, 2**bits, (k, n)).astype(np.uint8)
    cent = np.sort(rng.choice(np.arange(-127, 128), 2**bits, replace=False)).astype(np.int8)
    lin = rng.choice(k * n, int(outlier_frac * k * n), replace=False)
    vals = rng.integers(-4000, 4000, lin.size).astype(np.int16)
    return idx, cent, lin // n, lin % n, vals


def run(repeat: int) -> dict:
    rng = np.random.default_rng(0)
    seq, hidden, ffn, heads = 128, 768, 3072, 12
    s_att, s_ffn, s_ln = 1e-3, 1e-3, 1e-3
    att = np.round(rng.normal(0, 3, (heads, seq, seq)) / s_att).astype(np.int64)
    ffn_act = np.round(rng.normal(0, 2, (seq, ffn)) / s_ffn).astype(np.int64)
    ln_in = np.round(rng.normal(0, 3, (seq, hidden)) / s_ln).astype(np.int64)
    w_ln, b_ln = rng.normal(1, 0.2, hidden).astype(np.float32), rng.normal(0, 0.1, hidden).astype(np.float32)
    s16 = ibert.calibrate_softmax_exp_scale(att, s_att)
    x8 = rng.integers(-128, 128, (seq, hidden)).astype(np.int8)
    x8f = rng.integers(-128, 128, (seq, ffn)).astype(np.int8)
    w8 = rng.integers(-128, 128, (hidden, hidden)).astype(np.int8)
    g_qkvo = gobo_weights(rng, hidden, hidden)
    g_ffn1 = gobo_weights(rng, hidden, ffn)
    g_ffn2 = gobo_weights(rng, ffn, hidden)
    qh = rng.integers(-128, 128, (heads, seq, 64)).astype(np.int8)
    kh = rng.integers(-128, 128, (heads, 64, seq)).astype(np.int8)
    ph = rng.integers(0, 128, (heads, seq, seq)).astype(np.int8)
    vh = rng.integers(-128, 128, (heads, seq, 64)).astype(np.int8)

    cases: list[tuple[str, str, tuple[int, ...], int, Callable[[], object]]] = [
        ("ibert.int_softmax", "clean", att.shape, 0, lambda: ibert.int_softmax(att, s_att)),
        ("ibert.int_softmax", "reference", att.shape, 0,
         lambda: ibert.int_softmax(att, s_att, compat="reference", exp_scale=s16)),
        ("ivit.shiftmax", "clean", att.shape, 0, lambda: ivit.shiftmax(att, s_att)),
        ("ivit.shiftmax", "reference", att.shape, 0, lambda: ivit.shiftmax(att, s_att, compat="reference")),
        ("ibert.int_gelu", "clean", ffn_act.shape, 0, lambda: ibert.int_gelu(ffn_act, s_ffn)),
        ("ibert.int_gelu", "reference", ffn_act.shape, 0, lambda: ibert.int_gelu(ffn_act, s_ffn, compat="reference")),
        ("ivit.shift_gelu", "clean", ffn_act.shape, 0, lambda: ivit.shift_gelu(ffn_act, s_ffn)),
        ("ivit.shift_gelu", "reference", ffn_act.shape, 0, lambda: ivit.shift_gelu(ffn_act, s_ffn, compat="reference")),
        ("ibert.int_layernorm", "clean", ln_in.shape, 0,
         lambda: ibert.int_layernorm(ln_in, s_ln, w_ln, b_ln, 8, out_scale=0.05)),
        ("ibert.int_layernorm", "reference", ln_in.shape, 0,
         lambda: ibert.int_layernorm(ln_in, s_ln, w_ln, b_ln, compat="reference", shift=2)),
        ("ivit.int_layernorm", "clean", ln_in.shape, 0,
         lambda: ivit.int_layernorm(ln_in, s_ln, w_ln, b_ln, 8, out_scale=0.05)),
        ("ivit.int_layernorm", "reference", ln_in.shape, 0,
         lambda: ivit.int_layernorm(ln_in, s_ln, w_ln, b_ln, compat="reference")),
        ("gemm.int_gemm", "clean", (seq, hidden, hidden), seq * hidden * hidden, lambda: gemm.int_gemm(x8, w8)),
        ("gemm.int_gemm[QK^T x12]", "clean", (heads, seq, 64, seq), heads * seq * 64 * seq,
         lambda: gemm.int_gemm(qh, kh)),
        ("gemm.int_gemm[AV x12]", "clean", (heads, seq, seq, 64), heads * seq * seq * 64,
         lambda: gemm.int_gemm(ph, vh)),
        ("gemm.gobo_gemm", "clean", (seq, hidden, hidden), seq * hidden * hidden,
         lambda: gemm.gobo_gemm(x8, *g_qkvo, 3)),
        ("gemm.gobo_gemm", "clean", (seq, hidden, ffn), seq * hidden * ffn,
         lambda: gemm.gobo_gemm(x8, *g_ffn1, 3)),
        ("gemm.gobo_gemm", "clean", (seq, ffn, hidden), seq * ffn * hidden,
         lambda: gemm.gobo_gemm(x8f, *g_ffn2, 3)),
    ]
    results = []
    for name, mode, shape, macs, fn in cases:
        sec = best_time(fn, repeat)
        # element-wise kernels: input elements; GEMMs: output elements (MACs / k, k = shape[-2])
        elements = int(np.prod(shape)) if macs == 0 else macs // shape[-2]
        row = {"kernel": name, "mode": mode, "shape": list(shape), "seconds": sec,
               "elements": elements, "elements_per_s": elements / sec}
        if macs:
            row["macs"] = macs
            row["macs_per_s"] = macs / sec
        results.append(row)

    def t(name: str, mode: str, shape: tuple[int, ...] | None = None) -> float:
        for r in results:
            if r["kernel"] == name and r["mode"] == mode and (shape is None or tuple(r["shape"]) == shape):
                return r["seconds"]
        raise KeyError(name)

    layer = (
        4 * t("gemm.gobo_gemm", "clean", (seq, hidden, hidden))
        + t("gemm.gobo_gemm", "clean", (seq, hidden, ffn))
        + t("gemm.gobo_gemm", "clean", (seq, ffn, hidden))
        + t("gemm.int_gemm[QK^T x12]", "clean")
        + t("gemm.int_gemm[AV x12]", "clean")
        + t("ibert.int_softmax", "clean")
        + t("ibert.int_gelu", "clean")
        + 2 * t("ibert.int_layernorm", "clean")
    )
    return {
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "repeat": repeat,
        "results": results,
        "bert_base_layer_seconds_estimate": layer,
        "bert_base_forward_seconds_estimate": 12 * layer,
        "note": "forward estimate excludes requantization and residual adds between kernels (seq 128, batch 1)",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output path")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per kernel (best is kept)")
    args = ap.parse_args(argv)
    data = run(args.repeat)
    print(f"{'kernel':28s} {'mode':9s} {'shape':22s} {'seconds':>9s} {'elem/s':>10s} {'MAC/s':>10s}")
    for r in data["results"]:
        macs = f"{r['macs_per_s']:10.3g}" if "macs_per_s" in r else " " * 10
        print(f"{r['kernel']:28s} {r['mode']:9s} {'x'.join(map(str, r['shape'])):22s} "
              f"{r['seconds']:9.4f} {r['elements_per_s']:10.3g} {macs}")
    print(f"bert-base forward (12 layers, seq 128) estimate: {data['bert_base_forward_seconds_estimate']:.2f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
