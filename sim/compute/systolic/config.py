"""The ``compute:`` section of a systolic-array design (``kind: systolic``)."""

from __future__ import annotations

from dataclasses import dataclass

from sim.compute.base import ComputeConfig
from sim.compute.systolic.timing import FOLD_SCHEDULES
from sim.config.schema import spec_field


@dataclass(frozen=True, kw_only=True)
class SystolicCompute(ComputeConfig):
    """TPU-like systolic array of int8 MACs with int32 accumulators (see docs/hw/systolic.md)."""

    kind: str = spec_field(doc="compute kind", choices=("systolic",))
    rows: int = spec_field(doc="PE rows of the array", ge=1, le=1 << 14)
    cols: int = spec_field(doc="PE columns of the array", ge=1, le=1 << 14)
    dataflow: str = spec_field(
        "ws", doc="ws (weight-), os (output-) or is (input-stationary)", choices=("ws", "os", "is"))
    fold_schedule: str | None = spec_field(
        None, choices=FOLD_SCHEDULES,
        doc=("how consecutive folds of a GEMM share the array: preload-overlap (a fold's stationary transfer "
             "hidden under its neighbour; each fold pays its own fill and drain), serial (nothing hidden), "
             "pipelined (folds back to back, the next tile shifted in behind the wavefront: TPUv1), scalesim "
             "(SCALE-Sim 3.0.0's compute-cycle count); default preload-overlap, or serial when "
             "weight_preload_overlap is false"))
    weight_preload_overlap: bool | None = spec_field(
        None, doc=("older form of fold_schedule: true = preload-overlap, false = serial; may be given with "
                   "fold_schedule only where they agree (true: preload-overlap or pipelined; false: serial "
                   "or scalesim)"))

    @property
    def schedule(self) -> str:
        """The fold schedule in effect (``fold_schedule``, else derived from ``weight_preload_overlap``)."""
        if self.fold_schedule is not None:
            return self.fold_schedule
        return "serial" if self.weight_preload_overlap is False else "preload-overlap"

    def peak_macs_per_cycle(self) -> int:
        """MACs per cycle with every PE busy."""
        return self.rows * self.cols
