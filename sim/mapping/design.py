"""A hardware configuration seen by the mapper: its compute unit's timing model and data widths."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config.hardware import GoboCompute, HardwareConfig, SystolicCompute, TensorCoreCompute
from sim.hw.gobo_mac import gobo_mac_blocks_timing
from sim.hw.gobo_tile import GoboTileParams, gobo_parallel_timing
from sim.hw.systolic import SystolicParams, systolic_gemm_timing
from sim.hw.tensorcore import TensorCoreParams, tensorcore_block_timing
from sim.hw.timing import TileTiming
from sim.hw.vector import VectorParams

TC_PANEL_ROWS = 64  # assumed: tensor-core operand fragments are reused over 64-row A panels (a warp tile)


@dataclass(frozen=True)
class Design:
    """The compute engine of a design with its data widths (bytes per element on chip)."""

    hw: HardwareConfig
    kind: str  # gobo | systolic | tensorcore
    act_bytes: int  # activation element: int8 (1) for gobo/systolic, fp16 (2) for tensorcore
    weight_bytes: int  # on-chip weight element for non-GOBO compute: int8 1, fp16 2; GOBO keeps packed bytes
    gobo: GoboTileParams | None = None
    tiles: int = 1
    systolic: SystolicParams | None = None
    tensorcore: TensorCoreParams | None = None

    @property
    def vector(self) -> VectorParams:
        """The vector unit."""
        return VectorParams(self.hw.vector.lanes, self.hw.vector.divider_cycles)

    @property
    def n_granule(self) -> int:
        """Output columns the compute unit covers in one pass (weight chunks are multiples of it)."""
        if self.gobo is not None:
            return self.gobo.pes
        if self.systolic is not None:
            return self.systolic.cols
        return self.tensorcore.mma_n

    @property
    def k_granule(self) -> int:
        """Reduction depth granule for K-splitting."""
        if self.systolic is not None:
            return self.systolic.rows
        if self.tensorcore is not None:
            return self.tensorcore.mma_k
        return 1

    def dense_timing(self, M: int, K: int, N: int) -> TileTiming:
        """A matmul whose operands are both dense on chip (int8 weights, or activations for attention)."""
        if self.systolic is not None:
            return systolic_gemm_timing(self.systolic, M, K, N)
        if self.tensorcore is not None:
            return tensorcore_block_timing(self.tensorcore, M, K, N)
        return self.gobo_mac_timing(M, K, N)

    def gobo_mac_timing(self, M: int, K: int, N: int) -> TileTiming:
        """Attention matmul on the GOBO PEs' multipliers: blocks of R rows x P columns over the tiles."""
        g = self.gobo
        mb = -(-M // g.rows_per_pe)
        nb = -(-N // g.pes)
        per_tile = -(-(mb * nb) // self.tiles)  # blocks are dealt round-robin to the tiles
        busiest = gobo_mac_blocks_timing(g, g.rows_per_pe, K, g.pes, per_tile)
        # cycles: the busiest tile (partial blocks run the full static schedule); actions: the useful
        # MACs only (padded rows and columns are gated)
        return TileTiming(busiest.cycles, {"mac_int8": M * K * N, "reg_bits": M * K * N * 48})

    def gobo_gemm_timing(self, M: int, K: int, counts: np.ndarray, load_dictionary: bool) -> TileTiming:
        """GOBO-mode GEMM of M rows over the block columns whose outlier counts are ``counts`` (one per
        P-column block, for this K range). The (row block, column block) pairs are dealt round-robin to
        the tiles in column-major order, so a tile's consecutive blocks mostly share their weights; each
        tile runs its sequence with the exact block-sequence model, the slowest tile sets the time."""
        g = self.gobo
        mb = -(-M // g.rows_per_pe)
        seq_all = np.repeat(np.asarray(counts, dtype=np.int64), mb)  # column-major block order
        return gobo_parallel_timing(g, g.rows_per_pe, K, g.pes, seq_all, self.tiles, load_dictionary=load_dictionary)


def design_of(hw: HardwareConfig) -> Design:
    """The :class:`Design` of a hardware configuration."""
    c = hw.compute
    if isinstance(c, GoboCompute):
        params = GoboTileParams(pes=c.pes_per_tile, rows_per_pe=c.rows_per_pe, bits=hw.weights.bits,
                                decode_latency_cycles=c.decode_latency_cycles,
                                add_latency_cycles=c.add_latency_cycles,
                                outlier_macs_per_cycle=c.outlier_macs_per_cycle,
                                multipliers_per_pe=c.multipliers_per_pe,
                                double_buffered_bins=c.double_buffered_bins)
        return Design(hw, "gobo", act_bytes=1, weight_bytes=1, gobo=params, tiles=c.tiles)
    if isinstance(c, SystolicCompute):
        return Design(hw, "systolic", act_bytes=1, weight_bytes=1,
                      systolic=SystolicParams(c.rows, c.cols, c.dataflow, c.weight_preload_overlap))
    if isinstance(c, TensorCoreCompute):
        return Design(hw, "tensorcore", act_bytes=2, weight_bytes=2,
                      tensorcore=TensorCoreParams(c.units, c.mma_m, c.mma_n, c.mma_k, c.pipeline_latency_cycles))
    raise TypeError(f"unknown compute spec {c!r}")
