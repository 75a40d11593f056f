"""GOBO tile: closed-form timing of blocks of weight GEMMs on GOBO indices (and its MAC mode for attention, at the end).

A block ``Y[R, P] = X[R, K] @ W[K, P]`` runs on one tile: ``R <= rows_per_pe`` activation rows, ``P <= pes``
output columns (one per PE), ``W`` as b-bit indices into ``C = 2**b`` int8 centroids plus the block's
outliers. The micro-architecture, the paper-vs-assumption list and the derivation of every formula are in
``docs/hw/gobo.md``; the per-cycle reference these closed forms are proven against is :mod:`.stepper`.

Closed forms (``D = decode_latency_cycles``, ``A = add_latency_cycles``, ``M = multipliers_per_pe``,
``rate = outlier_macs_per_cycle``, ``port = outlier_port_bytes``, ``cp = outlier_positions_per_cycle``,
``Ld = dict_load_cycles``, ``n_i`` outliers of block i, ``c_ik`` of them in its column k):

- comparator stalls ``S_i = sum_k max(0, ceil(c_ik / cp) - 1)`` (0 whenever ``cp >= P``);
- ``F_i = max(K + D + A + S_i, ceil(n_i * R / min(rate, port)))``; ``B = max(ceil(R*C/M), R) + b + 1``;
- one block ``[Ld] + F + B``; a sequence, single-buffered bins ``[Ld] + sum_i F_i + N*B``;
  double-buffered ``[Ld] + F_0 + sum_{i>=1} max(F_i, B) + B``.

Actions per block (n outliers): ``bin_add`` ``R*(K*P - n)`` and ``bin_write_bits`` ``bin_bits`` times that;
``add_int32`` ``P*R*(C-1) + P*R``; ``mul_int8x32`` and
``dict_read`` ``P*R*C``; ``mac_int8x16`` and ``outlier_act_bytes`` ``n*R``; ``outlier_compare`` ``n + K``;
``index_read_bits`` ``b*K*P``; ``reg_bits`` as listed in
``docs/hw/gobo.md``; a dictionary load adds ``dict_write = pes*C`` and ``reg_bits += 8*pes*C``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.hw.timing import TileTiming, merge_actions
from sim.hw.timing import ceil_div as _cdiv
from sim.hw.timing import positive_int as _pos_int

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class GoboTileParams:
    """Parameters of one GOBO tile (all counts are per tile unless stated)."""

    pes: int = 16
    """PEs per tile; each PE produces one output column of a block (assumed default)."""
    rows_per_pe: int = 4
    """Max activation rows R processed together; R int32 bin sets per centroid per PE, and the
    broadcast bus width in int8 values per cycle (assumed default)."""
    bits: int = 3
    """Index width b; the dictionary has 2**b centroids (paper: typically 3)."""
    decode_latency_cycles: int = 1
    """Index-decode pipeline stages (cycles), >= 0."""
    add_latency_cycles: int = 1
    """Add pipeline stages (cycles), >= 1; the accumulate itself is the last, single-cycle one."""
    outlier_macs_per_cycle: int = 4
    """int8 x int16 MACs per cycle of the tile's shared outlier unit (assumed default)."""
    outlier_positions_per_cycle: int = 2
    """Outlier positions the tile's comparator matches against the index stream per cycle; a column with
    more outliers holds the Gaussian fetch for the extra cycles (assumed default)."""
    outlier_port_bytes: int = 4
    """Activation bytes per cycle through the outlier unit's read port; each outlier MAC needs one
    (assumed default)."""
    multipliers_per_pe: int = 1
    """int8 x int32 centroid multipliers per PE used by the post-reduction."""
    double_buffered_bins: bool = False
    """Two bin/outlier-accumulator sets: post-reduction of block i overlaps block i+1's pass."""
    bin_bits: int = 32
    """Width of a bin accumulator; each bin add writes this many bits (``bin_write_bits``)."""
    dict_load_cycles: int | None = None
    """Cycles to load a tensor's dictionary; None -> ceil(2**bits / rows_per_pe)."""

    def __post_init__(self) -> None:
        _pos_int("pes", self.pes)
        _pos_int("rows_per_pe", self.rows_per_pe)
        _pos_int("bits", self.bits)
        if self.bits > 8:
            raise ValueError(f"bits must be <= 8, got {self.bits}")
        _pos_int("decode_latency_cycles", self.decode_latency_cycles, 0)
        _pos_int("add_latency_cycles", self.add_latency_cycles)
        _pos_int("outlier_macs_per_cycle", self.outlier_macs_per_cycle)
        _pos_int("outlier_positions_per_cycle", self.outlier_positions_per_cycle)
        _pos_int("outlier_port_bytes", self.outlier_port_bytes)
        _pos_int("multipliers_per_pe", self.multipliers_per_pe)
        _pos_int("bin_bits", self.bin_bits)
        if self.dict_load_cycles is not None:
            _pos_int("dict_load_cycles", self.dict_load_cycles)

    @property
    def centroids(self) -> int:
        """Dictionary entries C = 2**bits."""
        return 1 << self.bits

    @property
    def effective_dict_load_cycles(self) -> int:
        """Dictionary-load time (cycles): the explicit value or ceil(C / rows_per_pe)."""
        if self.dict_load_cycles is not None:
            return self.dict_load_cycles
        return _cdiv(self.centroids, self.rows_per_pe)


