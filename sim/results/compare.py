"""The report of ``sim compare``: several designs on one workload, ratios against the first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from sim._version import __version__
from sim.results.base import SCHEMA_VERSION, Report

__all__ = ["CompareReport", "DesignRow"]


@dataclass(repr=False)
class DesignRow(Report):
    """One design of a comparison (contract fields first)."""

    REPR_FIELDS: ClassVar[tuple[str, ...]] = ("hw", "cycles", "speedup", "energy_efficiency")
    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ("ttft_seconds", "tpot_mean_seconds", "tokens_per_second",
                                               "energy_per_token_pj")

    hw: str
    cycles: int
    seconds: float
    energy_pj: float | None
    area_mm2: float | None
    dram_read_bytes: int
    dram_write_bytes: int
    speedup: float | None
    """Baseline seconds / this design's seconds."""
    energy_efficiency: float | None
    """Baseline energy / this design's energy."""
    peak_macs_per_cycle: int
    utilization: float
    energy_breakdown_pj: dict[str, float] | None
    stall_breakdown_cycles: dict[str, int]
    compute: dict[str, Any]
    """The design's (possibly resized) compute section."""
    functional_checked: bool | None = None
    """With ``--functional``: the run's ``functional.checked`` (True: every datapath GEMM equal to the reference
    kernel bit for bit; None: not an integer datapath, or not run)."""
    cosine_vs_float: float | None = None
    """With ``--functional``: the run's ``functional.cosine_vs_float`` (integer model vs the float model)."""
    ttft_seconds: float | None = None
    """Decoder workloads: time to first token (the prefill pass); None for an encoder."""
    tpot_mean_seconds: float | None = None
    """Decoder workloads: mean time per output token over the decode steps."""
    tokens_per_second: float | None = None
    """Decoder workloads: decode throughput (batch x generated tokens / decode seconds)."""
    energy_per_token_pj: float | None = None
    """Decoder workloads: decode energy per generated token."""


@dataclass(repr=False)
class CompareReport(Report):
    """``sim compare --json``: ``designs`` in ``--hw`` order; the baseline is the first."""

    REPR_FIELDS: ClassVar[tuple[str, ...]] = ("workload", "baseline", "iso")
    FRAME_ROWS: ClassVar[str | None] = "designs"

    workload: str
    seq_len: int
    batch: int
    baseline: str
    iso: str
    """none, area or peak."""
    designs: list[DesignRow] = field(default_factory=list)
    version: str = __version__
    schema_version: int = SCHEMA_VERSION
