"""The ``compute:`` section of a ternary-weight design (``kind: ternary``)."""

from __future__ import annotations

from dataclasses import dataclass

from sim.compute.base import ComputeConfig
from sim.config.schema import spec_field


@dataclass(frozen=True, kw_only=True)
class TernaryCompute(ComputeConfig):
    """Tiles of add/subtract PEs on ternary weights with int32 accumulators (see docs/hw/ternary.md)."""

    kind: str = spec_field(doc="compute kind", choices=("ternary",))
    tiles: int = spec_field(doc="number of ternary tiles working in parallel", ge=1, le=1 << 16)
    pes_per_tile: int = spec_field(doc="PEs per tile; each PE produces one output column per block", ge=1,
                                   le=1 << 16)
    rows_per_pe: int = spec_field(doc="activation rows a PE processes together (add/subtract lanes per PE)", ge=1,
                                  le=1024)
    latency_cycles: int = spec_field(2, doc="cycles from fetching a weight row and activation column to their "
                                            "add/subtract (decode + add stages)", ge=1, le=64)

    def peak_macs_per_cycle(self) -> int:
        """Weight-activation products (add/subtract) per cycle with every lane busy."""
        return self.tiles * self.pes_per_tile * self.rows_per_pe
