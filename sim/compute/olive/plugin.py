"""The OliVe compute kind as a plug-in (registered by :mod:`sim.compute.registry`).

A systolic variant with its own weight format rather than a ``systolic`` option: the PEs (4-bit x 8-bit with an
outlier shifter, or 4-bit x 4-bit with both operands' shifts under OVP activations), the edge decoders, the
packed on-chip weights and the two-pass attention matmuls change the cost, the mapping's weight bytes and the
functional datapath; the fold timing is the systolic array's (:mod:`.timing`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from sim.compute.base import ActivationFormat, Checks, ComputeConfig, ComputeKind
from sim.compute.olive.config import OliveCompute
from sim.compute.olive.cost import olive_estimator
from sim.compute.olive.dataflow import OliveDatapath, OvpActivations
from sim.compute.olive.unit import OliveUnit
from sim.compute.systolic.timing import SystolicParams

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig
    from sim.cost.components import ComponentModel
    from sim.cost.tech import Tech


class OliveKind(ComputeKind):
    """OliVe: OVP-quantized 4-bit weights on a systolic array with pair decoders at its edge."""

    name = "olive"
    config = OliveCompute
    actions = ("mac_w4a8", "add_int32", "reg_bits", "decode_pairs")
    weight_formats: ClassVar[dict[str, str]] = {"olive": "native"}
    operand_bits = 4
    description = "OliVe outlier-victim pair array (4-bit OVP weights x 4-bit OVP or int8 activations)"

    def check(self, hw: HardwareConfig) -> Checks:
        """OVP weights; an even PE row count; the output buffer holds one int32 row of the array."""
        yield from super().check(hw)
        c = hw.compute
        assert isinstance(c, OliveCompute)
        if c.rows % 2:
            yield "compute.rows", f"must be even (an OVP weight pair spans two PE rows), got {c.rows}"
        out = hw.buffers.get("outputs")
        if out is not None and out.capacity_bytes < c.cols * 4:
            yield "buffers.outputs.capacity_bytes", (f"must hold at least one int32 row of the array "
                                                     f"({c.cols * 4} bytes), got {out.capacity_bytes}")

    def min_weight_tile_bytes(self, hw: HardwareConfig) -> int:
        """One fold of packed pairs: ``rows/2 x cols`` bytes."""
        c = hw.compute
        assert isinstance(c, OliveCompute)
        return max(1, c.rows // 2) * c.cols

    def params(self, c: OliveCompute) -> SystolicParams:
        """The array's fold-timing parameters."""
        return SystolicParams(c.rows, c.cols, "ws", c.fold_schedule)

    def unit(self, hw: HardwareConfig) -> OliveUnit:
        """The array as the mapper sees it."""
        c = hw.compute
        assert isinstance(c, OliveCompute)
        return OliveUnit(self.params(c))

    def estimator(self, hw: HardwareConfig, tech: Tech) -> ComponentModel:
        """PEs, edge decoders, accumulator adders."""
        return olive_estimator(hw, tech)

    def size(self, compute: ComputeConfig) -> int:
        """The array's row count."""
        assert isinstance(compute, OliveCompute)
        return compute.rows

    def with_size(self, compute: ComputeConfig, size: int) -> ComputeConfig:
        """``size`` rows rounded up to even, the aspect ratio kept."""
        assert isinstance(compute, OliveCompute)
        rows = max(2, size + (size % 2))
        return self.replace(compute, rows=rows, cols=max(1, round(rows * compute.cols / compute.rows)))

    def resize_to_peak(self, compute: ComputeConfig, target_peak: float) -> ComputeConfig:
        """A square-ish array with an even row count."""
        assert isinstance(compute, OliveCompute)
        side = max(2, 2 * round(math.sqrt(target_peak * compute.rows / compute.cols) / 2))
        return self.replace(compute, rows=side, cols=max(1, round(target_peak / side)))

    def datapath(self, hw: HardwareConfig) -> OliveDatapath:
        """GEMMs on the decoded pairs, fold by fold."""
        c = hw.compute
        assert isinstance(c, OliveCompute)
        return OliveDatapath(c.rows, c.act_bits)

    def datapath_int8_activations(self, hw: HardwareConfig) -> OliveDatapath:
        """The array with int8 activations (W4A8), for a pipeline without activation formats."""
        c = hw.compute
        assert isinstance(c, OliveCompute)
        return OliveDatapath(c.rows, 8)

    def activation_format(self, hw: HardwareConfig) -> ActivationFormat | None:
        """OVP activations (one scale per tensor, pairs along the hidden axis) under ``compute.act_bits: 4``."""
        c = hw.compute
        assert isinstance(c, OliveCompute)
        return OvpActivations() if c.act_bits == 4 else None

    def default_datapath(self) -> OliveDatapath:
        """The OVP format's reference datapath without a design: a 64-row array."""
        return OliveDatapath(64)

    def functional_notes(self, hw: HardwareConfig) -> list[str]:
        """What the functional model uses."""
        common = ("weights: 4-bit OVP pairs, one scale per output channel; embedding tables int8 per channel "
                  "(the embedding sum and residual stream are 22-bit integers as in the integer pipeline)")
        c = hw.compute
        assert isinstance(c, OliveCompute)
        if c.act_bits == 4:
            return [common, "activations: 4-bit OVP (OliVe's activation quantization) at every GEMM input (Q, K, V, "
                    "context, LayerNorm and GELU outputs), one scale per tensor from the OVP scale search on the "
                    "calibration batch, pairs along the hidden axis, snapped integer-only after the dyadic "
                    "requantization; the pair bytes are encoded and decoded at the array edge; GELU output "
                    "symmetric (OVP has no zero point)",
                    "attention: Q K^T on OVP x OVP in one pass; softmax probabilities kept uint8 (I-BERT's "
                    "8-bit softmax), P V as two unsigned nibble passes of P against OVP V"]
        return [common, "activations: int8 (the integer pipeline's calibrated per-tensor max-abs scales; "
                "compute.act_bits: 4 selects OliVe's 4-bit OVP activations); attention matmuls as two "
                "nibble passes of the 4-bit weight port"]


KIND = OliveKind()
