"""The tensor-core compute kind as a plug-in (registered by :mod:`sim.compute.registry`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from sim.compute.base import Checks, ComputeConfig, ComputeKind
from sim.compute.tensorcore.config import TensorCoreCompute
from sim.compute.tensorcore.cost import tensorcore_estimator
from sim.compute.tensorcore.timing import TensorCoreParams
from sim.compute.tensorcore.unit import TensorCoreUnit

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig
    from sim.cost.components import ComponentModel
    from sim.cost.tech import Tech


class TensorCoreKind(ComputeKind):
    """Tensor-Core-like fp16 MMA units."""

    name = "tensorcore"
    config = TensorCoreCompute
    actions = ("fma_fp16", "fma_fp16_padded", "reg_bits", "rf_read_bits", "rf_write_bits", "add_int32")
    weight_formats: ClassVar[dict[str, str]] = {"fp16": "native", "gobo": "decompressed"}
    operand_bits = 16
    description = "Tensor-Core-like fp16 MMA units with fp32 accumulation"

    def check(self, hw: HardwareConfig) -> Checks:
        """fp16 or GOBO (decompressed) weights."""
        if hw.weights.format not in self.weight_formats:
            yield "weights.format", ("the tensor-core engine is fp16: weights.format must be fp16 or gobo "
                                     f"(decompressed on chip), got '{hw.weights.format}'")

    def min_weight_tile_bytes(self, hw: HardwareConfig) -> int:
        """One fp16 ``mma_k x mma_n`` operand fragment."""
        c = hw.compute
        assert isinstance(c, TensorCoreCompute)
        return c.mma_k * c.mma_n * 2

    def unit(self, hw: HardwareConfig) -> TensorCoreUnit:
        """The units as the mapper sees them."""
        c = hw.compute
        assert isinstance(c, TensorCoreCompute)
        return TensorCoreUnit(TensorCoreParams(c.units, c.mma_m, c.mma_n, c.mma_k, c.pipeline_latency_cycles,
                                              c.rf_read_bytes_per_cycle, c.mma_set_size,
                                              c.mma_set_overhead_cycles))

    def estimator(self, hw: HardwareConfig, tech: Tech) -> ComponentModel:
        """FMA lanes and registers plus a register file per unit."""
        return tensorcore_estimator(hw, tech)

    def size(self, compute: ComputeConfig) -> int:
        """The number of units."""
        assert isinstance(compute, TensorCoreCompute)
        return compute.units

    def with_size(self, compute: ComputeConfig, size: int) -> ComputeConfig:
        """``size`` units."""
        return self.replace(compute, units=size)


KIND = TensorCoreKind()
