"""Area and energy of the BiQGEMM-style tiles, from the technology table's unit areas and energies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.compute.biqgemm.config import BiqgemmCompute
from sim.compute.biqgemm.timing import ACC_BITS, ACT_BITS, entry_bits
from sim.cost.components import ComponentModel, logic_model, parts_um2
from sim.cost.tech import Tech

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig

MUX_BITS_PER_LOGIC_INT32 = 32
"""A 2:1 multiplexer bit is priced as one bit of a 32-bit bitwise operation (``logic_int32`` / 32; assumed: the
table has no multiplexer entry, and a 2:1 mux is a few gates, as one bitwise gate per bit is)."""


def biqgemm_tile_parts_um2(c: BiqgemmCompute, t: Tech) -> dict[str, float]:
    """The per-tile shared part before the overhead factor (part -> um^2): the builder's adder trees
    (``rows x build_per_cycle`` trees of ``group_size - 1`` int16 adders), the two table buffers (``rows x 2 x
    2^mu`` entries of :func:`entry_bits`), the rows' activation group registers (``8 mu`` bits each)."""
    r, mu = c.rows_per_tile, c.group_size
    return parts_um2(t, {"builder_adders": ("add_int16", r * c.build_per_cycle * (mu - 1))},
                     {"tables": r * 2 * (1 << mu) * entry_bits(mu), "group_registers": r * ACT_BITS * mu})


def biqgemm_lane_parts_um2(c: BiqgemmCompute, t: Tech) -> dict[str, float]:
    """One lookup lane before the overhead factor (part -> um^2): per row a ``2^mu:1`` read multiplexer of
    entry-wide words (priced by :data:`MUX_BITS_PER_LOGIC_INT32`), an int32 accumulate adder, an int8 x int32
    epilogue multiplier and adder; two accumulator banks of ``planes x rows`` int32; the key register
    (``planes x mu`` bits)."""
    r, mu, q = c.rows_per_tile, c.group_size, c.planes
    mux_units = r * ((1 << mu) - 1) * entry_bits(mu) / MUX_BITS_PER_LOGIC_INT32
    return parts_um2(t, {"read_mux": ("logic_int32", mux_units), "accumulate_adders": ("add_int32", r),
                         "epilogue_multipliers": ("mul_int8x32", r), "epilogue_adders": ("add_int32", r)},
                     {"accumulators": 2 * q * r * ACC_BITS, "key_register": q * mu})


def biqgemm_estimator(hw: HardwareConfig, t: Tech) -> ComponentModel:
    """``tiles`` tiles: the shared builder and tables plus ``lanes_per_tile`` lookup lanes each."""
    c = hw.compute
    assert isinstance(c, BiqgemmCompute)
    e = t.energy_pj
    eb = entry_bits(c.group_size)
    energies = {"add_int16": e("add_int16"), "lut_write_bits": e("reg_bit"), "lut_reads": eb * e("reg_bit"),
                "add_int32": e("add_int32"), "mul_int8x32": e("mul_int8x32"), "shift_int32": e("shift_int32"),
                "reg_bits": e("reg_bit")}
    basis = {"add_int16": "energy.add_int16 (one table-builder adder)",
             "lut_write_bits": "energy.reg_bit per table bit written",
             "lut_reads": f"{eb} x energy.reg_bit (one table entry read; assumed: as the decompressor's "
                          "dictionary read)",
             "add_int32": "energy.add_int32", "mul_int8x32": "energy.mul_int8x32 (scale code x plane sum)",
             "shift_int32": "energy.shift_int32 (attention mode: the bit planes' powers of two)",
             "reg_bits": "energy.reg_bit per bit written"}
    blocks = [("tile", c.tiles, biqgemm_tile_parts_um2(c, t)),
              ("lane", c.tiles * c.lanes_per_tile, biqgemm_lane_parts_um2(c, t))]
    return logic_model("biqgemm", "compute", t, energies, basis, blocks)
