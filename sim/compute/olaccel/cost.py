"""Area and energy of the OLAccel lane groups, bottom-up from the technology table (see docs/hw/olaccel.md).

One group: ``rows x lanes`` dense lanes, each a 4-bit x ``act_bits`` multiplier (``mul_int4x4`` or
``mul_int4x8``), an int32 accumulate adder, a 4-bit weight operand register and a 32-bit accumulator; per lane
row one outlier-weight MAC with an 8-bit weight register and a lane index register (``ceil(log2 lanes)`` bits),
and the row's ``act_bits`` broadcast activation register. The outlier-weight MAC multiplies an int8 weight by the
lane row's activation: int8 x int8 (``mac_int8_acc32``) with int8 activations, or with 4-bit activations when the
outlier-activation unit leaves the outlier weights to it (``act_outlier_weight_bits: 4``); otherwise int8 x 4-bit
(``mul_int4x8`` + ``add_int32``).

With 4-bit activations a group also has an outlier-activation unit: ``act_outlier_macs`` multipliers of the int8
activation by the unit's weight operand (``mul_int8`` for 8-bit weights, ``mul_int4x8`` for 4-bit ones), one int32
adder each that merges the product into its partial sum, a ``weight_bits + 32``-bit operand and product register
each, and one 8-bit activation register.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sim.compute.olaccel.config import OlaccelCompute
from sim.cost.components import ComponentModel, logic_model, parts_um2
from sim.cost.tech import Tech

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig


def _outlier_mac_parts(c: OlaccelCompute) -> tuple[str, ...]:
    """Table entries of one outlier-weight MAC (multiplier + accumulate adder, or the int8 MAC)."""
    if c.act_outliers and c.act_outlier_weight_bits == 8:
        return ("mul_int4x8", "add_int32")
    return ("mac_int8_acc32",)


def _act_unit_multiplier(c: OlaccelCompute) -> str:
    return "mul_int8" if c.act_outlier_weight_bits == 8 else "mul_int4x8"


def olaccel_group_parts_um2(c: OlaccelCompute, t: Tech) -> dict[str, float]:
    """One lane group before the placement overhead (part -> um^2)."""
    lanes = c.rows * c.lanes
    index_bits = max(1, math.ceil(math.log2(c.lanes)))
    units = {"lane_multipliers": ("mul_int4x4" if c.act_outliers else "mul_int4x8", lanes),
             "lane_adders": ("add_int32", lanes)}
    outlier = _outlier_mac_parts(c)
    if len(outlier) == 1:
        units["outlier_macs"] = (outlier[0], c.rows)
    else:
        units["outlier_macs.multipliers"] = (outlier[0], c.rows)
        units["outlier_macs.adders"] = (outlier[1], c.rows)
    regs = {"lane_registers": lanes * (4 + 32), "outlier_registers": c.rows * (8 + index_bits),
            "activation_registers": c.rows * c.act_bits}
    if c.act_outliers:
        units["act_outlier_multipliers"] = (_act_unit_multiplier(c), c.act_outlier_macs)
        units["act_outlier_merge_adders"] = ("add_int32", c.act_outlier_macs)
        regs["act_outlier_registers"] = c.act_outlier_macs * (c.act_outlier_weight_bits + 32) + 8
    return parts_um2(t, units, regs)


def olaccel_estimator(hw: HardwareConfig, t: Tech) -> ComponentModel:
    """``groups`` lane groups."""
    c = hw.compute
    assert isinstance(c, OlaccelCompute)
    e = t.energy_pj
    outlier = _outlier_mac_parts(c)
    energies = {"mac_w4a8": e("mul_int4x8") + e("add_int32"), "mac_w4a4": e("mul_int4x4") + e("add_int32"),
                "mac_outlier": sum(e(p) for p in outlier),
                "mac_act_outlier": e(_act_unit_multiplier(c)), "merge_act_outlier": e("add_int32"),
                "add_int32": e("add_int32"), "reg_bits": e("reg_bit")}
    basis = {"mac_w4a8": "energy.mul_int4x8 + energy.add_int32 (4-bit weight x int8 activation lane)",
             "mac_w4a4": "energy.mul_int4x4 + energy.add_int32 (4-bit weight x 4-bit activation lane)",
             "mac_outlier": " + ".join(f"energy.{p}" for p in outlier) + " (int8 outlier weight x the row's "
             + ("4-bit activation)" if outlier[0] == "mul_int4x8" else "int8 activation)"),
             "mac_act_outlier": f"energy.{_act_unit_multiplier(c)} (int8 outlier activation x "
             f"{c.act_outlier_weight_bits}-bit weight on the outlier-activation unit)",
             "merge_act_outlier": "energy.add_int32 (an outlier-activation product added into its partial sum)",
             "add_int32": "energy.add_int32", "reg_bits": "energy.reg_bit per bit written"}
    return logic_model("olaccel", "compute", t, energies, basis, [("group", c.groups, olaccel_group_parts_um2(c, t))])
