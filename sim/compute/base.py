"""The compute-kind plug-in protocol: what one kind of compute engine provides to the rest of the simulator.

A *compute kind* (``compute.kind`` in a hardware YAML: ``gobo``, ``systolic``, ``tensorcore``, ...) is one
package under ``sim/compute/`` that provides, behind :class:`ComputeKind`:

- its **config section**: a frozen spec dataclass (:class:`ComputeConfig` subclass) validated like the rest of
  the configuration, with its peak rate (``peak_macs_per_cycle``);
- its **cross-section checks** (weight formats it accepts, the smallest weight tile);
- its **matrix unit** (:class:`MatrixUnit`): the closed-form timing of weight GEMMs and dense matmuls and the
  mapping hooks (granules of output columns and reduction depth, sub-tiling of a weight chunk, the on-chip
  element widths, the SRAM read pattern of its operands);
- the **action names** its timing counts and its **area/energy estimator** (a ``ComponentModel`` priced from
  the technology table);
- how it is **resized** for iso-area and iso-peak comparisons (:meth:`ComputeKind.size`,
  :meth:`ComputeKind.with_size`, :meth:`ComputeKind.resize_to_peak`);
- its **functional dataflow** (:class:`Datapath`): the integer GEMMs computed the way the hardware computes
  them, checked bit for bit against the reference kernels, or ``None`` where the engine is not integer.

The registry (:mod:`sim.compute.registry`) maps ``compute.kind`` to the plug-in; nothing outside the registry
and the plug-ins branches on the kind's name. A new kind is one new package plus one ``register`` call.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from sim.config.schema import spec_field
from sim.hw.timing import TileTiming, ceil_div

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig
    from sim.cost.components import ComponentModel
    from sim.cost.tech import Tech

Checks = Iterator[tuple[str, str]]


@dataclass(frozen=True, kw_only=True)
class ComputeConfig:
    """Base of every compute section's spec class (``compute:`` in a hardware YAML)."""

    kind: str = spec_field(doc="compute kind")

    def peak_macs_per_cycle(self) -> int:
        """Multiply-accumulates (or equivalent weight-activation products) per cycle at full occupancy."""
        raise NotImplementedError


@dataclass(frozen=True)
class WeightTile:
    """The weight operand of one compute step of a weight GEMM, as the mapper cut it.

    ``operand`` is what :meth:`MatrixUnit.weight_operand` prepared for the whole tensor (e.g. GOBO's outlier
    counts per block; None for dense weights); the step covers output columns ``[n0, n1)`` and reduction
    rows ``[k0, k1)``, in K chunk ``k_chunk``.
    """

    operand: Any
    n0: int
    n1: int
    k0: int
    k1: int
    k_chunk: int


SUB_TILES = 4
"""Compute steps per weight chunk: the granularity at which a step's vector epilogue overlaps the next
step's compute (mapping policy, the same for every kind)."""


def split_rows(M: int, N: int, granule: int) -> list[tuple[int, int, int, int]]:
    """Up to :data:`SUB_TILES` steps ``(m0, m1, 0, N)`` along M, each a whole number of ``granule`` rows."""
    per = max(granule, ceil_div(ceil_div(M, SUB_TILES), granule) * granule)
    return [(m0, min(M, m0 + per), 0, N) for m0 in range(0, M, per)]


