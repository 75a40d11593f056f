"""GOBO tile: closed-form timing and a per-cycle reference stepper.

Work unit ("block")
-------------------
``Y[R, P] = X[R, K] @ W[K, P]`` on one tile, where ``R <= rows_per_pe`` activation rows are
processed together, ``P <= pes`` output columns (one per PE) and ``K`` is the reduction length.
``W`` is in GOBO form: ``idx[K, P]`` (b-bit indices), ``centroids`` (``C = 2**b`` int8 values) and
the block's outliers (positions ``(k, p)`` and int16 values). ``X`` is int8. Requantization
happens elsewhere. All intermediates are declared int32 (bins, products, tree nodes, outlier
accumulators, outputs); the stepper raises ``OverflowError`` if one would leave the int32 range.

Micro-architecture (P = paper: follows what is known of GOBO, see
``shared/reference/gobo-paper.md``; A = assumption of this model, with the reason)
-----------------------------------------------------------------------------------------------
1. Weights stay b-bit indices during compute (P: "maintains most of the weights in 3b even
   during computation"). Each PE owns an index FIFO holding its column ``idx[:, p]``.
2. Gaussian pass, add-mostly PEs (P: "replaces most multiply-accumulations with additions";
   the per-centroid bin mechanism itself is the notes' inferred mechanism, UNSURE in detail).
   Pipeline per column ``k`` (A: stage split chosen to be the smallest plausible one):

   - fetch (1 cycle): the tile writes ``X[:, k]`` (R int8) into the activation broadcast
     register; every PE pops ``idx[k, p]`` from its FIFO into its index register together with a
     1-bit outlier mask produced by the tile's position comparator, which walks the block's
     sorted outlier positions (the dense index stream still spends its slot on an outlier);
   - decode (``decode_latency_cycles`` stages, default 1): index -> bin select;
   - add (``add_latency_cycles`` stages, default 1): the last stage adds the R activations into
     the PE's R int32 bin registers selected by the index, unless masked. Earlier add stages are
     operand-transport registers (A: a single-cycle int32 accumulate needs no forwarding; a
     multi-cycle accumulate into the same bin would need it and is not modelled).

   One column per cycle, so the Gaussian pass takes ``G = K + D + A`` cycles (``K`` issue
   cycles plus the fill ``D + A``).
3. Outlier side-store path (P: outliers take a separate path; A: its shape). One outlier MAC
   unit per tile, shared by all PEs, does ``outlier_macs_per_cycle`` int8 x int16 MACs per
   cycle into per-(PE, row) int32 outlier accumulators, reading activations through its own
   buffer port. It starts with the Gaussian pass. Each outlier needs R MACs (one per row); the
   work items (outlier, row) are queued in (k, p, row) order and the unit takes the next
   ``rate`` items each cycle, whatever their columns: outliers of one PE column do *not*
   serialize separately, but because the unit is shared, the block's *total* outlier count sets
   its time ``O = ceil(n_outliers * R / rate)`` (contention modelled at the tile level; A: one
   shared unit is the cheapest design for ~0.1 % outliers).
   The front phase of a block ends when both are done: ``F = max(G, O)``.
4. Post-reduction (P: one multiply per centroid at the end; A: the exact datapath). Each PE has
   ``multipliers_per_pe`` int8 x int32 multipliers that multiply its ``R * C`` bin sums by the
   centroids in row-major (row, centroid) order, ``M`` products per cycle, into per-row product
   registers. A *pipelined* adder tree (``b = log2 C`` levels, one row enters per cycle, A) takes
   a row as soon as all its C products were written in an earlier cycle, and a final merge stage
   adds the column's outlier partial sum and writes ``Y[r, p]``. The post-reduction starts the
   cycle after the front phase (it needs final bins *and* outlier sums; A: simplest correct
   interlock). Its length is exact:
   ``B = max(ceil(R * C / M), R) + b + 1``
   (``ceil(R*C/M)`` when the multipliers are the bottleneck, ``R`` when the one-row-per-cycle
   tree is; ``b`` tree levels, 1 merge stage).
5. Bins (and outlier accumulators) are single-buffered by default: a block's front phase can
   only start when the previous block's post-reduction has finished. With
   ``double_buffered_bins=True`` there are two bin sets; the front phase of block ``i+1``
   overlaps the post-reduction of block ``i`` (ping-pong; A: the usual double-buffer
   discipline). A block boundary always drains the Gaussian pipeline (A: the bin set switches).
6. Dictionary load (A): loading the C centroids of a new tensor goes over the activation
   broadcast bus (``rows_per_pe`` int8 values per cycle) into the dictionary registers of all
   ``pes`` PEs before the first block's Gaussian pass: ``dict_load_cycles`` defaults to
   ``ceil(C / rows_per_pe)``. Done once per tensor (the ``load_dictionary`` flag); otherwise
   the dictionary is assumed resident.

Closed forms (``C = 2**b``, ``D = decode_latency_cycles``, ``A = add_latency_cycles``,
``M = multipliers_per_pe``, ``rate = outlier_macs_per_cycle``, ``Ld = dict_load_cycles``)
-----------------------------------------------------------------------------------------
- ``F_i = max(K + D + A, ceil(n_i * R / rate))``; ``B = max(ceil(R*C/M), R) + b + 1``.
- one block: ``cycles = [Ld] + F + B``.
- sequence, single-buffered: ``[Ld] + sum_i F_i + N*B``.
- sequence, double-buffered: ``[Ld] + F_0 + sum_{i>=1} max(F_i, B) + B``.

Actions per block (n = outliers in the block)
---------------------------------------------
- ``add_int32``: ``R*(K*P - n)`` bin adds (masked positions do not add) + ``P*R*(C-1)`` tree
  adds + ``P*R`` outlier merges (done for every output, also when the column has no outlier).
- ``mul_int8x32``: ``P*R*C``; ``dict_read``: ``P*R*C`` (one dictionary read per product).
- ``mac_int8x16``: ``n*R``.
- ``index_read_bits``: ``b*K*P`` (the dense index stream, outlier slots included).
- ``reg_bits``: bits written into these registers: the activation broadcast register and its
  pipeline copies ``8*R*(D+A)`` per column; each PE's index+mask pipeline registers
  ``(b+1)*(D+A)`` per column and PE; bin registers 32 per bin add; outlier unit 56 per MAC
  (8-bit activation and 16-bit weight operand registers + 32-bit accumulator); product
  registers 32 per product; tree node registers 32 per tree add; output register 32 per
  merge. Bin/accumulator clears at block start are a reset, not counted.
- dictionary load (when requested): ``dict_write = pes*C`` and ``reg_bits += 8*pes*C``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.hw.timing import StepperResult, TileTiming, merge_actions
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
    multipliers_per_pe: int = 1
    """int8 x int32 centroid multipliers per PE used by the post-reduction."""
    double_buffered_bins: bool = False
    """Two bin/outlier-accumulator sets: post-reduction of block i overlaps block i+1's pass."""
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
        _pos_int("multipliers_per_pe", self.multipliers_per_pe)
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


