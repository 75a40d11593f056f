"""The OliVe array as the mapper sees it: systolic folds, OVP weights packed on chip (4 bits + row scales)."""

from __future__ import annotations

import numpy as np

from sim.compute.base import MatrixUnit, WeightTile, split_cols
from sim.compute.olive.stepper import OliveStepper
from sim.compute.olive.timing import olive_bmm_timing, olive_gemm_timing
from sim.compute.systolic.timing import SystolicParams
from sim.hw.timing import TileTiming, ceil_div


class OliveUnit(MatrixUnit):
    """A ``rows x cols`` weight-stationary array of OliVe PEs; weights stay OVP-packed until the edge decoders."""

    kind = "olive"
    act_bytes = 1
    weight_bytes = 1  # an attention operand in the weights' place (int8); OVP weights are packed (native)
    native_format = "olive"
    matmul_unit = "olive array (two nibble passes)"

    def __init__(self, params: SystolicParams) -> None:
        self.params = params
        self.n_granule = params.cols
        self.k_granule = params.rows
        self.m_granule = 1
        self.chunk_wave = params.cols

    def dense_timing(self, M: int, K: int, N: int) -> TileTiming:
        """An attention matmul (both operands int8): two nibble passes (closed form)."""
        return olive_bmm_timing(self.params, M, K, N)

    def weight_gemm_timing(self, M: int, K: int, N: int, tile: WeightTile, *, first: bool) -> TileTiming:
        """One step of an OVP weight GEMM: one pass of the array (closed form)."""
        return olive_gemm_timing(self.params, M, K, N)

    def reference_dense(self, M: int, K: int, N: int, rng: np.random.Generator) -> TileTiming:
        """The two nibble passes stepped cycle by cycle on random int8 operands."""
        a = rng.integers(-128, 128, size=(M, K), dtype=np.int64)
        b = rng.integers(-128, 128, size=(K, N), dtype=np.int64)
        return OliveStepper(self.params).run_bmm(a, b).timing

    def reference_weight_gemm(self, M: int, K: int, N: int, tile: WeightTile, *, first: bool,
                              rng: np.random.Generator) -> TileTiming:
        """The weight GEMM stepped cycle by cycle on random int8 activations and random pair bytes (every code
        decodes: marker pairs and 4-bit integers alike)."""
        a = rng.integers(-128, 128, size=(M, K), dtype=np.int64)
        pairs = rng.integers(0, 256, size=(N, ceil_div(K, 2)), dtype=np.uint8)
        pairs[(pairs & 0xF) == 0x8] &= 0x7F  # at most one marker per pair
        return OliveStepper(self.params).run_gemm(a, pairs, K).timing

    def sub_tiles(self, M: int, N: int) -> list[tuple[int, int, int, int]]:
        """Along N, whole column folds at a time (no weight block is preloaded twice)."""
        return split_cols(M, N, self.params.cols)

    def gemm_sram_reads(self, w_chunk_bytes: int, M: int, K: int, N: int,
                        tile: WeightTile | None = None) -> tuple[int, int]:
        """Weight-stationary: the packed weights enter once, the activations once per column fold of N."""
        return w_chunk_bytes, M * K * self.act_bytes * ceil_div(N, self.params.cols)

    def dense_sram_reads(self, M: int, K: int, N: int) -> int:
        """Attention: the stationary operand is read once per nibble pass, the streamed one once per column fold
        per pass."""
        return 2 * (K * N + M * K * ceil_div(N, self.params.cols)) * self.act_bytes