# --------------------------------------------------------------------------- closed forms


def _check_shape(params: GoboTileParams, R: int, K: int, P: int) -> tuple[int, int, int]:
    R = _pos_int("R", R)
    K = _pos_int("K", K)
    P = _pos_int("P", P)
    if params.rows_per_pe < R:
        raise ValueError(f"R={R} exceeds rows_per_pe={params.rows_per_pe}")
    if params.pes < P:
        raise ValueError(f"P={P} exceeds pes={params.pes}")
    return R, K, P


def gobo_gaussian_cycles(params: GoboTileParams, K: int) -> int:
    """Gaussian-pass length G = K + decode + add latency (cycles)."""
    return K + params.decode_latency_cycles + params.add_latency_cycles


def _outlier_rate(params: GoboTileParams) -> int:
    """Outlier MACs per cycle: the MAC lanes, or fewer when the activation port delivers fewer bytes."""
    return min(params.outlier_macs_per_cycle, params.outlier_port_bytes)


def gobo_outlier_cycles(params: GoboTileParams, R: int, outlier_count: int) -> int:
    """Outlier-path busy time ceil(n * R / min(outlier_macs_per_cycle, outlier_port_bytes)) (cycles)."""
    return _cdiv(outlier_count * R, _outlier_rate(params))


def gobo_comparator_stall_cycles(params: GoboTileParams, column_counts: np.ndarray | Sequence[int]) -> np.ndarray:
    """Cycles the position comparator holds the Gaussian fetch, per block (int64 array).

    Args:
        column_counts: outliers per index-stream column, shape ``[..., K]`` (the last axis is the block's K
            columns, each holding the block's P weights of one reduction index).

    Returns:
        ``sum_k max(0, ceil(c_k / outlier_positions_per_cycle) - 1)`` over the last axis: a column with more
        outliers than the comparator matches in one cycle issues ``ceil(c_k / cp)`` cycles later.
    """
    return gobo_comparator_column_stalls(params, column_counts).sum(axis=-1)


