"""4-bit activation formats (OliVe's OVP pairs, OLAccel's 4-bit dense + int8 outliers) in the integer pipeline:
the integer snap against the float quantizers and an independent brute-force grid, the datapaths bit for bit
against the reference GEMM (and a corrupted decoder or merge caught), the functional pass, the config key."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import sim.compute.olaccel.dataflow as olaccel_df
import sim.compute.olive.dataflow as olive_df
from sim.cli import main
from sim.compute.olaccel.dataflow import OlaccelActivations, OlaccelDatapath
from sim.compute.olive.dataflow import OliveDatapath, OvpActivations, pair_roundtrip
from sim.compute.registry import get_kind
from sim.config import load_hardware
from sim.kernels.gemm import int_gemm
from sim.quant import olaccel, olive

GRID = [0, 1, 2, 3, 4, 5, 6, 7, 12, 16, 24, 32, 48, 64, 96]
MIDPOINTS = {14, 20, 28, 40, 56, 80}  # integer midpoints of the outlier grid (double-rounding cases)


def _heavy(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Activations with a few large channels (as LayerNorm outputs have)."""
    x = rng.normal(size=shape)
    x[..., ::37] *= 25.0
    return x


def _brute_force_pairs(v: np.ndarray) -> np.ndarray:
    """Nearest grid magnitude by exhaustive search (ties: the smaller; normal values clip to 7), then the pair
    rule written out element by element: an independent reference for snap_ints."""
    out = np.zeros(v.shape, dtype=np.int64)
    for idx, x in np.ndenumerate(v):
        m = abs(int(x))
        best = min(GRID, key=lambda g: (abs(m - g), g))
        out[idx] = best if x >= 0 else -best
    flat = out.reshape(-1, out.shape[-1])
    for row in flat:
        for j in range(0, row.size, 2):
            a, b = row[j], row[j + 1]
            if abs(a) > 7 and (abs(b) <= 7 or abs(a) >= abs(b)):
                row[j + 1] = 0
            elif abs(b) > 7:
                row[j] = 0
    return flat.reshape(v.shape)


def test_ovp_integer_snap_matches_a_brute_force_grid():
    rng = np.random.default_rng(0)
    v = rng.integers(-300, 301, size=(6, 40))
    v[0, :] = np.arange(-20, 20) * 5  # every region of the grid
    got = olive.snap_ints(v)
    assert got.dtype.kind == "i"
    np.testing.assert_array_equal(got, _brute_force_pairs(v))


def test_ovp_snap_matches_the_float_quantizer_except_double_rounding():
    rng = np.random.default_rng(1)
    x = _heavy(rng, (64, 96))
    q = olive.quantize_activations(x)
    s = float(q.scales[0])
    v = np.rint(x / s).astype(np.int64)  # the dyadic rescale's integer at the same scale
    assert OvpActivations().calibrate(x) == s  # the calibration is the float quantizer's scale search
    snapped, counts = OvpActivations().snap(v)
    diff = snapped != q.ints
    assert counts["outliers"] == int((np.abs(snapped) > 7).sum())
    # a difference is only allowed in a pair with an element that rounded onto an integer midpoint
    pair_mid = np.isin(np.abs(v), list(MIDPOINTS)).reshape(64, 48, 2).any(axis=2).repeat(2, axis=1)
    assert not (diff & ~pair_mid).any()
    assert diff.sum() <= pair_mid.sum()
    assert counts["elements"] == x.size and counts["outliers"] > 0


def test_olaccel_snap_matches_the_float_quantizer_at_the_same_scale():
    rng = np.random.default_rng(2)
    x = _heavy(rng, (32, 64))
    x[0, 0] = 500.0  # beyond +-127 steps: clipped
    q = olaccel.quantize_activations(x)
    fmt = OlaccelActivations()
    assert fmt.calibrate(x) == float(q.scales[0])
    snapped, counts = fmt.snap(np.rint(x / float(q.scales[0])).astype(np.int64))
    np.testing.assert_array_equal(snapped, q.ints)
    assert counts["outliers"] == q.outliers and counts["clipped"] == q.clipped >= 1
    assert counts["elements"] == x.size
    _, edge = fmt.snap(np.array([127, -127, 128, -200, 7, -8]))
    assert edge == {"elements": 6, "outliers": 5, "clipped": 2}


