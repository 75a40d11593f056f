"""GOBO bin width and bin storage: the config keys, their validation, their prices and the overflow check."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.compute.gobo.cost import bin_accumulate_pj, gobo_estimator
from sim.compute.gobo.dataflow import GoboDatapath, gobo_pe_gemm
from sim.config import load_hardware
from sim.cost.area import area
from sim.cost.tech import tech
from sim.errors import ConfigError, SimInputError
from sim.kernels.widths import IntegerOverflowError
from sim.quant.integer import IntegerGobo

T45 = tech("horowitz45", 45)


def _hw(**sets: object):
    return load_hardware("gobo", [f"compute.{k}={str(v).lower()}" for k, v in sets.items()])


def _gobo_parts(hw) -> dict[str, float]:
    a = area(hw)
    return {k[len("gobo."):]: v for k, v in a.area_detail_mm2.items() if k.startswith("gobo.")}


def test_defaults_keep_the_earlier_pe() -> None:
    c = load_hardware("gobo").compute
    assert (c.bin_bits, c.bin_storage) == (32, "flipflop")
    assert _gobo_parts(load_hardware("gobo")) == _gobo_parts(_hw(bin_bits=32, bin_storage="flipflop"))


@pytest.mark.parametrize("setting, words", [
    ("bin_bits=7", ">= 8"), ("bin_bits=33", "<= 32"), ("bin_bits=wide", "int"),
    ("bin_storage=sram", "flipflop"),
])
def test_bad_bin_keys_name_file_key_and_expectation(setting: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_hardware("gobo", [f"compute.{setting}"])
    msg = str(err.value)
    assert "compute." + setting.split("=")[0] in msg and words in msg and "gobo" in msg
    assert "\n" not in msg


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 16), double=st.booleans(), bits=st.integers(8, 32), tiles=st.integers(1, 4),
       pes=st.integers(1, 32))
def test_each_bin_storage_changes_area_as_priced(rows: int, double: bool, bits: int, tiles: int, pes: int) -> None:
    """Closed form of the bin storage's area per choice, from the table entries alone, against the estimator."""
    base = dict(rows_per_pe=rows, double_buffered_bins=double, bin_bits=bits, tiles=tiles, pes_per_tile=pes)
    sets = (2 if double else 1) * rows
    n_bins = 8  # 3-bit indices
    bin_bits_total = sets * n_bins * bits
    reg = T45.value("area.reg_bit")
    dff, dlh, cg = T45.value("cells.dff_x1"), T45.value("cells.dlh_x1"), T45.value("cells.clkgate_x1")
    n_pe = tiles * pes
    ov = T45.value("overhead.gobo")
    ff = _gobo_parts(_hw(bin_storage="flipflop", **base))
    la = _gobo_parts(_hw(bin_storage="latch", **base))
    rf = _gobo_parts(_hw(bin_storage="regfile", **base))
    ff_bins = n_pe * bin_bits_total * reg / 1e6
    assert ff["pe.bin_registers"] == pytest.approx(ff_bins, rel=1e-12)
    la_bins = n_pe * (bin_bits_total * reg * dlh / dff + rows * bits * reg + sets * n_bins * reg * cg / dff) / 1e6
    assert la["pe.bin_latches"] + la["pe.bin_input_registers"] + la["pe.bin_clock_gates"] == \
        pytest.approx(la_bins, rel=1e-12)
    ref = T45.sram(4096, 8, 1, "itrs-hp", 300)
    rf_bins = n_pe * bin_bits_total * ref.area_mm2 / (8 * 4096) * T45.value("tensorcore.rf_area_factor")
    assert rf["pe.bin_register_files"] == pytest.approx(rf_bins, rel=1e-12)
    # everything else of the PE is the same under the three choices; the logic overhead applies to logic only
    total = {k: sum(d.values()) for k, d in (("ff", ff), ("la", la), ("rf", rf))}
    assert total["ff"] - total["la"] == pytest.approx((ff_bins - la_bins) * ov, rel=1e-9)
    assert total["ff"] - total["rf"] == pytest.approx(ff_bins * ov - rf_bins, rel=1e-9)
    assert rf["pe.bin_register_files"] > 0 and "pe.bin_registers" not in rf and "pe.bin_registers" not in la


@settings(max_examples=20, deadline=None)
@given(bits=st.integers(8, 31), storage=st.sampled_from(["flipflop", "latch", "regfile"]))
def test_narrower_bins_shrink_the_bin_adders_and_storage(bits: int, storage: str) -> None:
    wide = _gobo_parts(_hw(bin_bits=32, bin_storage=storage))
    narrow = _gobo_parts(_hw(bin_bits=bits, bin_storage=storage))
    assert narrow["pe.bin_adders"] == pytest.approx(wide["pe.bin_adders"] * bits / 32, rel=1e-12)
    assert sum(narrow.values()) < sum(wide.values())
    assert narrow["pe.tree_adders"] == wide["pe.tree_adders"]  # products and the tree stay 32 bits wide


