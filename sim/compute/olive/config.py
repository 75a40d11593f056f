"""The ``compute:`` section of an OliVe design (``kind: olive``)."""

from __future__ import annotations

from dataclasses import dataclass

from sim.compute.base import ComputeConfig
from sim.compute.systolic.timing import FOLD_SCHEDULES
from sim.config.schema import spec_field


@dataclass(frozen=True, kw_only=True)
class OliveCompute(ComputeConfig):
    """A systolic array of OliVe PEs (4-bit OVP weight x int8 or 4-bit OVP activation, int32 accumulators) with
    OVP pair decoders at the array edge (see docs/hw/olive.md)."""

    kind: str = spec_field(doc="compute kind", choices=("olive",))
    rows: int = spec_field(doc="PE rows of the array (even: a weight pair spans two PE rows)", ge=2, le=1 << 14)
    cols: int = spec_field(doc="PE columns of the array", ge=1, le=1 << 14)
    dataflow: str = spec_field("ws", doc="ws (weight-stationary: the decoded pairs are preloaded into the PEs)",
                               choices=("ws",))
    fold_schedule: str = spec_field(
        "preload-overlap", choices=FOLD_SCHEDULES,
        doc="how consecutive folds share the array, as compute.fold_schedule of a systolic design")
    act_bits: int = spec_field(8, doc="activation bits: 4 (OliVe's OVP activations, one scale per tensor, 4-bit x "
                               "4-bit PEs) or 8 (int8 activations on 4-bit x 8-bit PEs)", choices=(4, 8))

    def peak_macs_per_cycle(self) -> int:
        """Products per cycle with every PE busy."""
        return self.rows * self.cols
