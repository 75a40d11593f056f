"""OliVe: the OVP quantizer and its packed bytes, the edge decoder, closed form == per-cycle stepper, the
datapath against the reference kernel (and that a corrupted pair is caught), runs and comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from sim import api
from sim.compute.olive.dataflow import OliveDatapath
from sim.compute.olive.stepper import OliveStepper
from sim.compute.olive.timing import olive_bmm_timing, olive_gemm_timing
from sim.compute.systolic.timing import FOLD_SCHEDULES, SystolicParams
from sim.functional.qweights import olive_linear
from sim.kernels.gemm import int_gemm
from sim.quant import olive

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _heavy(rng: np.random.Generator, shape: tuple[int, int], frac: float = 0.01) -> np.ndarray:
    w = rng.standard_normal(shape) * 0.05
    hit = rng.random(shape) < frac
    w[hit] *= rng.uniform(8, 20, size=int(hit.sum()))
    return w


def test_hand_encoded_pairs():
    # scale 1 per row (alpha forced by a row whose 3-sigma bound sets it): check codes by hand instead
    q = np.array([[3, -7, 0, 24, -96, 0, 5, -1]], dtype=np.int16)
    pairs = olive.encode_pairs(q)
    assert [int(b) for b in pairs[0]] == [0x3 | (0x9 << 4), 0x8 | (0x3 << 4), 0xF | (0x8 << 4), 0x5 | (0xF << 4)]
    np.testing.assert_array_equal(olive.decode_codes(pairs), q)


def test_quantizer_invariants_and_bytes():
    rng = np.random.default_rng(1)
    w = _heavy(rng, (48, 67))  # odd K: the last pair is padded with a zero
    p = olive.quantize(w)
    assert p.ints.shape == (48, 67) and p.pairs.shape == (48, 34)
    assert len(p.to_bytes()) == p.packed_bytes == p.nbytes == olive.olive_bytes(48, 67) == 48 * 34 + 48 * 4
    assert p.bits_per_weight == pytest.approx(8 * (48 * 34 + 48 * 4) / (48 * 67))
    np.testing.assert_array_equal(p.decode(), p.ints)  # the decoder rebuilds the quantizer's integers
    q = np.concatenate([p.ints, np.zeros((48, 1), dtype=np.int16)], axis=1)
    big = np.abs(q) > olive.NORMAL_MAX
    assert not (big[:, 0::2] & big[:, 1::2]).any()  # one outlier per pair at most
    assert (q[:, 1::2][big[:, 0::2]] == 0).all() and (q[:, 0::2][big[:, 1::2]] == 0).all()  # victims pruned
    mags = set(np.abs(q[big]).tolist())
    assert mags <= set(olive.OUTLIER_MAGNITUDES) and len(mags) >= 2
    assert 0 < p.outlier_fraction < 0.05
    np.testing.assert_allclose(p.dequantized(), p.ints * p.scales[:, None].astype(np.float64), rtol=1e-6)
    # outliers are worth their victims: OVP beats a plain per-row int4 clipped at the same 3-sigma rule
    plain_s = np.abs(w).max(axis=1, keepdims=True) / 7
    plain = np.clip(np.rint(w / plain_s), -7, 7) * plain_s
    assert p.rel_l2_error < np.linalg.norm(plain - w) / np.linalg.norm(w)


def test_activation_quantizer_one_scale():
    x = _heavy(np.random.default_rng(2), (3, 16, 32)).reshape(3, 16, 32)
    p = olive.quantize_activations(x)
    assert p.scales.size == 1 and p.dequantized().shape == x.shape
    assert p.rel_l2_error < 0.3


@pytest.mark.parametrize("schedule", FOLD_SCHEDULES)
@pytest.mark.parametrize("shape", [(2, 3, 1, 1, 1), (4, 4, 5, 9, 7), (6, 2, 3, 13, 5), (2, 5, 8, 4, 11)])
def test_closed_form_equals_stepper(schedule, shape):
    rows, cols, m, k, n = shape
    p = SystolicParams(rows, cols, "ws", schedule)
    rng = np.random.default_rng(rows * 100 + k)
    x = rng.integers(-128, 128, size=(m, k))
    w = _heavy(rng, (n, k), 0.1)
    packed = olive.quantize(w)
    res = OliveStepper(p).run_gemm(x, packed.pairs, k)
    np.testing.assert_array_equal(res.output, x @ packed.ints.T.astype(np.int64))
    assert res.timing == olive_gemm_timing(p, m, k, n)
    a = rng.integers(-128, 128, size=(m, k))
    b = rng.integers(-128, 128, size=(k, n))
    res = OliveStepper(p).run_bmm(a, b)
    np.testing.assert_array_equal(res.output, a @ b)
    assert res.timing == olive_bmm_timing(p, m, k, n)


def test_datapath_matches_reference_and_catches_a_bad_pair():
    rng = np.random.default_rng(3)
    lin = olive_linear("l", _heavy(rng, (40, 70)), None)
    x = rng.integers(-127, 128, size=(9, 70)).astype(np.int64)
    dp = OliveDatapath(rows=8)
    out, how = dp.linear(x, lin, 8)
    assert how.startswith("olive-ovp")
    np.testing.assert_array_equal(out, int_gemm(x, lin.matrix_nk().T, in_bits=8))
    lin.packed.pairs[5, 3] ^= 0x21  # a corrupted pair byte decodes to other integers
    out2, _ = dp.linear(x, lin, 8)
    assert not np.array_equal(out2, int_gemm(x, lin.matrix_nk().T, in_bits=8))
    a = rng.integers(-128, 128, size=(2, 5, 33))
    b = rng.integers(0, 256, size=(2, 33, 6))  # uint8 probabilities x int8 values: 9-bit operands
    np.testing.assert_array_equal(dp.bmm(a, b, 9), int_gemm(a, b, in_bits=9))


def test_run_and_compare_tiny():
    r = api.run("olive", "tiny")
    f = r.functional
    assert f is not None and f.checked is True and f.engine == "olive" and f.mode == "olive"
    assert f.cosine_vs_float > 0.9
    gemm = sum(o.macs for o in r.ops if o.kind == "gemm")
    bmm = sum(o.macs for o in r.ops if o.kind == "bmm")
    assert r.actions["olive"]["mac_w4a8"] == gemm + 2 * bmm  # attention in two nibble passes
    assert r.actions["olive"]["decode_pairs"] == sum(o.k // 2 * o.n * o.count for o in r.ops if o.kind == "gemm")
    tpu = api.run("tpu", "tiny", functional=False)
    assert r.dram_read_bytes < 0.7 * tpu.dram_read_bytes  # 4-bit weights off chip
    rep = api.compare("tiny", ["tpu", "olive"], iso="area")
    assert rep.designs[1].area_mm2 == pytest.approx(rep.designs[0].area_mm2, rel=0.1)
    rep = api.compare("tiny", ["tpu", "olive"], iso="peak")
    assert rep.designs[1].peak_macs_per_cycle == pytest.approx(4096, rel=0.05)


@pytest.mark.parametrize("fmt", ["olive", "olaccel"])
def test_sim_quantize_format(fmt, tmp_path, capsys):
    from sim.cli import main
    from sim.quant import olaccel
    from sim.quant.formats import quantize_tensor
    from sim.results import FormatQuantizeReport

    out = tmp_path / "q.json"
    assert main(["quantize", "--workload", "tiny", "--format", fmt, "--json", str(out)]) == 0
    rep = FormatQuantizeReport.from_json(out)
    fc = [x for x in rep.layers if x.quantized]
    assert fc and all(x.kind in ("query", "key", "value", "attn_out", "ffn1", "ffn2", "pooler") for x in fc)
    assert rep.packed_bytes == sum(x.packed_bytes for x in fc)
    assert rep.bits_per_weight == pytest.approx(8 * rep.packed_bytes / rep.quantized_weights)
    assert 4.0 < rep.bits_per_weight < (4.6 if fmt == "olive" else 6.0)  # tiny: short rows
    assert 0 < rep.rel_l2_error < 0.2
    first = fc[0]
    values = api.tensor_values(first.name, workload="tiny", seed=0)
    q = quantize_tensor(fmt, np.asarray(values, dtype=np.float32))
    assert first.packed_bytes == len(q.to_bytes())  # type: ignore[attr-defined]  # bytes of the real buffers
    if fmt == "olive":
        assert all(x.packed_bytes == olive.olive_bytes(x.shape[0], x.shape[1]) for x in fc)
    else:
        assert isinstance(q, olaccel.OlaccelPacked) and first.stats["outlier_fraction"] == pytest.approx(
            q.outlier_fraction)
    assert main(["quantize", "--workload", "tiny", "--format", fmt, "--plot", str(tmp_path / "h.png")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize("hw,fmt", [("tpu", "olive"), ("tcore", "olaccel"), ("gobo", "olive"), ("olive", "int8")])
def test_formats_only_on_their_kinds(hw, fmt, capsys):
    from sim.cli import main

    assert main(["validate", "--hw", hw, "--set", f"weights.format={fmt}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "weights.format" in err and len(err.splitlines()) == 1
