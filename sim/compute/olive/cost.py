"""Area and energy of the OliVe array, bottom-up from the technology table's units (see docs/hw/olive.md).

One PE: a 4-bit x 8-bit multiplier (``mul_int4x8``; the decoded weight is a 4-bit integer, or an outlier's
2-bit mantissa), the outlier shifter (the 12-bit product shifted left by 0, 2, 3, 4 or 5 into the accumulator:
3 levels of 17 two-input muxes, priced as ``shift_int32`` (5 levels of 32) times 51/160, the mux-count ratio),
the int32 accumulate adder, and registers: the decoded weight (4-bit value + 3-bit shift, doubled for the
shadow bank under preload-overlap and pipelined schedules), the forwarded int8 activation, the 32-bit partial
sum. One pair decoder per PE column at the top edge (two marker compares and the mantissa/shift select of two
4-bit codes, priced as ``decoder_index``'s area and one ``add_int8`` of energy per pair). ``cols`` int32
accumulator adders below the array, as the systolic array.
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

DECODED_WEIGHT_BITS = 4 + 3
"""A decoded weight in a PE: a 4-bit signed value (integer or mantissa) and a 3-bit shift amount (unit: bits)."""


def olive_pe_parts_um2(c: OliveCompute, t: Tech) -> dict[str, float]:
    """One OliVe PE before the placement overhead (part -> um^2)."""
    wbits = DECODED_WEIGHT_BITS * (2 if c.fold_schedule in ("preload-overlap", "pipelined") else 1)
    parts = parts_um2(t, {"multiplier": ("mul_int4x8", 1), "accumulate": ("add_int32", 1)},
                      {"weight_registers": wbits, "operand_register": 8, "psum_register": 32})
    parts["shifter"] = SHIFTER_MUX_RATIO * t.area_um2("shift_int32")
    return parts


def olive_estimator(hw: HardwareConfig, t: Tech) -> ComponentModel:
    """The OliVe array: ``rows x cols`` PEs, ``cols`` pair decoders and ``cols`` accumulator adders."""
    c = hw.compute
    assert isinstance(c, OliveCompute)
    e = t.energy_pj
    mac = e("mul_int4x8") + e("add_int32") + SHIFTER_MUX_RATIO * e("shift_int32")
    energies = {"mac_w4a8": mac, "add_int32": e("add_int32"), "reg_bits": e("reg_bit"),
                "decode_pairs": e("add_int8")}
    basis = {"mac_w4a8": "energy.mul_int4x8 + energy.add_int32 + 51/160 x energy.shift_int32 (the 17-bit 3-level "
                         "outlier shifter, charged on every product: an upper bound, normal weights shift by 0)",
             "add_int32": "energy.add_int32", "reg_bits": "energy.reg_bit per bit written",
             "decode_pairs": "energy.add_int8 per pair (assumed: two 4-bit marker compares + a mantissa/shift "
                             "select, taken as one 8-bit add)"}
    blocks = [("pe", c.rows * c.cols, olive_pe_parts_um2(c, t)),
              ("decoders", c.cols, {"pair_decoder": t.area_um2("decoder_index")}),
              ("accumulators", c.cols, {"adders": t.area_um2("add_int32")})]
    return logic_model("olive", "compute", t, energies, basis, blocks)
