"""The caches that make repeated runs fast never change a result: functional-pass disk cache, in-process memo of
quantized models, shared DRAM models, parsed-YAML memo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.config import files
from sim.functional import api as fapi
from sim.functional import weights as fweights
from sim.functional.check import functional_check
from sim.hw.dram import DramModel, dram_spec
from sim.prepare import prepare
from sim.quant import cache as qcache
from sim.quant.params import GoboParams
from sim.quant.synthetic import bert_tensor_shapes

SHAPES = bert_tensor_shapes(num_layers=1, hidden=32, intermediate=64, vocab_size=100, max_position=16)


def _report(hw: str) -> str:
    return json.dumps(functional_check(prepare(hw, "tiny")).to_dict(), sort_keys=True)


@pytest.mark.parametrize("hw", ["gobo", "tpu"])
def test_functional_pass_from_the_disk_cache_equals_the_computed_one(hw: str, monkeypatch, tmp_path: Path) -> None:
    fapi.clear_cache()
    cold = _report(hw)
    entries = sorted(Path(qcache.default_cache_dir(), "functional").glob("*.npz"))
    assert len(entries) == 2  # the calibrated integer model and the float reference output
    fapi.clear_cache()

    def no_weights(*args, **kwargs):
        raise AssertionError("the float weights were regenerated on a warm cache")

    monkeypatch.setattr(fweights, "synthetic_float_weights", no_weights)
    monkeypatch.setattr(fapi, "synthetic_float_weights", no_weights)
    assert _report(hw) == cold
    monkeypatch.undo()
    fapi.clear_cache()
    for npz in entries:  # damaged entries are rebuilt, with the same result
        data = npz.read_bytes()
        npz.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    assert _report(hw) == cold
    fapi.clear_cache()


def test_functional_cache_key_separates_inputs() -> None:
    from sim.functional.cache import entry_key

    base = {"weights": {"synthetic_seed": 0}, "mode": "int8", "nonlinear": "ibert"}
    keys = {entry_key("integer-model", base), entry_key("integer-model", {**base, "nonlinear": "ivit"}),
            entry_key("integer-model", {**base, "weights": {"synthetic_seed": 1}}),
            entry_key("float-reference", base)}
    assert len(keys) == 4


def test_quantized_model_memo_reads_nothing_while_the_entry_is_unchanged(monkeypatch, tmp_path: Path) -> None:
    cache = qcache.QuantCache(tmp_path)
    qcache.clear_memo()
    first = qcache.quantize_synthetic(SHAPES, GoboParams(), seed=5, cache=cache)
    assert first.cache_status == "miss"
    loads = []
    real_load = qcache.QuantCache.load
    monkeypatch.setattr(qcache.QuantCache, "load", lambda self, key: loads.append(key) or real_load(self, key))
    # just written: "racy" (an in-place rewrite could keep the same timestamps), so the entry is read
    second = qcache.quantize_synthetic(SHAPES, GoboParams(), seed=5, cache=cache)
    assert second.cache_status == "hit" and len(loads) == 1
    monkeypatch.setattr(qcache, "RACY_NS", 0)  # as if the entry had been written long before it was read
    assert qcache.quantize_synthetic(SHAPES, GoboParams(), seed=5, cache=cache) is second
    assert len(loads) == 1  # not read again
    npz = next(cache.dir.glob("*.npz"))
    npz.write_bytes(npz.read_bytes()[:-10])  # changed on disk: read, found corrupt, rebuilt
    assert qcache.quantize_synthetic(SHAPES, GoboParams(), seed=5, cache=cache).cache_status == "rebuilt"
    qcache.clear_memo()


def test_shared_dram_model_gives_the_fresh_model_timings() -> None:
    spec = dram_spec("ddr4-3200", channels=2)
    shared = DramModel.shared(spec)
    assert DramModel.shared(dram_spec("ddr4-3200", channels=2)) is shared
    for nbytes, write, prev in ((4096, False, None), (100_000, True, False), (64, False, True)):
        assert shared.transfer(nbytes, write=write, prev_write=prev) == \
            DramModel(spec).transfer(nbytes, write=write, prev_write=prev)


def test_yaml_memo_returns_independent_copies() -> None:
    text = "version: 1\nname: x\nitems: [1, 2]\n"
    a = files.parse_yaml(text, "a.yaml")
    a["items"].append(3)
    b = files.parse_yaml(text, "a.yaml")
    assert b == {"version": 1, "name": "x", "items": [1, 2]}
    with pytest.raises(Exception, match="b.yaml"):
        files.parse_yaml("a: [", "b.yaml")
    with pytest.raises(Exception, match="b.yaml"):  # errors are never remembered
        files.parse_yaml("a: [", "b.yaml")


def test_cold_run_generates_each_synthetic_tensor_once_with_the_same_report(monkeypatch, tmp_path: Path) -> None:
    """With the functional pass, the float model takes the tensors the quantizer generated (one generation per
    tensor on a cold cache); the report equals that of a run generating them twice."""
    from contextlib import nullcontext

    from sim import pipeline
    from sim.quant import synthetic

    made: list[str] = []
    real = synthetic._generate
    monkeypatch.setattr(synthetic, "_generate", lambda name, *a: made.append(name) or real(name, *a))

    def cold_report(cache: str) -> str:
        monkeypatch.setenv("GOBOSIM_CACHE_DIR", str(tmp_path / cache))
        fapi.clear_cache()
        qcache.clear_memo()
        made.clear()
        r = pipeline.run("gobo", "tiny").to_dict()
        r.pop("version", None)
        return json.dumps(r, sort_keys=True)

    shared = cold_report("a")
    assert made and len(made) == len(set(made))  # every tensor generated once
    monkeypatch.setattr(pipeline, "retain_generated", nullcontext)  # as before: quantizer and float model apart
    twice = cold_report("b")
    assert len(made) > len(set(made))
    assert shared == twice
    fapi.clear_cache()
    qcache.clear_memo()
