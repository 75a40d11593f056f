"""Workloads load from YAML, built-in names and HF config.json; the operator graph's MACs match closed forms."""

from __future__ import annotations

import json

import pytest

from sim.errors import ConfigError, SimInputError
from sim.workload import encoder_macs_closed_form, load_workload, lower

BUILTINS = ["bert-base", "bert-large", "distilbert", "roberta-base", "minilm-l6", "vit-base", "tiny"]


def test_bert_base_encoder_macs_exact():
    g = lower(load_workload("bert-base"))
    # 12 x (4*128*768*768 + 2*128*768*3072 + 2*128*128*768), written out as in the issue
    assert g.total_macs("encoder") == 11_173_625_856
    assert 12 * (4 * 128 * 768 * 768 + 2 * 128 * 768 * 3072 + 2 * 128 * 128 * 768) == 11_173_625_856


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("seq_len, batch", [(None, None), (64, 2), (None, 3)])
def test_encoder_macs_match_closed_form(name, seq_len, batch):
    if name == "vit-base" and seq_len is not None:
        seq_len = None  # a ViT's token count is fixed by its image and patch size
    w = load_workload(name, seq_len=seq_len, batch=batch)
    g = lower(w)
    assert g.total_macs("encoder") == encoder_macs_closed_form(w)
    # independent per-operator count: every GEMM is tokens x in x out, every BMM is heads*batch*S*S*d
    per_layer = {op.name.split(".", 1)[1]: op.macs for op in g.ops if op.layer == 0 and op.is_matmul}
    T, H, I, S = w.tokens, w.hidden, w.intermediate, w.seq_len
    assert per_layer == {"q_proj": T * H * H, "k_proj": T * H * H, "v_proj": T * H * H,
                         "qk": w.batch * S * S * H, "av": w.batch * S * S * H, "out_proj": T * H * H,
                         "ffn1": T * H * I, "ffn2": T * I * H}


def test_operator_set_per_layer():
    g = lower(load_workload("bert-base"))
    kinds = [op.kind for op in g.ops if op.layer == 3]
    assert kinds == ["gemm", "gemm", "gemm", "bmm", "softmax", "bmm", "gemm", "add", "layernorm",
                     "gemm", "gelu", "gemm", "add", "layernorm"]
    stages = {op.stage for op in g.ops}
    assert stages == {"embeddings", "encoder", "pooler"}
    qk = next(op for op in g.ops if op.name == "L0.qk")
    assert (qk.m, qk.k, qk.n, qk.count) == (128, 64, 128, 12)
    sm = next(op for op in g.ops if op.name == "L0.softmax")
    assert (sm.rows, sm.row_len, sm.in_dtype, sm.out_dtype) == (12 * 128, 128, "int32", "uint8")


def test_bytes_and_weights():
    g = lower(load_workload("bert-base"))
    ffn1 = next(op for op in g.ops if op.name == "L0.ffn1")
    assert ffn1.weight.shape == (3072, 768)
    assert ffn1.weight_bytes(16) == 3072 * 768 * 2
    assert ffn1.in_bytes == 128 * 768 and ffn1.out_bytes == 128 * 3072 * 4
    # total parameters of bert-base-uncased: 109,482,240 (embeddings + 12 layers + pooler)
    assert sum(t.elems for t in g.tensors) == 109_482_240


def test_distilbert_and_vit_shapes():
    d = lower(load_workload("distilbert"))
    assert not any(op.stage == "pooler" for op in d.ops)
    v = lower(load_workload("vit-base"))
    patch = next(op for op in v.ops if op.name == "emb.patch_proj")
    assert (patch.m, patch.k, patch.n) == (196, 768, 768)
    kinds = [op.kind for op in v.ops if op.layer == 0]
    assert kinds[0] == "layernorm"  # pre-LN


def test_hf_config_json(tmp_path):
    cfg = {"model_type": "bert", "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
           "intermediate_size": 1536, "vocab_size": 30522, "max_position_embeddings": 512,
           "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
           "_name_or_path": "nreimers/MiniLM-L6-H384-uncased"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    w = load_workload(str(path))
    assert (w.layers, w.hidden, w.heads, w.intermediate, w.seq_len) == (6, 384, 12, 1536, 128)
    assert lower(w).total_macs("encoder") == lower(load_workload("minilm-l6")).total_macs("encoder")
    vit = {"model_type": "vit", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
           "intermediate_size": 3072, "image_size": 224, "patch_size": 16, "num_channels": 3, "hidden_act": "gelu"}
    path.write_text(json.dumps(vit))
    assert load_workload(str(path)).seq_len == 197
    dist = {"model_type": "distilbert", "dim": 768, "n_layers": 6, "n_heads": 12, "hidden_dim": 3072,
            "vocab_size": 30522, "max_position_embeddings": 512, "activation": "gelu"}
    path.write_text(json.dumps(dist))
    assert load_workload(str(path)).family == "distilbert"


@pytest.mark.parametrize("cfg, fragment", [
    ({"model_type": "t5"}, "unsupported model type 't5'"),
    ({"model_type": "bert", "hidden_act": "relu"}, "only GELU"),
    ({"model_type": "bert", "hidden_size": 768, "num_attention_heads": 7, "num_hidden_layers": 1,
      "intermediate_size": 8, "vocab_size": 10}, "heads: must divide hidden"),
])
def test_bad_hf_config(tmp_path, cfg, fragment):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=fragment):
        load_workload(str(path))


def test_overrides_validated():
    with pytest.raises(ConfigError, match="seq_len: must be <= max_positions"):
        load_workload("bert-base", seq_len=1024)
    with pytest.raises(SimInputError, match="--seq-len: must be a positive integer"):
        load_workload("bert-base", seq_len=0)
    with pytest.raises(ConfigError, match="a ViT sees"):
        load_workload("vit-base", seq_len=128)


def test_unknown_workload():
    with pytest.raises(SimInputError, match="no built-in workload of that name.*bert-base"):
        load_workload("bert-bas")


def test_invalid_json(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(SimInputError, match="invalid JSON at line 1"):
        load_workload(str(path))
