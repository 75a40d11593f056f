"""OliVe array timing (closed form): the systolic array's fold schedule, plus the pair decoders' actions.

The OliVe array is the systolic array of :mod:`sim.compute.systolic.timing` with other PEs: the fold plan and
the cycles of a weight GEMM are the same (the pair decoders at the array edge are one pipeline stage in the
operand path beside the SRAM read, which the systolic model does not expose either). What differs:

- **weight GEMMs** (OVP weights, int8 activations; weight-stationary): one pass; the actions are ``mac_w4a8``
  (one per product), ``add_int32``, ``reg_bits`` as the systolic array counts them, and ``decode_pairs``: one
  per weight pair that enters the array through a decoder, ``ceil(K/2) * N`` (every weight is preloaded once;
  the PE rows are even, so no pair straddles two folds).
- **attention matmuls** (both operands int8 activations): the 4-bit weight port takes the stationary operand in
  two nibbles, ``b = 16 * hi + lo`` (``lo`` in [0, 15]), so the matmul is two passes of the array, each the
  systolic schedule, and one ``add_int32`` per output merges them (``16 * hi`` is wiring).
"""

from __future__ import annotations

from sim.compute.systolic.timing import SystolicParams, systolic_gemm_timing
from sim.hw.timing import TileTiming, ceil_div

__all__ = ["olive_bmm_timing", "olive_gemm_timing"]


def _rename(t: TileTiming, times: int = 1) -> dict[str, int]:
    out = {("mac_w4a8" if k == "mac_int8" else k): times * int(v) for k, v in t.actions.items()}
    return out


def olive_gemm_timing(p: SystolicParams, M: int, K: int, N: int) -> TileTiming:
    """``[M, K] (int8) @ [K, N] (OVP)`` in one pass: the systolic cycles, ``mac_w4a8``, ``decode_pairs``."""
    t = systolic_gemm_timing(p, M, K, N)
    acts = _rename(t)
    acts["decode_pairs"] = ceil_div(K, 2) * N
    return TileTiming(t.cycles, acts)


def olive_bmm_timing(p: SystolicParams, M: int, K: int, N: int) -> TileTiming:
    """``[M, K] @ [K, N]``, both int8 activations: two nibble passes and one merging add per output."""
    t = systolic_gemm_timing(p, M, K, N)
    acts = _rename(t, 2)
    acts["add_int32"] = acts.get("add_int32", 0) + M * N
    return TileTiming(2 * t.cycles, acts)
