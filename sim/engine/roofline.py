"""The roofline lower bound per operator: max(compute-bound cycles, bandwidth-bound cycles).

This is a bound, not a simulation: compute at peak with no fill/drain, and only the compulsory DRAM
traffic (each weight read once in its stored format, the input gathered once, the output written once;
intermediate activations assumed to stay on chip) moved at the DRAM's peak bandwidth. Every simulated
run must take at least this many cycles per operator (an invariant the tests check).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from sim.config.hardware import HardwareConfig
from sim.mapping.weights import EMBEDDING_TYPES, stored_bytes
from sim.workload.graph import Operator, OperatorGraph


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


def compulsory_traffic(graph: OperatorGraph, hw: HardwareConfig,
                       packed_bytes: Mapping[str, int] | None = None) -> dict[str, tuple[int, int]]:
    """Per operator (read, write) bytes that any schedule must move: weights once, gathered embedding rows,
    the final output. Intermediate activations are assumed on chip."""
    sizes = stored_bytes(graph, hw, packed_bytes)
    w = graph.workload
    traffic = {op.name: (0, 0) for op in graph.ops}
    for op in graph.ops:
        if op.weight is not None:
            bias = op.weight.name.replace(".weight", ".bias")
            traffic[op.name] = (sizes[op.weight.name] + sizes.get(bias, 0), 0)
    gather = next((op for op in graph.ops if op.kind == "gather"), None)
    if gather is not None:
        rows = 0
        for t in graph.tensors:
            if t.tensor_type in EMBEDDING_TYPES:
                per_row = sizes[t.name] / t.shape[0]
                rows += math.ceil(per_row * (w.tokens if t.tensor_type != "type_emb" else w.batch))
        traffic[gather.name] = (rows + w.tokens * 4, 0)  # + int32 token ids
    last = graph.ops[-1]
    read, write = traffic[last.name]
    traffic[last.name] = (read, write + last.out_bytes)
    return traffic
