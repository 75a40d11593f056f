"""Vector-unit kernel costs: integer operations per element and per row, from ``sim.kernels.opcounts``.

The counts are those of the clean integer kernels the hardware executes (``compat=None``). Two
quantities are not per-element constants and are fixed here for timing-only runs:

- LayerNorm's Newton square root takes a data-dependent number of iterations; we charge every row
  the *worst case* over 32-bit variances (:func:`worst_sqrt_iterations`), a bound that holds for any
  input, instead of a guess at typical data.
- The pooler's tanh has no kernel in the package; it is charged as an i-GELU (a second-order
  polynomial plus a product, the same operation mix; assumed).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from sim.hw.vector import ALL_OPS, KernelCost
from sim.kernels.opcounts import op_counts, sqrt_iteration_counts

# Dyadic requantization (sim.kernels.dyadic.requantize) per element: q * m (mul 1), round half to
# even by shifts and masks (round_shift: shift 2, logic 2, cmp 2, add 1), saturate (cmp 2).
REQUANT = {"mul": 1, "shift": 2, "logic": 2, "cmp": 4, "add": 1}
# Residual add (sim.functional.integer: both terms requantized to the residual scale, added, saturated to
# 22 bits): 2 x REQUANT, add 1, saturate cmp 2. The matmul feeding it (out_proj, ffn2) has no requantizing
# epilogue of its own, so both requantizations are charged here.
RESIDUAL_ADD = {k: 2 * v + {"add": 1, "cmp": 2}.get(k, 0) for k, v in REQUANT.items()}


@cache
def worst_sqrt_iterations(variant: str) -> int:
    """Most Newton iterations the clean integer sqrt needs for any variance below 2^32."""
    probe = np.unique(np.concatenate([(np.int64(1) << np.arange(1, 33)) - 1, np.int64(1) << np.arange(0, 32),
                                      np.arange(1, 4096, dtype=np.int64)]))
    return int(sqrt_iteration_counts(probe, variant).max())


def _cost(name: str, kernel: str, variant: str | None = None) -> KernelCost:
    c = op_counts(kernel, "clean")
    per_row = {k: int(c.per_row.get(k, 0)) for k in ALL_OPS}
    if variant is not None:
        n = worst_sqrt_iterations(variant)
        for k in ALL_OPS:
            per_row[k] += n * int(c.per_sqrt_iteration.get(k, 0))
    return KernelCost(name, {k: int(c.per_element.get(k, 0)) for k in ALL_OPS if c.per_element.get(k, 0)},
                      {k: v for k, v in per_row.items() if v})


def kernel_costs(kernel_set: str) -> dict[str, KernelCost]:
    """Costs of every vector kernel the mapper uses, for the ``ibert`` or ``ivit`` kernel set."""
    requant = KernelCost("requant", REQUANT)
    residual = KernelCost("residual_add", RESIDUAL_ADD)
    if kernel_set == "ibert":
        gelu = _cost("ibert.int_gelu", "ibert.int_gelu")
        softmax = _cost("ibert.int_softmax", "ibert.int_softmax")
        layernorm = _cost("ibert.int_layernorm", "ibert.int_layernorm", "ibert")
    elif kernel_set == "ivit":
        gelu = _cost("ivit.shift_gelu", "ivit.shift_gelu")
        softmax = _cost("ivit.shiftmax", "ivit.shiftmax")
        layernorm = _cost("ivit.int_layernorm", "ivit.int_layernorm", "ivit")
    else:
        raise ValueError(f"unknown kernel set {kernel_set!r} (ibert or ivit)")
    tanh = KernelCost("tanh (as ibert.int_gelu)", dict(_cost("t", "ibert.int_gelu").per_element))
    return {"requant": requant, "residual_add": residual, "gelu": gelu, "softmax": softmax,
            "layernorm": layernorm, "tanh": tanh, "gather": requant}
