"""The ``compute:`` section of a Tensor-Core-like design (``kind: tensorcore``)."""

from __future__ import annotations

from dataclasses import dataclass

from sim.compute.base import ComputeConfig
from sim.config.schema import spec_field


@dataclass(frozen=True, kw_only=True)
class TensorCoreCompute(ComputeConfig):
    """Tensor-Core-like units, each an m x n x k FP16 MMA per cycle with FP32 accumulation (docs/hw/tensorcore.md)."""

    kind: str = spec_field(doc="compute kind", choices=("tensorcore",))
    units: int = spec_field(doc="number of tensor-core units", ge=1, le=1 << 20)
    mma_m: int = spec_field(4, doc="MMA tile rows per unit per cycle", ge=1)
    mma_n: int = spec_field(4, doc="MMA tile columns per unit per cycle", ge=1)
    mma_k: int = spec_field(4, doc="MMA reduction depth per unit per cycle", ge=1)
    pipeline_latency_cycles: int = spec_field(4, doc="MMA pipeline latency in cycles", ge=1)
    rf_read_bytes_per_cycle: int = spec_field(
        64, doc="register-file read bandwidth into one unit's operand-fetch stage (bytes per cycle; A and B "
                "fragments)", ge=1, le=1 << 20)
    mma_set_size: int = spec_field(
        1, doc="MMAs a unit issues per operand set (an HMMA set on Volta: the MMAs that share one k-slice's "
               "operand buffers); the first MMA of each set pays mma_set_overhead_cycles", ge=1, le=1 << 20)
    mma_set_overhead_cycles: int = spec_field(
        0, doc="extra operand-fetch cycles at the start of each set of mma_set_size MMAs (reloading the "
               "operand buffers; 0 = none)", ge=0, le=1 << 20)

    def peak_macs_per_cycle(self) -> int:
        """FMAs per cycle with every unit busy."""
        return self.units * self.mma_m * self.mma_n * self.mma_k
