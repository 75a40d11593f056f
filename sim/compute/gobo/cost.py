"""Area and energy of the GOBO PE arrays, built bottom-up from the technology table's unit areas and energies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.compute.gobo.config import GoboCompute
from sim.cost.components import ComponentModel, logic_model, parts_um2
from sim.cost.sram import SramMacro
from sim.cost.tech import Tech

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig


BIN_RF_CELL = "itrs-hp"
"""Cell type of the ``regfile`` bin storage (assumed: a register file accessed every cycle at the core clock is
built from fast cells, as the tensor-core register files are)."""
BIN_RF_REF_BYTES = 4096
"""Capacity of the CACTI macro whose area, leakage and per-bit figures price a ``regfile`` bin set: the smallest
capacity of the CACTI 7 table (bin sets of a few dozen bytes are far below it, so the periphery of a real
macro this small is not amortised: the price is a lower bound)."""
BIN_RF_REF_PORT_BYTES = 8
"""Word width the reference macro is looked up at (the table's 64-bit words)."""
BIN_RF_TEMPERATURE_K = 300
"""Temperature of the ``regfile`` bins' leakage (K), the buffers' default."""


def bin_sets(c: GoboCompute) -> int:
    """Bin sets per PE: ``rows_per_pe``, twice when the bins are double-buffered."""
    return c.rows_per_pe * (2 if c.double_buffered_bins else 1)


def _rf_ref(t: Tech) -> SramMacro:
    """The CACTI macro the register-file bins are priced from."""
    return t.sram(BIN_RF_REF_BYTES, BIN_RF_REF_PORT_BYTES, 1, BIN_RF_CELL, BIN_RF_TEMPERATURE_K)


def bin_storage_um2(c: GoboCompute, n_bins: int, t: Tech) -> tuple[dict[str, float], float]:
    """The bin accumulators of one PE (``bin_sets x n_bins`` bins of ``bin_bits``) by ``bin_storage``.

    Returns ``(logic parts -> um^2, macro um^2)``: logic parts get the logic overhead, a register-file macro
    does not (its periphery is in the CACTI figure).

    - ``flipflop``: every bin bit a flip-flop (``area.reg_bit``);
    - ``latch``: every bin bit a level latch, ``reg_bit x cells.dlh_x1 / cells.dff_x1`` (the NanGate latch
      against the NanGate flip-flop, applied to the table's register bit); a latch cannot be read and written
      in one transparent phase, so each row's adder result is first captured in one flip-flop input row of
      ``bin_bits`` (shared by the row's bin sets: one bin of a row is written per cycle) and the selected bin's
      latches open from a clock gate per bin (``reg_bit x cells.clkgate_x1 / cells.dff_x1``);
    - ``regfile``: one two-port (read the bin, write it back) macro per bin set: the bits at the per-bit area
      of the smallest CACTI macro (:data:`BIN_RF_REF_BYTES`, :data:`BIN_RF_CELL`) times
      ``tensorcore.rf_area_factor`` for the second port.
    """
    bits = bin_sets(c) * n_bins * c.bin_bits
    if c.bin_storage == "flipflop":
        return {"bin_registers": t.register_area_um2(bits)}, 0.0
    if c.bin_storage == "latch":
        per_dff = t.area_um2("reg_bit") / t.value("cells.dff_x1")
        return {"bin_latches": bits * t.value("cells.dlh_x1") * per_dff,
                "bin_input_registers": t.register_area_um2(c.rows_per_pe * c.bin_bits),
                "bin_clock_gates": bin_sets(c) * n_bins * t.value("cells.clkgate_x1") * per_dff}, 0.0
    ref = _rf_ref(t)
    per_bit_um2 = ref.area_mm2 * 1e6 / (8 * BIN_RF_REF_BYTES)
    return {}, bits * per_bit_um2 * t.value("tensorcore.rf_area_factor")


def bin_storage_leakage_mw(c: GoboCompute, n_bins: int, t: Tech) -> float:
    """Leakage of one PE's register-file bins (mW): the reference macro's leakage per bit; 0 for flip-flop and
    latch bins (their leakage is the logic leakage density on their area)."""
    if c.bin_storage != "regfile":
        return 0.0
    ref = _rf_ref(t)
    return bin_sets(c) * n_bins * c.bin_bits * ref.leakage_mw / (8 * BIN_RF_REF_BYTES)


def bin_accumulate_pj(c: GoboCompute, t: Tech) -> dict[str, float]:
    """Energy of one bin accumulate (one product of the PE) by part (pJ): the ``bin_bits``-wide add
    (``energy.add_int32 x bin_bits / 32``), the write of the bin and, for a register file, its read.

    Per-bit write energy: ``flipflop`` ``energy.reg_bit``; ``latch`` ``energy.reg_bit x cells.dlh_x1_write /
    cells.dff_x1_write`` plus the input row's flip-flop write (``energy.reg_bit`` per bit); ``regfile``
    ``energy.rf_bit`` per bit written and per bit read. A flip-flop or latch bin is read through wires and the
    bin mux, not charged (as the run reports' ``reg_bits``).
    """
    b = c.bin_bits
    out = {"add": t.energy_pj("add_int32") * b / 32}
    reg = t.energy_pj("reg_bit")
    if c.bin_storage == "flipflop":
        out["write"] = b * reg
    elif c.bin_storage == "latch":
        out["write"] = b * reg * t.value("cells.dlh_x1_write") / t.value("cells.dff_x1_write") + b * reg
    else:
        out["write"] = b * t.energy_pj("rf_bit")
        out["read"] = b * t.energy_pj("rf_bit")
    return out


def gobo_pe_parts_um2(c: GoboCompute, index_bits: int, t: Tech) -> dict[str, float]:
    """One GOBO PE's logic built from table units, before the overhead factor (part -> um^2).

    ``R = rows_per_pe`` bin sets of ``C = 2^index_bits`` bins of ``bin_bits`` (x2 when double-buffered) in
    ``bin_storage`` (:func:`bin_storage_um2`; a register file is a macro, see :func:`gobo_pe_macro_um2`),
    R bin adders ``bin_bits`` wide (``area.add_int32 x bin_bits / 32``: Horowitz's 8/16/32-bit adders are
    4.5/4.2/4.3 um^2 per bit, linear in width), ``multipliers_per_pe`` int8 x int32 centroid multipliers, a
    C-input int32 adder tree (C-1 adders) with its node registers, the outlier-merge adder and output
    register, C product registers, R int32 outlier accumulators (x2 when double-buffered), the index decoder,
    the index+mask pipeline registers and the C int8 dictionary registers (see docs/hw/gobo.md). The
    multiplier, tree and product registers stay 32 bits wide at any ``bin_bits`` (conservative: a narrower bin
    would allow narrower products).
    """
    r, n_bins = c.rows_per_pe, 2 ** index_bits
    copies = 2 if c.double_buffered_bins else 1
    stages = c.decode_latency_cycles + c.add_latency_cycles
    units = {
        "bin_adders": ("add_int32", r * c.bin_bits / 32),
        "tree_adders": ("add_int32", n_bins - 1),
        "merge_adder": ("add_int32", 1),
        "centroid_multipliers": ("mul_int8x32", c.multipliers_per_pe),
        "index_decoder": ("decoder_index", 1),
    }
    regs = {
        "outlier_accumulators": r * 32 * copies,
        "product_registers": n_bins * 32,
        "tree_registers": (n_bins - 1) * 32,
        "output_register": 32,
        "index_pipeline_registers": (index_bits + 1) * stages,
        "dictionary_registers": n_bins * 8,
    }
    parts = parts_um2(t, units, regs)
    parts.update(bin_storage_um2(c, n_bins, t)[0])
    return parts


def gobo_pe_macro_um2(c: GoboCompute, index_bits: int, t: Tech) -> float:
    """One GOBO PE's register-file bin macros (um^2; 0 unless ``bin_storage: regfile``)."""
    return bin_storage_um2(c, 2 ** index_bits, t)[1]


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
    acc = bin_accumulate_pj(c, t)
    energies = {
        "bin_add": acc["add"],
        "bin_write_bits": (acc["write"] + acc.get("read", 0.0)) / c.bin_bits,
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
        "bin_add": "energy.add_int32 x bin_bits / 32 (a bin_bits-wide adder)",
        "bin_write_bits": {"flipflop": "energy.reg_bit per bit written",
                           "latch": "energy.reg_bit x (1 + cells.dlh_x1_write / cells.dff_x1_write) per bit (input "
                                    "flip-flop row + latch)",
                           "regfile": "2 x energy.rf_bit per bit (read + write back)"}[c.bin_storage],
        "add_int32": "energy.add_int32 (tree adds and merges)",
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
    pes = c.tiles * c.pes_per_tile
    blocks = [("pe", pes, gobo_pe_parts_um2(c, hw.weights.bits, t)),
              ("tile", c.tiles, gobo_tile_parts_um2(c, t))]
    macro_um2 = gobo_pe_macro_um2(c, hw.weights.bits, t)
    extra = {"pe.bin_register_files": pes * macro_um2 / 1e6} if macro_um2 else None
    return logic_model("gobo", "compute", t, energies, basis, blocks, extra_mm2=extra,
                       extra_leak_mw=pes * bin_storage_leakage_mw(c, 2 ** hw.weights.bits, t))
