"""Quantize report of a whole model in a low-bit format with outliers (OliVe, OLAccel), in the GOBO report's shape.

:func:`lowbit_report` quantizes every encoder FC weight and the pooler (the tensors the designs compute on:
:data:`~sim.quant.names.FC_KINDS` + pooler) with the format's quantizer and keeps every other floating tensor
in fp32 (as the mapping does for embedding tables: the OliVe and OLAccel designs store those int8, which a
quantize report of the format does not count), and returns the same fields as
:meth:`sim.quant.model.QuantizedModel.report` (``centroids`` empty, ``iterations`` 0, the GOBO-only
statistics None), so ``sim.results.QuantizeReport.from_dict`` reads it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import olaccel, olive
from .names import FC_KINDS, POOLER, classify_tensor

__all__ = ["LOWBIT_FORMATS", "lowbit_report"]

LOWBIT_FORMATS: dict[str, Callable[..., Any]] = {**olive.FORMATS, **olaccel.FORMATS}
"""Format name -> quantizer of one float tensor."""

_FORMAT_BITS = {"olive": 4, "olaccel": 4}


def _layer(name: str, kind: str, a: np.ndarray, packed: Any | None, fmt: str) -> tuple[dict[str, object], float]:
    a64 = a.astype(np.float64)
    norm = float(np.dot(a64.reshape(-1), a64.reshape(-1)))
    if packed is None:
        return ({"name": name, "kind": kind, "shape": list(a.shape), "quantized": False, "bits": 32,
                 "weights": int(a.size), "outliers": 0, "outlier_fraction": 0.0, "bits_per_weight": 32.0,
                 "compression_ratio": 1.0, "rel_l2_error": 0.0, "nbytes": int(a.size) * 4, "centroids": [],
                 "iterations": 0, "mean": float(a64.mean()) if a.size else 0.0,
                 "std": float(a64.std()) if a.size else 0.0, "z_threshold": None, "outlier_lo": None,
                 "outlier_hi": None}, 0.0)
    outliers = int(round(packed.outlier_fraction * a.size))
    err = float(packed.rel_l2_error) ** 2 * norm
    return ({"name": name, "kind": kind, "shape": list(a.shape), "quantized": True, "bits": _FORMAT_BITS[fmt],
             "weights": int(a.size), "outliers": outliers, "outlier_fraction": packed.outlier_fraction,
             "bits_per_weight": packed.bits_per_weight, "compression_ratio": 32.0 / packed.bits_per_weight,
             "rel_l2_error": packed.rel_l2_error, "nbytes": packed.nbytes, "centroids": [], "iterations": 0,
             "mean": None, "std": None, "z_threshold": None, "outlier_lo": None, "outlier_hi": None}, err)


def lowbit_report(tensors: Mapping[str, np.ndarray], fmt: str, *, code_version: str = "") -> dict[str, object]:
    """Quantize ``tensors`` (name -> float array, Hugging Face names) in ``fmt`` and report it."""
    if fmt not in LOWBIT_FORMATS:
        raise ValueError(f"unknown low-bit format {fmt!r} (known: {', '.join(LOWBIT_FORMATS)})")
    quantize = LOWBIT_FORMATS[fmt]
    layers = []
    sq_err = sq_q = sq_f = 0.0
    for name, a in tensors.items():
        info = classify_tensor(name)
        if info is None or info.kind in ("head", "buffer") or not np.issubdtype(np.asarray(a).dtype, np.floating):
            continue
        a = np.asarray(a)
        quantized = info.kind in FC_KINDS + (POOLER,) and a.ndim == 2
        packed = quantize(a) if quantized else None
        layer, err = _layer(name, info.kind, a, packed, fmt)
        layers.append(layer)
        norm = float(np.square(a.astype(np.float64)).sum())
        if quantized:
            sq_err += err
            sq_q += norm
        else:
            sq_f += norm
    weights = sum(int(x["weights"]) for x in layers)  # type: ignore[call-overload]
    nbytes = sum(int(x["nbytes"]) for x in layers)  # type: ignore[call-overload]
    outliers = sum(int(x["outliers"]) for x in layers)  # type: ignore[call-overload]
    q = [x for x in layers if x["quantized"]]
    qw = sum(int(x["weights"]) for x in q)  # type: ignore[call-overload]
    qbytes = sum(int(x["nbytes"]) for x in q)  # type: ignore[call-overload]
    return {
        "weights": weights, "outliers": outliers, "outlier_fraction": outliers / weights if weights else 0.0,
        "bits_per_weight": 8.0 * nbytes / weights if weights else 0.0,
        "compression_ratio": 32.0 * weights / (8.0 * nbytes) if nbytes else 1.0,
        "rel_l2_error": math.sqrt(sq_err / (sq_q + sq_f)) if sq_q + sq_f > 0 else 0.0,
        "quantized_weights": qw, "quantized_outlier_fraction": outliers / qw if qw else 0.0,
        "quantized_bits_per_weight": 8.0 * qbytes / qw if qw else 0.0,
        "quantized_compression_ratio": 32.0 * qw / (8.0 * qbytes) if qbytes else 1.0,
        "quantized_rel_l2_error": math.sqrt(sq_err / sq_q) if sq_q > 0 else 0.0,
        "fp32_weights": weights - qw, "params": {"format": fmt}, "code_version": code_version, "layers": layers,
    }
