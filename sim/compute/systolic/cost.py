"""Area and energy of the systolic array's int8 MAC PEs, from the technology table's unit areas and energies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.compute.systolic.config import SystolicCompute
from sim.cost.components import ComponentModel, logic_model, parts_um2
from sim.cost.tech import Tech

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig


def systolic_pe_parts_um2(c: SystolicCompute, t: Tech) -> dict[str, float]:
    """One int8 MAC PE of the systolic array, before the overhead factor (part -> um^2): the int8 MAC
    with int32 accumulate and its registers: 8 weight bits (+8 shadow bits when the preload overlaps),
    8 forwarded-operand bits, 32 partial-sum bits (see docs/hw/systolic.md); the shadow bank exists under the
    preload-overlap and pipelined fold schedules."""
    weight_bits = 16 if c.schedule in ("preload-overlap", "pipelined") else 8
    return parts_um2(t, {"mac": ("mac_int8_acc32", 1)},
                      {"weight_registers": weight_bits, "operand_register": 8, "psum_register": 32})


def systolic_estimator(hw: HardwareConfig, t: Tech) -> ComponentModel:
    """The systolic array: ``rows x cols`` int8 MAC PEs plus ``cols`` int32 accumulator adders."""
    c = hw.compute
    assert isinstance(c, SystolicCompute)
    e = t.energy_pj
    energies = {"mac_int8": e("mac_int8_acc32"), "add_int32": e("add_int32"), "reg_bits": e("reg_bit")}
    basis = {"mac_int8": "energy.mac_int8_acc32 (= mul_int8 + add_int32)", "add_int32": "energy.add_int32",
             "reg_bits": "energy.reg_bit per bit written"}
    blocks = [("pe", c.rows * c.cols, systolic_pe_parts_um2(c, t)),
              ("accumulators", c.cols, {"adders": t.area_um2("add_int32")})]
    return logic_model("systolic", "compute", t, energies, basis, blocks)
