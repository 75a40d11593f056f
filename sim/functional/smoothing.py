"""Activation smoothing for the int8 design (SmoothQuant, Xiao et al. ICML 2023), exact in float.

BERT's LayerNorm outputs have a few channels whose values are 10-30x the rest; with one int8 scale per
tensor those channels set the step and the other channels lose most of their resolution (on
all-MiniLM-L6-v2 the int8 pipeline without smoothing reaches a last-hidden-state cosine of only ~0.97).
Smoothing divides channel ``c`` of such an activation by ``t_c`` and multiplies column ``c`` of every
weight that consumes it by ``t_c``, which leaves the float model unchanged::

    t_c = max|x_c|^alpha / max_n |W[n, c]|^(1 - alpha)      (t_c clamped to >= 1e-5)

``alpha`` = :data:`DEFAULT_ALPHA` = 0.6 (SmoothQuant's default is 0.5). On all-MiniLM-L6-v2 with I-BERT
kernels (``bench/bench_functional.py --accuracy``), no smoothing / alpha 0.5 / 0.6 / 0.7 / 0.8 / 1.0 gave a
mean last-hidden-state cosine of 0.972 / 0.991 / 0.992 / 0.992 / 0.993 / 0.989 (min over the 8 sentences
0.965 / 0.988 / 0.990 / 0.989 / 0.990 / 0.983): flat between 0.5 and 0.8. The sweep ran on the
evaluation sentences themselves (no held-out set), so read the reported accuracy as optimistic by ~0.001.

``W`` stacks the consumers: Q, K and V for the embedding LayerNorm and each layer's output LayerNorm;
FFN1 for the attention LayerNorm; the pooler for the last LayerNorm (no weight for a final output
without a pooler: ``t_c = max|x_c|^alpha``); FFN2 for the GELU output only when ``gelu=True``. The GELU
output is not smoothed by default: its large values are spread over the channels rather than confined to
a few, and smoothing it measured worse than the asymmetric (zero-point) int8 quantization the pipeline
uses there instead (:mod:`.integer`).

Integer realisation: LayerNorm's ``gamma``/``beta`` are divided by ``t`` offline (so the integer
LayerNorm emits the smoothed activation directly); a smoothed GELU output is requantized with per-channel
dyadic multipliers ``s_gelu / (t_c s_out)``; the residual skip path multiplies back by ``t_c`` inside its
per-channel dyadic requantization; the consumers' weights are ``W diag(t)``, quantized to int8 per output
channel. Only weights we quantize can absorb ``t``: GOBO weights come from the GOBO quantizer as they
are, so GOBO modes are not smoothed.
"""

from __future__ import annotations

import numpy as np

from .calibration import Calibration
from .dims import EncoderDims
from .weights import FloatWeights

__all__ = ["smoothing_points", "smoothing_factors", "apply_smoothing", "DEFAULT_ALPHA"]

DEFAULT_ALPHA = 0.6


def smoothing_points(dims: EncoderDims, has_pooler: bool, gelu: bool = True) -> dict[str, tuple[str, ...]]:
    """Smoothed activation point -> the linear layers (names without ``.weight``) that consume it
    (``gelu=False`` leaves the GELU outputs out). ``has_pooler``: the model has a pooler (BERT) or a
    classifier (ViT) reading the last LayerNorm."""
    qkv = ("attention.self.query", "attention.self.key", "attention.self.value")
    if dims.is_vit:  # pre-LN: each norm feeds the block it opens; the final norm feeds the classifier
        vit: dict[str, tuple[str, ...]] = {}
        for li in range(dims.layers):
            pre = f"encoder.layer.{li}"
            vit[f"L{li}.ln_attn"] = tuple(f"{pre}.{m}" for m in qkv)
            vit[f"L{li}.ln_ffn"] = (f"{pre}.intermediate.dense",)
            if gelu:
                vit[f"L{li}.gelu"] = (f"{pre}.output.dense",)
        vit["head.final"] = ("classifier",) if has_pooler else ()
        return vit
    pts: dict[str, tuple[str, ...]] = {"emb.ln": tuple(f"encoder.layer.0.{m}" for m in qkv)}
    for li in range(dims.layers):
        pre = f"encoder.layer.{li}"
        pts[f"L{li}.ln_attn"] = (f"{pre}.intermediate.dense",)
        if gelu:
            pts[f"L{li}.gelu"] = (f"{pre}.output.dense",)
        if li + 1 < dims.layers:
            pts[f"L{li}.ln_ffn"] = tuple(f"encoder.layer.{li + 1}.{m}" for m in qkv)
        else:
            pts[f"L{li}.ln_ffn"] = ("pooler.dense",) if has_pooler else ()
    return pts


def _has_head(w: FloatWeights, dims: EncoderDims) -> bool:
    return ("classifier.weight" if dims.is_vit else "pooler.dense.weight") in w


def smoothing_factors(cal: Calibration, w: FloatWeights, dims: EncoderDims, alpha: float = DEFAULT_ALPHA,
                      gelu: bool = True) -> dict[str, np.ndarray]:
    """``t`` per smoothed point (float64 vectors of the point's width); see the module docstring."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"smoothing alpha must be in [0, 1], got {alpha}")
    out: dict[str, np.ndarray] = {}
    for name, consumers in smoothing_points(dims, _has_head(w, dims), gelu).items():
        xmax = np.maximum(cal.channel_maxabs[name], 1e-5)
        if consumers:
            wmax = np.max([np.abs(w[f"{c}.weight"].astype(np.float64)).max(axis=0) for c in consumers], axis=0)
            t = xmax ** alpha / np.maximum(wmax, 1e-5) ** (1.0 - alpha)
        else:
            t = xmax ** alpha
        out[name] = np.maximum(t, 1e-5)
    return out


def apply_smoothing(w: FloatWeights, factors: dict[str, np.ndarray], dims: EncoderDims) -> FloatWeights:
    """``w`` with the consumers' columns scaled by ``t`` (float32, as the weights they replace; they are
    quantized to int8 next) and the smoothed LayerNorms' gamma/beta divided by ``t`` (float64: no extra
    rounding of the LayerNorm constants)."""
    t_all = dict(w.tensors)
    ln_of = {"emb.ln": "embeddings.LayerNorm", "head.final": "layernorm"}
    for li in range(dims.layers):
        ln_of[f"L{li}.ln_attn"] = f"encoder.layer.{li}.attention.output.LayerNorm"
        ln_of[f"L{li}.ln_ffn"] = f"encoder.layer.{li}.output.LayerNorm"
    points = smoothing_points(dims, _has_head(w, dims))
    for name, t in factors.items():
        for c in points[name]:
            t_all[f"{c}.weight"] = (w[f"{c}.weight"].astype(np.float64) * t[None, :]).astype(np.float32)
        if name in ln_of:
            ln = ln_of[name]
            if f"{ln}.weight" not in w:
                continue
            t_all[f"{ln}.weight"] = w[f"{ln}.weight"].astype(np.float64) / t
            t_all[f"{ln}.bias"] = w[f"{ln}.bias"].astype(np.float64) / t
    return FloatWeights(t_all, w.source + " (smoothed)")
