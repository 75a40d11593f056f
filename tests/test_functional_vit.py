"""The ViT end to end: float forward against Hugging Face, the integer-only ViT, images in encode(), the
functional pass on every kind of design.

Golden data: ``tests/data/vit_tiny/`` (a seeded random ``ViTForImageClassification``, image 32, patch 8,
hidden 64, 2 layers, 4 heads, 10 classes, and its outputs in torch float32 / float64), made by
``bench/make_vit_golden.py`` in a separate virtualenv.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.config import load_hardware
from sim.errors import SimInputError
from sim.functional import api, encode
from sim.functional.check import functional_check
from sim.functional.dims import EncoderDims
from sim.functional.metrics import cosine
from sim.functional.reference import vit_forward
from sim.functional.weights import load_float_weights
from sim.prepare import prepare
from sim.quant import read_safetensors
from sim.workload.loader import load_workload

DATA = Path(__file__).parent / "data" / "vit_tiny"
CONFIG = DATA / "config.json"
MODEL = DATA / "model.safetensors"


@pytest.fixture(scope="module")
def golden():
    return read_safetensors(DATA / "golden.safetensors")


@pytest.fixture(scope="module")
def wl():
    return load_workload(CONFIG)


@pytest.fixture(scope="module")
def weights(wl):
    return load_float_weights(MODEL, wl)


def test_golden_files_are_small():
    assert sum(f.stat().st_size for f in DATA.iterdir()) < 1 << 20


def test_workload_from_the_hf_config(wl):
    assert (wl.family, wl.layers, wl.hidden, wl.heads, wl.intermediate) == ("vit", 2, 64, 4, 128)
    assert (wl.image_size, wl.patch_size, wl.seq_len, wl.num_classes) == (32, 8, 17, 10)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-4), (np.float64, 1e-6)])
def test_float_forward_equals_hugging_face(golden, wl, weights, dtype, tol):
    """float32: measured 9.6e-7 (hidden), 3.6e-7 (logits). float64: 7.9e-8, limited by Hugging Face's eager
    attention, which computes the softmax in float32 even for a float64 model."""
    label = "float32" if dtype is np.float32 else "float64"
    out = vit_forward(weights, EncoderDims.from_workload(wl), golden["pixel_values"], dtype=dtype)
    assert np.max(np.abs(out.last_hidden_state - golden[f"last_hidden_state_{label}"])) <= tol
    assert np.max(np.abs(out.pooled - golden[f"logits_{label}"])) <= tol


def test_encode_takes_images(golden):
    px = golden["pixel_values"]
    h = encode(px, workload=CONFIG, weights=MODEL)
    assert h.shape == (3, 17, 64)
    assert np.max(np.abs(h - golden["last_hidden_state_float64"])) <= 1e-6
    one = encode(None, workload=CONFIG, weights=MODEL, pixel_values=px[1])
    assert np.max(np.abs(one[0] - h[1])) < 1e-12
    # the integer model: an image's integers do not depend on the rest of the batch
    q = encode(px, workload=CONFIG, weights=MODEL, mode="gobo3")
    assert np.array_equal(encode(px[2], workload=CONFIG, weights=MODEL, mode="gobo3")[0], q[2])


@pytest.mark.parametrize("kwargs, match", [
    ({"token_ids": np.zeros((1, 3, 16, 16))}, r"must be \[batch, 3, 32, 32\]"),
    ({"token_ids": np.full((1, 3, 32, 32), np.nan)}, "finite"),
    ({"token_ids": np.zeros((0, 3, 32, 32))}, "non-empty"),
    ({"token_ids": np.array([["a"]])}, "numeric"),
    ({"pixel_values": np.zeros((1, 3, 32, 32))}, "once"),
    ({"attention_mask": [[1]]}, "no attention_mask"),
])
def test_bad_images_are_one_line_errors(kwargs, match):
    args = {"token_ids": np.zeros((1, 3, 32, 32)), "workload": CONFIG, **kwargs}
    with pytest.raises(SimInputError, match=match) as err:
        encode(args.pop("token_ids"), **args)
    assert "\n" not in str(err.value)


def test_text_encoder_refuses_images():
    with pytest.raises(SimInputError, match="not pixel_values"):
        encode([[101, 102]], workload="tiny", pixel_values=np.zeros((1, 3, 32, 32)))


def test_default_kernels_by_family(wl):
    assert api.integer_encoder(wl, MODEL, "int8").nonlinear == "ivit"
    assert api.integer_encoder(load_workload("tiny"), None, "int8").nonlinear == "ibert"


# measured on the golden images (docs/RESULTS.md has the table): int8 0.9999, gobo4 0.998, gobo3 0.993
FLOOR = {"int8": 0.999, "gobo4": 0.995, "gobo3": 0.985}


@pytest.mark.parametrize("mode", ["int8", "gobo3", "gobo4"])
@pytest.mark.parametrize("nonlinear", ["ivit", "ibert"])
def test_integer_vit_tracks_the_float_model(golden, wl, weights, mode, nonlinear):
    enc = api.integer_encoder(wl, MODEL, mode, nonlinear)
    res = enc.forward_images(golden["pixel_values"], check=True)
    ref = vit_forward(weights, EncoderDims.from_workload(wl), golden["pixel_values"])
    assert res.q_out.dtype == np.int8 and res.q_out.shape == (3, 17, 64)
    assert np.array_equal(res.hidden, res.q_out * np.asarray(res.scale))
    assert cosine(res.hidden, ref.last_hidden_state) > FLOOR[mode]
    assert cosine(res.pooled, ref.pooled) > FLOOR[mode]
    # every weight GEMM + 2 BMMs per layer; all on the format's datapath, equal to int_gemm
    assert res.stats.gemms == 2 * 6 + 2 and res.stats.bmms == 4 and res.stats.all_equal


def test_kernel_set_changes_the_integers(golden, wl):
    a = api.integer_encoder(wl, MODEL, "int8", "ivit").forward_images(golden["pixel_values"])
    b = api.integer_encoder(wl, MODEL, "int8", "ibert").forward_images(golden["pixel_values"])
    assert a.sha256() != b.sha256()


def test_every_point_of_the_integer_vit_follows_the_float_one(golden, wl, weights):
    """Each quantized activation (dequantized) against the float forward at the same point: a wrong scale,
    a swapped norm or a dropped bias anywhere shows here even where the output survives it."""
    px = golden["pixel_values"]
    enc = api.integer_encoder(wl, MODEL, "int8", "ivit")
    trace: dict[str, np.ndarray] = {}
    enc.forward_images(px, trace=trace)
    seen: dict[str, np.ndarray] = {}
    vit_forward(weights, EncoderDims.from_workload(wl), px, observe=lambda n, v, m: seen.setdefault(n, v))
    assert set(trace) == set(seen)
    for name, v in trace.items():
        f = np.asarray(seen[name], dtype=np.float64).reshape(v.shape)
        assert cosine(v, f) > 0.999, name


@pytest.mark.parametrize("hw", ["gobo", "tpu", "gobo-compress-tpu"])
def test_functional_pass_checks_vit_on_integer_designs(wl, hw):
    r = functional_check(prepare(load_hardware(hw), wl, weights=MODEL)).to_dict()
    assert r["checked"] is True and r["exact"] is True and r["mismatches"] == []
    assert r["gemms"] == 14 and r["gemms_checked"] >= 12
    assert r["cosine_vs_float"] > 0.98 and "images" in r["input"] and "images" in r["calibration"]
    assert r["weights_source"].startswith(str(MODEL)) or "sha256" in r["weights_source"]
    json.dumps(r)


def test_functional_pass_vit_gobo_on_pe_and_systolic_agree(wl):
    a = functional_check(prepare(load_hardware("gobo"), wl, weights=MODEL)).to_dict()
    b = functional_check(prepare(load_hardware("gobo-compress-tpu"), wl, weights=MODEL)).to_dict()
    assert a["engine"] == "gobo" and b["engine"] == "systolic" and a["output_sha256"] == b["output_sha256"]


def test_functional_pass_vit_tensor_core_and_kernels(wl):
    r = functional_check(prepare(load_hardware("tcore"), wl, weights=MODEL)).to_dict()
    assert r["checked"] is None and r["mode"] == "fp16" and r["cosine_vs_float"] > 0.9999
    r = functional_check(prepare(load_hardware("tpu", ["vector.kernels=ivit"]), wl)).to_dict()
    assert r["kernels"] == "ivit" and r["checked"] is True and r["weights_source"] == "synthetic seed 0"


def test_cli_runs_a_vit_checkpoint(tmp_path, capsys):
    from sim.cli import main

    out = tmp_path / "run.json"
    assert main(["run", "--hw", "gobo", "--workload", str(CONFIG), "--weights", str(MODEL), "--json", str(out)]) == 0
    f = json.loads(out.read_text())["functional"]
    assert f["checked"] is True and f["mode"] == "gobo3" and "sha256" in f["weights_source"]
    capsys.readouterr()
    # a file without the model's tensors: one line naming it, exit 2
    bad = DATA / "golden.safetensors"
    assert main(["run", "--hw", "gobo", "--workload", str(CONFIG), "--weights", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "golden.safetensors" in err and "\n" not in err
