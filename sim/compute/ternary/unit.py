"""The ternary design's matrix unit as the mapper sees it: block timing over the tiles, granules, SRAM reuse."""

from __future__ import annotations

import numpy as np

from sim.compute.base import MatrixUnit, WeightTile, split_rows, stepped_tiles
from sim.compute.ternary.stepper import TernaryTileStepper
from sim.compute.ternary.timing import TernaryParams, ternary_gemm_timing, ternary_serial_timing
from sim.hw.timing import TileTiming, ceil_div


class TernaryUnit(MatrixUnit):
    """``tiles`` tiles of ``pes`` PEs x ``rows`` add/subtract lanes; ternary weights stay packed on chip."""

    kind = "ternary"
    act_bytes = 1
    weight_bytes = 1
    native_format = "ternary"
    k_granule = 1
    matmul_unit = "add/subtract lanes, bit-serial over the second operand's 8 bits"

    def __init__(self, params: TernaryParams) -> None:
        self.params = params
        self.n_granule = params.pes
        self.m_granule = params.rows
        self.chunk_wave = params.pes * params.tiles

    def dense_timing(self, M: int, K: int, N: int) -> TileTiming:
        """Attention matmul, bit-serial (8 passes of K adds per block)."""
        return ternary_serial_timing(self.params, M, K, N)

    def weight_gemm_timing(self, M: int, K: int, N: int, tile: WeightTile, *, first: bool) -> TileTiming:
        """A ternary weight GEMM step: one pass of K adds per block."""
        return ternary_gemm_timing(self.params, M, K, N)

    def _reference(self, M: int, K: int, N: int, rng: np.random.Generator, serial: bool) -> TileTiming:
        p = self.params

        def make(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
            x = rng.integers(-128, 128, size=(rows, K), dtype=np.int64)
            w = (rng.integers(-128, 128, size=(K, cols), dtype=np.int64) if serial
                 else rng.integers(-1, 2, size=(K, cols), dtype=np.int64))
            return x, w

        stepper = TernaryTileStepper(p)
        return stepped_tiles(M, N, p.rows, p.pes, p.tiles, make, stepper.run_serial if serial else stepper.run)

    def reference_dense(self, M: int, K: int, N: int, rng: np.random.Generator) -> TileTiming:
        """The tiles stepped cycle by cycle, bit-serial, on random int8 operands."""
        return self._reference(M, K, N, rng, serial=True)

    def reference_weight_gemm(self, M: int, K: int, N: int, tile: WeightTile, *, first: bool,
                              rng: np.random.Generator) -> TileTiming:
        """The tiles stepped cycle by cycle on random int8 activations and ternary weights."""
        return self._reference(M, K, N, rng, serial=False)

    def sub_tiles(self, M: int, N: int) -> list[tuple[int, int, int, int]]:
        """Along M in whole row blocks."""
        return split_rows(M, N, self.params.rows)

    def gemm_sram_reads(self, w_chunk_bytes: int, M: int, K: int, N: int,
                        tile: WeightTile | None = None) -> tuple[int, int]:
        """The packed weights are re-read per row block; each column block's broadcast reads its activations."""
        p = self.params
        return w_chunk_bytes * ceil_div(M, p.rows), M * K * ceil_div(N, p.pes)
