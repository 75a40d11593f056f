"""The BiQGEMM-style compute kind as a plug-in (registered by :mod:`sim.compute.registry`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from sim.compute.base import Checks, ComputeConfig, ComputeKind
from sim.compute.biqgemm.config import BiqgemmCompute
from sim.compute.biqgemm.cost import biqgemm_estimator
from sim.compute.biqgemm.dataflow import BiqgemmDatapath
from sim.compute.biqgemm.timing import BiqgemmParams
from sim.compute.biqgemm.unit import BiqgemmUnit

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig
    from sim.cost.components import ComponentModel
    from sim.cost.tech import Tech


class BiqgemmKind(ComputeKind):
    """Lookup-table GEMM tiles on binary-coded weights (BiQGEMM, Jeon et al. SC 2020)."""

    name = "biqgemm"
    config = BiqgemmCompute
    actions = ("add_int16", "lut_write_bits", "lut_reads", "add_int32", "mul_int8x32", "shift_int32", "reg_bits")
    weight_formats: ClassVar[dict[str, str]] = {"bcq": "native"}
    operand_bits = 1
    description = "lookup-table GEMM tiles on binary-coded (BCQ) weights, int8 activations"

    def check(self, hw: HardwareConfig) -> Checks:
        """bcq weights with as many planes as the lanes accumulate."""
        yield from super().check(hw)
        c = hw.compute
        assert isinstance(c, BiqgemmCompute)
        if hw.weights.format == "bcq" and hw.weights.bcq_bits != c.planes:
            yield "weights.bcq_bits", (f"must equal compute.planes ({c.planes}): the lanes accumulate that many "
                                       f"binary planes, got {hw.weights.bcq_bits}")

    def min_weight_tile_bytes(self, hw: HardwareConfig) -> int:
        """One group of a tile's lanes: ``lanes x planes x group_size`` bits."""
        c = hw.compute
        assert isinstance(c, BiqgemmCompute)
        return max(1, c.lanes_per_tile * c.planes * c.group_size // 8)

    def params(self, c: BiqgemmCompute) -> BiqgemmParams:
        """The timing model's parameters of a compute section."""
        return BiqgemmParams(c.tiles, c.lanes_per_tile, c.rows_per_tile, c.group_size, c.planes, c.build_per_cycle,
                             c.latency_cycles)

    def unit(self, hw: HardwareConfig) -> BiqgemmUnit:
        """The tiles as the mapper sees them."""
        c = hw.compute
        assert isinstance(c, BiqgemmCompute)
        return BiqgemmUnit(self.params(c))

    def estimator(self, hw: HardwareConfig, tech: Tech) -> ComponentModel:
        """Builders, tables, lookup lanes, accumulators and epilogue multipliers."""
        return biqgemm_estimator(hw, tech)

    def size(self, compute: ComputeConfig) -> int:
        """The number of tiles."""
        assert isinstance(compute, BiqgemmCompute)
        return compute.tiles

    def with_size(self, compute: ComputeConfig, size: int) -> ComputeConfig:
        """``size`` tiles."""
        return self.replace(compute, tiles=size)

    def datapath(self, hw: HardwareConfig) -> BiqgemmDatapath:
        """GEMMs and attention through the tables."""
        c = hw.compute
        assert isinstance(c, BiqgemmCompute)
        return BiqgemmDatapath(c.group_size)

    def default_datapath(self) -> BiqgemmDatapath:
        """The bcq format's reference datapath: groups of 4."""
        return BiqgemmDatapath(4)

    def functional_notes(self, hw: HardwareConfig) -> list[str]:
        """What the functional pass assumes."""
        return [f"post-training BCQ ({hw.weights.bcq_bits} planes, alternating refinement) of every GEMM weight; "
                "embedding tables int8 per channel (the mixed-bit embeddings are a quantizer option, not run "
                "here)"]


KIND = BiqgemmKind()
