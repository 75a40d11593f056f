"""Component estimators: per-action energy, area and leakage of each component of a design.

An estimator (the :class:`Estimator` protocol, after accelergy's plug-in interface) answers three
questions for one component: ``energy_per_action(action)`` (pJ per count of that action), ``area_mm2()``
(mm^2) and ``leakage_mw()`` (mW). :func:`estimators` builds one per component a run report's
``actions`` can name: the compute engine (``gobo``, ``systolic`` or ``tensorcore``), ``vector``,
``sram.<buffer>`` for every buffer, ``decompressor`` (GOBO weights on a non-GOBO core) and ``dram``.

Everything is built from the table's unit values at the design's node (:class:`~sim.cost.tech.Tech`):

- logic arrays: area = (arithmetic units + register bits) x ``pe_overhead`` (control, wiring and clock,
  derived from the TPUv1 floorplan, :meth:`Tech.pe_overhead`), listed part by part in
  ``area_detail_mm2`` with the overhead as its own part; leakage = logic leakage density x that area;
- SRAM buffers: ``banks`` banks of ``capacity/banks`` each, energy and area from the CACTI/Horowitz
  power-law fits evaluated per bank, an access ``port_bytes`` wide; leakage per KiB;
- DRAM: energy per burst bit and per row activation by DRAM kind; PHY/controller area per data pin.

Not modelled (stated): wire energy between SRAM banks and the arrays, control/clock energy beyond the
counted register writes, DRAM background/refresh power, per-bank SRAM periphery beyond the fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from sim.config.hardware import (
    BufferSpec,
    GoboCompute,
    HardwareConfig,
    SystolicCompute,
    TensorCoreCompute,
)
from sim.cost.tech import KIB, Tech
from sim.errors import SimInputError
from sim.hw.dram import dram_spec

UM2_PER_MM2 = 1e6

CATEGORIES = ("compute", "vector", "decompressor", "sram", "dram")
"""Dynamic-energy categories of the report breakdown (``leakage`` is added by the pricing)."""


@runtime_checkable
class Estimator(Protocol):
    """Energy/area/leakage model of one component (accelergy-style estimator interface)."""

    name: str
    """Component name as it appears in a run report's ``actions`` (e.g. ``sram.weights``)."""
    category: str
    """Breakdown category: one of :data:`CATEGORIES`."""

    def actions(self) -> tuple[str, ...]:
        """The actions this component prices."""
        ...

    def energy_per_action(self, action: str) -> float:
        """Energy of one count of ``action``, pJ."""
        ...

    def area_mm2(self) -> float:
        """Area, mm^2."""
        ...

    def area_detail_mm2(self) -> Mapping[str, float]:
        """Area by part (mm^2), summing to :meth:`area_mm2`."""
        ...

    def leakage_mw(self) -> float:
        """Leakage power, mW."""
        ...


@dataclass(frozen=True)
class ComponentModel:
    """A built estimator: energies per action, area parts and leakage of one component at one node."""

    name: str
    category: str
    energies_pj: Mapping[str, float]
    """Action -> pJ per count."""
    basis: Mapping[str, str]
    """Action -> how its energy is composed from table entries (for reports and reviews)."""
    area_parts_mm2: Mapping[str, float]
    """Part -> mm^2 (the logic overhead is its own part ``control_wiring_overhead``)."""
    leakage_power_mw: float
    """mW."""
    notes: tuple[str, ...] = field(default=())

    def actions(self) -> tuple[str, ...]:
        """The actions this component prices."""
        return tuple(self.energies_pj)

    def energy_per_action(self, action: str) -> float:
        """Energy of one count of ``action`` (pJ); unknown actions raise naming the component and action."""
        try:
            return self.energies_pj[action]
        except KeyError:
            raise SimInputError(f"energy model: component '{self.name}' has no action '{action}' "
                                f"(known: {', '.join(self.energies_pj)})") from None

    def area_mm2(self) -> float:
        """Area (mm^2), the sum of :attr:`area_parts_mm2`."""
        return sum(self.area_parts_mm2.values())

    def area_detail_mm2(self) -> Mapping[str, float]:
        """Area by part (mm^2)."""
        return dict(self.area_parts_mm2)

    def leakage_mw(self) -> float:
        """Leakage power (mW)."""
        return self.leakage_power_mw


