"""Vector unit: softmax, GELU, LayerNorm, residual adds and requantization on integer lanes.

Model: ``lanes`` integer lanes; each lane retires one simple integer operation (add/sub, multiply,
shift, compare/select, logic, count-leading-zeros) per cycle, and an integer division occupies one lane for
``divider_cycles`` cycles (an iterative divider: a division is never split across lanes). A kernel is
described by its operation counts per element and per row (:class:`KernelCost`), taken from the integer
kernels the hardware executes (``sim.kernels``), so a kernel with fewer operations (I-ViT's shifts against
I-BERT's polynomials) takes fewer cycles:

    cycles = ceil(simple_ops / lanes) + ceil(divisions / lanes) * divider_cycles

with ``simple_ops = elements * e + rows * r`` summed over the simple operation kinds. Issue order (the one
the per-cycle reference :func:`sim.hw.vector_stepper.step_vector` steps through): every simple operation of
the tile first, ``lanes`` per cycle; then, once they have all retired, the divisions in waves, each free lane
starting one and staying busy for ``divider_cycles`` cycles (the last wave may leave lanes idle; so may the
last cycle of the simple phase: the divisions wait for it). Operations are assumed to pipeline perfectly
across lanes otherwise (no lane-level dependency stalls inside a phase; stated simplification).
Actions are counted per operation kind as ``vec_<kind>`` (one 32-bit integer operation each; ``div``:
one 32-bit division).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from sim.hw.timing import TileTiming

SIMPLE_OPS = ("add", "mul", "shift", "cmp", "logic", "clz")
ALL_OPS = SIMPLE_OPS + ("div",)


@dataclass(frozen=True)
class VectorParams:
    """The vector unit's width and divider latency."""

    lanes: int  # integer lanes (operations per cycle)
    divider_cycles: int  # cycles one lane spends on one 32-bit integer division


@dataclass(frozen=True)
class KernelCost:
    """Integer operations of one kernel: per element and per row (keys: add, mul, shift, cmp, div)."""

    name: str
    per_element: Mapping[str, int] = field(default_factory=dict)
    per_row: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for part in (self.per_element, self.per_row):
            for key, value in part.items():
                if key not in ALL_OPS or value < 0:
                    raise ValueError(f"{self.name}: bad operation count {key}={value}")

    def __add__(self, other: KernelCost) -> KernelCost:
        """Two kernels run back to back on the same elements (e.g. GELU then requantization)."""
        def add(a, b):
            return {k: a.get(k, 0) + b.get(k, 0) for k in ALL_OPS if a.get(k, 0) + b.get(k, 0)}
        return KernelCost(f"{self.name}+{other.name}", add(self.per_element, other.per_element),
                          add(self.per_row, other.per_row))

    def ops_per_element(self) -> float:
        """Simple operations per element, not counting per-row work or divisions."""
        return sum(self.per_element.get(k, 0) for k in SIMPLE_OPS)


def vector_timing(params: VectorParams, cost: KernelCost, rows: int, row_len: int) -> TileTiming:
    """Cycles and actions of ``cost`` over ``rows x row_len`` elements on the vector unit."""
    elements = rows * row_len
    counts = {k: elements * cost.per_element.get(k, 0) + rows * cost.per_row.get(k, 0) for k in ALL_OPS}
    simple = sum(counts[k] for k in SIMPLE_OPS)
    cycles = math.ceil(simple / params.lanes) + math.ceil(counts["div"] / params.lanes) * params.divider_cycles
    return TileTiming(cycles, {f"vec_{k}": v for k, v in counts.items() if v})
