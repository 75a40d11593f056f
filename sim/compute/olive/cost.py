"""Area and energy of the OliVe array, bottom-up from the technology table's units (see docs/hw/olive.md).

One PE, int8 activations (``compute.act_bits: 8``): a 4-bit x 8-bit multiplier (``mul_int4x8``; the
decoded weight is a 4-bit integer, or an outlier's 2-bit mantissa), the outlier shifter (the 12-bit product
shifted left by 0, 2, 3, 4 or 5 into the accumulator: 3 levels of 17 two-input muxes, priced as ``shift_int32``
(5 levels of 32) times 51/160, the mux-count ratio), the int32 accumulate adder, and registers: the decoded
weight (4-bit value + 3-bit shift, doubled for the shadow bank under preload-overlap and pipelined schedules),
the forwarded int8 activation, the 32-bit partial sum.

One PE, 4-bit OVP activations (``compute.act_bits: 4``): both operands are decoded OVP values (a 4-bit integer
or an outlier's mantissa, and a shift of 0, 2, 3, 4 or 5), so the PE is a 4-bit x 4-bit multiplier
(``mul_int4x4``), a 3-bit adder of the two shift amounts (0..10; priced as 3/8 of ``add_int8``) and one shifter
of the 8-bit product by 0..10 into the accumulator (4 levels of 18 two-input muxes: 72/160 of
``shift_int32``); the forwarded activation register holds the decoded 4-bit value + 3-bit shift (7 bits).
The pair decoders: one per PE column at the top edge for the weights (two marker compares and the
mantissa/shift select of two 4-bit codes, priced as ``decoder_index``'s area and one ``add_int8`` of energy
per pair), and under OVP activations one per two PE rows at the left edge for the streamed activations (area
only: the timing counts no activation decodes, see docs/hw/olive.md). ``cols`` int32 accumulator adders
below the array, as the systolic array.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.compute.olive.config import OliveCompute
from sim.cost.components import ComponentModel, logic_model, parts_um2
from sim.cost.tech import Tech

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig

SHIFTER_MUX_RATIO = (17 * 3) / (32 * 5)
"""The PE's outlier shifter (17 bits x 3 levels of 2:1 muxes) over a 32-bit 5-level barrel shifter (the table's
``shift_int32``): its energy and area are taken in proportion to the mux count (derived, dimensionless)."""

SHIFTER_MUX_RATIO_A4 = (18 * 4) / (32 * 5)
"""Under OVP activations: the 8-bit product shifted by the sum of both operands' shifts (0..10: 4 levels, 18
output bits) over ``shift_int32``'s 5 levels of 32 (derived, dimensionless)."""

SHIFT_ADDER_RATIO = 3 / 8
"""The 3-bit adder of the two shift amounts as a fraction of ``add_int8`` (derived: bit-count ratio)."""

DECODED_WEIGHT_BITS = 4 + 3
"""A decoded weight in a PE: a 4-bit signed value (integer or mantissa) and a 3-bit shift amount (unit: bits)."""

DECODED_ACT_BITS = 4 + 3
"""A decoded OVP activation forwarded between PEs: 4-bit value + 3-bit shift (unit: bits)."""


def _ovp_acts(hw: HardwareConfig) -> bool:
    c = hw.compute
    assert isinstance(c, OliveCompute)
    return c.act_bits == 4


def olive_pe_parts_um2(c: OliveCompute, t: Tech, act_bits: int = 8) -> dict[str, float]:
    """One OliVe PE before the placement overhead (part -> um^2); ``act_bits`` 4: the 4x4 PE of OVP activations."""
    wbits = DECODED_WEIGHT_BITS * (2 if c.fold_schedule in ("preload-overlap", "pipelined") else 1)
    if act_bits == 4:
        parts = parts_um2(t, {"multiplier": ("mul_int4x4", 1), "accumulate": ("add_int32", 1)},
                          {"weight_registers": wbits, "operand_register": DECODED_ACT_BITS, "psum_register": 32})
        parts["shifter"] = SHIFTER_MUX_RATIO_A4 * t.area_um2("shift_int32")
        parts["shift_adder"] = SHIFT_ADDER_RATIO * t.area_um2("add_int8")
        return parts
    parts = parts_um2(t, {"multiplier": ("mul_int4x8", 1), "accumulate": ("add_int32", 1)},
                      {"weight_registers": wbits, "operand_register": 8, "psum_register": 32})
    parts["shifter"] = SHIFTER_MUX_RATIO * t.area_um2("shift_int32")
    return parts


def olive_estimator(hw: HardwareConfig, t: Tech) -> ComponentModel:
    """The OliVe array: ``rows x cols`` PEs, ``cols`` weight pair decoders (+ ``rows / 2`` activation pair
    decoders under OVP activations) and ``cols`` accumulator adders."""
    c = hw.compute
    assert isinstance(c, OliveCompute)
    e = t.energy_pj
    a4 = _ovp_acts(hw)
    if a4:
        mac = (e("mul_int4x4") + e("add_int32") + SHIFTER_MUX_RATIO_A4 * e("shift_int32")
               + SHIFT_ADDER_RATIO * e("add_int8"))
        mac_basis = ("energy.mul_int4x4 + energy.add_int32 + 72/160 x energy.shift_int32 (the 8-bit product "
                     "shifted by both operands' shifts, 0..10, 4 levels of 18 muxes) + 3/8 x energy.add_int8 (the "
                     "shift adder), charged on every product: an upper bound, normal values shift by 0; the "
                     "action keeps its W4A8 name")
    else:
        mac = e("mul_int4x8") + e("add_int32") + SHIFTER_MUX_RATIO * e("shift_int32")
        mac_basis = ("energy.mul_int4x8 + energy.add_int32 + 51/160 x energy.shift_int32 (the 17-bit 3-level "
                     "outlier shifter, charged on every product: an upper bound, normal weights shift by 0)")
    energies = {"mac_w4a8": mac, "add_int32": e("add_int32"), "reg_bits": e("reg_bit"),
                "decode_pairs": e("add_int8")}
    basis = {"mac_w4a8": mac_basis,
             "add_int32": "energy.add_int32", "reg_bits": "energy.reg_bit per bit written",
             "decode_pairs": "energy.add_int8 per pair (assumed: two 4-bit marker compares + a mantissa/shift "
                             "select, taken as one 8-bit add)"}
    decoders = c.cols + (c.rows // 2 if a4 else 0)
    blocks = [("pe", c.rows * c.cols, olive_pe_parts_um2(c, t, c.act_bits)),
              ("decoders", decoders, {"pair_decoder": t.area_um2("decoder_index")}),
              ("accumulators", c.cols, {"adders": t.area_um2("add_int32")})]
    return logic_model("olive", "compute", t, energies, basis, blocks)