def test_bin_accumulate_energy_per_storage() -> None:
    reg, rf = T45.energy_pj("reg_bit"), T45.energy_pj("rf_bit")
    ratio = T45.value("cells.dlh_x1_write") / T45.value("cells.dff_x1_write")
    for bits in (21, 32):
        add = T45.energy_pj("add_int32") * bits / 32
        assert bin_accumulate_pj(_hw(bin_bits=bits).compute, T45) == pytest.approx({"add": add, "write": bits * reg})
        lat = bin_accumulate_pj(_hw(bin_bits=bits, bin_storage="latch").compute, T45)
        assert lat == pytest.approx({"add": add, "write": bits * reg * (1 + ratio)})
        rfe = bin_accumulate_pj(_hw(bin_bits=bits, bin_storage="regfile").compute, T45)
        assert rfe == pytest.approx({"add": add, "write": bits * rf, "read": bits * rf})


@pytest.mark.parametrize("storage", ["flipflop", "latch", "regfile"])
@pytest.mark.parametrize("bits", [21, 32])
def test_run_actions_are_priced_by_bin_width_and_storage(storage: str, bits: int) -> None:
    """The run's bin actions (bin_add, bin_write_bits) follow the keys; the other adds stay int32."""
    hw = _hw(bin_bits=bits, bin_storage=storage)
    m = gobo_estimator(hw, T45)
    reg, rf = T45.energy_pj("reg_bit"), T45.energy_pj("rf_bit")
    latch = reg * (1 + T45.value("cells.dlh_x1_write") / T45.value("cells.dff_x1_write"))
    per_bit = {"flipflop": reg, "latch": latch, "regfile": 2 * rf}[storage]
    assert m.energy_per_action("bin_add") == pytest.approx(T45.energy_pj("add_int32") * bits / 32, rel=1e-12)
    assert m.energy_per_action("bin_write_bits") == pytest.approx(per_bit, rel=1e-12)
    assert m.energy_per_action("add_int32") == T45.energy_pj("add_int32")
    p = _kind_params(hw)
    assert p.bin_bits == bits


def _kind_params(hw):
    from sim.compute.registry import get_kind

    return get_kind("gobo").params(hw)


def _gobo(k: int, n: int, rng: np.random.Generator, idx_value: int | None = None) -> IntegerGobo:
    idx = rng.integers(0, 8, size=(n, k)) if idx_value is None else np.full((n, k), idx_value)
    return IntegerGobo(indices=idx.astype(np.uint8), centroid_ints=np.arange(-4, 4, dtype=np.int64),
                       outlier_rows=np.zeros(0, np.int64), outlier_cols=np.zeros(0, np.int64),
                       outlier_ints=np.zeros(0, np.int64), scale=1.0, saturated=0, orientation="nk")


@settings(max_examples=20, deadline=None)
@given(k=st.integers(2, 600), seed=st.integers(0, 2**31 - 1))
def test_bin_bits_overflow_is_detected_exactly(k: int, seed: int) -> None:
    """All weights in one bin and all activations -128: the bin sum is -128 k; it fits b bits iff
    -128 k >= -2^(b-1)."""
    rng = np.random.default_rng(seed)
    w = _gobo(k, 3, rng, idx_value=int(rng.integers(0, 8)))
    x = np.full((2, k), -128, dtype=np.int8)
    need = (128 * k - 1).bit_length() + 1  # smallest signed width holding -128 k
    assert gobo_pe_gemm(x, w, bin_bits=need).shape == (2, 3)
    with pytest.raises(IntegerOverflowError, match="gobo_pe_gemm: bin accumulator"):
        gobo_pe_gemm(x, w, bin_bits=need - 1)
    assert need <= int(np.ceil(np.log2(k))) + 8 + 1  # the stated bound holds


def test_datapath_reports_a_too_narrow_bin_as_bad_input() -> None:
    rng = np.random.default_rng(1)
    w = _gobo(256, 4, rng, idx_value=0)

    class Lin:
        gobo = w

    x = np.full((1, 256), 127, dtype=np.int8)
    with pytest.raises(SimInputError, match=r"compute\.bin_bits: .* 12 bits; .* K = 256 need up to .* = 17 bits"):
        GoboDatapath(12).linear(x, Lin(), 8)
    out, how = GoboDatapath(17).linear(x, Lin(), 8)
    assert how == "gobo-pe" and int(out[0, 0]) == 127 * 256 * -4
    assert GoboDatapath(32).key == ("gobo",) and GoboDatapath(21).key == ("gobo", 21)


def test_datapath_narrow_bins_in_gemm_orientation_and_other_overflows() -> None:
    """The bin-width message counts K in either orientation; an overflow of another register is not reported as a
    bin-width problem (it is raised as it is)."""
    rng = np.random.default_rng(2)
    w = _gobo(256, 4, rng, idx_value=0).transposed()  # "kn": K is the first axis

    class Lin:
        gobo = w

    with pytest.raises(SimInputError, match=r"a 256-deep product does not fit 12 bits"):
        GoboDatapath(12).linear(np.full((1, 256), 127, dtype=np.int8), Lin(), 8)
    with pytest.raises(IntegerOverflowError, match="activation"):
        GoboDatapath(12).linear(np.full((1, 256), 300), Lin(), 8)
    assert GoboDatapath().bin_bits == 32 and GoboDatapath().key == ("gobo",)


def test_datapath_bin_width_message_for_a_two_deep_product() -> None:
    w = _gobo(2, 1, np.random.default_rng(3), idx_value=0)

    class Lin:
        gobo = w

    with pytest.raises(SimInputError, match=r"K = 2 need up to ceil\(log2 K\) \+ 8 \+ 1 = 10 bits"):
        GoboDatapath(8).linear(np.full((1, 2), 127, dtype=np.int8), Lin(), 8)
