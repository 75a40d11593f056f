"""The report of ``sim quantize``: GOBO storage and error figures of a model, per tensor and in total."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from sim._version import __version__
from sim.results.base import SCHEMA_VERSION, Report

__all__ = ["FormatLayer", "FormatQuantizeReport", "QuantizeLayer", "QuantizeReport"]


@dataclass(repr=False)
class QuantizeLayer(Report):
    """One floating tensor of the model (quantized with GOBO, or kept in fp32)."""

    REPR_FIELDS: ClassVar[tuple[str, ...]] = ("name", "bits", "outliers", "bits_per_weight")

    name: str
    kind: str
    shape: list[int]
    quantized: bool
    bits: int
    weights: int
    outliers: int
    outlier_fraction: float
    bits_per_weight: float
    compression_ratio: float
    rel_l2_error: float
    nbytes: int
    centroids: list[float]
    iterations: int
    mean: float | None
    std: float | None
    z_threshold: float | None
    outlier_lo: float | None
    outlier_hi: float | None


@dataclass(repr=False)
class QuantizeReport(Report):
    """``sim quantize --json`` (contract fields first; ``quantized_*``: over the quantized tensors only)."""

    REPR_FIELDS: ClassVar[tuple[str, ...]] = ("weights", "outliers", "bits_per_weight", "compression_ratio")
    FRAME_ROWS: ClassVar[str | None] = "layers"

    weights: int
    outliers: int
    outlier_fraction: float
    bits_per_weight: float
    compression_ratio: float
    rel_l2_error: float
    quantized_weights: int
    quantized_outlier_fraction: float
    quantized_bits_per_weight: float
    quantized_compression_ratio: float
    quantized_rel_l2_error: float
    fp32_weights: int
    params: dict[str, Any]
    code_version: str
    layers: list[QuantizeLayer] = field(default_factory=list)
    version: str = __version__
    schema_version: int = SCHEMA_VERSION


@dataclass(repr=False)
class FormatLayer(Report):
    """One tensor of ``sim quantize --format F`` (F not gobo): quantized in the format, or kept in fp32."""

    REPR_FIELDS: ClassVar[tuple[str, ...]] = ("name", "quantized", "bits_per_weight", "rel_l2_error")

    name: str
    kind: str
    shape: list[int]
    quantized: bool
    weights: int
    packed_bytes: int
    bits_per_weight: float
    rel_l2_error: float
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(repr=False)
class FormatQuantizeReport(Report):
    """``sim quantize --format F --json`` for a format of the registry other than gobo (``sim.quant.formats``):
    totals over the quantized tensors, the whole model's bits per weight (fp32 tensors at 32), per tensor."""

    REPR_FIELDS: ClassVar[tuple[str, ...]] = ("format", "quantized_weights", "bits_per_weight", "rel_l2_error")
    FRAME_ROWS: ClassVar[str | None] = "layers"

    format: str
    options: dict[str, Any]
    weights_source: str
    weights: int
    quantized_weights: int
    packed_bytes: int
    bits_per_weight: float
    compression_ratio: float
    rel_l2_error: float
    model_bits_per_weight: float
    layers: list[FormatLayer] = field(default_factory=list)
    version: str = __version__
    schema_version: int = SCHEMA_VERSION
