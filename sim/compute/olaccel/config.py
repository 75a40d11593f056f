"""The ``compute:`` section of an OLAccel design (``kind: olaccel``)."""

from __future__ import annotations

from dataclasses import dataclass

from sim.compute.base import ComputeConfig
from sim.config.schema import spec_field


@dataclass(frozen=True, kw_only=True)
class OlaccelCompute(ComputeConfig):
    """``groups`` lane groups, each ``rows`` rows of ``lanes`` 4-bit-weight x int8 MAC lanes plus one int8 x int8
    outlier MAC per row (see docs/hw/olaccel.md)."""

    kind: str = spec_field(doc="compute kind", choices=("olaccel",))
    groups: int = spec_field(doc="lane groups (each: rows x lanes dense MACs + rows outlier MACs)", ge=1, le=1 << 20)
    lanes: int = spec_field(16, doc="dense 4-bit-weight MAC lanes per group (output columns a group covers)",
                            ge=1, le=1 << 10)
    rows: int = spec_field(4, doc="activation rows a group computes at once; each row of lanes has its own outlier "
                           "MAC (the weight slice is read once for all rows)", ge=1, le=1 << 10)
    pipeline_cycles: int = spec_field(2, doc="cycles from a group's last issue to its last accumulator write",
                                      ge=0, le=64)

    def peak_macs_per_cycle(self) -> int:
        """Dense products per cycle with every lane busy (the outlier MACs add no peak: they stand in for the
        lanes whose weight is an outlier)."""
        return self.groups * self.lanes * self.rows
