"""Area and energy of the ternary tiles, from the technology table's unit areas and energies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.compute.ternary.config import TernaryCompute
from sim.compute.ternary.timing import ACC_BITS, ACT_BITS, WEIGHT_BITS
from sim.cost.components import ComponentModel, logic_model, parts_um2
from sim.cost.tech import Tech

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig


def ternary_pe_parts_um2(c: TernaryCompute, t: Tech) -> dict[str, float]:
    """One PE before the overhead factor (part -> um^2): ``rows`` add/subtract lanes, each a 32-bit adder
    (``add_int32``) with a conditional inverter on its activation input (``logic_int32``: 32 XOR bits, the
    subtract), its int32 accumulator and shadow register; the 2-bit weight register."""
    r = c.rows_per_pe
    return parts_um2(t, {"adders": ("add_int32", r), "inverters": ("logic_int32", r)},
                     {"accumulators": ACC_BITS * r, "shadow": ACC_BITS * r, "weight_register": WEIGHT_BITS})


def ternary_estimator(hw: HardwareConfig, t: Tech) -> ComponentModel:
    """``tiles x pes`` PEs plus one activation broadcast register (``rows`` x 8 bits) per tile."""
    c = hw.compute
    assert isinstance(c, TernaryCompute)
    e = t.energy_pj
    energies = {"addsub_int32": e("add_int32") + e("logic_int32"), "reg_bits": e("reg_bit"),
                "add_int32": e("add_int32")}
    basis = {"addsub_int32": "energy.add_int32 + energy.logic_int32 (the add and the conditional inversion)",
             "reg_bits": "energy.reg_bit per bit written",
             "add_int32": "energy.add_int32 (K-chunk partial-sum merges)"}
    blocks = [("pe", c.tiles * c.pes_per_tile, ternary_pe_parts_um2(c, t)),
              ("broadcast", c.tiles, parts_um2(t, {}, {"activation_register": ACT_BITS * c.rows_per_pe}))]
    return logic_model("ternary", "compute", t, energies, basis, blocks)
