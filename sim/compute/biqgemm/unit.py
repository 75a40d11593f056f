"""The BiQGEMM-style design's matrix unit as the mapper sees it: block timing over the tiles, granules, reuse."""

from __future__ import annotations

import numpy as np

from sim.compute.base import MatrixUnit, WeightTile, split_rows, stepped_tiles
from sim.compute.biqgemm.stepper import BiqBlock, BiqgemmTileStepper
from sim.compute.biqgemm.timing import BiqgemmParams, biqgemm_gemm_timing, biqgemm_serial_timing
from sim.hw.timing import TileTiming, ceil_div

SERIAL_COEF = np.array([1, 2, 4, 8, 16, 32, 64, -128, -1], dtype=np.int64)
"""Attention mode: the coefficients of the 8 bit planes (two's complement) and of the all-ones key."""


def serial_planes(b: np.ndarray) -> np.ndarray:
    """``b [K, N]`` int8 as 9 +-1 planes ``[9, K, N]``: bit ``j`` of the two's-complement byte (1 -> +1, 0 -> -1)
    for ``j < 8``, and an all-ones plane; ``2 b + 1 = sum_j c_j s_j`` with :data:`SERIAL_COEF` ``[:8]``."""
    u = b.astype(np.int64) & 0xFF
    planes = [np.where((u >> j) & 1, 1, -1) for j in range(8)] + [np.ones_like(u)]
    return np.stack(planes).astype(np.int64)


class BiqgemmUnit(MatrixUnit):
    """``tiles`` tiles of ``lanes`` lookup lanes x ``rows`` tables; binary-coded weights stay packed on chip."""

    kind = "biqgemm"
    act_bytes = 1
    weight_bytes = 1
    native_format = "bcq"
    matmul_unit = "lookup lanes, the second operand's 8 bits as +-1 planes"

    def __init__(self, params: BiqgemmParams) -> None:
        self.params = params
        self.n_granule = params.lanes
        self.m_granule = params.rows
        self.k_granule = params.mu
        self.chunk_wave = params.lanes * params.tiles

    def dense_timing(self, M: int, K: int, N: int) -> TileTiming:
        """Attention matmul: 9 lookups per group (8 bit planes and the all-ones key)."""
        return biqgemm_serial_timing(self.params, M, K, N)

    def weight_gemm_timing(self, M: int, K: int, N: int, tile: WeightTile, *, first: bool) -> TileTiming:
        """A binary-coded weight GEMM step: ``planes`` lookups per group."""
        return biqgemm_gemm_timing(self.params, M, K, N)

    def _reference(self, M: int, K: int, N: int, rng: np.random.Generator, serial: bool) -> TileTiming:
        p = self.params

        def make(rows: int, cols: int) -> BiqBlock:
            x = rng.integers(-128, 128, size=(rows, K), dtype=np.int64)
            if serial:
                planes = serial_planes(rng.integers(-128, 128, size=(K, cols), dtype=np.int64))
                return BiqBlock(x, planes, np.repeat(SERIAL_COEF[:, None], cols, axis=1), halve=True)
            signs = np.where(rng.integers(0, 2, size=(p.planes, K, cols)) == 1, 1, -1).astype(np.int64)
            return BiqBlock(x, signs, rng.integers(-127, 128, size=(p.planes, cols), dtype=np.int64))

        stepper = BiqgemmTileStepper(p, "shift_int32" if serial else "mul_int8x32")
        return stepped_tiles(M, N, p.rows, p.lanes, p.tiles, make, stepper.run)

    def reference_dense(self, M: int, K: int, N: int, rng: np.random.Generator) -> TileTiming:
        """The tiles stepped cycle by cycle on random int8 operands (attention mode)."""
        return self._reference(M, K, N, rng, serial=True)

    def reference_weight_gemm(self, M: int, K: int, N: int, tile: WeightTile, *, first: bool,
                              rng: np.random.Generator) -> TileTiming:
        """The tiles stepped cycle by cycle on random activations, planes and scale codes."""
        return self._reference(M, K, N, rng, serial=False)

    def sub_tiles(self, M: int, N: int) -> list[tuple[int, int, int, int]]:
        """Along M in whole row blocks."""
        return split_rows(M, N, self.params.rows)

    def gemm_sram_reads(self, w_chunk_bytes: int, M: int, K: int, N: int,
                        tile: WeightTile | None = None) -> tuple[int, int]:
        """The packed planes are re-read per row block; each column block's builder reads its activations."""
        p = self.params
        return w_chunk_bytes * ceil_div(M, p.rows), M * K * ceil_div(N, p.lanes)
