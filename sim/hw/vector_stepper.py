"""Per-cycle reference of the vector unit: explicit lane state, stepped one clock cycle at a time.

Written apart from the closed form (:func:`sim.hw.vector.vector_timing`); the two share only the parameter
and cost records, and the tests require them to agree exactly.

Machine state: ``lanes`` lanes, each either free or busy for a number of remaining cycles, and two issue
queues built from the kernel's counts (per element times ``rows * row_len``, plus per row times ``rows``):
the simple operations (add, mul, shift, cmp, logic, clz) and the divisions. Every cycle:

1. each free lane takes the next operation of the current phase: a simple operation keeps the lane busy
   for this one cycle, a division for ``divider_cycles`` cycles (it stays on the lane that started it);
2. the cycle ends: every busy lane's remaining count drops by one, lanes reaching zero are free again and
   the operations they held have retired.

Phases (the issue order the closed form assumes): all simple operations of the tile first; the divisions
start only in the cycle after the last simple operation has retired (they consume its results); the tile
is done in the cycle its last division retires. A tile with no operations takes zero cycles.

Speed: the loop steps whole cycles (every lane of a cycle at once, as numpy arrays), so a tile of ~1e6
operations on 256 lanes takes a few thousand iterations.
"""

from __future__ import annotations

import numpy as np

from sim.hw.timing import TileTiming
from sim.hw.vector import KernelCost, VectorParams

__all__ = ["step_vector"]

_SIMPLE = ("add", "mul", "shift", "cmp", "logic", "clz")


def step_vector(params: VectorParams, cost: KernelCost, rows: int, row_len: int) -> TileTiming:
    """Cycles and actions of ``cost`` over ``rows x row_len`` elements, stepped cycle by cycle."""
    if params.lanes < 1 or params.divider_cycles < 1:
        raise ValueError(f"vector unit needs lanes >= 1 and divider_cycles >= 1, got {params}")
    elements = rows * row_len
    issued: dict[str, int] = {}  # operation kind -> operations issued (the actions)
    for kind in (*_SIMPLE, "div"):
        n = elements * int(cost.per_element.get(kind, 0)) + rows * int(cost.per_row.get(kind, 0))
        if n:
            issued[f"vec_{kind}"] = n
    # the two issue queues, in phase order: (lane-busy cycles of one operation, operations waiting)
    phases = [(1, sum(v for k, v in issued.items() if k != "vec_div")),
              (params.divider_cycles, issued.get("vec_div", 0))]

    busy = np.zeros(params.lanes, dtype=np.int64)  # remaining busy cycles per lane (0: free)
    retired = [0, 0]  # operations retired per phase
    cycle = 0
    for p, (duration, waiting) in enumerate(phases):
        holding = np.zeros(params.lanes, dtype=bool)  # the lane holds an operation of this phase
        while waiting or holding.any():
            free = np.flatnonzero(busy == 0)
            take = min(free.size, waiting)
            if take:  # each free lane starts the next waiting operation
                lanes = free[:take]
                busy[lanes] = duration
                holding[lanes] = True
                waiting -= take
            cycle += 1  # end of the cycle: every busy lane advances; lanes reaching zero retire their op
            busy[busy > 0] -= 1
            done = holding & (busy == 0)
            retired[p] += int(done.sum())
            holding[done] = False
    if retired != [n for _, n in phases]:
        raise RuntimeError(f"vector stepper: retired {retired} operations, issued {[n for _, n in phases]}")
    return TileTiming(cycle, issued)
