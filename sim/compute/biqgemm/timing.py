"""Closed-form timing of the BiQGEMM-style tiles (see docs/hw/biqgemm.md).

A block is ``R`` activation rows x ``P`` output columns over the reduction depth ``K``, cut into
``G = ceil(K / mu)`` groups of ``mu`` activations. For each group the tile's builder writes, for each of its
``R`` rows, the table of all ``2^mu`` signed sums ``sum_j (+-1) x_j`` (``build_per_cycle`` entries per cycle per
table: ``B = ceil(2^mu / build_per_cycle)`` cycles) into one of two table buffers; each lane then reads, once per
plane (``Q`` planes, one per cycle), the entry its ``mu`` weight bits select and adds it (``latency - 1`` cycles
later) into that plane's int32 accumulators for all ``R`` rows. The builder fills the other buffer meanwhile, so
a tile's stream of ``S`` groups (all its blocks, back to back) ends its lookups after
``B + (S - 1) * max(B, Q) + Q`` cycles; each block's accumulator bank then goes to the epilogue (two banks
alternate), which combines the planes in ``Q`` cycles (one multiply-add per cycle per lane and row), behind the
next block's lookups. Total for ``b`` blocks of ``G`` groups:

    ``B + (b G - 1) * max(B, Q) + Q + (L - 1) + Q``

Weight GEMMs: ``Q = planes``, the epilogue multiplies each plane's sum by the row's int8 scale code. Attention
matmuls (both operands int8 activations): the second operand's 8 two's-complement bits as +-1 planes
(``2v + 1 = sum_j c_j s_j``, ``c_j = 2^j``, ``c_7 = -128``) plus one lookup of the all-ones key (the group's sum),
``Q = 9``; the epilogue's products are shifts. Blocks are dealt round-robin to the tiles (the busiest sets the
time; partial blocks run the full schedule, idle lanes and rows gated).

Actions (useful rows and lanes): ``add_int16`` table-builder adds (``mu - 1`` per entry per row), ``lut_write_bits``
(entry bits per entry written), ``lut_reads`` (one entry read per lane, row and lookup), ``add_int32``
(accumulates, plus ``Q - 1`` epilogue adds per output), ``mul_int8x32`` (weight mode: ``Q`` per output) or
``shift_int32`` (attention mode: ``Q`` per output), ``reg_bits`` (accumulator writes 32 per accumulate, key
registers ``Q mu`` bits per lane and group, activation registers ``8 mu`` per row and group).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.hw.timing import TileTiming, ceil_div

ACC_BITS = 32
"""Accumulator width (bits)."""
ACT_BITS = 8
"""Bits of one activation in a row's group register."""
SERIAL_LOOKUPS = 9
"""Lookups per group in the attention mode: 8 bit planes and the all-ones key."""


def entry_bits(mu: int) -> int:
    """Signed width of a table entry: ``|sum of mu int8 values| <= 128 mu``."""
    return math.ceil(math.log2(128 * mu + 1)) + 1


@dataclass(frozen=True)
class BiqgemmParams:
    """The timing model's parameters: ``tiles``, ``lanes`` (P), ``rows`` (R), ``mu``, ``planes`` (q),
    ``build`` (entries per cycle per table), ``latency`` (L)."""

    tiles: int
    lanes: int
    rows: int
    mu: int
    planes: int
    build: int
    latency: int


def biqgemm_tile_cycles(p: BiqgemmParams, groups: int, blocks: int, lookups: int) -> int:
    """Cycles of ``blocks`` blocks of ``groups`` groups on one tile, ``lookups`` lookups per group."""
    if blocks <= 0 or groups <= 0:
        return 0
    B = ceil_div(1 << p.mu, p.build)
    return B + (blocks * groups - 1) * max(B, lookups) + lookups + (p.latency - 1) + lookups


def _timing(p: BiqgemmParams, M: int, K: int, N: int, lookups: int, epilogue_action: str) -> TileTiming:
    if M <= 0 or N <= 0 or K <= 0:
        return TileTiming(0, {})
    G = ceil_div(K, p.mu)
    busiest = ceil_div(ceil_div(M, p.rows) * ceil_div(N, p.lanes), p.tiles)
    row_groups = G * M * ceil_div(N, p.lanes)  # (valid row, group) table builds over all blocks
    accumulates = lookups * G * M * N
    actions = {
        "add_int16": row_groups * (1 << p.mu) * (p.mu - 1),
        "lut_write_bits": row_groups * (1 << p.mu) * entry_bits(p.mu),
        "lut_reads": accumulates,
        "add_int32": accumulates + (lookups - 1) * M * N,
        epilogue_action: lookups * M * N,
        "reg_bits": (ACC_BITS * accumulates + lookups * p.mu * G * N * ceil_div(M, p.rows)
                     + ACT_BITS * p.mu * row_groups),
    }
    return TileTiming(biqgemm_tile_cycles(p, G, busiest, lookups), actions)


def biqgemm_gemm_timing(p: BiqgemmParams, M: int, K: int, N: int) -> TileTiming:
    """``M x K`` int8 activations times a ``K x N`` weight of ``planes`` binary planes."""
    return _timing(p, M, K, N, p.planes, "mul_int8x32")


def biqgemm_serial_timing(p: BiqgemmParams, M: int, K: int, N: int) -> TileTiming:
    """``M x K`` times ``K x N`` int8 activations: 8 +-1 bit planes and the all-ones key."""
    return _timing(p, M, K, N, SERIAL_LOOKUPS, "shift_int32")
