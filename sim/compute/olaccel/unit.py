"""The OLAccel lane groups as the mapper sees it: weight GEMM steps timed with the real outlier layout."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.compute.base import MatrixUnit, WeightTile, split_rows
from sim.compute.olaccel.config import OlaccelCompute
from sim.compute.olaccel.stepper import OlaccelStepper
from sim.compute.olaccel.timing import (
    ActOutlierUnit,
    olaccel_dense_a4_timing,
    olaccel_dense_timing,
    olaccel_gemm_a4_timing,
    olaccel_gemm_timing,
)
from sim.hw.timing import TileTiming, ceil_div


@dataclass(frozen=True, eq=False)
class OlaccelOutliers:
    """Where a weight's outliers are (``mask``: bool ``[N, K]``), prepared once per tensor."""

    mask: np.ndarray


def spread_act_outliers(M: int, K: int, fraction: float) -> np.ndarray:
    """Where a timing-only step's outlier activations are (bool ``[M, K]``): ``n = floor(fraction * M * K + 0.5)``
    of them, spread evenly over the row-major order (the ``t``-th at flat index ``(2t + 1) M K // (2 n)``).

    The activations of a timing-only run are not known; an even spread is the expected layout of a fixed fraction
    (no slice, pass or column block is favoured) and depends on the shape alone, so every run of a design gives
    the same cycles (reports stay byte-identical)."""
    size = M * K
    n = int(np.floor(fraction * size + 0.5))
    flat = np.zeros(size, dtype=bool)
    if n:
        flat[(2 * np.arange(n, dtype=np.int64) + 1) * size // (2 * n)] = True
    return flat.reshape(M, K)


class OlaccelUnit(MatrixUnit):
    """``groups`` groups of ``rows x lanes`` lanes; OLAccel weights stay packed on chip (dense nibbles + the
    sparse outlier list, read by the groups)."""

    kind = "olaccel"
    act_bytes = 1
    weight_bytes = 1  # an attention operand in the weights' place (int8)
    native_format = "olaccel"
    k_granule = 1
    matmul_unit = "OLAccel lanes (two nibble passes)"

    def __init__(self, c: OlaccelCompute) -> None:
        self.c = c
        if c.act_outliers:
            self.matmul_unit = "OLAccel 4-bit lanes (four nibble passes)"
        self.act_unit = ActOutlierUnit(c.act_outlier_macs, c.act_outlier_weight_bits)
        self.n_granule = c.lanes
        self.m_granule = c.rows
        self.chunk_wave = c.lanes * c.groups

    def _counts(self, mask: np.ndarray) -> np.ndarray:
        """Outliers per (block of ``lanes`` columns, reduction index) of a ``[n, k]`` mask."""
        n, k = mask.shape
        L = self.c.lanes
        pad = (-n) % L
        m = np.concatenate([mask, np.zeros((pad, k), dtype=bool)]) if pad else mask
        return m.reshape(-1, L, k).sum(axis=1)

    def dense_timing(self, M: int, K: int, N: int) -> TileTiming:
        """A matmul of two int8 operands (attention): two nibble passes (closed form)."""
        c = self.c
        if c.act_outliers:
            return olaccel_dense_a4_timing(c.groups, c.lanes, c.rows, c.pipeline_cycles, M, K, N)
        return olaccel_dense_timing(c.groups, c.lanes, c.rows, c.pipeline_cycles, M, K, N)

    def weight_operand(self, source: object, chunk_n: int, chunk_k: int) -> OlaccelOutliers | None:
        """The weight's outlier mask, from its packed layout (``WeightSource.layout``)."""
        layout = getattr(source, "layout", None)
        if layout is None or not hasattr(layout, "outlier_mask"):
            return None
        return OlaccelOutliers(layout.outlier_mask())

    def _mask(self, tile: WeightTile, K: int, N: int) -> np.ndarray:
        op = tile.operand
        if op is None:
            return np.zeros((N, K), dtype=bool)
        assert isinstance(op, OlaccelOutliers)
        return op.mask[tile.n0:tile.n0 + N, tile.k0:tile.k0 + K]

    def weight_gemm_timing(self, M: int, K: int, N: int, tile: WeightTile, *, first: bool) -> TileTiming:
        """One weight GEMM step with the outliers where the tile's weights have them (closed form)."""
        c = self.c
        counts = self._counts(self._mask(tile, K, N))
        if c.act_outliers:
            return olaccel_gemm_a4_timing(c.groups, c.lanes, c.rows, c.pipeline_cycles, counts, N,
                                          spread_act_outliers(M, K, c.act_outlier_fraction), self.act_unit,
                                          tile.k0 > 0)
        return olaccel_gemm_timing(c.groups, c.rows, c.pipeline_cycles, M, counts, N, tile.k0 > 0)

    def _stepper(self) -> OlaccelStepper:
        c = self.c
        return OlaccelStepper(c.groups, c.lanes, c.rows, c.pipeline_cycles, act_bits=c.act_bits,
                              act_outlier_macs=c.act_outlier_macs, act_outlier_weight_bits=c.act_outlier_weight_bits)

    def reference_dense(self, M: int, K: int, N: int, rng: np.random.Generator) -> TileTiming:
        """The two nibble passes stepped cycle by cycle on random int8 operands."""
        a = rng.integers(-128, 128, size=(M, K), dtype=np.int64)
        b = rng.integers(-128, 128, size=(K, N), dtype=np.int64)
        return self._stepper().run_dense(a, b).timing

    def reference_weight_gemm(self, M: int, K: int, N: int, tile: WeightTile, *, first: bool,
                              rng: np.random.Generator) -> TileTiming:
        """The step stepped cycle by cycle: random 4-bit weights and int8 outliers where the tile's weights have
        outliers; random int8 activations, or with 4-bit lanes random 4-bit ones and int8 outliers where the
        timing-only layout puts them."""
        c = self.c
        mask = self._mask(tile, K, N)
        w = np.where(mask, rng.integers(-127, 128, size=(N, K)), rng.integers(-7, 8, size=(N, K)))
        x = rng.integers(-128, 128, size=(M, K), dtype=np.int64)
        act_mask = None
        if c.act_outliers:
            act_mask = spread_act_outliers(M, K, c.act_outlier_fraction)
            x = np.where(act_mask, x, rng.integers(-8, 8, size=(M, K)))
        return self._stepper().run_gemm(x, w, mask, act_mask=act_mask, continues=tile.k0 > 0).timing

    def sub_tiles(self, M: int, N: int) -> list[tuple[int, int, int, int]]:
        """Along M, whole passes of ``rows`` rows (every block keeps its columns)."""
        return split_rows(M, N, self.c.rows)

    def gemm_sram_reads(self, w_chunk_bytes: int, M: int, K: int, N: int,
                        tile: WeightTile | None = None) -> tuple[int, int]:
        """A group reads its weight slice once per pass of ``rows`` rows, and every pass's activations once per
        column block (the groups of a wave each read their own)."""
        return w_chunk_bytes * ceil_div(M, self.c.rows), M * K * self.act_bytes * ceil_div(N, self.c.lanes)

    def dense_sram_reads(self, M: int, K: int, N: int) -> int:
        """Attention: every nibble pass (two, or four with 4-bit lanes) reads as a weight GEMM would."""
        w, a = self.gemm_sram_reads(K * N * self.act_bytes, M, K, N)
        return (4 if self.c.act_outliers else 2) * (w + a)
