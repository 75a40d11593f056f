"""Component estimators: per-action energy, area and leakage of each component of a design.

An estimator (the :class:`Estimator` protocol, after accelergy's plug-in interface) answers three
questions for one component: ``energy_per_action(action)`` (pJ per count of that action), ``area_mm2()``
(mm^2) and ``leakage_mw()`` (mW). :func:`estimators` builds one per component a run report's
``actions`` can name: the compute engine (``gobo``, ``systolic`` or ``tensorcore``), ``vector``,
``sram.<buffer>`` for every buffer, ``decompressor`` (GOBO weights on a non-GOBO core) and ``dram``.

Everything is built from the table's unit values at the design's node (:class:`~sim.cost.tech.Tech`):

- logic arrays: area = (arithmetic units + register bits) x ``overhead.<kind>`` (placed area over cell area:
  placement density, from an open 45 nm flow's settings, :meth:`Tech.logic_overhead`), listed part by part
  in ``area_detail_mm2`` with the overhead as its own part ``placement_overhead``; leakage = logic leakage
  density x that area. The TPUv1-implied factor (:meth:`Tech.pe_overhead`) is reported, not applied;
- SRAM buffers: a banked macro from the CACTI 7 table (:mod:`sim.cost.sram`) of the buffer's capacity, bank
  count, port width, cell type and temperature: energy per port-wide access (the H-tree to the bank included),
  area of the whole macro, leakage (sub-threshold + gate) of every bank;
- DRAM: energy per burst bit and per row activation by DRAM kind; PHY/controller area per data pin.

Not modelled (stated): wire energy between an SRAM macro's edge and the arrays, control/clock energy beyond the
counted register writes, DRAM background/refresh power.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.compute.registry import get_kind
from sim.cost.components import CATEGORIES, ComponentModel, Estimator, logic_model, parts_um2
from sim.cost.tech import KIB, Tech
from sim.hw.dram import dram_spec

if TYPE_CHECKING:
    from sim.config.hardware import BufferSpec, HardwareConfig

__all__ = ["CATEGORIES", "ComponentModel", "Estimator", "buffer_estimator", "decompressor_estimator",
           "dram_estimator", "estimators", "has_decompressor", "vector_estimator"]


def vector_lane_parts_um2(t: Tech) -> dict[str, float]:
    """One vector lane, before the overhead factor (part -> um^2): a 32-bit ALU (adder, barrel shifter,
    comparator, logic, leading-zero counter), a 32-bit multiplier, an iterative divider (one 32-bit
    adder + 96 bits of divisor/remainder/quotient registers) and 3 x 32 operand/result register bits."""
    units = {
        "adder": ("add_int32", 1), "shifter": ("shift_int32", 1), "comparator": ("cmp_int32", 1),
        "logic": ("logic_int32", 1), "clz": ("clz_int32", 1), "multiplier": ("mul_int32", 1),
        "divider_adder": ("add_int32", 1),
    }
    return parts_um2(t, units, {"divider_registers": 96, "lane_registers": 96})


def decompressor_lane_parts_um2(index_bits: int, out_bits: int, t: Tech) -> dict[str, float]:
    """One decompressor lane, before the overhead factor (part -> um^2): its own copy of the
    ``2^index_bits``-entry dictionary (``out_bits`` each), the index register, the output register and
    the index decoder (a lookup per weight)."""
    return parts_um2(t, {"index_decoder": ("decoder_index", 1)},
                      {"dictionary_registers": 2 ** index_bits * out_bits, "index_register": index_bits,
                       "output_register": out_bits})


# ---------------------------------------------------------------------------------------------------
# Builders, one per component kind
# ---------------------------------------------------------------------------------------------------

def vector_estimator(hw: HardwareConfig, t: Tech) -> ComponentModel:
    """The vector unit: ``lanes`` 32-bit integer lanes, each with an iterative divider.

    Each operation is its 32-bit operator plus a 32-bit result register write; a division is taken as
    32 restoring steps (a 32-bit subtract and 64 register bits each) whatever ``divider_cycles`` is
    (that sets the time; the work per quotient bit is the same).
    """
    e, reg = t.energy_pj, t.energy_pj("reg_bit")
    ops = {"vec_add": "add_int32", "vec_mul": "mul_int32", "vec_shift": "shift_int32", "vec_cmp": "cmp_int32",
           "vec_logic": "logic_int32", "vec_clz": "clz_int32"}
    energies = {a: e(op) + 32 * reg for a, op in ops.items()}
    energies["vec_div"] = 32 * (e("add_int32") + 64 * reg)
    basis = {a: f"energy.{op} + 32 x energy.reg_bit" for a, op in ops.items()}
    basis["vec_div"] = "32 x (energy.add_int32 + 64 x energy.reg_bit)"
    return logic_model("vector", "vector", t, energies, basis,
                        [("lane", hw.vector.lanes, vector_lane_parts_um2(t))])


def buffer_estimator(name: str, spec: BufferSpec, t: Tech) -> ComponentModel:
    """One SRAM buffer ``sram.<name>``: a CACTI 7 macro of ``banks`` banks with ``port_bytes`` words, priced
    per byte (an access moves one word, so a byte costs the word's energy / ``port_bytes``)."""
    m = t.sram(spec.capacity_bytes, spec.port_bytes, spec.banks, spec.cell, spec.temperature_k)
    where = (f"CACTI 7 {spec.cell} at {m.cacti_node_nm} nm"
             + (f" scaled to {t.node_nm} nm" if m.cacti_node_nm != t.node_nm else "")
             + f": {spec.capacity_bytes / KIB:g} KiB in {spec.banks} banks, {spec.port_bytes}-byte words"
             + (f" ({m.note})" if m.note else ""))
    basis = {"read_bytes": f"{where}; read energy per word {m.read_pj:.4g} pJ / {spec.port_bytes} B",
             "write_bytes": f"{where}; write energy per word {m.write_pj:.4g} pJ / {spec.port_bytes} B"}
    area = {"macro": m.area_mm2}
    notes = (f"leakage at {spec.temperature_k} K: sub-threshold {m.leak_sub_mw:.4g} mW + gate {m.leak_gate_mw:.4g} mW "
             f"({spec.banks} x CACTI's per-bank figure); bank cycle time {m.cycle_ns:.4g} ns",)
    return ComponentModel(f"sram.{name}", "sram",
                          {"read_bytes": m.read_pj / spec.port_bytes, "write_bytes": m.write_pj / spec.port_bytes},
                          basis, area, m.leakage_mw, notes)


def has_decompressor(hw: HardwareConfig) -> bool:
    """Whether the design decodes its stored weight format on chip (GOBO weights on a non-GOBO core)."""
    return get_kind(hw.compute.kind).weight_formats.get(hw.weights.format) == "decompressed"


def decompressor_estimator(hw: HardwareConfig, t: Tech) -> ComponentModel:
    """The GOBO decompressor: ``decompress_per_cycle`` lookup lanes producing the compute unit's weight operands
    (int8 for the systolic array, fp16 for tensor cores: the kind's ``operand_bits``)."""
    out_bits = get_kind(hw.compute.kind).operand_bits
    b = hw.weights.bits
    reg = t.energy_pj("reg_bit")
    energies = {"dict_read": out_bits * reg, "weights_out": (b + out_bits) * reg}
    basis = {"dict_read": f"{out_bits} x energy.reg_bit (one dictionary entry read)",
             "weights_out": f"({b} + {out_bits}) x energy.reg_bit (index register + output register written)"}
    return logic_model("decompressor", "decompressor", t, energies, basis,
                        [("lane", hw.weights.decompress_per_cycle, decompressor_lane_parts_um2(b, out_bits, t))])


def has_converter(hw: HardwareConfig) -> bool:
    """Whether the design converts fp32 dictionaries and outliers to integers on chip (GOBO weights)."""
    return hw.weights.format == "gobo"


def converter_estimator(hw: HardwareConfig, t: Tech) -> ComponentModel:
    """The fp32 -> integer converter on the GOBO weight path: ``convert_per_cycle`` lanes, each an fp32 multiply
    by the tensor's 1/scale and a round-to-nearest (charged as an fp32 add), with a 32-bit input and output
    register; the integer centroids (int8) and outliers (int16) are what the PEs consume."""
    e, reg = t.energy_pj, t.energy_pj("reg_bit")
    energies = {"fp32_to_int": e("mul_fp32") + e("add_fp32") + 64 * reg}
    basis = {"fp32_to_int": "energy.mul_fp32 + energy.add_fp32 (round) + 64 x energy.reg_bit (assumed datapath)"}
    lane = parts_um2(t, {"multiplier": ("mul_fp32", 1), "rounder": ("add_fp32", 1)}, {"registers": 64})
    return logic_model("converter", "compute", t, energies, basis, [("lane", hw.weights.convert_per_cycle, lane)])


def dram_estimator(hw: HardwareConfig, t: Tech) -> ComponentModel:
    """DRAM: energy per burst (burst bits x pJ/bit) and per row activation; PHY/controller area per data pin.

    ``read_bytes``/``write_bytes`` are priced at 0: the bytes on the bus are the bursts (partial bursts
    included), so charging both would count every bit twice.
    """
    spec = dram_spec(hw.dram.kind, channels=hw.dram.channels, mapping=hw.dram.mapping)
    per_bit = t.dram_energy_per_bit_pj(spec.kind)
    energies = {"bursts": spec.burst_bytes * 8 * per_bit, "activations": t.dram_activation_pj(spec.kind),
                "read_bytes": 0.0, "write_bytes": 0.0}
    basis = {"bursts": f"{spec.burst_bytes * 8} bits x dram.{spec.kind}.energy_per_bit",
             "activations": f"dram.{spec.kind}.activation",
             "read_bytes": "0: counted in bursts", "write_bytes": "0: counted in bursts"}
    pins = spec.channels * spec.bus_bits
    area = {"phy_controller": pins * t.value("dram.phy_area_per_pin")}
    return ComponentModel("dram", "dram", energies, basis, area, t.logic_leakage_mw(area["phy_controller"]))


# the last design and table priced, and their (immutable) component models: pricing one run asks three times
# (energy, the operators' shares, area) for the same objects
_LAST: list[tuple[HardwareConfig, Tech, dict[str, ComponentModel]]] = []


def estimators(hw: HardwareConfig, t: Tech) -> dict[str, ComponentModel]:
    """Every component of design ``hw`` at ``t``'s node, by component name (report ``actions`` keys)."""
    if _LAST and _LAST[0][0] is hw and _LAST[0][1] is t:
        return dict(_LAST[0][2])
    out = _build(hw, t)
    _LAST[:] = [(hw, t, out)]
    return dict(out)


def _build(hw: HardwareConfig, t: Tech) -> dict[str, ComponentModel]:
    out = {hw.compute.kind: get_kind(hw.compute.kind).estimator(hw, t), "vector": vector_estimator(hw, t)}
    if has_decompressor(hw):
        out["decompressor"] = decompressor_estimator(hw, t)
    if has_converter(hw):
        out["converter"] = converter_estimator(hw, t)
    for name, spec in hw.buffers.items():
        out[f"sram.{name}"] = buffer_estimator(name, spec, t)
    out["dram"] = dram_estimator(hw, t)
    return out
