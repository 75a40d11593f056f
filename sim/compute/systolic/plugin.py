"""The systolic-array compute kind as a plug-in (registered by :mod:`sim.compute.registry`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from sim.compute.base import Checks, ComputeConfig, ComputeKind
from sim.compute.systolic.config import SystolicCompute
from sim.compute.systolic.cost import systolic_estimator
from sim.compute.systolic.dataflow import SystolicDatapath
from sim.compute.systolic.timing import SystolicParams
from sim.compute.systolic.unit import SystolicUnit

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig
    from sim.cost.components import ComponentModel
    from sim.cost.tech import Tech


class SystolicKind(ComputeKind):
    """TPU-like int8 systolic array."""

    name = "systolic"
    config = SystolicCompute
    actions = ("mac_int8", "add_int32", "reg_bits")
    weight_formats: ClassVar[dict[str, str]] = {"int8": "native", "gobo": "decompressed"}
    operand_bits = 8
    description = "TPU-like int8 systolic array (ws/os/is)"

    def check(self, hw: HardwareConfig) -> Checks:
        """int8 or GOBO (decompressed) weights; the output buffer holds at least one int32 row of the array."""
        c = hw.compute
        assert isinstance(c, SystolicCompute)
        if hw.weights.format not in self.weight_formats:
            yield "weights.format", ("the systolic array is int8: weights.format must be int8 or gobo "
                                     f"(decompressed on chip), got '{hw.weights.format}'")
        if c.fold_schedule is not None and c.weight_preload_overlap is not None:
            hidden = c.fold_schedule in ("preload-overlap", "pipelined")
            if hidden != c.weight_preload_overlap:
                yield "compute.weight_preload_overlap", (
                    f"is {str(c.weight_preload_overlap).lower()}, which contradicts fold_schedule "
                    f"'{c.fold_schedule}' (true goes with preload-overlap or pipelined, false with serial or "
                    "scalesim); give only fold_schedule")
        out = hw.buffers.get("outputs")
        if out is not None:
            need = c.cols * 4  # one int32 partial sum per column: the smallest accumulator tile
            if out.capacity_bytes < need:
                yield "buffers.outputs.capacity_bytes", (f"must hold at least one int32 row of the array "
                                                         f"({need} bytes), got {out.capacity_bytes}")

    def min_weight_tile_bytes(self, hw: HardwareConfig) -> int:
        """One int8 fold of the array: ``rows x cols`` bytes."""
        c = hw.compute
        assert isinstance(c, SystolicCompute)
        return c.rows * c.cols

    def params(self, c: SystolicCompute) -> SystolicParams:
        """The timing model's parameters of a compute section."""
        return SystolicParams(c.rows, c.cols, c.dataflow, c.schedule)  # type: ignore[arg-type]

    def unit(self, hw: HardwareConfig) -> SystolicUnit:
        """The array as the mapper sees it."""
        c = hw.compute
        assert isinstance(c, SystolicCompute)
        return SystolicUnit(self.params(c))

    def estimator(self, hw: HardwareConfig, tech: Tech) -> ComponentModel:
        """``rows x cols`` int8 MAC PEs plus ``cols`` accumulator adders."""
        return systolic_estimator(hw, tech)

    def size(self, compute: ComputeConfig) -> int:
        """The array's row count (the column count follows the aspect ratio)."""
        assert isinstance(compute, SystolicCompute)
        return compute.rows

    def with_size(self, compute: ComputeConfig, size: int) -> ComputeConfig:
        """``size`` rows and ``round(size * cols / rows)`` columns (the aspect ratio kept)."""
        assert isinstance(compute, SystolicCompute)
        return self.replace(compute, rows=size, cols=max(1, round(size * compute.cols / compute.rows)))

    def resize_to_peak(self, compute: ComputeConfig, target_peak: float) -> ComputeConfig:
        """A square-ish array: side ``round(sqrt(target * rows / cols))``, columns ``round(target / side)``."""
        assert isinstance(compute, SystolicCompute)
        side = max(1, round(math.sqrt(target_peak * compute.rows / compute.cols)))
        return self.replace(compute, rows=side, cols=max(1, round(target_peak / side)))

    def datapath(self, hw: HardwareConfig) -> SystolicDatapath:
        """GEMMs fold by fold over the array's PE rows."""
        c = hw.compute
        assert isinstance(c, SystolicCompute)
        return SystolicDatapath(c.rows)

    def default_datapath(self) -> SystolicDatapath:
        """The int8 format's reference datapath without a design: a 64-row array."""
        return SystolicDatapath(64)

    def functional_notes(self, hw: HardwareConfig) -> list[str]:
        """The functional model accumulates weight-stationary folds whatever the dataflow."""
        c = hw.compute
        assert isinstance(c, SystolicCompute)
        notes = []
        if c.dataflow != "ws":
            notes.append(f"dataflow {c.dataflow}: accumulation modelled fold by fold as the ws array "
                         "(the same int32 values; os accumulates per MAC, checked here per fold of rows)")
        if hw.weights.format == "gobo":
            notes.append("GOBO weights decompressed to int8 centroids + int16 outliers: 16-bit weight operands")
        return notes


KIND = SystolicKind()