def gobo_comparator_column_stalls(params: GoboTileParams, column_counts: np.ndarray | Sequence[int]) -> np.ndarray:
    """Per index-stream column, the cycles it holds the Gaussian fetch: ``max(0, ceil(c_k / cp) - 1)`` (int64,
    the shape of ``column_counts``); :func:`gobo_comparator_stall_cycles` is its sum over the last axis."""
    c = np.asarray(column_counts, dtype=np.int64)
    if c.size and c.min() < 0:
        raise ValueError("column outlier counts must be >= 0")
    cp = params.outlier_positions_per_cycle
    return np.maximum(-(-c // cp) - 1, 0)


def _stalls(params: GoboTileParams, P: int, n_blocks: int, stalls: np.ndarray | Sequence[int] | None,
            counts: np.ndarray) -> np.ndarray:
    """Per-block comparator stalls, checked; None is allowed only when no column can stall (cp >= P)."""
    if stalls is None:
        if params.outlier_positions_per_cycle < P:
            raise ValueError(
                f"outlier_positions_per_cycle={params.outlier_positions_per_cycle} < P={P}: the comparator stalls "
                "depend on the outliers' columns, pass comparator_stall_cycles (gobo_comparator_stall_cycles)")
        return np.zeros(n_blocks, dtype=np.int64)
    s = np.asarray(stalls, dtype=np.int64).reshape(-1)
    if s.size != n_blocks:
        raise ValueError(f"comparator_stall_cycles has {s.size} entries for {n_blocks} blocks")
    if n_blocks and (s.min() < 0 or np.any(s > np.maximum(counts - 1, 0))):
        raise ValueError("comparator stalls must lie in 0..max(0, n - 1) per block")
    return s


def gobo_post_cycles(params: GoboTileParams, R: int) -> int:
    """Post-reduction length B = max(ceil(R*C/M), R) + bits + 1 (cycles)."""
    mult = _cdiv(R * params.centroids, params.multipliers_per_pe)
    return max(mult, R) + params.bits + 1


def _dict_actions(params: GoboTileParams) -> dict[str, int]:
    C = params.centroids
    return {"dict_write": params.pes * C, "reg_bits": 8 * params.pes * C}


def _blocks_actions(
    params: GoboTileParams, R: int, K: int, P: int, total_outliers: int, n_blocks: int
) -> dict[str, int]:
    """Actions of ``n_blocks`` blocks holding ``total_outliers`` outliers (linear in both)."""
    b, C = params.bits, params.centroids
    stages = params.decode_latency_cycles + params.add_latency_cycles
    dense = n_blocks * K * P
    bin_adds = R * (dense - total_outliers)
    columns = n_blocks * K
    products = n_blocks * P * R * C
    tree_adds = n_blocks * P * R * (C - 1)
    merges = n_blocks * P * R
    macs = total_outliers * R
    reg_bits = (
        n_blocks * K * 8 * R * stages  # activation broadcast register + pipeline copies
        + dense * (b + 1) * stages  # per-PE index + mask pipeline registers
        + 56 * macs
        + 32 * (products + tree_adds + merges)
    )
    return {
        "bin_add": bin_adds,
        "bin_write_bits": params.bin_bits * bin_adds,
        "add_int32": tree_adds + merges,
        "mul_int8x32": products,
        "mac_int8x16": macs,
        "outlier_act_bytes": macs,
        "outlier_compare": total_outliers + columns,
        "index_read_bits": b * dense,
        "dict_read": products,
        "reg_bits": reg_bits,
    }


def gobo_block_timing(
    params: GoboTileParams,
    R: int,
    K: int,
    P: int,
    outlier_count: int,
    *,
    load_dictionary: bool = False,
    comparator_stall_cycles: int | None = None,
) -> TileTiming:
    """Exact timing of one block on one GOBO tile (closed form, O(1)).

    Args:
        params: tile parameters.
        R: activation rows processed together (1..rows_per_pe).
        K: reduction length (>= 1).
        P: output columns, one per PE (1..pes).
        outlier_count: outliers of W inside this K x P block (0..K*P).
        load_dictionary: also load the tensor's centroid dictionary first.
        comparator_stall_cycles: the block's ``S`` (:func:`gobo_comparator_stall_cycles` of its per-column
            outlier counts); may be None only when ``outlier_positions_per_cycle >= P``.

    Returns:
        ``TileTiming`` with cycles ``[Ld] + max(K+D+A+S, ceil(n*R/min(rate, port))) + B`` and the actions
        listed in the module docstring.
    """
    stalls = None if comparator_stall_cycles is None else [comparator_stall_cycles]
    return gobo_blocks_timing(
        params, R, K, P, np.asarray([outlier_count]), load_dictionary=load_dictionary,
        comparator_stall_cycles=stalls,
    )


def gobo_blocks_timing(
    params: GoboTileParams,
    R: int,
    K: int,
    P: int,
    outlier_counts: np.ndarray | Sequence[int],
    *,
    load_dictionary: bool = False,
    comparator_stall_cycles: np.ndarray | Sequence[int] | None = None,
) -> TileTiming:
    """Exact timing of a sequence of equally-shaped blocks on one GOBO tile (vectorised).

    Args:
        params: tile parameters (``double_buffered_bins`` selects the overlap rule).
        R, K, P: block shape, as in :func:`gobo_block_timing`.
        outlier_counts: 1-D integer array, outliers per block (each 0..K*P), in issue order.
        load_dictionary: load the tensor's dictionary once before the first block.
        comparator_stall_cycles: per block ``S_i`` (:func:`gobo_comparator_stall_cycles`), in issue order; may
            be None only when ``outlier_positions_per_cycle >= P``.

    Returns:
        ``TileTiming``: cycles ``[Ld] + sum F_i + N*B`` (single-buffered) or
        ``[Ld] + F_0 + sum_{i>=1} max(F_i, B) + B`` (double-buffered); actions summed.
    """
    R, K, P = _check_shape(params, R, K, P)
    counts = np.asarray(outlier_counts)
    if counts.ndim != 1:
        raise ValueError(f"outlier_counts must be 1-D, got shape {counts.shape}")
    if counts.size and not np.issubdtype(counts.dtype, np.integer) and not np.all(counts == np.round(counts)):
        raise ValueError("outlier_counts must be integers")
    counts = counts.astype(np.int64)
    if counts.size and (counts.min() < 0 or counts.max() > K * P):
        raise ValueError(f"outlier counts must lie in 0..K*P={K * P}")
    n_blocks = int(counts.size)
    dict_cycles = params.effective_dict_load_cycles if load_dictionary else 0
    dict_actions = _dict_actions(params) if load_dictionary else {}
    if n_blocks == 0:
        return TileTiming(dict_cycles, dict_actions)

    S = _stalls(params, P, n_blocks, comparator_stall_cycles, counts)
    G = gobo_gaussian_cycles(params, K) + S
    O = -(-counts * R // _outlier_rate(params))  # noqa: E741 (the docstring's notation)
    F = np.maximum(G, O)
    B = gobo_post_cycles(params, R)
    if params.double_buffered_bins:
        cycles = int(F[0]) + int(np.maximum(F[1:], B).sum()) + B
    else:
        cycles = int(F.sum()) + n_blocks * B
    actions = merge_actions(
        dict_actions, _blocks_actions(params, R, K, P, int(counts.sum()), n_blocks)
    )
    return TileTiming(dict_cycles + cycles, actions)


def gobo_parallel_timing(
    params: GoboTileParams,
    R: int,
    K: int,
    P: int,
    outlier_counts: np.ndarray,
    tiles: int,
    *,
    load_dictionary: bool = False,
    comparator_stall_cycles: np.ndarray | None = None,
) -> TileTiming:
    """Blocks dealt round-robin to ``tiles`` tiles running in parallel (block i goes to tile i % tiles).

    Cycles: the slowest tile's :func:`gobo_blocks_timing`; actions: every tile's, summed (each used
    tile loads the dictionary once when ``load_dictionary``). Vectorised over tiles: equal, by
    construction and by test, to calling :func:`gobo_blocks_timing` once per tile. ``comparator_stall_cycles``
    as in :func:`gobo_blocks_timing`, one per block in issue order.
    """
    R, K, P = _check_shape(params, R, K, P)
    counts = np.asarray(outlier_counts, dtype=np.int64).reshape(-1)
    n = counts.size
    used = min(int(tiles), n)
    if n == 0:
        return TileTiming(0, {})
    if counts.min() < 0 or counts.max() > K * P:
        raise ValueError(f"outlier counts must lie in 0..K*P={K * P}")
    stalls = _stalls(params, P, n, comparator_stall_cycles, counts)
    per = -(-n // used)
    B = gobo_post_cycles(params, R)
    F = np.maximum(gobo_gaussian_cycles(params, K) + stalls, -(-counts * R // _outlier_rate(params)))  # per block
    # block i runs on tile i % used, so tile t's blocks are t, t + used, ...: the cycles each block adds to its
    # tile, padded with zeros to whole rounds and summed per column, are the tiles' totals
    adds = np.zeros(per * used, dtype=np.int64)
    if params.double_buffered_bins:  # F_0 + sum_{later} max(F_i, B) + B: the first round is each tile's first block
        adds[:n] = np.maximum(F, B)
        adds[:used] = F[:used] + B
    else:  # sum F_i + N_t * B
        adds[:n] = F + B
    cyc = adds.reshape(per, used).sum(axis=0)
    blocks = TileTiming(int(cyc.max()), _blocks_actions(params, R, K, P, int(counts.sum()), n))
    return blocks + gobo_parallel_dictionary_timing(params, n, tiles) if load_dictionary else blocks


def gobo_parallel_dictionary_timing(params: GoboTileParams, n_blocks: int, tiles: int) -> TileTiming:
    """What loading the tensor's dictionary adds to :func:`gobo_parallel_timing` of ``n_blocks`` blocks on
    ``tiles`` tiles: the load's cycles before the blocks, and every used tile's dictionary writes (nothing
    without blocks)."""
    used = min(int(tiles), int(n_blocks))
    if used <= 0:
        return TileTiming(0, {})
    return TileTiming(params.effective_dict_load_cycles, {k: v * used for k, v in _dict_actions(params).items()})


def gobo_peak_macs_per_cycle(params: GoboTileParams, tiles: int) -> int:
    """Equivalent peak MACs per cycle: tiles * pes * rows_per_pe (one weight-activation product
    per PE row per cycle in the Gaussian pass; unit: MACs/cycle)."""
    return _pos_int("tiles", tiles) * params.pes * params.rows_per_pe


# --------------------------------------------------------------------------- MAC mode (attention matmuls)
# Activation x activation products (QK^T, AV) have no weights, so the bin mechanism does not apply; the tile
# runs them as plain MACs on the PEs' ``multipliers_per_pe`` centroid multipliers (an assumption, see
# docs/hw/gobo.md "MAC mode"): per PE ``R*K`` MACs, ``M`` per cycle, through ``add_latency_cycles`` stages:
# ``cycles = ceil(R*K / M) + A``; actions ``mac_int8 = R*K*P``, ``reg_bits`` 8 per operand latched (2 per
# MAC) + 32 per accumulate.


def gobo_mac_block_timing(params: GoboTileParams, R: int, K: int, P: int) -> TileTiming:
    """Cycles and actions of one MAC-mode block (R rows x K x P columns) on one tile."""
    if min(R, K, P) < 1 or params.rows_per_pe < R or params.pes < P:
        raise ValueError(f"bad MAC block R={R} K={K} P={P} for {params.rows_per_pe} rows x {params.pes} PEs")
    macs = R * K * P
    cycles = math.ceil(R * K / params.multipliers_per_pe) + params.add_latency_cycles
    return TileTiming(cycles, {"mac_int8": macs, "reg_bits": macs * (16 + 32)})


def gobo_mac_blocks_timing(params: GoboTileParams, R: int, K: int, P: int, blocks: int) -> TileTiming:
    """``blocks`` MAC-mode blocks back to back on one tile (each pays its own fill)."""
    one = gobo_mac_block_timing(params, R, K, P)
    return TileTiming(one.cycles * blocks, {k: v * blocks for k, v in one.actions.items()})
