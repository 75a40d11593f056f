"""The ``compute:`` section of a systolic-array design (``kind: systolic``)."""

from __future__ import annotations

from dataclasses import dataclass

from sim.compute.base import ComputeConfig
from sim.config.schema import spec_field


@dataclass(frozen=True, kw_only=True)
class SystolicCompute(ComputeConfig):
    """TPU-like systolic array of int8 MACs with int32 accumulators (see docs/hw/systolic.md)."""

    kind: str = spec_field(doc="compute kind", choices=("systolic",))
    rows: int = spec_field(doc="PE rows of the array", ge=1, le=1 << 14)
    cols: int = spec_field(doc="PE columns of the array", ge=1, le=1 << 14)
    dataflow: str = spec_field(
        "ws", doc="ws (weight-), os (output-) or is (input-stationary)", choices=("ws", "os", "is"))
    weight_preload_overlap: bool = spec_field(
        True, doc="the next fold's stationary operand loads while the current fold computes (weight FIFO)"
    )

    def peak_macs_per_cycle(self) -> int:
        """MACs per cycle with every PE busy."""
        return self.rows * self.cols
