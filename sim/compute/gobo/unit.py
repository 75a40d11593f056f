"""The GOBO design's matrix unit as the mapper sees it: block timing over the tiles, granules, SRAM reuse."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.compute.base import MatrixUnit, WeightTile, split_rows
from sim.compute.gobo.timing import (
    GoboTileParams,
    gobo_comparator_stall_cycles,
    gobo_mac_blocks_timing,
    gobo_parallel_timing,
)
from sim.hw.timing import TileTiming, ceil_div


@dataclass(frozen=True, eq=False)
class GoboOutliers:
    """Where a GOBO-packed weight's outliers fall, as the tile timing needs it (prepared once per tensor).

    ``counts[j, c]``: outliers of P-column block j in K chunk c; ``columns[j, k]``: outliers of block j at
    reduction index k (the index-stream column the comparator matches), or None when the comparator matches
    a whole column per cycle (``outlier_positions_per_cycle >= pes``) and positions cannot stall it.
    """

    counts: np.ndarray
    columns: np.ndarray | None


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
        columns = None
        if self.params.outlier_positions_per_cycle < pes:
            columns = np.asarray(source.outlier_counts(pes, 1), dtype=np.int64)  # type: ignore[attr-defined]
        return GoboOutliers(counts, columns)

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
        g = self.params
        nb0, nb1 = tile.n0 // g.pes, ceil_div(tile.n1, g.pes)
        mb = ceil_div(M, g.rows_per_pe)
        seq_all = np.repeat(op.counts[nb0:nb1, tile.k_chunk], mb)  # column-major
        stalls = None
        if op.columns is not None:  # the comparator's stalls over this step's reduction rows [k0, k1)
            stalls = np.repeat(gobo_comparator_stall_cycles(g, op.columns[nb0:nb1, tile.k0:tile.k1]), mb)
        return gobo_parallel_timing(g, g.rows_per_pe, K, g.pes, seq_all, self.tiles, load_dictionary=first,
                                    comparator_stall_cycles=stalls)

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