def _olive_lin(rng: np.random.Generator, n: int, k: int) -> SimpleNamespace:
    p = olive.quantize(_heavy(rng, (n, k)))
    return SimpleNamespace(packed=p, matrix_nk=lambda: p.ints.astype(np.int64), in_bits=8)


def _ovp_acts(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return olive.snap_ints(rng.integers(-40, 41, size=shape)).astype(np.int64)


def test_olive_w4a4_datapath_is_bit_exact_and_a_corrupt_decoder_is_caught(monkeypatch):
    rng = np.random.default_rng(3)
    x = _ovp_acts(rng, (9, 70))
    lin = _olive_lin(rng, 12, 70)
    dp = OliveDatapath(rows=16, act_bits=4)
    np.testing.assert_array_equal(pair_roundtrip(x), x)
    out, how = dp.linear(x, lin, 8)
    assert "ovp pairs" in how
    np.testing.assert_array_equal(out, int_gemm(x, lin.matrix_nk().T, in_bits=8))
    # attention: Q K^T (both OVP, K^T paired along its rows) and P V (uint8 P, OVP V)
    q, k, v = (_ovp_acts(rng, (2, 3, 10, 8)) for _ in range(3))
    kt = k.transpose(0, 1, 3, 2)
    np.testing.assert_array_equal(dp.bmm(q, kt, 8, pair_axes=(-1, -2)), int_gemm(q, kt, in_bits=8))
    p = rng.integers(0, 256, size=(2, 3, 10, 10))
    np.testing.assert_array_equal(dp.bmm(p, v, 9, pair_axes=(None, -1)), int_gemm(p, v, in_bits=9))

    def bad_decode(pairs):  # a decoder that forgets to zero the victims
        d = olive.decode_codes(pairs)
        lo, hi = pairs & 0xF, pairs >> 4
        d[..., 0::2] = np.where(lo == olive.MARKER, -8, d[..., 0::2])
        d[..., 1::2] = np.where(hi == olive.MARKER, -8, d[..., 1::2])
        return d

    assert OliveDatapath(16, 4).key != OliveDatapath(16, 8).key  # integer models are cached per datapath

    def bad_encode(q):  # an encoder that flips the low bit of every pair's first code
        return (olive.encode_pairs(q) ^ 1).astype(np.uint8)

    with monkeypatch.context() as m:  # only the activation path uses the encoder
        m.setattr(olive_df, "encode_pairs", bad_encode)
        assert not np.array_equal(dp.linear(x, lin, 8)[0], int_gemm(x, lin.matrix_nk().T, in_bits=8))
        assert not np.array_equal(dp.bmm(q, kt, 8, pair_axes=(-1, -2)), int_gemm(q, kt, in_bits=8))
        assert not np.array_equal(dp.bmm(p, v, 9, pair_axes=(None, -1)), int_gemm(p, v, in_bits=9))

    monkeypatch.setattr(olive_df, "decode_codes", bad_decode)
    assert not np.array_equal(pair_roundtrip(x), x)
    bad, _ = dp.linear(x, lin, 8)
    assert not np.array_equal(bad, int_gemm(x, lin.matrix_nk().T, in_bits=8))


def test_olive_w4a4_odd_reduction_length():
    rng = np.random.default_rng(6)
    x, _ = OvpActivations().snap(rng.integers(-40, 41, size=(4, 33)))
    np.testing.assert_array_equal(pair_roundtrip(x), x)
    lin = _olive_lin(rng, 5, 33)
    out, _ = OliveDatapath(rows=8, act_bits=4).linear(x, lin, 8)
    np.testing.assert_array_equal(out, int_gemm(x, lin.matrix_nk().T, in_bits=8))


def test_olive_w4a8_datapath_unchanged_by_the_activation_option():
    rng = np.random.default_rng(4)
    x = rng.integers(-128, 128, size=(5, 32))
    lin = _olive_lin(rng, 6, 32)
    out, _ = OliveDatapath(rows=8).linear(x, lin, 8)
    np.testing.assert_array_equal(out, int_gemm(x, lin.matrix_nk().T, in_bits=8))
    p = rng.integers(128, 256, size=(2, 7, 12))  # uint8 probabilities above 127 stream as 9-bit operands
    v = rng.integers(-128, 128, size=(2, 12, 5))
    np.testing.assert_array_equal(OliveDatapath(rows=8).bmm(p, v, 9), int_gemm(p, v, in_bits=9))


def test_olaccel_w4a4_datapath_is_bit_exact_and_a_dropped_outlier_term_is_caught(monkeypatch):
    rng = np.random.default_rng(5)
    w = olaccel.quantize(_heavy(rng, (10, 48)))
    lin = SimpleNamespace(packed=w, matrix_nk=lambda: w.ints.astype(np.int64), in_bits=8)
    x, _ = OlaccelActivations().snap(np.rint(_heavy(rng, (7, 48)) * 2).astype(np.int64))
    assert (np.abs(x) > 7).any()
    dp = OlaccelDatapath(act_bits=4)
    out, how = dp.linear(x, lin, 8)
    assert how.endswith("+outlier-activations") and out.dtype == np.int64
    np.testing.assert_array_equal(out, int_gemm(x, lin.matrix_nk().T, in_bits=8))

    real = olaccel_df.split_activations

    def lose_outliers(a):  # the merge without the outlier activations' products
        d, r, c, v = real(a)
        return d, r, c, np.zeros_like(v)

    monkeypatch.setattr(olaccel_df, "split_activations", lose_outliers)
    bad, _ = dp.linear(x, lin, 8)
    assert not np.array_equal(bad, int_gemm(x, lin.matrix_nk().T, in_bits=8))


#: sha256 of the functional pass's int8 output on `tiny` before 4-bit activations existed (W4A8 for olive and
#: olaccel, i.e. compute.act_bits 8): the option must not move them.
BEFORE = {
    "gobo": "e3afff8751950420b03be01956ed82b4b578d38feb099b96d5a491a2d6db988a",
    "tpu": "af48422df42d9fccb97df2b842235dce37434d7a05f2182c9d8c36d345bb24a4",
    "olive": "5e1005fb4c6bc9a45a750be7baeada82c68bead2de475ed9f4302bb97997c9f7",
    "olaccel": "281826fea157764416972b65c8b882b75e8cf7e7de258395d835670a1837bd29",
}


@pytest.mark.parametrize("hw", sorted(BEFORE))
def test_int8_activation_outputs_unchanged(hw):
    from sim.functional.check import functional_check
    from sim.prepare import prepare
    from sim.workload.loader import load_workload

    cfg = load_hardware(hw, ["compute.act_bits=8"] if hw in ("olive", "olaccel") else [])
    r = functional_check(prepare(cfg, load_workload("tiny"))).to_dict()
    assert r["checked"] is True and r["output_sha256"] == BEFORE[hw]


@pytest.mark.parametrize("hw,name", [("olive", "ovp4"), ("olaccel", "olaccel4")])
def test_functional_pass_with_4bit_activations(hw, name):
    from sim.functional.check import functional_check
    from sim.prepare import prepare
    from sim.workload.loader import load_workload

    cfg = load_hardware(hw)
    assert cfg.compute.act_bits == 4  # the presets: the papers' 4-bit activations
    assert get_kind(hw).activation_format(cfg).name == name
    r = functional_check(prepare(cfg, load_workload("tiny"))).to_dict()
    assert r["checked"] is True and r["mismatches"] == [] and r["gemms_checked"] >= 13
    assert r["output_sha256"] != BEFORE[hw]  # the activations really are different
    assert any(n.startswith(f"{name} activations on this input") for n in r["notes"])
    assert 0.5 < r["cosine_vs_float"] < 1.0


@pytest.mark.parametrize("hw,value,expect", [
    ("tpu", "4", "compute.act_bits"),
    ("olive", "6", "compute.act_bits: must be one of 4, 8, got 6"),
    ("olaccel", "four", "compute.act_bits"),
])
def test_activation_bits_bad_values_one_line_exit_2(capsys, hw, value, expect):
    assert main(["validate", "--hw", hw, "--set", f"compute.act_bits={value}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expect in err


@pytest.mark.parametrize("hw", ["olive", "olaccel"])
def test_functional_pass_vit_with_4bit_activations(hw):
    """A ViT (patches and the classifier input are GEMM inputs too) on the 4-bit-activation presets."""
    from pathlib import Path

    from sim.functional.check import functional_check
    from sim.prepare import prepare
    from sim.workload.loader import load_workload

    data = Path(__file__).parent / "data" / "vit_tiny"
    r = functional_check(prepare(load_hardware(hw), load_workload(data / "config.json"),
                                 weights=data / "model.safetensors")).to_dict()
    assert r["checked"] is True and r["mismatches"] == [] and r["gemms"] == 14
    assert 0.9 < r["cosine_vs_float"] < 1.0


def test_int8_weight_fallback_paths_with_4bit_activations():
    """A linear without packed 4-bit weights (not quantized by the format) runs on the nibble passes."""
    rng = np.random.default_rng(7)
    w = rng.integers(-128, 128, size=(6, 20))
    plain = SimpleNamespace(matrix_nk=lambda: w, in_bits=8)
    x = _ovp_acts(rng, (3, 20))
    out, how = OliveDatapath(rows=8, act_bits=4).linear(x, plain, 8)
    assert "int8 weight" in how
    np.testing.assert_array_equal(out, int_gemm(x, w.T, in_bits=8))
    xo, _ = OlaccelActivations().snap(rng.integers(-60, 61, size=(3, 20)))
    out, how = OlaccelDatapath(act_bits=4).linear(xo, plain, 8)
    assert "int8 weight" in how
    np.testing.assert_array_equal(out, int_gemm(xo, w.T, in_bits=8))
    assert OlaccelDatapath(4).key != OlaccelDatapath(8).key


def test_merged_accumulators_are_checked_at_32_bits():
    """Each nibble pass fits int32 but the merged sum does not: the merge's own width check raises."""
    from sim.kernels.widths import IntegerOverflowError

    k = 140_000
    a = np.full((1, k), 127)
    b = np.full((k, 1), 127)
    with pytest.raises(IntegerOverflowError, match="merged nibble accumulator"):
        OliveDatapath(rows=k, act_bits=8).bmm(a, b, 8)
    with pytest.raises(IntegerOverflowError, match="merged nibble accumulator"):
        OlaccelDatapath(act_bits=4).bmm(a, b, 8)
    p = np.full((1, k), 255)
    v = np.full((k, 2), 96)
    v[:, 1] = 0  # an outlier and its victim, paired along the last axis
    with pytest.raises(IntegerOverflowError, match="merged nibble accumulator"):
        OliveDatapath(rows=k, act_bits=4).bmm(p, v, 9, pair_axes=(None, -1))


@pytest.mark.parametrize("hw", ["olive", "olaccel"])
def test_decoder_pass_of_a_4bit_activation_preset_runs_int8_activations(hw):
    """The decoder pipeline has no activation formats: it runs the design's int8-activation datapath (the
    output as before 4-bit activations existed) and says so."""
    from sim.functional.decoder_check import decoder_functional_check
    from sim.prepare import prepare

    rep = decoder_functional_check(prepare(hw, "tiny-gpt"))
    assert rep is not None and rep.checked is True and rep.mismatches == []
    assert rep.output_sha256 == "69c7044d2e04c66b3f57b1553f2db30323c53e2786cd3072481338413c4f829c"
    assert any(n.startswith("decoder pass: activations int8") for n in rep.notes)