# ---------------------------------------------------------------------------------------------------
# Pure formulas: unit counts of the PE-like blocks (um^2 parts before the overhead factor)
# ---------------------------------------------------------------------------------------------------

def _parts_um2(t: Tech, units: Mapping[str, tuple[str, float]], reg_bits: Mapping[str, float]) -> dict[str, float]:
    """``{part: (table unit, count)}`` and ``{part: register bits}`` -> ``{part: um^2}`` at ``t``'s node."""
    out = {part: count * t.area_um2(unit) for part, (unit, count) in units.items()}
    out.update({part: t.register_area_um2(bits) for part, bits in reg_bits.items()})
    return out


def gobo_pe_parts_um2(c: GoboCompute, index_bits: int, t: Tech) -> dict[str, float]:
    """One GOBO PE built from table units, before the overhead factor (part -> um^2).

    ``R = rows_per_pe`` bin sets of ``C = 2^index_bits`` int32 bins (x2 when double-buffered), R bin
    adders (one per row), ``multipliers_per_pe`` int8 x int32 centroid multipliers, a C-input int32 adder
    tree (C-1 adders) with its node registers, the outlier-merge adder and output register, C product
    registers, R int32 outlier accumulators (x2 when double-buffered), the index decoder, the index+mask
    pipeline registers and the C int8 dictionary registers (see sim/hw/gobo_tile.py).
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
    return _parts_um2(t, units, regs)


def gobo_tile_parts_um2(c: GoboCompute, t: Tech) -> dict[str, float]:
    """Per-tile extras of a GOBO tile, before the overhead factor (part -> um^2): the outlier MAC unit
    (``outlier_macs_per_cycle`` int8 x int16 multipliers + int32 adders with 8 + 16 operand register
    bits each), the outlier position comparator with its 32-bit position register, and the activation
    broadcast register with its pipeline copies (8 bits x rows x (decode + add stages))."""
    rate = c.outlier_macs_per_cycle
    stages = c.decode_latency_cycles + c.add_latency_cycles
    units = {
        "outlier_multipliers": ("mul_int8x16", rate),
        "outlier_adders": ("add_int32", rate),
        "position_comparator": ("cmp_int32", 1),
    }
    regs = {
        "outlier_operand_registers": rate * (8 + 16),
        "position_register": 32,
        "broadcast_registers": 8 * c.rows_per_pe * stages,
    }
    return _parts_um2(t, units, regs)


def systolic_pe_parts_um2(c: SystolicCompute, t: Tech) -> dict[str, float]:
    """One int8 MAC PE of the systolic array, before the overhead factor (part -> um^2): the int8 MAC
    with int32 accumulate and its registers: 8 weight bits (+8 shadow bits when the preload overlaps),
    8 forwarded-operand bits, 32 partial-sum bits (see sim/hw/systolic.py)."""
    weight_bits = 16 if c.weight_preload_overlap else 8
    return _parts_um2(t, {"mac": ("mac_int8_acc32", 1)},
                      {"weight_registers": weight_bits, "operand_register": 8, "psum_register": 32})


def tensorcore_unit_parts_um2(c: TensorCoreCompute, t: Tech) -> dict[str, float]:
    """One tensor-core unit's logic, before the overhead factor (part -> um^2): ``m*n*k`` fp16 x fp16 +
    fp32 FMA lanes, fp16 operand registers ``16*(m*k + k*n)`` and fp32 accumulators ``32*m*n`` (the
    registers sim/hw/tensorcore.py counts; inner pipeline registers are not modelled)."""
    m, n, k = c.mma_m, c.mma_n, c.mma_k
    return _parts_um2(t, {"fma_lanes": ("fma_fp16_acc32", m * n * k)},
                      {"operand_registers": 16 * (m * k + k * n), "accumulator_registers": 32 * m * n})


def vector_lane_parts_um2(t: Tech) -> dict[str, float]:
    """One vector lane, before the overhead factor (part -> um^2): a 32-bit ALU (adder, barrel shifter,
    comparator, logic, leading-zero counter), a 32-bit multiplier, an iterative divider (one 32-bit
    adder + 96 bits of divisor/remainder/quotient registers) and 3 x 32 operand/result register bits."""
    units = {
        "adder": ("add_int32", 1), "shifter": ("shift_int32", 1), "comparator": ("cmp_int32", 1),
        "logic": ("logic_int32", 1), "clz": ("clz_int32", 1), "multiplier": ("mul_int32", 1),
        "divider_adder": ("add_int32", 1),
    }
    return _parts_um2(t, units, {"divider_registers": 96, "lane_registers": 96})


def decompressor_lane_parts_um2(index_bits: int, out_bits: int, t: Tech) -> dict[str, float]:
    """One decompressor lane, before the overhead factor (part -> um^2): its own copy of the
    ``2^index_bits``-entry dictionary (``out_bits`` each), the index register, the output register and
    the index decoder (a lookup per weight)."""
    return _parts_um2(t, {"index_decoder": ("decoder_index", 1)},
                      {"dictionary_registers": 2 ** index_bits * out_bits, "index_register": index_bits,
                       "output_register": out_bits})


_ARITH_PARTS = frozenset({"bin_adders", "tree_adders", "merge_adder", "centroid_multipliers", "index_decoder", "mac"})


def pe_area_summary(gobo: GoboCompute, index_bits: int, systolic: SystolicCompute, t: Tech) -> dict[str, float]:
    """GOBO PE against an int8 MAC PE, both built from the table's unit areas at ``t``'s node (um^2).

    Returns (before the control/wiring factor, which multiplies both alike):
    ``gobo_pe_arith``, ``gobo_pe_registers``, ``gobo_pe`` (one PE: ``rows_per_pe`` products per cycle),
    ``gobo_per_product`` (= ``gobo_pe / rows_per_pe``), ``gobo_bin_lane_arith`` (one bin adder: the
    arithmetic that replaces a MAC), ``gobo_per_product_arith``, ``mac_pe_arith``, ``mac_pe_registers``,
    ``mac_pe`` (one product per cycle), and ``pe_overhead`` (dimensionless).

    What the default table says for the presets (gobo.yaml vs tpu.yaml, 45 nm): the bin adder that
    replaces a MAC is 137 um^2 against the MAC's 419 um^2 (add_int32 vs mul_int8 + add_int32), but a
    whole GOBO PE is ~24,500 um^2 for 4 products per cycle (~6,100 per product) against ~840 um^2 for
    an int8 MAC PE: its 4 x 8 int32 bins, double-buffered (2048 flip-flop bits), dominate, and even
    its arithmetic alone (668 um^2 per product: bin adders plus the amortised multiplier and tree) is
    above the MAC's at 4 rows per PE (it falls below at 8 rows or more).
    """
    g = gobo_pe_parts_um2(gobo, index_bits, t)
    m = systolic_pe_parts_um2(systolic, t)
    g_arith = sum(v for k, v in g.items() if k in _ARITH_PARTS)
    m_arith = sum(v for k, v in m.items() if k in _ARITH_PARTS)
    r = gobo.rows_per_pe
    return {
        "gobo_pe_arith": g_arith, "gobo_pe_registers": sum(g.values()) - g_arith, "gobo_pe": sum(g.values()),
        "gobo_per_product": sum(g.values()) / r, "gobo_per_product_arith": g_arith / r,
        "gobo_bin_lane_arith": t.area_um2("add_int32"),
        "mac_pe_arith": m_arith, "mac_pe_registers": sum(m.values()) - m_arith, "mac_pe": sum(m.values()),
        "pe_overhead": t.pe_overhead(),
    }


def _logic_model(name: str, category: str, t: Tech, energies: dict[str, float], basis: dict[str, str],
                 blocks: list[tuple[str, float, Mapping[str, float]]], extra_mm2: Mapping[str, float] | None = None,
                 extra_leak_mw: float = 0.0) -> ComponentModel:
    """Assemble a logic component: ``blocks`` = [(prefix, copies, {part: um^2})] times the overhead."""
    parts: dict[str, float] = {}
    for prefix, copies, block in blocks:
        for part, um2 in block.items():
            parts[f"{prefix}.{part}"] = copies * um2 / UM2_PER_MM2
    logic = sum(parts.values())
    parts["control_wiring_overhead"] = (t.pe_overhead() - 1.0) * logic
    leak = t.logic_leakage_mw(sum(parts.values())) + extra_leak_mw
    if extra_mm2:
        parts.update(extra_mm2)
    return ComponentModel(name, category, energies, basis, parts, leak)


# ---------------------------------------------------------------------------------------------------
# Builders, one per component kind
# ---------------------------------------------------------------------------------------------------

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
        "index_read_bits": "energy.reg_bit per bit read from the PE's index register/FIFO",
        "dict_read": "8 x energy.reg_bit (one int8 centroid register read)",
        "dict_write": "0: the dictionary register bits written are already in reg_bits (sim/hw/gobo_tile.py)",
        "reg_bits": "energy.reg_bit per bit written",
    }
    blocks = [("pe", c.tiles * c.pes_per_tile, gobo_pe_parts_um2(c, hw.weights.bits, t)),
              ("tile", c.tiles, gobo_tile_parts_um2(c, t))]
    return _logic_model("gobo", "compute", t, energies, basis, blocks)


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
    return _logic_model("systolic", "compute", t, energies, basis, blocks)


def tensorcore_estimator(hw: HardwareConfig, t: Tech) -> ComponentModel:
    """Tensor-core units: FMA lanes and registers (logic, x overhead) plus a register file per unit (SRAM)."""
    c = hw.compute
    assert isinstance(c, TensorCoreCompute)
    e = t.energy_pj
    fma = e("fma_fp16_acc32")
    energies = {"fma_fp16": fma, "fma_fp16_padded": fma, "reg_bits": e("reg_bit"),
                "rf_read_bits": e("rf_bit"), "rf_write_bits": e("rf_bit"), "add_int32": e("add_int32")}
    basis = {"fma_fp16": "energy.fma_fp16_acc32 (= mul_fp16 + add_fp32)",
             "fma_fp16_padded": "energy.fma_fp16_acc32 (a padded lane is issued and spends a full FMA)",
             "reg_bits": "energy.reg_bit per bit written", "rf_read_bits": "energy.rf_bit per bit",
             "rf_write_bits": "energy.rf_bit per bit",
             "add_int32": "energy.add_int32, as the action is named (K-chunk partial-sum merges)"}
    rf_kib = t.value("tensorcore.rf_bytes_per_unit") / KIB
    rf_mm2 = c.units * t.sram_area_mm2(rf_kib) * t.value("tensorcore.rf_area_factor")
    return _logic_model("tensorcore", "compute", t, energies, basis,
                        [("unit", c.units, tensorcore_unit_parts_um2(c, t))],
                        extra_mm2={"register_files": rf_mm2},
                        extra_leak_mw=t.sram_leakage_mw(c.units * rf_kib))


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
    return _logic_model("vector", "vector", t, energies, basis,
                        [("lane", hw.vector.lanes, vector_lane_parts_um2(t))])


def buffer_estimator(name: str, spec: BufferSpec, t: Tech) -> ComponentModel:
    """One SRAM buffer ``sram.<name>``: ``banks`` banks, accesses ``port_bytes`` wide, priced per byte."""
    bank_kib = spec.capacity_bytes / spec.banks / KIB
    width = spec.port_bytes * 8
    read = t.sram_access_pj(bank_kib, width) / spec.port_bytes
    write = t.sram_access_pj(bank_kib, width, write=True) / spec.port_bytes
    how = (f"sram.read_64b at {bank_kib:g} KiB per bank x (f + (1-f) x {width}/64) / {spec.port_bytes} B "
           f"per byte (one {spec.port_bytes}-byte port access)")
    basis = {"read_bytes": how, "write_bytes": how + " x sram.write_to_read"}
    area = {"banks": spec.banks * t.sram_area_mm2(bank_kib)}
    return ComponentModel(f"sram.{name}", "sram", {"read_bytes": read, "write_bytes": write}, basis, area,
                          t.sram_leakage_mw(spec.capacity_bytes / KIB))


def has_decompressor(hw: HardwareConfig) -> bool:
    """Whether the design decompresses GOBO weights on chip (GOBO format on a non-GOBO core)."""
    return hw.weights.format == "gobo" and hw.compute.kind != "gobo"


def decompressor_estimator(hw: HardwareConfig, t: Tech) -> ComponentModel:
    """The GOBO decompressor: ``decompress_per_cycle`` lookup lanes producing int8 (systolic) or fp16 weights."""
    out_bits = 8 if hw.compute.kind == "systolic" else 16
    b = hw.weights.bits
    reg = t.energy_pj("reg_bit")
    energies = {"dict_read": out_bits * reg, "weights_out": (b + out_bits) * reg}
    basis = {"dict_read": f"{out_bits} x energy.reg_bit (one dictionary entry read)",
             "weights_out": f"({b} + {out_bits}) x energy.reg_bit (index register + output register written)"}
    return _logic_model("decompressor", "decompressor", t, energies, basis,
                        [("lane", hw.weights.decompress_per_cycle, decompressor_lane_parts_um2(b, out_bits, t))])


def dram_estimator(hw: HardwareConfig, t: Tech) -> ComponentModel:
    """DRAM: energy per burst (burst bits x pJ/bit) and per row activation; PHY/controller area per data pin.

    ``read_bytes``/``write_bytes`` are priced at 0: the bytes on the bus are the bursts (partial bursts
    included), so charging both would count every bit twice.
    """
    spec = dram_spec(hw.dram.kind, channels=hw.dram.channels)
    per_bit = t.dram_energy_per_bit_pj(spec.kind)
    energies = {"bursts": spec.burst_bytes * 8 * per_bit, "activations": t.dram_activation_pj(spec.kind),
                "read_bytes": 0.0, "write_bytes": 0.0}
    basis = {"bursts": f"{spec.burst_bytes * 8} bits x dram.{spec.kind}.energy_per_bit",
             "activations": f"dram.{spec.kind}.activation",
             "read_bytes": "0: counted in bursts", "write_bytes": "0: counted in bursts"}
    pins = spec.channels * spec.bus_bits
    area = {"phy_controller": pins * t.value("dram.phy_area_per_pin")}
    return ComponentModel("dram", "dram", energies, basis, area, t.logic_leakage_mw(area["phy_controller"]))


_COMPUTE = {"gobo": gobo_estimator, "systolic": systolic_estimator, "tensorcore": tensorcore_estimator}


def estimators(hw: HardwareConfig, t: Tech) -> dict[str, ComponentModel]:
    """Every component of design ``hw`` at ``t``'s node, by component name (report ``actions`` keys)."""
    out = {hw.compute.kind: _COMPUTE[hw.compute.kind](hw, t), "vector": vector_estimator(hw, t)}
    if has_decompressor(hw):
        out["decompressor"] = decompressor_estimator(hw, t)
    for name, spec in hw.buffers.items():
        out[f"sram.{name}"] = buffer_estimator(name, spec, t)
    out["dram"] = dram_estimator(hw, t)
    return out