def stepped_tiles(M: int, N: int, rows: int, cols: int, tiles: int,
                  make: Callable[[int, int], Any], run: Callable[[list[Any]], Any]) -> TileTiming:
    """A step on ``tiles`` independent tiles, stepped per tile: the ``rows x cols`` output blocks (column-major:
    every row block of a column block, then the next column block) are dealt round-robin to the tiles,
    ``make(rows, cols)`` builds a block's operands (its real rows and columns), ``run(blocks)`` steps one tile
    through its blocks and returns a result with ``cycles`` and ``actions``. The step ends with its slowest
    tile; actions are summed over the tiles. (Only the dealing is shared: each kind's stepper is its own.)"""
    blocks = [(r0, c0) for c0 in range(0, N, cols) for r0 in range(0, M, rows)]
    per_tile: list[list[Any]] = [[] for _ in range(min(tiles, len(blocks)))]
    for i, (r0, c0) in enumerate(blocks):
        per_tile[i % tiles].append(make(min(rows, M - r0), min(cols, N - c0)))
    cycles, actions = 0, dict[str, int]()
    for seq in per_tile:
        res = run(seq)
        cycles = max(cycles, res.cycles)
        for k, v in res.actions.items():
            actions[k] = actions.get(k, 0) + v
    return TileTiming(cycles, actions)


def split_cols(M: int, N: int, granule: int) -> list[tuple[int, int, int, int]]:
    """Up to :data:`SUB_TILES` steps ``(0, M, n0, n1)`` along N, each a whole number of ``granule`` columns."""
    per = max(granule, ceil_div(ceil_div(N, SUB_TILES), granule) * granule)
    return [(0, M, n0, min(N, n0 + per)) for n0 in range(0, N, per)]


class MatrixUnit(abc.ABC):
    """The compute engine of one design, as the mapper and the engine see it (built by :meth:`ComputeKind.unit`).

    Cycles returned by the timing methods are exact for the micro-architecture (each kind's closed form, proven
    against its per-cycle stepper in the tests).
    """

    kind: str
    """The plug-in's name (``compute.kind``); also the component name under which its actions are counted."""
    act_bytes: int
    """Bytes of one activation element on chip (int8: 1, fp16: 2)."""
    weight_bytes: int
    """Bytes of one dense weight element on chip (int8: 1, fp16: 2)."""
    native_format: str | None = None
    """A compressed weight format this unit computes on directly and keeps packed on chip (GOBO: "gobo")."""
    n_granule: int = 1
    """Output columns the unit covers in one pass (weight chunks are multiples of it)."""
    k_granule: int = 1
    """Reduction depth granule for K-splitting."""
    m_granule: int = 1
    """Rows the unit processes together (row pieces of a streamed input are whole multiples of it)."""
    chunk_wave: int = 1
    """Output columns one wave of the whole unit covers (chunk widths are also tried in multiples of it)."""
    matmul_unit: str = ""
    """How attention matmuls (both operands activations) run, for the report's mapping."""

    @abc.abstractmethod
    def dense_timing(self, M: int, K: int, N: int) -> TileTiming:
        """A matmul whose operands are both dense on chip (dense weights, or activations for attention)."""

    def weight_operand(self, source: Any, chunk_n: int, chunk_k: int) -> Any:
        """Prepare, once per weight tensor, what :meth:`weight_gemm_timing` needs of its layout (the mapper's
        ``WeightSource`` cut into chunks ``chunk_n`` wide and ``chunk_k`` deep). Default: nothing (dense)."""
        return None

    def weight_gemm_timing(self, M: int, K: int, N: int, tile: WeightTile, *, first: bool) -> TileTiming:
        """One compute step of a weight GEMM (``M`` rows, the weight ``tile``); ``first``: the tensor's first step.

        Default: the dense timing (weights decompressed or dense on chip).
        """
        return self.dense_timing(M, K, N)

    def gemm_cycles(self, M: int, K: int, N: int) -> int | None:
        """The closed-form cycles of a whole ``M x K x N`` GEMM run on the unit in one go, against which the
        mapper's steps of an operator are reported: the operator's ``compute_cycles`` is this, and what its
        steps take beyond it (re-fills and re-preloads of the pieces the mapping cuts the GEMM into) is its
        ``mapping_overhead_cycles``. Default None: the kind's steps add up exactly (no overhead reported)."""
        return None

    # -- the per-cycle reference (the whole-run reference composes these; slow, small shapes only) ---------
    def reference_dense(self, M: int, K: int, N: int, rng: np.random.Generator) -> TileTiming:
        """What :meth:`dense_timing` describes, measured by running the kind's per-cycle stepper on random
        operands of that shape (cycles and the actions it counted). Kinds without a stepper raise."""
        raise NotImplementedError(f"compute kind {self.kind!r} has no per-cycle reference stepper")

    def reference_weight_gemm(self, M: int, K: int, N: int, tile: WeightTile, *, first: bool,
                              rng: np.random.Generator) -> TileTiming:
        """What :meth:`weight_gemm_timing` describes, measured by the kind's per-cycle stepper on random
        operands with the tile's layout (e.g. GOBO's outlier count per block). Default: the dense reference."""
        return self.reference_dense(M, K, N, rng)

    @abc.abstractmethod
    def sub_tiles(self, M: int, N: int) -> list[tuple[int, int, int, int]]:
        """Split one weight chunk's output (``M x N``) into compute steps ``(m0, m1, n0, n1)`` so that the
        vector epilogue of one overlaps the next one's compute."""

    @abc.abstractmethod
    def gemm_sram_reads(self, w_chunk_bytes: int, M: int, K: int, N: int,
                        tile: WeightTile | None = None) -> tuple[int, int]:
        """(weight-buffer bytes read, activation-buffer bytes read) of one weight-GEMM step, by the unit's reuse
        (``tile``: the step's weight tile, for data-dependent reads such as GOBO's outlier unit)."""

    def dense_sram_reads(self, M: int, K: int, N: int) -> int:
        """Activation-buffer bytes an attention matmul (both operands activations) reads. Default: each operand
        once (the unit keeps what it reuses)."""
        return (M * K + K * N) * self.act_bytes


