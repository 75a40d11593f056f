"""The decoder float reference against Hugging Face golden data (tests/data/decoder_golden, made by
bench/make_decoder_golden.py from seeded random-initialised tiny GPT-2, OPT and Llama models): prefill hidden
states and logits, incremental decode with the KV cache, and the cache-free full forward."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.functional.decoder import CANONICAL, DecoderDims, decoder_forward
from sim.functional.weights import FloatWeights
from sim.quant.checkpoint import read_safetensors
from sim.workload.decoder import decoder_tensors
from sim.workload.loader import from_hf_config
from sim.workload.spec import WorkloadSpec

DATA = Path(__file__).parent / "data" / "decoder_golden"
GOLDEN = json.loads((DATA / "golden.json").read_text())
TOL = 1e-4  # float32 vs float32 (the bound); measured errors are printed by -s


def _model(name: str):
    g = GOLDEN["models"][name]
    raw = from_hf_config(dict(g["config"]), f"golden {name}")
    raw.update(seq_len=GOLDEN["generator"]["prompt"], gen_tokens=GOLDEN["generator"]["steps"])
    wl = WorkloadSpec(**{k: v for k, v in raw.items()})
    tensors = CANONICAL[name](read_safetensors(DATA / f"{name}.safetensors"))
    return wl, FloatWeights(tensors, f"golden {name}"), g


@pytest.mark.parametrize("name", ["gpt2", "opt", "llama"])
def test_canonical_weights_cover_the_graph(name):
    wl, w, _ = _model(name)
    expected = {t.name: t.shape for t in decoder_tensors(wl)}
    assert set(w.tensors) == set(expected)
    for n, shape in expected.items():
        assert w[n].shape == shape, n


@pytest.mark.parametrize("name", ["gpt2", "opt", "llama"])
def test_prefill_and_incremental_decode_match_hugging_face(name):
    wl, w, g = _model(name)
    dims = DecoderDims.from_workload(wl)
    ids = np.array(g["input_ids"], dtype=np.int64)
    b, s = ids.shape
    kept = len(g["logits_head"]) // (b * s)
    out = decoder_forward(w, dims, ids, dtype=np.float32)
    err_h = np.abs(out.hidden - np.array(g["hidden"]).reshape(out.hidden.shape)).max()
    err_l = np.abs(out.logits[..., :kept] - np.array(g["logits_head"]).reshape(b, s, kept)).max()
    assert err_h <= TOL and err_l <= TOL, (err_h, err_l)
    past = out.present
    errs = []
    for step in g["steps"]:
        tok = np.array(step["token"], dtype=np.int64).reshape(b, 1)
        # greedy decoding reproduces HF's choice of the next token from our own logits
        assert np.array_equal(out.logits[:, -1].argmax(-1), tok[:, 0])
        out = decoder_forward(w, dims, tok, past=past, dtype=np.float32)
        past = out.present
        errs.append(np.abs(out.hidden[:, 0] - np.array(step["hidden"]).reshape(b, -1)).max())
        errs.append(np.abs(out.logits[:, 0, :kept] - np.array(step["logits_head"]).reshape(b, kept)).max())
    assert max(errs) <= TOL, errs
    print(f"{name}: prefill hidden {err_h:.2e}, logits {err_l:.2e}; decode max {max(errs):.2e}")


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_cache_decode_equals_full_forward(name):
    """Prefill + one-token steps with the KV cache == the full forward over the same tokens (float64)."""
    wl, w, g = _model(name)
    dims = DecoderDims.from_workload(wl)
    ids = np.array(g["input_ids"], dtype=np.int64)
    toks = np.array([st["token"] for st in g["steps"]], dtype=np.int64).T  # [b, steps]
    full = decoder_forward(w, dims, np.concatenate([ids, toks], axis=1))
    out = decoder_forward(w, dims, ids)
    past, inc = out.present, []
    for t in range(toks.shape[1]):
        out = decoder_forward(w, dims, toks[:, t:t + 1], past=past)
        past = out.present
        inc.append(out.hidden[:, 0])
    np.testing.assert_allclose(np.stack(inc, axis=1), full.hidden[:, ids.shape[1]:], atol=1e-10, rtol=0)
    hf_full = np.array(g["full_forward_generated_hidden"]).reshape(full.hidden[:, ids.shape[1]:].shape)
    assert np.abs(full.hidden[:, ids.shape[1]:] - hf_full).max() <= TOL
