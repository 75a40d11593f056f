"""Area and energy of the tensor-core units (FMA lanes and registers) and their register files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.compute.tensorcore.config import TensorCoreCompute
from sim.cost.components import ComponentModel, logic_model, parts_um2
from sim.cost.tech import Tech

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig


RF_CELL = "itrs-hp"
"""Cell type of the register files' area and leakage (assumed: a register file read every cycle at the core clock
is built from fast cells, not the low-leakage types of large buffers)."""
RF_WORD_BYTES = 8
"""Word width the register file's single-port macro is looked up at (assumed: 64-bit words; the extra read port
is ``tensorcore.rf_area_factor``)."""
RF_TEMPERATURE_K = 300
"""Temperature of the register files' leakage (K), the buffers' default."""


def tensorcore_unit_parts_um2(c: TensorCoreCompute, t: Tech) -> dict[str, float]:
    """One tensor-core unit's logic, before the overhead factor (part -> um^2): ``m*n*k`` fp16 x fp16 +
    fp32 FMA lanes, fp16 operand registers ``16*(m*k + k*n)``, fp32 accumulators ``32*m*n`` (the
    registers docs/hw/tensorcore.md counts; inner pipeline registers are not modelled) and the register-file
    read port's output latch, one register bit per bit of ``rf_read_bytes_per_cycle`` (the port's width; the
    cell array's extra read port is in ``tensorcore.rf_area_factor``)."""
    m, n, k = c.mma_m, c.mma_n, c.mma_k
    return parts_um2(t, {"fma_lanes": ("fma_fp16_acc32", m * n * k)},
                      {"operand_registers": 16 * (m * k + k * n), "accumulator_registers": 32 * m * n,
                       "rf_read_port": 8 * c.rf_read_bytes_per_cycle})


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
             "reg_bits": "energy.reg_bit per bit written",
             "rf_read_bits": "energy.rf_bit per bit (8 x rf_bit per operand byte through the read port)",
             "rf_write_bits": "energy.rf_bit per bit",
             "add_int32": "energy.add_int32, as the action is named (K-chunk partial-sum merges)"}
    rf = t.sram(int(t.value("tensorcore.rf_bytes_per_unit")), RF_WORD_BYTES, 1, RF_CELL, RF_TEMPERATURE_K)
    rf_mm2 = c.units * rf.area_mm2 * t.value("tensorcore.rf_area_factor")
    return logic_model("tensorcore", "compute", t, energies, basis,
                        [("unit", c.units, tensorcore_unit_parts_um2(c, t))],
                        extra_mm2={"register_files": rf_mm2},
                        extra_leak_mw=c.units * rf.leakage_mw)
