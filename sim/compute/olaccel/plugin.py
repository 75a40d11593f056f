"""The OLAccel compute kind as a plug-in (registered by :mod:`sim.compute.registry`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from sim.compute.base import ActivationFormat, ComputeConfig, ComputeKind
from sim.compute.olaccel.config import OlaccelCompute
from sim.compute.olaccel.cost import olaccel_estimator
from sim.compute.olaccel.dataflow import OlaccelActivations, OlaccelDatapath
from sim.compute.olaccel.unit import OlaccelUnit

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig
    from sim.cost.components import ComponentModel
    from sim.cost.tech import Tech


class OlaccelKind(ComputeKind):
    """OLAccel: 4-bit dense MAC lanes with one outlier MAC per lane row, outlier weights stored sparsely."""

    name = "olaccel"
    config = OlaccelCompute
    actions = ("mac_w4a8", "mac_w4a4", "mac_outlier", "mac_act_outlier", "merge_act_outlier", "add_int32", "reg_bits")
    weight_formats: ClassVar[dict[str, str]] = {"olaccel": "native"}
    operand_bits = 4
    description = ("OLAccel outlier-aware lanes (4-bit weights + sparse int8 outliers; int8 activations, or 4-bit "
                   "activations with int8 outliers on an outlier-activation unit)")

    def min_weight_tile_bytes(self, hw: HardwareConfig) -> int:
        """One slice of every group: ``lanes / 2`` bytes per group."""
        c = hw.compute
        assert isinstance(c, OlaccelCompute)
        return max(1, c.lanes // 2) * c.groups

    def unit(self, hw: HardwareConfig) -> OlaccelUnit:
        """The lane groups as the mapper sees them."""
        c = hw.compute
        assert isinstance(c, OlaccelCompute)
        return OlaccelUnit(c)

    def estimator(self, hw: HardwareConfig, tech: Tech) -> ComponentModel:
        """The lane groups."""
        return olaccel_estimator(hw, tech)

    def size(self, compute: ComputeConfig) -> int:
        """The group count."""
        assert isinstance(compute, OlaccelCompute)
        return compute.groups

    def with_size(self, compute: ComputeConfig, size: int) -> ComputeConfig:
        """``size`` groups."""
        return self.replace(compute, groups=max(1, size))

    def datapath(self, hw: HardwareConfig) -> OlaccelDatapath:
        """Dense lanes + outlier MACs (+ the outlier activations' products under ``compute.act_bits: 4``)."""
        c = hw.compute
        assert isinstance(c, OlaccelCompute)
        return OlaccelDatapath(c.act_bits)

    def datapath_int8_activations(self, hw: HardwareConfig) -> OlaccelDatapath:
        """The lanes with int8 activations (W4A8), for a pipeline without activation formats."""
        return OlaccelDatapath(8)

    def activation_format(self, hw: HardwareConfig) -> ActivationFormat | None:
        """4-bit dense activations with int8 outlier activations under ``compute.act_bits: 4`` (the calibrated
        outlier share is ``compute.act_outlier_fraction``, the same the timing spreads)."""
        c = hw.compute
        assert isinstance(c, OlaccelCompute)
        return OlaccelActivations(c.act_outlier_fraction) if c.act_bits == 4 else None

    def default_datapath(self) -> OlaccelDatapath:
        """The OLAccel format's reference datapath."""
        return OlaccelDatapath()

    def functional_notes(self, hw: HardwareConfig) -> list[str]:
        """What the functional model uses."""
        common = ("weights: 4-bit dense + sparse int8 outliers (3% per output channel); embedding tables int8 per "
                  "channel")
        c = hw.compute
        assert isinstance(c, OlaccelCompute)
        if c.act_bits == 4:
            return [common, "activations: 4-bit dense (-7..7) at every GEMM input, one scale per tensor = the "
                    f"calibration batch's {100 * (1 - c.act_outlier_fraction):g}% quantile of |x| / 7.5 (as the "
                    "weights; compute.act_outlier_fraction), the larger ones outlier "
                    "activations kept as int8 at the same scale (clipped to +-127), snapped integer-only after the "
                    "dyadic requantization; linears: dense lanes, weight-outlier MACs and the outlier activations' "
                    "products computed apart and merged; GELU output symmetric",
                    "attention: Q, K, V in the same format, softmax probabilities kept uint8 (I-BERT's 8-bit "
                    "softmax); attention matmuls computed as two nibble passes of the second operand (the same "
                    "integers as the four passes of both operands' nibbles that the timing charges on the 4-bit x "
                    "4-bit lanes)"]
        return [common, "activations: int8 (the integer pipeline's; compute.act_bits: 4 selects OLAccel's "
                "4-bit activations with int8 outlier activations); attention matmuls as two nibble passes"]


KIND = OlaccelKind()