class Datapath(Protocol):
    """The functional dataflow of a compute kind: integer GEMMs as the hardware computes them."""

    name: str
    """Short name reported as ``functional.engine``."""
    key: tuple[Any, ...]
    """A hashable identity (name and parameters), for caching integer models per datapath."""

    def linear(self, x: np.ndarray, lin: Any, in_bits: int) -> tuple[np.ndarray, str] | None:
        """``x @ W^T`` for an integer linear ``lin`` on this datapath: (int64 result, how), or None when this
        datapath leaves the product to the reference kernel."""
        ...

    def bmm(self, a: np.ndarray, b: np.ndarray, in_bits: int) -> np.ndarray | None:
        """``a @ b`` of activations (attention) on this datapath, or None (computed by the reference kernel)."""
        ...


class ActivationFormat(Protocol):
    """How a design stores the activations its GEMMs read (the GEMM-input points of the integer pipeline: Q, K,
    V, context, LayerNorm and GELU outputs, a ViT's patches), where that is not the pipeline's int8.

    The integer encoder requantizes such a point (dyadic rescale) to a wide integer at the format's scale and
    hands it to :meth:`snap`, which puts it on the format's grid with integer operations only; the values stay
    in an int8 container (the datapath's declared operand width), their ``bits`` are what the buffers hold.
    """

    @property
    def name(self) -> str:
        """Short name, reported in the functional notes (e.g. "ovp4")."""
        ...

    @property
    def key(self) -> tuple[Any, ...]:
        """A hashable identity (name and parameters), for caching integer models per format."""
        ...

    @property
    def bits(self) -> int:
        """Stored bits per activation element (4 for OliVe's pairs and OLAccel's dense nibbles)."""
        ...

    def calibrate(self, samples: np.ndarray) -> float:
        """The per-tensor scale of one point from its calibration values (float ``[tokens, width]``, the real
        tokens of the calibration batch)."""
        ...

    def snap(self, v: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
        """Integers ``v`` at the calibrated scale (int64, not yet saturated, last axis the hidden one) -> the
        format's integers (int64, fitting int8) and counts for the report (e.g. outliers, clipped)."""
        ...


class ComputeKind(abc.ABC):
    """One compute-kind plug-in (see the module docstring). Subclass it and register an instance."""

    name: ClassVar[str]
    """The ``compute.kind`` value."""
    config: ClassVar[type[ComputeConfig]]
    """The compute section's spec class (its ``kind`` field's choices must be ``(name,)``)."""
    actions: ClassVar[tuple[str, ...]]
    """The action names the unit's timing counts (priced by :meth:`estimator`)."""
    weight_formats: ClassVar[Mapping[str, str]]
    """Weight format -> "native" (computed on directly) or "decompressed" (decoded on chip to the unit's
    operand width by the decompressor)."""
    operand_bits: ClassVar[int]
    """Bits of one weight operand as the unit consumes it (what a decompressor produces)."""
    description: ClassVar[str] = ""

    # -- configuration ---------------------------------------------------------------------------------
    def peak_macs_per_cycle(self, compute: ComputeConfig) -> int:
        """Peak products per cycle of a compute section."""
        return compute.peak_macs_per_cycle()

    def check(self, hw: HardwareConfig) -> Checks:
        """Semantic checks across sections: (dotted key, message) per problem. Default: the weight format."""
        fmt = hw.weights.format
        if fmt not in self.weight_formats:
            allowed = " or ".join(self.weight_formats)
            yield "weights.format", (f"compute.kind {self.name} computes on {allowed} weights, got '{fmt}'")

    @abc.abstractmethod
    def min_weight_tile_bytes(self, hw: HardwareConfig) -> int:
        """Bytes of the smallest weight tile the compute engine works on (one array/tile fill)."""

    # -- timing and mapping ----------------------------------------------------------------------------
    @abc.abstractmethod
    def unit(self, hw: HardwareConfig) -> MatrixUnit:
        """The design's matrix unit (timing + mapping hooks)."""

    # -- cost --------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def estimator(self, hw: HardwareConfig, tech: Tech) -> ComponentModel:
        """Energy per action, area and leakage of the compute engine at ``tech``'s node."""

    # -- resizing (iso-area / iso-peak comparisons) ------------------------------------------------------
    @abc.abstractmethod
    def size(self, compute: ComputeConfig) -> int:
        """The integer size knob iso-area comparisons bisect on (tiles, units, the array side)."""

    @abc.abstractmethod
    def with_size(self, compute: ComputeConfig, size: int) -> ComputeConfig:
        """A copy of the compute section with its size knob set to ``size`` (>= 1)."""

    def resize_to_peak(self, compute: ComputeConfig, target_peak: float) -> ComputeConfig:
        """A copy resized so its peak is as close to ``target_peak`` as the size granularity allows.

        Default: the peak is linear in the size knob (tiles, units).
        """
        per_unit = compute.peak_macs_per_cycle() / self.size(compute)
        return self.with_size(compute, max(1, round(target_peak / per_unit)))

    # -- functional dataflow ----------------------------------------------------------------------------
    def datapath(self, hw: HardwareConfig) -> Datapath | None:
        """The integer datapath of the design, or None where the engine is not integer (fp16)."""
        return None

    def default_datapath(self) -> Datapath | None:
        """The datapath used for this kind's native weight format when no design is given (``encode``)."""
        return None

    def activation_format(self, hw: HardwareConfig) -> ActivationFormat | None:
        """The design's GEMM-input activation format, or None: the integer pipeline's int8 (max-abs scales). A
        kind with one selects it in its own compute section (OliVe, OLAccel: ``compute.act_bits``)."""
        return None

    def datapath_int8_activations(self, hw: HardwareConfig) -> Datapath | None:
        """The datapath with int8 activations, for a pipeline that has no activation formats (the decoder
        pass). Default: :meth:`datapath` (a kind without an activation format)."""
        return self.datapath(hw)

    def functional_notes(self, hw: HardwareConfig) -> list[str]:
        """What the functional pass approximates for this design (reported in ``functional.notes``)."""
        return []

    def replace(self, compute: ComputeConfig, **changes: Any) -> ComputeConfig:
        """``dataclasses.replace`` for a compute section (a helper for :meth:`with_size`)."""
        return dataclasses.replace(compute, **changes)
