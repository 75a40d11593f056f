"""Quantize a whole model: which tensors, GOBO per tensor, and the quantize report.

:func:`quantize_model` takes Hugging Face tensor names to arrays (a mapping, or an iterable of
``(name, array)`` pairs whose arrays may be :class:`DeferredTensor`, so that synthetic weights are generated
one at a time, each by the worker that quantizes it) and returns a :class:`QuantizedModel`. Which tensors
are quantized at how many bits is decided per name by :func:`~sim.quant.params.bits_for_tensor`; other
floating tensors stay fp32; non-floating tensors (buffers such as ``embeddings.position_ids``) are kept apart
and are not weights.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .integer import IntegerGobo
from .names import classify_tensor
from .packed import PackedTensor, pack
from .params import GoboParams, bits_for_tensor

#: Version of the quantization code and storage format; part of every cache key.
CODE_VERSION = "gobo-quant-1"


@dataclass(frozen=True, eq=False)
class QuantizedModel:
    """A quantized model: packed tensors, fp32 tensors, buffers, in the input's tensor order.

    ``cache_status`` tells where it came from: "off" (computed, no cache), "miss" (computed and
    stored), "hit" (loaded), "rebuilt" (a corrupt cache entry was replaced).
    """

    params: GoboParams
    order: tuple[str, ...]
    packed: dict[str, PackedTensor]
    fp32: dict[str, np.ndarray]
    buffers: dict[str, np.ndarray] = field(default_factory=dict)
    cache_status: str = "off"

    def kind(self, name: str) -> str:
        """Tensor kind (see :mod:`.names`) or "unknown"."""
        info = classify_tensor(name)
        return info.kind if info else "unknown"

    def tensor(self, name: str) -> np.ndarray:
        """The weights as the quantized model has them (float32): dequantized or fp32."""
        if name in self.packed:
            return self.packed[name].unpack()
        if name in self.fp32:
            return self.fp32[name]
        return self.buffers[name]

    def tensors(self) -> Iterator[tuple[str, np.ndarray]]:
        """``(name, array)`` for every tensor in order (quantized ones dequantized)."""
        for name in self.order:
            yield name, self.tensor(name)

    def integer(self, name: str) -> IntegerGobo:
        """Integer variant of a quantized 2-D tensor (stored orientation "nk")."""
        return self.packed[name].integer()

    def with_cache_status(self, status: str) -> QuantizedModel:
        """A copy with another ``cache_status``."""
        return QuantizedModel(self.params, self.order, self.packed, self.fp32, self.buffers, status)

    def _layer(self, name: str) -> dict[str, object]:
        if name in self.packed:
            p = self.packed[name]
            return {
                "name": name, "kind": self.kind(name), "shape": list(p.shape), "quantized": True,
                "bits": p.bits, "weights": p.size, "outliers": p.n_outliers,
                "outlier_fraction": p.outlier_fraction, "bits_per_weight": p.bits_per_weight,
                "compression_ratio": p.compression_ratio, "rel_l2_error": p.rel_l2_error,
                "nbytes": p.nbytes, "centroids": [float(c) for c in p.centroids],
                "iterations": p.iterations, "mean": p.mean, "std": p.std, "z_threshold": _num(p.z),
                "outlier_lo": _num(p.lo), "outlier_hi": _num(p.hi),
            }
        a = self.fp32[name]
        a64 = a.astype(np.float64)
        return {
            "name": name, "kind": self.kind(name), "shape": list(a.shape), "quantized": False,
            "bits": 32, "weights": int(a.size), "outliers": 0, "outlier_fraction": 0.0,
            "bits_per_weight": 32.0, "compression_ratio": 1.0, "rel_l2_error": 0.0,
            "nbytes": int(a.size) * 4, "centroids": [], "iterations": 0,
            "mean": float(a64.mean()) if a.size else 0.0, "std": float(a64.std()) if a.size else 0.0,
            "z_threshold": None, "outlier_lo": None, "outlier_hi": None,
        }

    def report(self) -> dict[str, object]:
        """The quantize report (JSON-serialisable; the contract of docs/ARCHITECTURE.md plus extensions).

        Top level over all floating tensors (quantized + fp32): ``weights``, ``outliers``,
        ``outlier_fraction``, ``bits_per_weight`` (all storage bits / weights; fp32 tensors count 32),
        ``compression_ratio`` (vs fp32), ``rel_l2_error`` (``sqrt(sum ||w-q||^2 / sum ||w||^2)``),
        ``layers`` (one entry per floating tensor, in order). Extensions: the same figures over the
        quantized tensors only (``quantized_*``), ``fp32_weights``, ``params``, ``code_version``.
        """
        layers = [self._layer(n) for n in self.order if n not in self.buffers]
        weights = sum(int(layer["weights"]) for layer in layers)  # type: ignore[call-overload]
        nbytes = sum(int(layer["nbytes"]) for layer in layers)  # type: ignore[call-overload]
        outliers = sum(int(layer["outliers"]) for layer in layers)  # type: ignore[call-overload]
        sq_err = sum(p.sq_error for p in self.packed.values())
        sq_norm_q = sum(p.sq_norm for p in self.packed.values())
        sq_norm_f = sum(float(np.dot(a.reshape(-1).astype(np.float64), a.reshape(-1).astype(np.float64)))
                        for n, a in self.fp32.items())
        qw = sum(p.size for p in self.packed.values())
        qbytes = sum(p.nbytes for p in self.packed.values())
        return {
            "weights": weights,
            "outliers": outliers,
            "outlier_fraction": outliers / weights if weights else 0.0,
            "bits_per_weight": 8.0 * nbytes / weights if weights else 0.0,
            "compression_ratio": 32.0 * weights / (8.0 * nbytes) if nbytes else 1.0,
            "rel_l2_error": math.sqrt(sq_err / (sq_norm_q + sq_norm_f)) if sq_norm_q + sq_norm_f > 0 else 0.0,
            "quantized_weights": qw,
            "quantized_outlier_fraction": outliers / qw if qw else 0.0,
            "quantized_bits_per_weight": 8.0 * qbytes / qw if qw else 0.0,
            "quantized_compression_ratio": 32.0 * qw / (8.0 * qbytes) if qbytes else 1.0,
            "quantized_rel_l2_error": math.sqrt(sq_err / sq_norm_q) if sq_norm_q > 0 else 0.0,
            "fp32_weights": weights - qw,
            "params": self.params.as_dict(),
            "code_version": CODE_VERSION,
            "layers": layers,
        }


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


@dataclass(frozen=True)
class DeferredTensor:
    """A floating tensor made on demand: its ``shape`` and ``dtype`` are known before its values, and ``make()``
    returns the array (the same values every call). :func:`quantize_model` calls it in the worker that quantizes
    the tensor, so that making the tensors (for example generating synthetic weights) runs in parallel too."""

    shape: tuple[int, ...]
    dtype: np.dtype
    make: Callable[[], np.ndarray]


Tensors = Mapping[str, np.ndarray] | Iterable[tuple[str, "np.ndarray | DeferredTensor"]]


def _items(tensors: Tensors) -> Iterator[tuple[str, np.ndarray | DeferredTensor]]:
    if isinstance(tensors, Mapping):
        yield from tensors.items()
    else:
        yield from tensors


def _materialize(arr: np.ndarray | DeferredTensor) -> np.ndarray:
    return np.asarray(arr.make() if isinstance(arr, DeferredTensor) else arr)


def quantize_model(
    tensors: Tensors,
    params: GoboParams | None = None,
    *,
    workers: int = 1,
) -> QuantizedModel:
    """GOBO-quantize every tensor that :func:`~sim.quant.params.bits_for_tensor` selects.

    ``tensors``: Hugging Face names to arrays (mapping or ``(name, array)`` iterable, consumed once); an
    iterable's arrays may be :class:`DeferredTensor` (made in the worker that quantizes them; a deferred tensor
    left in fp32 is made at once).
    ``workers``: threads quantizing tensors concurrently (numpy releases the GIL in the heavy
    parts); results do not depend on it. Tensor order is kept.
    """
    prm = params or GoboParams()
    order: list[str] = []
    packed: dict[str, PackedTensor] = {}
    fp32: dict[str, np.ndarray] = {}
    buffers: dict[str, np.ndarray] = {}

    def work(name: str, arr: np.ndarray | DeferredTensor, bits: int) -> PackedTensor:
        return pack(_materialize(arr), bits, outlier_threshold=prm.outlier_threshold,
                    max_iterations=prm.max_iterations, name=name)

    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    pending: deque[tuple[str, Future[PackedTensor], bool]] = deque()  # (name, result, input held in memory)
    held = 0
    try:
        for name, arr in _items(tensors):
            a = arr if isinstance(arr, DeferredTensor) else np.asarray(arr)
            order.append(name)
            if not np.issubdtype(a.dtype, np.floating):
                buffers[name] = _materialize(a)
                continue
            bits = bits_for_tensor(name, tuple(a.shape), prm)
            if bits is None:
                fp32[name] = np.array(_materialize(a), dtype=np.float32)
            elif pool is not None:
                eager = not isinstance(a, DeferredTensor)
                pending.append((name, pool.submit(work, name, a, bits), eager))
                held += eager
                while held >= 2 * workers:  # bound the memory held by inputs waiting for a worker (oldest first)
                    n, f, e = pending.popleft()
                    packed[n] = f.result()
                    held -= e
            else:
                packed[name] = work(name, a, bits)
        while pending:
            n, f, _ = pending.popleft()
            packed[n] = f.result()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    packed = {n: packed[n] for n in order if n in packed}
    return QuantizedModel(prm, tuple(order), packed, fp32, buffers)
