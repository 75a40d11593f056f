"""The roofline lower bound per operator: max(compute-bound cycles, bandwidth-bound cycles).

This is a bound, not a simulation: compute at peak with no fill/drain, and only the compulsory DRAM
traffic (each weight read once in its stored format, the input gathered once, the output written once;
intermediate activations assumed to stay on chip) moved at the DRAM's peak bandwidth. Every simulated
run must take at least this many cycles per operator (an invariant the tests check).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.workload.graph import Operator


@dataclass(frozen=True)
class Bound:
    """Roofline bound of one operator."""

    compute_cycles: int  # ceil(work / peak rate)
    memory_cycles: int  # ceil(compulsory DRAM bytes / DRAM bytes per cycle)
    dram_read_bytes: int
    dram_write_bytes: int

    @property
    def cycles(self) -> int:
        """The bound: the larger of the two."""
        return max(self.compute_cycles, self.memory_cycles)


def compute_bound_cycles(op: Operator, peak_macs_per_cycle: int, vector_lanes: int) -> int:
    """Cycles at peak: MACs / peak for matmuls, elements / lanes for element-wise operators (>= 1 op each)."""
    if op.is_matmul:
        return math.ceil(op.macs / peak_macs_per_cycle)
    return math.ceil(op.elements / vector_lanes)


def operator_bound(op: Operator, *, peak_macs_per_cycle: int, vector_lanes: int, dram_bytes_per_cycle: float,
                   read_bytes: int, write_bytes: int) -> Bound:
    """The bound of ``op`` given the compulsory DRAM bytes it must move."""
    mem = math.ceil((read_bytes + write_bytes) / dram_bytes_per_cycle) if read_bytes + write_bytes else 0
    return Bound(compute_bound_cycles(op, peak_macs_per_cycle, vector_lanes), mem, read_bytes, write_bytes)
