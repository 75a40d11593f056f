"""Area and energy of the GOBO PE arrays, built bottom-up from the technology table's unit areas and energies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.compute.gobo.config import GoboCompute
from sim.cost.components import ComponentModel, logic_model, parts_um2
from sim.cost.tech import Tech

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig


def gobo_pe_parts_um2(c: GoboCompute, index_bits: int, t: Tech) -> dict[str, float]:
    """One GOBO PE built from table units, before the overhead factor (part -> um^2).

    ``R = rows_per_pe`` bin sets of ``C = 2^index_bits`` int32 bins (x2 when double-buffered), R bin
    adders (one per row), ``multipliers_per_pe`` int8 x int32 centroid multipliers, a C-input int32 adder
    tree (C-1 adders) with its node registers, the outlier-merge adder and output register, C product
    registers, R int32 outlier accumulators (x2 when double-buffered), the index decoder, the index+mask
    pipeline registers and the C int8 dictionary registers (see docs/hw/gobo.md).
    """
    r, n_bins = c.rows_per_pe, 2 ** index_bits
    copies = 2 if c.double_buffered_bins else 1
    stages = c.decode_latency_cycles + c.add_latency_cycles
    units = {
        "bin_adders": ("add_int32", r),
        "tree_adders": ("add_int32", n_bins - 1),
        "merge_adder": ("add_int32", 1),
        "centroid_multipliers": ("mul_int8x32", c.multipliers_per_pe),
        "index_decoder": ("decoder_index", 1),
    }
    regs = {
        "bin_registers": r * n_bins * 32 * copies,
        "outlier_accumulators": r * 32 * copies,
        "product_registers": n_bins * 32,
        "tree_registers": (n_bins - 1) * 32,
        "output_register": 32,
        "index_pipeline_registers": (index_bits + 1) * stages,
        "dictionary_registers": n_bins * 8,
    }
    return parts_um2(t, units, regs)


def gobo_tile_parts_um2(c: GoboCompute, t: Tech) -> dict[str, float]:
    """Per-tile extras of a GOBO tile, before the overhead factor (part -> um^2): the outlier MAC unit
    (``outlier_macs_per_cycle`` int8 x int16 multipliers + int32 adders with 8 + 16 operand register
    bits each), the outlier position comparator (``outlier_positions_per_cycle`` lanes, each a 32-bit
    comparator with its 32-bit position register), the outlier activation read port (``outlier_port_bytes``
    byte lanes, each a 32-bit address adder; the bytes land in the MAC operand registers, and a lane beyond
    the MAC lanes gets its own 8-bit data register) and the activation broadcast register with its pipeline
    copies (8 bits x rows x (decode + add stages))."""
    rate = c.outlier_macs_per_cycle
    lanes = c.outlier_positions_per_cycle
    port = c.outlier_port_bytes
    stages = c.decode_latency_cycles + c.add_latency_cycles
    units = {
        "outlier_multipliers": ("mul_int8x16", rate),
        "outlier_adders": ("add_int32", rate),
        "position_comparators": ("cmp_int32", lanes),
        "outlier_port_address_adders": ("add_int32", port),
    }
    regs = {
        "outlier_operand_registers": rate * (8 + 16),
        "position_registers": 32 * lanes,
        "outlier_port_data_registers": 8 * max(0, port - rate),
        "broadcast_registers": 8 * c.rows_per_pe * stages,
    }
    return parts_um2(t, units, regs)


def gobo_estimator(hw: HardwareConfig, t: Tech) -> ComponentModel:
    """The GOBO PE arrays: ``tiles x pes_per_tile`` PEs plus per-tile outlier unit and broadcast."""
    c = hw.compute
    assert isinstance(c, GoboCompute)
    e, reg = t.energy_pj, t.energy_pj("reg_bit")
    energies = {
        "add_int32": e("add_int32"),
        "mul_int8x32": e("mul_int8x32"),
        "mac_int8x16": e("mul_int8x16") + e("add_int32"),
        "mac_int8": e("mul_int8x32") + e("add_int32"),
        "outlier_compare": e("cmp_int32"),
        "outlier_act_bytes": e("add_int32"),
        "index_read_bits": reg,
        "dict_read": 8 * reg,
        "dict_write": 0.0,
        "reg_bits": reg,
    }
    basis = {
        "add_int32": "energy.add_int32",
        "mul_int8x32": "energy.mul_int8x32",
        "mac_int8x16": "energy.mul_int8x16 + energy.add_int32",
        "mac_int8": "energy.mul_int8x32 + energy.add_int32 (attention MACs run on the PE's int8 x int32 multiplier)",
        "outlier_compare": "energy.cmp_int32 (one position compare of the comparator: a match, or the compare "
                           "that ends a column)",
        "outlier_act_bytes": "energy.add_int32 (the port's address add per activation byte; the SRAM read is in "
                             "sram.activations, the operand register write in reg_bits)",
        "index_read_bits": "energy.reg_bit per bit read from the PE's index register/FIFO",
        "dict_read": "8 x energy.reg_bit (one int8 centroid register read)",
        "dict_write": "0: the dictionary register bits written are already in reg_bits (docs/hw/gobo.md)",
        "reg_bits": "energy.reg_bit per bit written",
    }
    blocks = [("pe", c.tiles * c.pes_per_tile, gobo_pe_parts_um2(c, hw.weights.bits, t)),
              ("tile", c.tiles, gobo_tile_parts_um2(c, t))]
    return logic_model("gobo", "compute", t, energies, basis, blocks)
