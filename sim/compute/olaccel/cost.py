"""Area and energy of the OLAccel lane groups, bottom-up from the technology table (see docs/hw/olaccel.md).

One group: ``rows x lanes`` dense lanes, each a 4-bit x 8-bit multiplier (``mul_int4x8``), an int32 accumulate
adder, a 4-bit weight operand register and a 32-bit accumulator; per lane row one outlier MAC (``mac_int8_acc32``:
int8 outlier weight x int8 activation into the lane's accumulator) with an 8-bit weight register and a lane
index register (``ceil(log2 lanes)`` bits), and the row's 8-bit broadcast activation register.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sim.compute.olaccel.config import OlaccelCompute
from sim.cost.components import ComponentModel, logic_model, parts_um2
from sim.cost.tech import Tech

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig


def olaccel_group_parts_um2(c: OlaccelCompute, t: Tech) -> dict[str, float]:
    """One lane group before the placement overhead (part -> um^2)."""
    lanes = c.rows * c.lanes
    index_bits = max(1, math.ceil(math.log2(c.lanes)))
    return parts_um2(t, {"lane_multipliers": ("mul_int4x8", lanes), "lane_adders": ("add_int32", lanes),
                         "outlier_macs": ("mac_int8_acc32", c.rows)},
                     {"lane_registers": lanes * (4 + 32), "outlier_registers": c.rows * (8 + index_bits),
                      "activation_registers": c.rows * 8})


def olaccel_estimator(hw: HardwareConfig, t: Tech) -> ComponentModel:
    """``groups`` lane groups."""
    c = hw.compute
    assert isinstance(c, OlaccelCompute)
    e = t.energy_pj
    energies = {"mac_w4a8": e("mul_int4x8") + e("add_int32"), "mac_outlier": e("mac_int8_acc32"),
                "add_int32": e("add_int32"), "reg_bits": e("reg_bit")}
    basis = {"mac_w4a8": "energy.mul_int4x8 + energy.add_int32", "mac_outlier": "energy.mac_int8_acc32",
             "add_int32": "energy.add_int32", "reg_bits": "energy.reg_bit per bit written"}
    return logic_model("olaccel", "compute", t, energies, basis, [("group", c.groups, olaccel_group_parts_um2(c, t))])