def gobo_outlier_cycles(params: GoboTileParams, R: int, outlier_count: int) -> int:
    """Outlier-unit busy time ceil(n * R / outlier_macs_per_cycle) (cycles)."""
    return _cdiv(outlier_count * R, params.outlier_macs_per_cycle)


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
    products = n_blocks * P * R * C
    tree_adds = n_blocks * P * R * (C - 1)
    merges = n_blocks * P * R
    macs = total_outliers * R
    reg_bits = (
        n_blocks * K * 8 * R * stages  # activation broadcast register + pipeline copies
        + dense * (b + 1) * stages  # per-PE index + mask pipeline registers
        + 32 * bin_adds
        + 56 * macs
        + 32 * (products + tree_adds + merges)
    )
    return {
        "add_int32": bin_adds + tree_adds + merges,
        "mul_int8x32": products,
        "mac_int8x16": macs,
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
) -> TileTiming:
    """Exact timing of one block on one GOBO tile (closed form, O(1)).

    Args:
        params: tile parameters.
        R: activation rows processed together (1..rows_per_pe).
        K: reduction length (>= 1).
        P: output columns, one per PE (1..pes).
        outlier_count: outliers of W inside this K x P block (0..K*P).
        load_dictionary: also load the tensor's centroid dictionary first.

    Returns:
        ``TileTiming`` with cycles ``[Ld] + max(K+D+A, ceil(n*R/rate)) + B`` and the actions
        listed in the module docstring.
    """
    return gobo_blocks_timing(
        params, R, K, P, np.asarray([outlier_count]), load_dictionary=load_dictionary
    )


