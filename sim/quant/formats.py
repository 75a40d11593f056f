"""The weight-format registry: a format name -> the quantizer of one float weight tensor.

Every format's quantizer takes one float tensor (and the format's options) and returns a quantized tensor with
the :class:`QuantizedTensor` interface: ``dequantized()`` (float32, the input's shape), ``packed_bytes`` (the
bytes of its packed buffers), ``bits_per_weight`` (from those bytes), ``rel_l2_error`` and ``stats()``
(accuracy-relevant statistics). ``sim quantize --format F`` and the accuracy table (bench/make_results.py) use
this registry; adding a format is one :func:`register_format` call.

Built in: ``gobo`` (:mod:`.packed`), ``ternary`` (:mod:`.ternary`), ``bcq`` (:mod:`.bcq`), ``olive``
(:mod:`.olive`), ``olaccel`` (:mod:`.olaccel`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from . import olaccel, olive
from .bcq import bcq
from .errors import QuantParamError
from .packed import pack
from .ternary import ternarize

__all__ = ["QuantizedTensor", "WeightFormat", "formats", "get_format", "register_format", "quantize_tensor"]


class QuantizedTensor(Protocol):
    """What every format's quantizer returns."""

    @property
    def rel_l2_error(self) -> float:
        """``||dequantized - w|| / ||w||`` over the tensor."""
        ...

    @property
    def packed_bytes(self) -> int:
        """Bytes of the packed buffers."""
        ...

    @property
    def bits_per_weight(self) -> float:
        """``8 * packed_bytes / weights``."""
        ...

    def dequantized(self) -> np.ndarray:
        """The values the format represents (float32, the input's shape)."""
        ...

    def stats(self) -> dict[str, Any]:
        """Accuracy-relevant statistics (at least ``rel_l2_error``, ``bits_per_weight``, ``packed_bytes``)."""
        ...


@dataclass(frozen=True)
class WeightFormat:
    """One registered format: ``quantize(weights, name=..., **options)`` and its default ``options``."""

    name: str
    description: str
    quantize: Callable[..., QuantizedTensor]
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class _GoboTensor:
    """A GOBO :class:`~.packed.PackedTensor` seen through the :class:`QuantizedTensor` interface."""

    packed: Any

    @property
    def rel_l2_error(self) -> float:
        return float(self.packed.rel_l2_error)

    @property
    def packed_bytes(self) -> int:
        return int(self.packed.nbytes)

    @property
    def bits_per_weight(self) -> float:
        return float(self.packed.bits_per_weight)

    def dequantized(self) -> np.ndarray:
        return self.packed.unpack()

    def stats(self) -> dict[str, Any]:
        return {"outliers": int(self.packed.n_outliers), "outlier_fraction": float(self.packed.outlier_fraction),
                "rel_l2_error": self.rel_l2_error, "bits_per_weight": self.bits_per_weight,
                "packed_bytes": self.packed_bytes}


def _gobo(weights: np.ndarray, *, name: str = "", bits: int = 3, outlier_threshold: float = -4.0) -> _GoboTensor:
    return _GoboTensor(pack(weights, bits, outlier_threshold=outlier_threshold, name=name))


def _ternary(weights: np.ndarray, *, name: str = "", granularity: str = "row", delta_ratio: float = 0.7) -> Any:
    return ternarize(weights, granularity=granularity, delta_ratio=delta_ratio, name=name)


def _bcq(weights: np.ndarray, *, name: str = "", bits: int = 3, iterations: int = 4) -> Any:
    return bcq(weights, bits, iterations=iterations, name=name)


def _olive(weights: np.ndarray, *, name: str = "") -> Any:
    return olive.quantize(weights)


def _olaccel(weights: np.ndarray, *, name: str = "", outlier_fraction: float = olaccel.DEFAULT_OUTLIER_FRACTION
             ) -> Any:
    return olaccel.quantize(weights, outlier_fraction=outlier_fraction)


_FORMATS: dict[str, WeightFormat] = {}


def register_format(fmt: WeightFormat, *, replace: bool = False) -> WeightFormat:
    """Add a format (its name must be new unless ``replace``)."""
    if fmt.name in _FORMATS and not replace:
        raise ValueError(f"weight format {fmt.name!r} is already registered")
    _FORMATS[fmt.name] = fmt
    return fmt


def formats() -> dict[str, WeightFormat]:
    """Every registered format, by name, in registration order."""
    return dict(_FORMATS)


def get_format(name: str) -> WeightFormat:
    """The registered format ``name``; :class:`QuantParamError` naming the known formats otherwise."""
    try:
        return _FORMATS[name]
    except KeyError:
        raise QuantParamError(f"--format: unknown weight format {name!r} (known: {', '.join(_FORMATS)})") from None


def quantize_tensor(fmt: str, weights: np.ndarray, *, name: str = "", **options: Any) -> QuantizedTensor:
    """Quantize one tensor in format ``fmt`` (options override the format's defaults; unknown ones refused)."""
    f = get_format(fmt)
    unknown = sorted(set(options) - set(f.options))
    if unknown:
        raise QuantParamError(f"format {fmt}: unknown option(s) {', '.join(unknown)} "
                              f"(known: {', '.join(f.options) or 'none'})")
    return f.quantize(weights, name=name, **{**f.options, **options})


register_format(WeightFormat("gobo", "GOBO: 3-bit centroid indices + fp32 outliers (MICRO 2020)", _gobo,
                             {"bits": 3, "outlier_threshold": -4.0}))
register_format(WeightFormat("ternary", "ternary {-a, 0, +a}, TWN threshold (TernaryBERT, EMNLP 2020)", _ternary,
                             {"granularity": "row", "delta_ratio": 0.7}))
register_format(WeightFormat("bcq", "binary-coding quantization, q {-1,+1} planes with per-row scales "
                             "(BiQGEMM, SC 2020)", _bcq, {"bits": 3, "iterations": 4}))
register_format(WeightFormat("olive", "OliVe: 4-bit outlier-victim pairs, one fp32 scale per row (ISCA 2023)", _olive))
register_format(WeightFormat("olaccel", "OLAccel: 4-bit dense + sparse int8 outliers (top 3% per row), fp32 row "
                             "scales (ISCA 2018)", _olaccel,
                             {"outlier_fraction": olaccel.DEFAULT_OUTLIER_FRACTION}))
