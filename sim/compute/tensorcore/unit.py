"""The tensor-core design's matrix unit as the mapper sees it: MMA timing, granules, operand reuse."""

from __future__ import annotations

import numpy as np

from sim.compute.base import MatrixUnit, WeightTile, split_rows
from sim.compute.tensorcore.stepper import TensorCoreStepper
from sim.compute.tensorcore.timing import TensorCoreParams, tensorcore_block_timing
from sim.hw.timing import TileTiming, ceil_div

PANEL_ROWS = 64
"""Rows of the A panel over which operand fragments are reused (a warp tile; assumed)."""


class TensorCoreUnit(MatrixUnit):
    """``units`` tensor-core units; fp16 activations and weights on chip."""

    kind = "tensorcore"
    act_bytes = 2
    weight_bytes = 2
    matmul_unit = "tensorcore"

    def __init__(self, params: TensorCoreParams) -> None:
        self.params = params
        self.n_granule = params.mma_n
        self.k_granule = params.mma_k
        self.m_granule = params.mma_m
        self.chunk_wave = params.mma_n

    def dense_timing(self, M: int, K: int, N: int) -> TileTiming:
        """The MMA schedule's closed form."""
        return tensorcore_block_timing(self.params, M, K, N)

    def reference_dense(self, M: int, K: int, N: int, rng: np.random.Generator) -> TileTiming:
        """The units stepped cycle by cycle on random fp16 operands of the shape."""
        a = rng.standard_normal((M, K)).astype(np.float16)
        b = rng.standard_normal((K, N)).astype(np.float16)
        return TensorCoreStepper(self.params).run(a, b).timing

    def sub_tiles(self, M: int, N: int) -> list[tuple[int, int, int, int]]:
        """Along M, whole MMA row tiles at a time."""
        return split_rows(M, N, self.params.mma_m)

    def gemm_sram_reads(self, w_chunk_bytes: int, M: int, K: int, N: int,
                        tile: WeightTile | None = None) -> tuple[int, int]:
        """Weight fragments re-read per 64-row A panel, activations per 64-column panel of the output."""
        return w_chunk_bytes * ceil_div(M, PANEL_ROWS), M * K * ceil_div(N, PANEL_ROWS) * self.act_bytes
