"""The ``compute:`` section of an OLAccel design (``kind: olaccel``)."""

from __future__ import annotations

from dataclasses import dataclass

from sim.compute.base import ComputeConfig
from sim.config.schema import spec_field


@dataclass(frozen=True, kw_only=True)
class OlaccelCompute(ComputeConfig):
    """``groups`` lane groups, each ``rows`` rows of ``lanes`` 4-bit-weight x ``act_bits`` MAC lanes plus one
    outlier-weight MAC per row and, with 4-bit activations, an outlier-activation unit of ``act_outlier_macs``
    high-precision MACs (see docs/hw/olaccel.md)."""

    kind: str = spec_field(doc="compute kind", choices=("olaccel",))
    groups: int = spec_field(doc="lane groups (each: rows x lanes dense MACs + rows outlier MACs)", ge=1, le=1 << 20)
    lanes: int = spec_field(16, doc="dense 4-bit-weight MAC lanes per group (output columns a group covers)",
                            ge=1, le=1 << 10)
    rows: int = spec_field(4, doc="activation rows a group computes at once; each row of lanes has its own outlier "
                           "MAC (the weight slice is read once for all rows)", ge=1, le=1 << 10)
    pipeline_cycles: int = spec_field(2, doc="cycles from a group's last issue to its last accumulator write",
                                      ge=0, le=64)
    act_bits: int = spec_field(8, doc="activation bits of the dense lanes: 4 (OLAccel's: 4-bit activations, the "
                               "outlier activations on the outlier-activation unit) or 8 (int8 activations on "
                               "4-bit x 8-bit lanes, no activation outliers)", choices=(4, 8))
    act_outlier_fraction: float = spec_field(0.03, doc="fraction of a step's activations that are outliers (int8, "
                                             "on the outlier-activation unit); used only when act_bits is 4",
                                             ge=0.0, le=1.0)
    act_outlier_macs: int = spec_field(4, doc="high-precision MACs per cycle of a group's outlier-activation unit "
                                       "(one outlier activation a cycle, times up to this many weights of its "
                                       "column block); used only when act_bits is 4", ge=1, le=1 << 10)
    act_outlier_weight_bits: int = spec_field(8, doc="weight operand bits of the outlier-activation unit: 8 (it also "
                                              "takes the outlier weights of an outlier activation's products) or 4 "
                                              "(those products stay on the rows' outlier-weight MACs, then int8 x "
                                              "int8); used only when act_bits is 4", choices=(4, 8))

    @property
    def act_outliers(self) -> bool:
        """True when the dense lanes take 4-bit activations and outlier activations go to their own unit."""
        return self.act_bits == 4

    def peak_macs_per_cycle(self) -> int:
        """Dense products per cycle with every lane busy (the outlier MACs add no peak: they stand in for the
        lanes whose weight or activation is an outlier)."""
        return self.groups * self.lanes * self.rows
