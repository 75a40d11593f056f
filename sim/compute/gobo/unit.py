"""The GOBO design's matrix unit as the mapper sees it: block timing over the tiles, granules, SRAM reuse."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from sim.compute.base import MatrixUnit, WeightTile, split_rows
from sim.compute.gobo.stepper import GoboBlock, GoboMacStepper, GoboTileStepper
from sim.compute.gobo.timing import (
    GoboTileParams,
    gobo_comparator_column_stalls,
    gobo_comparator_stall_cycles,
    gobo_mac_blocks_timing,
    gobo_parallel_dictionary_timing,
    gobo_parallel_timing,
)
from sim.hw.timing import TileTiming, ceil_div


@dataclass(frozen=True, eq=False)
class GoboOutliers:
    """Where a GOBO-packed weight's outliers fall, as the tile timing needs it (prepared once per tensor).

    ``counts[j, c]``: outliers of P-column block j in K chunk c; ``columns[j, k]``: outliers of block j at
    reduction index k (the index-stream column the comparator matches), or None when the comparator matches
    a whole column per cycle (``outlier_positions_per_cycle >= pes``) and positions cannot stall it;
    ``stall_prefix[j, k]``: the comparator stall cycles of block j's columns ``[0, k)`` (running sums of
    :func:`gobo_comparator_column_stalls`, so a step's stalls over ``[k0, k1)`` are one subtraction), or None
    with ``columns``.
    """

    counts: np.ndarray
    columns: np.ndarray | None
    stall_prefix: np.ndarray | None = None


# (id of a read-only column-count array, positions per cycle) -> (a weak reference to the array, its running
# stall sums): a packed tensor hands out the same frozen count array for the same blocking, so the sums are
# computed once per process for every design with the same PEs and comparator (the points of a sweep)
_PREFIXES: dict[tuple[int, int], tuple[weakref.ref, np.ndarray]] = {}


def _stall_prefix(params: GoboTileParams, columns: np.ndarray) -> np.ndarray:
    """``prefix[j, k]``: comparator stall cycles of block j's columns ``[0, k)`` (int64, one column more)."""
    key = (id(columns), params.outlier_positions_per_cycle)
    hit = _PREFIXES.get(key)
    if hit is not None and hit[0]() is columns:
        return hit[1]
    prefix = np.zeros((columns.shape[0], columns.shape[1] + 1), dtype=np.int64)
    np.cumsum(gobo_comparator_column_stalls(params, columns), axis=1, out=prefix[:, 1:])
    if columns.flags.writeable:  # only an immutable array can stand for its sums later
        return prefix
    prefix.setflags(write=False)
    def forget(_ref: weakref.ref, k: tuple[int, int] = key) -> None:
        _PREFIXES.pop(k, None)

    try:
        ref = weakref.ref(columns, forget)
    except TypeError:  # an array that cannot be weakly referenced (a view of a temporary): not remembered
        return prefix
    _PREFIXES[key] = (ref, prefix)
    return prefix


# The blocks' timing of a weight step, per process: (tile params, tiles, rows, K, the tile's columns and
# reduction range and K chunk, ids of the operand's count and column-count arrays, whether the step loads the
# dictionary: the tensor's first step, whose timing is the blocks' plus gobo_parallel_dictionary_timing) ->
# (weak references to those arrays, (timing, blocks)). The closed form reads nothing else: the stall sums are a
# function of the column counts and the params. Only read-only arrays are remembered (a packed tensor hands out
# the same frozen arrays for the same blocking), so the designs of a sweep that share the tile organisation, and
# repeated runs, share the timings; a hit requires the very arrays (a dead reference never matches a new one).
BLOCKS_MEMO_ENTRIES = 1 << 16
_BLOCKS: dict[tuple, tuple[weakref.ref, weakref.ref | None, tuple[TileTiming, int]]] = {}


def _blocks_memo(unit: GoboUnit, M: int, K: int, tile: WeightTile, op: GoboOutliers,
                 first: bool = False) -> tuple[TileTiming, int]:
    """The blocks' timing (``first``: with the dictionary load added, the tensor's first step), remembered as
    described above ``_BLOCKS``."""
    counts, columns = op.counts, op.columns
    frozen = not counts.flags.writeable and (columns is None or not columns.flags.writeable)
    # the stall sums are the column counts' (or None with them): stall_prefix follows from columns and params
    key = (unit.params, unit.tiles, M, K, tile.n0, tile.n1, tile.k0, tile.k1, tile.k_chunk, id(counts),
           id(columns) if columns is not None else None, op.stall_prefix is not None, first)
    hit = _BLOCKS.get(key) if frozen else None
    if hit is not None and hit[0]() is counts and (columns is None or (hit[1] is not None and hit[1]() is columns)):
        return hit[2]
    if first:  # the same blocks after the dictionary load (gobo_parallel_timing with load_dictionary)
        blocks, n_blocks = _blocks_memo(unit, M, K, tile, op)
        value = (blocks + gobo_parallel_dictionary_timing(unit.params, n_blocks, unit.tiles), n_blocks)
    else:
        value = unit._blocks_timing(M, K, tile, op)
    if not frozen:
        return value
    try:
        refs = (weakref.ref(counts), weakref.ref(columns) if columns is not None else None)
    except TypeError:  # an array that cannot be weakly referenced: not remembered
        return value
    if len(_BLOCKS) >= BLOCKS_MEMO_ENTRIES:
        _BLOCKS.pop(next(iter(_BLOCKS)))
    _BLOCKS[key] = (*refs, value)
    return value


