"""Disk cache: hit, miss on changed inputs, corrupted entries rebuilt, atomic files, env var."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.quant.cache import CACHE_ENV, QuantCache, cache_key, default_cache_dir, quantize_checkpoint, quantize_synthetic
from sim.quant.checkpoint import write_safetensors
from sim.quant.params import GoboParams
from sim.quant.synthetic import bert_tensor_shapes, synthetic_weights

SHAPES = bert_tensor_shapes(num_layers=1, hidden=32, intermediate=64, vocab_size=100, max_position=16)


def same(a, b) -> bool:
    return json.dumps(a.report()) == json.dumps(b.report()) and all(
        np.array_equal(a.tensor(n), b.tensor(n)) for n in a.order)


def test_hit_and_miss(tmp_path: Path) -> None:
    cache = QuantCache(tmp_path)
    first = quantize_synthetic(SHAPES, GoboParams(), seed=3, cache=cache)
    assert first.cache_status == "miss"
    second = quantize_synthetic(SHAPES, GoboParams(), seed=3, cache=cache)
    assert second.cache_status == "hit"
    assert same(first, second)
    assert quantize_synthetic(SHAPES, GoboParams(bits=4), seed=3, cache=cache).cache_status == "miss"
    assert quantize_synthetic(SHAPES, GoboParams(outlier_threshold=-5.0), seed=3, cache=cache).cache_status == "miss"
    assert quantize_synthetic(SHAPES, GoboParams(), seed=4, cache=cache).cache_status == "miss"
    assert quantize_synthetic(SHAPES, GoboParams(), seed=3, std_transfer="none", cache=cache).cache_status == "miss"
    assert len(list(cache.dir.glob("*.npz"))) == 5
    assert not list(cache.dir.glob("*.tmp"))  # no temporary files left behind
    off = quantize_synthetic(SHAPES, GoboParams(), seed=3, cache=False)
    assert off.cache_status == "off" and same(off, first)


@pytest.mark.parametrize("damage", ["truncate", "flip", "sidecar", "no-sidecar", "garbage-npz"])
def test_corrupt_entry_is_rebuilt(tmp_path: Path, damage: str) -> None:
    cache = QuantCache(tmp_path)
    ref = quantize_synthetic(SHAPES, seed=1, cache=cache)
    npz = next(cache.dir.glob("*.npz"))
    side = npz.with_suffix(".json")
    data = npz.read_bytes()
    if damage == "truncate":
        npz.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        npz.write_bytes(data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:])
    elif damage == "sidecar":
        side.write_text("{not json")
    elif damage == "no-sidecar":
        side.unlink()
    else:
        npz.write_bytes(b"PK\x03\x04" + b"\0" * 100)
        info = json.loads(side.read_text())
        side.write_text(json.dumps({**info, "bytes": 104}))
    again = quantize_synthetic(SHAPES, seed=1, cache=cache)
    assert again.cache_status == "rebuilt"
    assert same(again, ref)
    assert quantize_synthetic(SHAPES, seed=1, cache=cache).cache_status == "hit"


def test_checkpoint_key_is_the_file_content(tmp_path: Path) -> None:
    cache = QuantCache(tmp_path / "c")
    t = synthetic_weights(SHAPES, seed=0)
    path = write_safetensors(tmp_path / "m.safetensors", t)
    assert quantize_checkpoint(path, cache=cache).cache_status == "miss"
    assert quantize_checkpoint(path, cache=cache).cache_status == "hit"
    copy = write_safetensors(tmp_path / "copy.safetensors", t)  # same bytes elsewhere: same entry
    assert quantize_checkpoint(copy, cache=cache).cache_status == "hit"
    t["encoder.layer.0.attention.self.query.weight"] = t["encoder.layer.0.attention.self.query.weight"] * 2
    write_safetensors(path, t)
    assert quantize_checkpoint(path, cache=cache).cache_status == "miss"


def test_key_and_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = {"type": "synthetic", "seed": 0}
    assert cache_key(src, GoboParams()) == cache_key(dict(src), GoboParams())
    assert cache_key(src, GoboParams()) != cache_key(src, GoboParams(max_iterations=5))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    m = quantize_synthetic(SHAPES, seed=2)  # cache=True: the default directory
    assert m.cache_status == "miss" and list((tmp_path / "env" / "quant").glob("*.npz"))
    monkeypatch.delenv(CACHE_ENV)
    assert default_cache_dir() == Path.home() / ".cache" / "gobosim"
