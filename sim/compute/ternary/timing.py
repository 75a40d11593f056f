"""Closed-form timing of the ternary tiles (see docs/hw/ternary.md).

A block is ``R`` activation rows x ``P`` output columns over the reduction depth. Every cycle a tile fetches one
reduction index: the ``R`` activations of that column (broadcast to the PEs) and the ``P`` 2-bit weights of that
row (one per PE); ``latency_cycles - 1`` cycles later each PE's ``R`` lanes add (+1), subtract (-1) or add 0
(0: the lane is not gated, assumed) the activation into their int32 accumulators. After the block's last add,
the accumulators are copied into a shadow bank when it is empty, and the shadow drains one row of ``P`` values
per cycle (``R`` cycles); a block that finishes before the shadow is free holds its accumulators and the
tile's pipeline waits. So ``b`` blocks on one tile take

    ``(L - 1) + K + (b - 1) * max(K, R) + R``

cycles. Weight GEMMs deal the ``ceil(M/R) * ceil(N/P)`` blocks round-robin to the tiles (the busiest tile sets
the time; partial blocks run the full schedule, their idle lanes gated). Attention matmuls (both operands int8
activations) run bit-serially on the same lanes: the second operand's 8 two's-complement bit planes, most
significant first, each a pass of K adds on 0/1 "weights" with the accumulator doubled between passes, so the
block's depth is ``8 K``.

Actions (useful lanes only): ``addsub_int32`` (one lane add or subtract), ``reg_bits`` (accumulator writes 32
per add, shadow copies 32 per output, weight registers 2 bits per fetched weight, 1 per fetched bit in the
bit-serial mode, activation broadcast registers 8 bits per fetched activation).
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.hw.timing import TileTiming, ceil_div

ACC_BITS = 32
"""Accumulator width (bits)."""
WEIGHT_BITS = 2
"""Bits of one ternary weight code in a PE's weight register."""
ACT_BITS = 8
"""Bits of one activation in the broadcast register."""
SERIAL_PLANES = 8
"""Bit planes of an int8 operand in the bit-serial attention mode."""


@dataclass(frozen=True)
class TernaryParams:
    """The timing model's parameters: ``tiles``, ``pes`` (P), ``rows`` (R), ``latency`` (L)."""

    tiles: int
    pes: int
    rows: int
    latency: int


def ternary_tile_cycles(p: TernaryParams, depth: int, blocks: int) -> int:
    """Cycles of ``blocks`` consecutive blocks of ``depth`` add cycles on one tile (0 blocks: 0)."""
    if blocks <= 0:
        return 0
    return (p.latency - 1) + depth + (blocks - 1) * max(depth, p.rows) + p.rows


def _busiest(p: TernaryParams, M: int, N: int) -> int:
    return ceil_div(ceil_div(M, p.rows) * ceil_div(N, p.pes), p.tiles)


def ternary_gemm_timing(p: TernaryParams, M: int, K: int, N: int) -> TileTiming:
    """``M x K`` activations times a ``K x N`` ternary weight on the tiles."""
    if M <= 0 or N <= 0 or K <= 0:
        return TileTiming(0, {})
    products = M * K * N
    regs = (ACC_BITS * products + ACC_BITS * M * N + WEIGHT_BITS * K * N * ceil_div(M, p.rows)
            + ACT_BITS * K * M * ceil_div(N, p.pes))
    return TileTiming(ternary_tile_cycles(p, K, _busiest(p, M, N)), {"addsub_int32": products, "reg_bits": regs})


def ternary_serial_timing(p: TernaryParams, M: int, K: int, N: int) -> TileTiming:
    """``M x K`` times ``K x N`` int8 activations, bit-serial over the second operand's 8 planes."""
    if M <= 0 or N <= 0 or K <= 0:
        return TileTiming(0, {})
    depth = SERIAL_PLANES * K
    adds = SERIAL_PLANES * M * K * N
    regs = (ACC_BITS * adds + ACC_BITS * M * N + 1 * depth * N * ceil_div(M, p.rows)
            + ACT_BITS * depth * M * ceil_div(N, p.pes))
    return TileTiming(ternary_tile_cycles(p, depth, _busiest(p, M, N)), {"addsub_int32": adds, "reg_bits": regs})
