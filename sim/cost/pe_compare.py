"""The GOBO PE against an int8 MAC PE, both built from the same table's unit areas (a comparison for reports)."""

from __future__ import annotations

from sim.compute.gobo.config import GoboCompute
from sim.compute.gobo.cost import gobo_pe_parts_um2
from sim.compute.systolic.config import SystolicCompute
from sim.compute.systolic.cost import systolic_pe_parts_um2
from sim.cost.tech import Tech

_ARITH_PARTS = frozenset({"bin_adders", "tree_adders", "merge_adder", "centroid_multipliers", "index_decoder", "mac"})


def pe_area_summary(gobo: GoboCompute, index_bits: int, systolic: SystolicCompute, t: Tech) -> dict[str, float]:
    """GOBO PE against an int8 MAC PE, both built from the table's unit areas at ``t``'s node (um^2).

    Returns (before the logic overhead, ``overhead.gobo`` and ``overhead.systolic``, equal in the default table):
    ``gobo_pe_arith``, ``gobo_pe_registers``, ``gobo_pe`` (one PE: ``rows_per_pe`` products per cycle),
    ``gobo_per_product`` (= ``gobo_pe / rows_per_pe``), ``gobo_bin_lane_arith`` (one bin adder: the
    arithmetic that replaces a MAC), ``gobo_per_product_arith``, ``mac_pe_arith``, ``mac_pe_registers``,
    ``mac_pe`` (one product per cycle), and ``pe_overhead`` (the TPUv1-implied ratio, a check; dimensionless).

    What the default table says for the presets (gobo.yaml vs tpu.yaml, 45 nm, flip-flop 32-bit bins): the
    bin adder that replaces a MAC is 137 um^2 against the MAC's 419 um^2 (add_int32 vs mul_int8 + add_int32), but a
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
