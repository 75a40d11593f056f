"""Memoised closed forms for one mapping: the matrix unit's and the vector unit's timing of identical tiles.

The mapper asks for the timing of the same tile many times: the sub-tiles of one weight chunk, every head of an
attention matmul or a softmax, the identical layers of a model. Each closed form is a pure function of its
arguments (``MatrixUnit.weight_gemm_timing``, ``dense_timing``, ``gemm_sram_reads``, ``dense_sram_reads``,
``sub_tiles``; :func:`sim.hw.vector.vector_timing`) and returns an immutable value (:class:`TileTiming`, ints,
tuples), so :class:`TimingMemo` computes each distinct call once per planner and hands back the same object.
Nothing outlives the planner (one prepared run): no number can depend on what was computed before.

Keys: the plain integer arguments; a weight tile by its fields, with its operand (what the unit prepared for the
whole tensor, e.g. GOBO's outlier counts) by identity, the operand kept beside the value so its id cannot be
reused; a kernel cost by its name and operation counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim.compute.base import MatrixUnit, WeightTile
from sim.hw.timing import TileTiming
from sim.hw.vector import KernelCost, VectorParams, vector_timing

__all__ = ["TimingMemo"]


def _tile_key(tile: WeightTile | None) -> tuple[Any, ...]:
    if tile is None:
        return ()
    return (id(tile.operand), tile.n0, tile.n1, tile.k0, tile.k1, tile.k_chunk)


def _cost_key(cost: KernelCost) -> tuple[Any, ...]:
    return (cost.name, tuple(sorted(cost.per_element.items())), tuple(sorted(cost.per_row.items())))


class TimingMemo:
    """The unit's and the vector unit's closed forms, each distinct call computed once (see the module docstring)."""

    def __init__(self, unit: MatrixUnit, vector: VectorParams) -> None:
        self.unit = unit
        self.vector = vector
        self._gemm: dict[tuple[Any, ...], tuple[Any, TileTiming]] = {}
        self._dense: dict[tuple[int, int, int], TileTiming] = {}
        self._vector: dict[tuple[Any, ...], TileTiming] = {}
        self._costs: dict[int, tuple[KernelCost, tuple[Any, ...]]] = {}
        self._reads: dict[tuple[Any, ...], tuple[Any, tuple[int, int]]] = {}
        self._dense_reads: dict[tuple[int, int, int], int] = {}
        self._subs: dict[tuple[int, int], tuple[tuple[int, int, int, int], ...]] = {}
        self.calls = 0  # every request
        self.computed = 0  # requests that ran the closed form

    def _by_operand(self, table: dict[Any, tuple[Any, Any]], key: tuple[Any, ...], operand: Any,
                    compute: Callable[[], Any]) -> Any:
        """The value remembered under ``key`` if it was computed for this very ``operand`` (the key holds the
        operand's ``id``, and the entry keeps the operand itself, so a reused id is not a hit); else computed."""
        self.calls += 1
        hit = table.get(key)
        if hit is not None and hit[0] is operand:
            return hit[1]
        self.computed += 1
        value = compute()
        table[key] = (operand, value)
        return value

    def weight_gemm_timing(self, M: int, K: int, N: int, tile: WeightTile, *, first: bool) -> TileTiming:
        """:meth:`MatrixUnit.weight_gemm_timing`."""
        return self._by_operand(self._gemm, (M, K, N, first, *_tile_key(tile)), tile.operand,
                                lambda: self.unit.weight_gemm_timing(M, K, N, tile, first=first))

    def dense_timing(self, M: int, K: int, N: int) -> TileTiming:
        """:meth:`MatrixUnit.dense_timing`."""
        self.calls += 1
        key = (M, K, N)
        hit = self._dense.get(key)
        if hit is None:
            self.computed += 1
            hit = self._dense[key] = self.unit.dense_timing(M, K, N)
        return hit

    def vector_timing(self, cost: KernelCost, rows: int, row_len: int) -> TileTiming:
        """:func:`sim.hw.vector.vector_timing` on this design's vector unit."""
        self.calls += 1
        known = self._costs.get(id(cost))
        if known is None or known[0] is not cost:
            known = self._costs[id(cost)] = (cost, _cost_key(cost))
        key = (known[1], rows, row_len)
        hit = self._vector.get(key)
        if hit is None:
            self.computed += 1
            hit = self._vector[key] = vector_timing(self.vector, cost, rows, row_len)
        return hit

    def gemm_sram_reads(self, w_chunk_bytes: int, M: int, K: int, N: int,
                        tile: WeightTile | None = None) -> tuple[int, int]:
        """:meth:`MatrixUnit.gemm_sram_reads`."""
        return self._by_operand(self._reads, (w_chunk_bytes, M, K, N, *_tile_key(tile)),
                                tile.operand if tile is not None else None,
                                lambda: self.unit.gemm_sram_reads(w_chunk_bytes, M, K, N, tile))

    def dense_sram_reads(self, M: int, K: int, N: int) -> int:
        """:meth:`MatrixUnit.dense_sram_reads`."""
        self.calls += 1
        key = (M, K, N)
        hit = self._dense_reads.get(key)
        if hit is None:
            self.computed += 1
            hit = self._dense_reads[key] = self.unit.dense_sram_reads(M, K, N)
        return hit

    def sub_tiles(self, M: int, N: int) -> tuple[tuple[int, int, int, int], ...]:
        """:meth:`MatrixUnit.sub_tiles` (as a tuple)."""
        self.calls += 1
        key = (M, N)
        hit = self._subs.get(key)
        if hit is None:
            self.computed += 1
            hit = self._subs[key] = tuple(tuple(s) for s in self.unit.sub_tiles(M, N))  # type: ignore[misc]
        return hit
