"""The GOBO compute kind as a plug-in (registered by :mod:`sim.compute.registry`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from sim.compute.base import Checks, ComputeConfig, ComputeKind
from sim.compute.gobo.config import GoboCompute
from sim.compute.gobo.cost import gobo_estimator
from sim.compute.gobo.dataflow import GoboDatapath
from sim.compute.gobo.timing import GoboTileParams
from sim.compute.gobo.unit import GoboUnit

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig
    from sim.cost.components import ComponentModel
    from sim.cost.tech import Tech


class GoboKind(ComputeKind):
    """GOBO tiles of add-mostly PEs computing on 3-bit weight indices."""

    name = "gobo"
    config = GoboCompute
    actions = ("bin_add", "bin_write_bits", "add_int32", "mul_int8x32", "mac_int8x16", "mac_int8", "outlier_compare",
               "outlier_act_bytes", "index_read_bits", "dict_read", "dict_write", "reg_bits")
    weight_formats: ClassVar[dict[str, str]] = {"gobo": "native"}
    operand_bits = 8
    description = "GOBO accelerator: add-mostly PEs over GOBO weight indices, outlier side path"

    def check(self, hw: HardwareConfig) -> Checks:
        """GOBO computes on GOBO indices only."""
        if hw.weights.format != "gobo":
            yield "weights.format", ("compute.kind gobo computes on GOBO indices, so weights.format must be gobo, "
                                     f"got '{hw.weights.format}'")

    def min_weight_tile_bytes(self, hw: HardwareConfig) -> int:
        """One index per PE of a tile."""
        c = hw.compute
        assert isinstance(c, GoboCompute)
        return (c.pes_per_tile * hw.weights.bits + 7) // 8

    def params(self, hw: HardwareConfig) -> GoboTileParams:
        """The tile timing model's parameters of a design."""
        c = hw.compute
        assert isinstance(c, GoboCompute)
        return GoboTileParams(pes=c.pes_per_tile, rows_per_pe=c.rows_per_pe, bits=hw.weights.bits,
                              decode_latency_cycles=c.decode_latency_cycles,
                              add_latency_cycles=c.add_latency_cycles,
                              outlier_macs_per_cycle=c.outlier_macs_per_cycle,
                              outlier_positions_per_cycle=c.outlier_positions_per_cycle,
                              outlier_port_bytes=c.outlier_port_bytes,
                              multipliers_per_pe=c.multipliers_per_pe,
                              double_buffered_bins=c.double_buffered_bins, bin_bits=c.bin_bits)

    def unit(self, hw: HardwareConfig) -> GoboUnit:
        """The tiles as the mapper sees them."""
        c = hw.compute
        assert isinstance(c, GoboCompute)
        return GoboUnit(self.params(hw), c.tiles)

    def estimator(self, hw: HardwareConfig, tech: Tech) -> ComponentModel:
        """The PE arrays plus each tile's outlier unit and broadcast registers."""
        return gobo_estimator(hw, tech)

    def size(self, compute: ComputeConfig) -> int:
        """The number of tiles."""
        assert isinstance(compute, GoboCompute)
        return compute.tiles

    def with_size(self, compute: ComputeConfig, size: int) -> ComputeConfig:
        """``size`` tiles."""
        return self.replace(compute, tiles=size)

    def datapath(self, hw: HardwareConfig) -> GoboDatapath:
        """GOBO weights through the PE bins (sums checked against ``compute.bin_bits``)."""
        c = hw.compute
        assert isinstance(c, GoboCompute)
        return GoboDatapath(c.bin_bits)

    def default_datapath(self) -> GoboDatapath:
        """The GOBO format's datapath without a design."""
        return GoboDatapath()


KIND = GoboKind()
