"""The ternary-weight compute kind as a plug-in (registered by :mod:`sim.compute.registry`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from sim.compute.base import ComputeConfig, ComputeKind
from sim.compute.ternary.config import TernaryCompute
from sim.compute.ternary.cost import ternary_estimator
from sim.compute.ternary.dataflow import TernaryDatapath
from sim.compute.ternary.timing import TernaryParams
from sim.compute.ternary.unit import TernaryUnit

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig
    from sim.cost.components import ComponentModel
    from sim.cost.tech import Tech


class TernaryKind(ComputeKind):
    """Add/subtract PEs on ternary weights (TernaryBERT-style 2-bit weights, 8-bit activations)."""

    name = "ternary"
    config = TernaryCompute
    actions = ("addsub_int32", "reg_bits", "add_int32")
    weight_formats: ClassVar[dict[str, str]] = {"ternary": "native"}
    operand_bits = 2
    description = "ternary-weight add/subtract PEs (TernaryBERT weights, int8 activations)"

    def min_weight_tile_bytes(self, hw: HardwareConfig) -> int:
        """One reduction row of a tile's weights: ``pes`` 2-bit codes."""
        c = hw.compute
        assert isinstance(c, TernaryCompute)
        return max(1, c.pes_per_tile * 2 // 8)

    def params(self, c: TernaryCompute) -> TernaryParams:
        """The timing model's parameters of a compute section."""
        return TernaryParams(c.tiles, c.pes_per_tile, c.rows_per_pe, c.latency_cycles)

    def unit(self, hw: HardwareConfig) -> TernaryUnit:
        """The tiles as the mapper sees them."""
        c = hw.compute
        assert isinstance(c, TernaryCompute)
        return TernaryUnit(self.params(c))

    def estimator(self, hw: HardwareConfig, tech: Tech) -> ComponentModel:
        """Add/subtract lanes, accumulators and registers."""
        return ternary_estimator(hw, tech)

    def size(self, compute: ComputeConfig) -> int:
        """The number of tiles."""
        assert isinstance(compute, TernaryCompute)
        return compute.tiles

    def with_size(self, compute: ComputeConfig, size: int) -> ComputeConfig:
        """``size`` tiles."""
        return self.replace(compute, tiles=size)

    def datapath(self, hw: HardwareConfig) -> TernaryDatapath:
        """Weight GEMMs as selected sums, attention bit-serial."""
        return TernaryDatapath()

    def default_datapath(self) -> TernaryDatapath:
        """The ternary format's reference datapath."""
        return TernaryDatapath()

    def functional_notes(self, hw: HardwareConfig) -> list[str]:
        """What the functional pass assumes."""
        return ["post-training TWN ternarization of every GEMM weight (TernaryBERT trains with distillation); "
                "embedding tables int8 per channel; attention BMMs bit-serial on the add/subtract lanes"]


KIND = TernaryKind()
