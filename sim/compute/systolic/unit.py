"""The systolic design's matrix unit as the mapper sees it: GEMM fold timing, granules, SRAM reuse."""

from __future__ import annotations

import numpy as np

from sim.compute.base import MatrixUnit, WeightTile, split_cols, split_rows
from sim.compute.systolic.stepper import SystolicStepper
from sim.compute.systolic.timing import SystolicParams, systolic_gemm_timing
from sim.hw.timing import TileTiming, ceil_div


class SystolicUnit(MatrixUnit):
    """A ``rows x cols`` int8 array; weights (int8, or decompressed GOBO) are dense on chip."""

    kind = "systolic"
    act_bytes = 1
    weight_bytes = 1
    matmul_unit = "systolic"

    def __init__(self, params: SystolicParams) -> None:
        self.params = params
        self.n_granule = params.cols
        self.k_granule = params.rows
        self.m_granule = params.cols if params.dataflow == "is" else 1
        self.chunk_wave = params.cols

    def dense_timing(self, M: int, K: int, N: int) -> TileTiming:
        """The GEMM's fold timing (closed form)."""
        return systolic_gemm_timing(self.params, M, K, N)

    def gemm_cycles(self, M: int, K: int, N: int) -> int | None:
        """The GEMM's fold schedule as one sequence of folds (closed form): every piece the mapper cuts it into
        pays its own first preload, fill and drain, reported apart as mapping overhead."""
        return systolic_gemm_timing(self.params, M, K, N).cycles

    def reference_dense(self, M: int, K: int, N: int, rng: np.random.Generator) -> TileTiming:
        """The array stepped cycle by cycle on random int8 operands of the shape."""
        a = rng.integers(-128, 128, size=(M, K), dtype=np.int64)
        b = rng.integers(-128, 128, size=(K, N), dtype=np.int64)
        return SystolicStepper(self.params).run(a, b).timing

    def sub_tiles(self, M: int, N: int) -> list[tuple[int, int, int, int]]:
        """Along the dimension the PE columns hold (N for ws/os, M for is), whole folds at a time, so no
        stationary block is preloaded twice."""
        if self.params.dataflow == "is":
            return split_rows(M, N, self.params.cols)
        return split_cols(M, N, self.params.cols)

    def gemm_sram_reads(self, w_chunk_bytes: int, M: int, K: int, N: int,
                        tile: WeightTile | None = None) -> tuple[int, int]:
        """The stationary operand enters the array once; the streamed one once per fold of the other operand's
        dimension (ws: activations per column fold of N; is: weights per column fold of M; os: activations per
        column fold of N and weights per row fold of M). Only real elements are read (edge folds pad in the
        array, not in the buffer)."""
        p = self.params
        a_bytes = M * K * self.act_bytes
        if p.dataflow == "ws":
            return w_chunk_bytes, a_bytes * ceil_div(N, p.cols)
        if p.dataflow == "is":
            return w_chunk_bytes * ceil_div(M, p.cols), a_bytes
        return w_chunk_bytes * ceil_div(M, p.rows), a_bytes * ceil_div(N, p.cols)

    def dense_sram_reads(self, M: int, K: int, N: int) -> int:
        """Attention matmuls read both operands from the activation buffer with the same reuse as a weight GEMM
        (the second operand in the weights' place)."""
        w, a = self.gemm_sram_reads(K * N * self.act_bytes, M, K, N)
        return w + a
