"""OLAccel lane groups: closed-form timing of a weight GEMM with its real outlier layout, and of a dense matmul.

A group is ``rows`` rows of ``lanes`` 4-bit-weight x int8 MAC lanes; every lane row has one extra int8 x int8
MAC for outlier weights (OLAccel: one outlier MAC per group of SIMD lanes). A weight GEMM step
``Y[M, N] = X[M, K] @ W^T`` (``W`` ``[N, K]``, 4-bit with sparse int8 outliers): output columns are cut into
blocks of ``lanes`` columns and output rows into passes of ``rows`` rows; the work items (block ``j``, pass
``p``) are dealt round-robin to the groups in block-major order (item ``i = j * passes + p`` goes to group
``i mod groups``, so a group's consecutive items mostly share their weight block), and every group runs its
items back to back. In an item the group reads, for every reduction index ``k``, the weight slice
``W[block, k]`` once and its ``rows`` activations ``x[m, k]``; every lane row multiplies its activation by the
4-bit weights; an outlier weight's lane is idle (its dense slot is 0) and the products run on the row's outlier
MAC, one outlier per cycle. So the slice ``(block j, k)`` with ``c[j, k]`` outliers takes ``max(1, c[j, k])``
cycles, and

    item cycles(j)  = sum_k max(1, c[j, k])
    group cycles(g) = sum of its items' cycles
    step cycles     = max over groups of group cycles + pipeline_cycles

Actions: ``mac_w4a8`` (a lane product of a non-outlier weight, real rows and columns only), ``mac_outlier``
(``M`` per outlier), ``add_int32`` (``M * N`` when the step continues a reduction: ``k0 > 0``), ``reg_bits``
(``4 + 32`` per lane product: weight operand and accumulator, ``8 + 32`` per outlier product, ``8`` per
activation loaded: ``M * K`` per block).

Dense matmuls (attention, both operands int8): the 4-bit weight port takes the second operand in two nibbles
(``b = 16 hi + lo``), two passes with no outliers, ``M * N`` merging adds.
"""

from __future__ import annotations

import numpy as np

from sim.hw.timing import TileTiming, ceil_div

__all__ = ["olaccel_dense_timing", "olaccel_gemm_timing"]


def _deal_max(item_cycles: np.ndarray, groups: int) -> int:
    """The busiest group's cycles when item ``i`` goes to group ``i mod groups``."""
    pad = (-item_cycles.size) % groups
    per = np.concatenate([item_cycles, np.zeros(pad, dtype=np.int64)]).reshape(-1, groups).sum(axis=0)
    return int(per.max(initial=0))


def olaccel_gemm_timing(groups: int, rows: int, pipeline: int, M: int, counts: np.ndarray, n_cols: int,
                        continues: bool) -> TileTiming:
    """One weight GEMM step; ``counts[j, k]``: outliers of column block ``j`` (``lanes`` columns, the last one
    possibly narrower; ``n_cols`` in all) at reduction index ``k`` of the step."""
    c = np.asarray(counts, dtype=np.int64)
    blocks, K = c.shape
    slice_cycles = np.maximum(1, c).sum(axis=1)  # per block, for one pass of `rows` output rows
    passes = ceil_div(M, rows)
    cycles = _deal_max(np.repeat(slice_cycles, passes), groups) + pipeline
    outliers = int(c.sum())
    dense = n_cols * K - outliers
    acts = {"mac_w4a8": M * dense, "mac_outlier": M * outliers,
            "add_int32": M * n_cols if continues else 0,
            "reg_bits": M * (36 * dense + 40 * outliers) + 8 * M * K * blocks}
    return TileTiming(cycles, acts)


def olaccel_dense_timing(groups: int, lanes: int, rows: int, pipeline: int, M: int, K: int, N: int) -> TileTiming:
    """A matmul of two int8 operands: two nibble passes, every slice one cycle."""
    blocks = ceil_div(N, lanes)
    items = blocks * ceil_div(M, rows)
    one_pass = ceil_div(items, groups) * K + pipeline
    acts = {"mac_w4a8": 2 * M * K * N, "add_int32": M * N,
            "reg_bits": 2 * (36 * M * K * N + 8 * M * K * blocks)}
    return TileTiming(2 * one_pass, acts)