def gobo_blocks_timing(
    params: GoboTileParams,
    R: int,
    K: int,
    P: int,
    outlier_counts: np.ndarray | Sequence[int],
    *,
    load_dictionary: bool = False,
) -> TileTiming:
    """Exact timing of a sequence of equally-shaped blocks on one GOBO tile (vectorised).

    Args:
        params: tile parameters (``double_buffered_bins`` selects the overlap rule).
        R, K, P: block shape, as in :func:`gobo_block_timing`.
        outlier_counts: 1-D integer array, outliers per block (each 0..K*P), in issue order.
        load_dictionary: load the tensor's dictionary once before the first block.

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

    G = gobo_gaussian_cycles(params, K)
    O = -(-counts * R // params.outlier_macs_per_cycle)  # noqa: E741 (the docstring's notation)
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
) -> TileTiming:
    """Blocks dealt round-robin to ``tiles`` tiles running in parallel (block i goes to tile i % tiles).

    Cycles: the slowest tile's :func:`gobo_blocks_timing`; actions: every tile's, summed (each used
    tile loads the dictionary once when ``load_dictionary``). Vectorised over tiles: equal, by
    construction and by test, to calling :func:`gobo_blocks_timing` once per tile.
    """
    R, K, P = _check_shape(params, R, K, P)
    counts = np.asarray(outlier_counts, dtype=np.int64).reshape(-1)
    n = counts.size
    used = min(int(tiles), n)
    if n == 0:
        return TileTiming(0, {})
    if counts.min() < 0 or counts.max() > K * P:
        raise ValueError(f"outlier counts must lie in 0..K*P={K * P}")
    per = -(-n // used)
    grid = np.full(per * used, -1, dtype=np.int64)
    grid[:n] = counts
    grid = grid.reshape(per, used).T  # row t: the blocks of tile t, in issue order (-1: no block)
    valid = grid >= 0
    G = gobo_gaussian_cycles(params, K)
    F = np.where(valid, np.maximum(G, -(-np.maximum(grid, 0) * R // params.outlier_macs_per_cycle)), 0)
    B = gobo_post_cycles(params, R)
    nblk = valid.sum(axis=1)
    if params.double_buffered_bins:
        later = np.where(valid[:, 1:], np.maximum(F[:, 1:], B), 0).sum(axis=1)
        cyc = F[:, 0] + later + B
    else:
        cyc = F.sum(axis=1) + nblk * B
    dict_cycles = params.effective_dict_load_cycles if load_dictionary else 0
    actions = _blocks_actions(params, R, K, P, int(counts.sum()), n)
    if load_dictionary:
        actions = merge_actions(actions, {k: v * used for k, v in _dict_actions(params).items()})
    return TileTiming(dict_cycles + int(cyc.max()), actions)


def gobo_peak_macs_per_cycle(params: GoboTileParams, tiles: int) -> int:
    """Equivalent peak MACs per cycle: tiles * pes * rows_per_pe (one weight-activation product
    per PE row per cycle in the Gaussian pass; unit: MACs/cycle)."""
    return _pos_int("tiles", tiles) * params.pes * params.rows_per_pe


# --------------------------------------------------------------------------- reference data


@dataclass(frozen=True, eq=False)
class GoboBlock:
    """Operands of one block for the stepper.

    ``x``: int8-valued [R, K]; ``idx``: [K, P] in 0..2**bits-1; ``outlier_pos``: [n, 2] int
    (k, p) pairs, distinct; ``outlier_vals``: [n] int16-valued.
    """

    x: np.ndarray
    idx: np.ndarray
    outlier_pos: np.ndarray
    outlier_vals: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        """(R, K, P)."""
        return int(self.x.shape[0]), int(self.x.shape[1]), int(self.idx.shape[1])


def reconstruct_weights(
    idx: np.ndarray, centroids: np.ndarray, outlier_pos: np.ndarray, outlier_vals: np.ndarray
) -> np.ndarray:
    """Dense int64 W[K, P]: centroids[idx], with outlier positions replaced by their values."""
    w = np.asarray(centroids, dtype=np.int64)[np.asarray(idx, dtype=np.int64)]
    pos = np.asarray(outlier_pos, dtype=np.int64).reshape(-1, 2)
    if pos.size:
        w[pos[:, 0], pos[:, 1]] = np.asarray(outlier_vals, dtype=np.int64)
    return w


def _validate_block(params: GoboTileParams, blk: GoboBlock) -> None:
    x, idx = np.asarray(blk.x), np.asarray(blk.idx)
    if x.ndim != 2 or idx.ndim != 2 or x.shape[1] != idx.shape[0]:
        raise ValueError(f"need x [R, K] and idx [K, P], got {x.shape} and {idx.shape}")
    R, K, P = blk.shape
    _check_shape(params, R, K, P)
    if x.min() < -128 or x.max() > 127:
        raise ValueError("x must hold int8 values")
    if idx.min() < 0 or idx.max() >= params.centroids:
        raise ValueError(f"idx must lie in 0..{params.centroids - 1}")
    pos = np.asarray(blk.outlier_pos).reshape(-1, 2)
    vals = np.asarray(blk.outlier_vals).reshape(-1)
    if pos.shape[0] != vals.shape[0]:
        raise ValueError("outlier_pos and outlier_vals must have the same length")
    if pos.size:
        if pos[:, 0].min() < 0 or pos[:, 0].max() >= K or pos[:, 1].min() < 0 or pos[:, 1].max() >= P:
            raise ValueError("outlier positions out of the block")
        if len({(int(k), int(p)) for k, p in pos}) != pos.shape[0]:
            raise ValueError("outlier positions must be distinct")
        if vals.min() < -(2**15) or vals.max() > 2**15 - 1:
            raise ValueError("outlier values must hold int16 values")


def _i32(value: np.ndarray | int, what: str) -> None:
    arr = np.asarray(value)
    if arr.size and (arr.min() < _INT32_MIN or arr.max() > _INT32_MAX):
        raise OverflowError(f"int32 overflow in {what}")


# --------------------------------------------------------------------------- stepper


class _Front:
    """Front engine state for one block: Gaussian pipeline + outlier unit."""

    def __init__(self, blk_id: int, buf: int, blk: GoboBlock, stages: int) -> None:
        self.blk_id = blk_id
        self.buf = buf
        self.x = np.asarray(blk.x, dtype=np.int64)
        R, K, P = blk.shape
        self.K = K
        self.next_k = 0
        idx = np.asarray(blk.idx, dtype=np.int64)
        self.fifos = [deque(int(v) for v in idx[:, p]) for p in range(P)]
        pos = np.asarray(blk.outlier_pos, dtype=np.int64).reshape(-1, 2)
        vals = np.asarray(blk.outlier_vals, dtype=np.int64).reshape(-1)
        order = np.lexsort((pos[:, 1], pos[:, 0])) if pos.size else np.zeros(0, dtype=np.int64)
        # The tile's sorted position stream for the mask comparator.
        self.pos_stream = deque((int(pos[i, 0]), int(pos[i, 1])) for i in order)
        # Work items of the shared outlier MAC unit: (k, p, value, row).
        self.outlier_queue = deque(
            (int(pos[i, 0]), int(pos[i, 1]), int(vals[i]), r) for i in order for r in range(R)
        )
        self.pipe: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * stages

    def done(self) -> bool:
        return self.next_k == self.K and not self.outlier_queue and all(e is None for e in self.pipe)


class _Back:
    """Back engine state for one block: multipliers, pipelined adder tree, merge stage."""

    def __init__(self, blk_id: int, buf: int, R: int, P: int, levels: int, C: int) -> None:
        self.blk_id = blk_id
        self.buf = buf
        self.R = R
        self.mult_pos = 0
        self.products = np.zeros((P, R, C), dtype=np.int64)
        self.next_row = 0
        # tree[l] holds the outputs of level l+1 as (row, values[P, C >> (l+1)]).
        self.tree: list[tuple[int, np.ndarray] | None] = [None] * levels
        self.y = np.zeros((R, P), dtype=np.int64)
        self.rows_out = 0

    def done(self) -> bool:
        return self.rows_out == self.R


class GoboTileStepper:
    """Per-cycle reference model of one GOBO tile (slow; for tests).

    Moves data register by register: per-PE index FIFOs, the activation broadcast register and
    its pipeline copies, per-PE index/mask pipeline registers, R x C int32 bin registers per PE
    (one or two sets), the outlier work queue feeding the shared outlier MAC unit and its
    per-(PE, row) accumulators, the per-PE multipliers and product registers, the pipelined
    adder tree and the merge/output stage. Counts every action as it happens.
    """

    def __init__(self, params: GoboTileParams) -> None:
        """Args: params: the tile parameters the closed form uses too."""
        self.params = params

    def run_block(
        self,
        x: np.ndarray,
        idx: np.ndarray,
        centroids: np.ndarray,
        outlier_pos: np.ndarray,
        outlier_vals: np.ndarray,
        *,
        load_dictionary: bool = False,
    ) -> StepperResult:
        """Run one block cycle by cycle.

        Args:
            x: [R, K] int8 activations. idx: [K, P] indices. centroids: [2**bits] int8.
            outlier_pos: [n, 2] (k, p). outlier_vals: [n] int16.
            load_dictionary: load the dictionary over the broadcast bus first.

        Returns:
            ``StepperResult(output=Y [R, P] int64, cycles, actions)``.
        """
        blk = GoboBlock(np.asarray(x), np.asarray(idx), np.asarray(outlier_pos), np.asarray(outlier_vals))
        res = self.run_blocks([blk], centroids, load_dictionary=load_dictionary)
        return StepperResult(res.output[0], res.cycles, res.actions)

    def run_blocks(
        self, blocks: Sequence[GoboBlock], centroids: np.ndarray, *, load_dictionary: bool = False
    ) -> StepperResult:
        """Run a sequence of equally-shaped blocks of one tensor cycle by cycle.

        Returns:
            ``StepperResult(output=Y [N, R, P] int64, cycles, actions)``.
        """
        p = self.params
        C, b = p.centroids, p.bits
        cent = np.asarray(centroids, dtype=np.int64).reshape(-1)
        if cent.shape[0] != C or cent.min() < -128 or cent.max() > 127:
            raise ValueError(f"centroids must be {C} int8 values")
        if not blocks:
            raise ValueError("need at least one block")
        shape = blocks[0].shape
        for blk in blocks:
            _validate_block(p, blk)
            if blk.shape != shape:
                raise ValueError("all blocks of a sequence must have the same (R, K, P)")
        R, K, P = shape
        n_blocks = len(blocks)
        stages = p.decode_latency_cycles + p.add_latency_cycles
        n_sets = 2 if p.double_buffered_bins else 1
        M = p.multipliers_per_pe
        act_reg_bits = 8 * R + (b + 1) * P  # one pipeline register slot: activations + idx/mask

        counts: dict[str, int] = {}

        def count(name: str, n: int) -> None:
            if n:
                counts[name] = counts.get(name, 0) + int(n)

        # Dictionary registers of every PE of the tile.
        dict_regs = np.zeros((p.pes, C), dtype=np.int64)
        if not load_dictionary:
            dict_regs[:] = cent  # resident from an earlier load, not counted here
        bins = [np.zeros((P, R, C), dtype=np.int64) for _ in range(n_sets)]
        oacc = [np.zeros((P, R), dtype=np.int64) for _ in range(n_sets)]
        free_sets = list(range(n_sets))
        ys = np.zeros((n_blocks, R, P), dtype=np.int64)

        front: _Front | None = None
        back: _Back | None = None
        filled: deque[tuple[int, int]] = deque()  # (block, set) whose front phase is done
        next_block = 0
        finished = 0
        cycle = 0

        dict_cycles = p.effective_dict_load_cycles if load_dictionary else 0
        per_cycle = _cdiv(C, dict_cycles) if dict_cycles else 0
        loaded = 0

        while finished < n_blocks:
            if cycle < dict_cycles:
                # Broadcast up to ceil(C / Ld) entries; every PE latches them.
                n_now = min(per_cycle, C - loaded)
                if n_now > 0:
                    dict_regs[:, loaded : loaded + n_now] = cent[loaded : loaded + n_now]
                    count("dict_write", p.pes * n_now)
                    count("reg_bits", 8 * p.pes * n_now)
                    loaded += n_now
                cycle += 1
                continue

            # ---- controller: start engines at the beginning of the cycle
            if back is None and filled:
                blk_id, buf = filled.popleft()
                back = _Back(blk_id, buf, R, P, b, C)
            if front is None and next_block < n_blocks and free_sets:
                buf = free_sets.pop(0)
                bins[buf][:] = 0
                oacc[buf][:] = 0
                front = _Front(next_block, buf, blocks[next_block], stages)
                next_block += 1

            # ---- front engine: Gaussian pipeline (last stage first) and outlier unit
            if front is not None:
                f = front
                last = f.pipe[-1]
                if last is not None:
                    act, sel, mask = last
                    for pe in range(P):
                        if mask[pe]:
                            continue
                        new = bins[f.buf][pe, :, sel[pe]] + act
                        _i32(new, "bin accumulate")
                        bins[f.buf][pe, :, sel[pe]] = new
                        count("add_int32", R)
                        count("reg_bits", 32 * R)
                for s in range(stages - 1, 0, -1):
                    f.pipe[s] = f.pipe[s - 1]
                    if f.pipe[s] is not None:
                        count("reg_bits", act_reg_bits)
                f.pipe[0] = None
                if f.next_k < f.K:
                    k = f.next_k
                    sel = np.array([fifo.popleft() for fifo in f.fifos], dtype=np.int64)
                    count("index_read_bits", b * P)
                    mask = np.zeros(P, dtype=bool)
                    while f.pos_stream and f.pos_stream[0][0] == k:
                        mask[f.pos_stream.popleft()[1]] = True
                    f.pipe[0] = (f.x[:, k].copy(), sel, mask)
                    count("reg_bits", act_reg_bits)
                    f.next_k += 1
                for _ in range(min(p.outlier_macs_per_cycle, len(f.outlier_queue))):
                    k, pe, val, r = f.outlier_queue.popleft()
                    new = int(oacc[f.buf][pe, r]) + int(f.x[r, k]) * val
                    _i32(new, "outlier accumulate")
                    oacc[f.buf][pe, r] = new
                    count("mac_int8x16", 1)
                    count("reg_bits", 56)

            # ---- back engine: merge, tree levels (last first), then multipliers
            if back is not None:
                bk = back
                ready = bk.mult_pos  # products written in earlier cycles
                top = bk.tree[-1]
                if top is not None:
                    row, vals = top
                    out = vals[:, 0] + oacc[bk.buf][:, row]
                    _i32(out, "outlier merge")
                    bk.y[row] = out
                    bk.rows_out += 1
                    count("add_int32", P)
                    count("reg_bits", 32 * P)
                    bk.tree[-1] = None
                for lvl in range(b - 1, 0, -1):
                    src = bk.tree[lvl - 1]
                    if src is not None:
                        row, vals = src
                        nxt = vals[:, 0::2] + vals[:, 1::2]
                        _i32(nxt, "adder tree")
                        bk.tree[lvl] = (row, nxt)
                        count("add_int32", nxt.size)
                        count("reg_bits", 32 * nxt.size)
                        bk.tree[lvl - 1] = None
                if bk.next_row < R and ready >= (bk.next_row + 1) * C:
                    vals = bk.products[:, bk.next_row, :]
                    nxt = vals[:, 0::2] + vals[:, 1::2]
                    _i32(nxt, "adder tree")
                    bk.tree[0] = (bk.next_row, nxt)
                    count("add_int32", nxt.size)
                    count("reg_bits", 32 * nxt.size)
                    bk.next_row += 1
                for _ in range(min(M, R * C - bk.mult_pos)):
                    r, c = divmod(bk.mult_pos, C)
                    prod = bins[bk.buf][:, r, c] * dict_regs[:P, c]
                    _i32(prod, "centroid multiply")
                    bk.products[:, r, c] = prod
                    count("mul_int8x32", P)
                    count("dict_read", P)
                    count("reg_bits", 32 * P)
                    bk.mult_pos += 1

            # ---- end of cycle: retire finished engines
            if front is not None and front.done():
                filled.append((front.blk_id, front.buf))
                front = None
            if back is not None and back.done():
                ys[back.blk_id] = back.y
                free_sets.append(back.buf)
                free_sets.sort()
                finished += 1
                back = None
            cycle += 1

        return StepperResult(ys, cycle, counts)