class GoboUnit(MatrixUnit):
    """``tiles`` GOBO tiles of ``pes`` PEs x ``rows_per_pe`` rows; weights stay packed (GOBO format) on chip."""

    kind = "gobo"
    act_bytes = 1
    weight_bytes = 1
    native_format = "gobo"
    k_granule = 1
    matmul_unit = "PE multipliers (MAC mode)"

    def __init__(self, params: GoboTileParams, tiles: int) -> None:
        self.params = params
        self.tiles = tiles
        self.n_granule = params.pes
        self.m_granule = params.rows_per_pe
        self.chunk_wave = params.pes * tiles

    def dense_timing(self, M: int, K: int, N: int) -> TileTiming:
        """Attention matmul on the GOBO PEs' multipliers: blocks of R rows x P columns over the tiles."""
        g = self.params
        mb = ceil_div(M, g.rows_per_pe)
        nb = ceil_div(N, g.pes)
        per_tile = ceil_div(mb * nb, self.tiles)  # blocks are dealt round-robin to the tiles
        busiest = gobo_mac_blocks_timing(g, g.rows_per_pe, K, g.pes, per_tile)
        # cycles: the busiest tile (partial blocks run the full static schedule); actions: the useful
        # MACs only (padded rows and columns are gated)
        return TileTiming(busiest.cycles, {"mac_int8": M * K * N, "reg_bits": M * K * N * 48})

    def weight_operand(self, source: object, chunk_n: int, chunk_k: int) -> GoboOutliers | None:
        """Per tensor, once: the outlier count of every (P-column block, K chunk) of a GOBO-packed weight, and,
        when the comparator can stall, of every (P-column block, reduction index)."""
        if getattr(source, "packed_format", None) != "gobo":
            return None
        pes = self.params.pes
        counts = np.asarray(source.outlier_counts(pes, chunk_k), dtype=np.int64)  # type: ignore[attr-defined]
        columns = prefix = None
        if self.params.outlier_positions_per_cycle < pes:
            columns = np.asarray(source.outlier_counts(pes, 1), dtype=np.int64)  # type: ignore[attr-defined]
            prefix = _stall_prefix(self.params, columns)
        return GoboOutliers(counts, columns, prefix)

    def weight_gemm_timing(self, M: int, K: int, N: int, tile: WeightTile, *, first: bool) -> TileTiming:
        """GOBO-mode GEMM of M rows over the block columns of the tile, with each block's real outlier count.

        The (row block, column block) pairs are dealt round-robin to the tiles in column-major order, so a
        tile's consecutive blocks mostly share their weights; each tile runs its sequence with the exact
        block-sequence model and the slowest tile sets the time.
        """
        op = tile.operand
        if op is None:
            return self.dense_timing(M, K, N)
        assert isinstance(op, GoboOutliers)
        # the tensor's first step is the same blocks after the dictionary load: the blocks' timing is computed
        # once per (tile, rows) and the load added (gobo_parallel_timing with load_dictionary, by construction)
        return _blocks_memo(self, M, K, tile, op, first)[0]

    def _blocks_timing(self, M: int, K: int, tile: WeightTile, op: GoboOutliers) -> tuple[TileTiming, int]:
        g = self.params
        nb0, nb1 = tile.n0 // g.pes, ceil_div(tile.n1, g.pes)
        mb = ceil_div(M, g.rows_per_pe)
        seq_all = np.repeat(op.counts[nb0:nb1, tile.k_chunk], mb)  # column-major
        stalls = None
        if op.stall_prefix is not None:  # the comparator's stalls over this step's reduction rows [k0, k1)
            stalls = np.repeat(op.stall_prefix[nb0:nb1, tile.k1] - op.stall_prefix[nb0:nb1, tile.k0], mb)
        elif op.columns is not None:
            stalls = np.repeat(gobo_comparator_stall_cycles(g, op.columns[nb0:nb1, tile.k0:tile.k1]), mb)
        return gobo_parallel_timing(g, g.rows_per_pe, K, g.pes, seq_all, self.tiles,
                                    comparator_stall_cycles=stalls), int(seq_all.size)

    # -- per-cycle reference (written apart from the closed forms above: it deals the blocks itself) --------
    def _deal(self, n_blocks: int) -> list[list[int]]:
        """Block indices per tile: block i (column-major issue order) goes to tile i mod tiles."""
        per: list[list[int]] = [[] for _ in range(min(self.tiles, n_blocks))]
        for i in range(n_blocks):
            per[i % self.tiles].append(i)
        return per

    def reference_dense(self, M: int, K: int, N: int, rng: np.random.Generator) -> TileTiming:
        """MAC mode stepped per block on the tiles: every block runs the full R x P schedule (its padded rows
        and columns are gated: their cycles pass, their MACs are not counted)."""
        g = self.params
        R, P = g.rows_per_pe, g.pes
        blocks = [(r0, p0) for p0 in range(0, N, P) for r0 in range(0, M, R)]  # column-major
        stepper = GoboMacStepper(g)
        cycles = 0
        actions: dict[str, int] = {}
        padded_cycles: dict[int, int] = {}
        for tile_blocks in self._deal(len(blocks)):
            t = 0
            for i in tile_blocks:
                r0, p0 = blocks[i]
                rows, cols = min(R, M - r0), min(P, N - p0)
                x = rng.integers(-128, 128, size=(rows, K), dtype=np.int64)
                b = rng.integers(-128, 128, size=(K, cols), dtype=np.int64)
                real = stepper.run(x, b)
                for k, v in real.actions.items():
                    actions[k] = actions.get(k, 0) + v
                if rows == R:
                    t += real.cycles
                else:  # the static schedule of a whole block: step a zero-padded one for its cycles
                    if K not in padded_cycles:
                        padded_cycles[K] = stepper.run(np.zeros((R, K), np.int64), np.zeros((K, 1), np.int64)).cycles
                    t += padded_cycles[K]
            cycles = max(cycles, t)
        return TileTiming(cycles, actions)

    def reference_weight_gemm(self, M: int, K: int, N: int, tile: WeightTile, *, first: bool,
                              rng: np.random.Generator) -> TileTiming:
        """GOBO mode stepped per tile: random indices, centroids and activations, and in each block as many
        outliers as the packed tensor has in that block and K chunk -- at each reduction index as many as the
        tensor has there when the comparator can stall (else at random positions of the block)."""
        op = tile.operand
        if op is None:
            return self.reference_dense(M, K, N, rng)
        assert isinstance(op, GoboOutliers)
        g = self.params
        R, P, C = g.rows_per_pe, g.pes, g.centroids
        col_blocks = range(tile.n0 // P, ceil_div(tile.n1, P))
        row_blocks = ceil_div(M, R)
        seq = [j for j in col_blocks for _ in range(row_blocks)]  # column-major issue order

        def positions(j: int) -> np.ndarray:
            if op.columns is None:
                flat = rng.choice(K * P, size=int(op.counts[j, tile.k_chunk]), replace=False)
                return np.stack([flat // P, flat % P], axis=1).astype(np.int64)
            per_k = op.columns[j, tile.k0:tile.k1]
            rows = [np.stack([np.full(int(c), k), rng.choice(P, size=int(c), replace=False)], axis=1)
                    for k, c in enumerate(per_k) if c]
            return np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 2), np.int64)

        centroids = rng.integers(-128, 128, size=C, dtype=np.int64)
        stepper = GoboTileStepper(g)
        cycles = 0
        actions: dict[str, int] = {}
        for tile_blocks in self._deal(len(seq)):
            blocks = []
            for i in tile_blocks:
                pos = positions(seq[i])
                blocks.append(GoboBlock(rng.integers(-128, 128, size=(R, K), dtype=np.int64),
                                        rng.integers(0, C, size=(K, P), dtype=np.int64), pos,
                                        rng.integers(-32768, 32768, size=len(pos), dtype=np.int64)))
            res = stepper.run_blocks(blocks, centroids, load_dictionary=first)
            cycles = max(cycles, res.cycles)
            for k, v in res.actions.items():
                actions[k] = actions.get(k, 0) + v
        return TileTiming(cycles, actions)

    def sub_tiles(self, M: int, N: int) -> list[tuple[int, int, int, int]]:
        """Along M in whole row blocks: the weights stay in the buffer and the index FIFOs re-read them per row
        block anyway."""
        return split_rows(M, N, self.params.rows_per_pe)

    def gemm_sram_reads(self, w_chunk_bytes: int, M: int, K: int, N: int,
                        tile: WeightTile | None = None) -> tuple[int, int]:
        """Index FIFOs refill per row block; each block column's broadcast reads its R x K int8 activations; the
        outlier unit reads, through its own port (``outlier_port_bytes`` per cycle, a timing limit of the tile
        model), one activation per outlier and row."""
        g = self.params
        outlier_reads = 0
        if tile is not None and isinstance(tile.operand, GoboOutliers):
            counts = tile.operand.counts[tile.n0 // g.pes:ceil_div(tile.n1, g.pes), tile.k_chunk]
            outlier_reads = int(counts.sum()) * M
        return w_chunk_bytes * ceil_div(M, g.rows_per_pe), M * K * ceil_div(N, g.pes) + outlier_reads
