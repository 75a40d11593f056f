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

With 4-bit activations (``act_bits: 4``, OLAccel's) the lanes are 4-bit x 4-bit and a few activations are
outliers (int8). An outlier activation's lane row is idle in the dense lanes (its dense slot is 0); its products
with the block's weights run on the group's outlier-activation unit (``macs`` multipliers: one outlier
activation a cycle, times up to ``macs`` weights of the block, so ``ceil(p / macs)`` cycles for ``p`` products).
With an 8-bit unit weight operand ``p`` is the block's width and the rows' outlier-weight MACs skip the outlier
activation's row; with a 4-bit one the outlier weights' products stay on the outlier-weight MACs (then int8 x
int8) and ``p`` is the block's width less the slice's outlier weights. The unit takes each slice's operands as
the lanes read it (no extra SRAM read) and works through a queue in order: it can start a slice's products in
the cycle the lanes read the slice, never earlier, and both units add into the partial sums (OLAccel: pipelined
partial-sum updates). With ``T_s`` the cycle slice ``s`` of a group is read (the group's lane cycles before it)
and ``D_s`` its outlier-activation cycles, the unit's last product issues at ``max_s (T_s + D_s + ... + D_last) - 1``:

    group end(g) = max(sum_s lane(s), max_s (T_s + sum_{s' >= s} D_s'))
    step cycles  = max over groups of group end + pipeline_cycles

Actions: ``mac_w4a4`` (lane products: neither operand an outlier), ``mac_outlier`` (outlier-weight MAC products),
``mac_act_outlier`` (outlier-activation unit products), ``merge_act_outlier`` (one int32 add of such a product
into its partial sum), ``add_int32`` as above, ``reg_bits`` (36 per lane product, 40 per outlier-weight
product, ``weight_bits + 32`` per outlier-activation product, per block 4 per dense activation and 8 per
outlier activation loaded). Attention with 4-bit lanes: both int8 operands in nibbles, four passes with no
outliers, ``3 M N`` merging adds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.hw.timing import TileTiming, ceil_div

__all__ = ["ActOutlierUnit", "olaccel_dense_a4_timing", "olaccel_dense_timing", "olaccel_gemm_a4_timing",
           "olaccel_gemm_timing"]


@dataclass(frozen=True)
class ActOutlierUnit:
    """A group's outlier-activation unit: ``macs`` products per cycle (of one outlier activation), weight operand
    ``weight_bits`` (8: it takes outlier weights too; 4: it takes the 4-bit weights only)."""

    macs: int
    weight_bits: int


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


def olaccel_gemm_a4_timing(groups: int, lanes: int, rows: int, pipeline: int, counts: np.ndarray, n_cols: int,
                           act_mask: np.ndarray, unit: ActOutlierUnit, continues: bool) -> TileTiming:
    """One weight GEMM step on 4-bit x 4-bit lanes; ``counts[j, k]`` as :func:`olaccel_gemm_timing`,
    ``act_mask`` (bool ``[M, K]``) where the step's outlier activations are."""
    c = np.asarray(counts, dtype=np.int64)
    a = np.asarray(act_mask, dtype=bool)
    blocks, K = c.shape
    M = a.shape[0]
    passes = ceil_div(M, rows)
    pad_m = passes * rows - M
    per_pass = np.concatenate([a, np.zeros((pad_m, K), dtype=bool)]).reshape(passes, rows, K).sum(axis=1)
    width = np.full(blocks, lanes, dtype=np.int64)
    width[-1] = n_cols - lanes * (blocks - 1)
    prods = width[:, None] - (c if unit.weight_bits == 4 else 0)  # per outlier activation of the slice (j, k)
    oa_cycles = -(-prods // unit.macs)
    # per item (j, p) and k: lane cycles and outlier-activation cycles, item i = j * passes + p
    lane = np.broadcast_to(np.maximum(1, c)[:, None, :], (blocks, passes, K)).reshape(-1, K)
    busy = (oa_cycles[:, None, :] * per_pass[None, :, :]).reshape(-1, K)
    items = lane.shape[0]
    per_group = ceil_div(items, groups)
    pad = per_group * groups - items
    zeros = np.zeros((pad, K), dtype=np.int64)
    # group g's items in order: g, g + groups, ... -> one row of slices per group
    lane_g = np.concatenate([lane, zeros]).reshape(per_group, groups, K).transpose(1, 0, 2).reshape(groups, -1)
    busy_g = np.concatenate([busy, zeros]).reshape(per_group, groups, K).transpose(1, 0, 2).reshape(groups, -1)
    read_at = np.cumsum(lane_g, axis=1) - lane_g
    backlog = np.cumsum(busy_g[:, ::-1], axis=1)[:, ::-1]
    end = np.maximum(lane_g.sum(axis=1), (read_at + backlog).max(axis=1, initial=0))
    cycles = int(end.max(initial=0)) + pipeline
    act_k = a.sum(axis=0).astype(np.int64)
    w_k = c.sum(axis=0)
    n_act = int(act_k.sum())
    lane_products = int(((M - act_k) * (n_cols - w_k)).sum())
    if unit.weight_bits == 8:
        w_products = int(((M - act_k) * w_k).sum())
        oa_products = n_act * n_cols
    else:
        w_products = M * int(w_k.sum())
        oa_products = int((act_k * (n_cols - w_k)).sum())
    acts = {"mac_w4a4": lane_products, "mac_outlier": w_products, "mac_act_outlier": oa_products,
            "merge_act_outlier": oa_products, "add_int32": M * n_cols if continues else 0,
            "reg_bits": 36 * lane_products + 40 * w_products + (unit.weight_bits + 32) * oa_products
            + blocks * (4 * (M * K - n_act) + 8 * n_act)}
    return TileTiming(cycles, acts)


def olaccel_dense_a4_timing(groups: int, lanes: int, rows: int, pipeline: int, M: int, K: int, N: int) -> TileTiming:
    """A matmul of two int8 operands on 4-bit x 4-bit lanes: both operands in nibbles, four passes, every slice one
    cycle, three merging adds per output."""
    blocks = ceil_div(N, lanes)
    items = blocks * ceil_div(M, rows)
    one_pass = ceil_div(items, groups) * K + pipeline
    acts = {"mac_w4a4": 4 * M * K * N, "add_int32": 3 * M * N,
            "reg_bits": 4 * (36 * M * K * N + 4 * M * K * blocks)}
    return TileTiming(4 * one_pass, acts)
