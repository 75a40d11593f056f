"""Decoder workloads: the built-ins' parameter counts against the published ones, Hugging Face configs, checks."""

from __future__ import annotations

import json

import pytest

from sim.errors import ConfigError, SimInputError
from sim.workload import load_workload, lower
from sim.workload.decoder import lower_decoder

# published parameter counts (docs/sources.md section 10), relative tolerance of the rounding they are given in
PUBLISHED = {"gpt2": (124e6, 0.005), "opt-125m": (125e6, 0.005), "opt-1.3b": (1.3e9, 0.02),
             "llama-3.2-1b": (1.23e9, 0.01)}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_builtin_parameter_counts_match_the_published(name):
    wl = load_workload(name)
    n = sum(t.elems for t in lower(wl).tensors)
    want, tol = PUBLISHED[name]
    assert abs(n - want) / want <= tol, n


def test_decode_graph_shapes():
    wl = load_workload("llama-3.2-1b").with_overrides(batch=3)
    g = lower_decoder(wl, "decode", 200)
    qk = next(o for o in g.ops if o.name == "L0.qk")
    assert (qk.m, qk.k, qk.n, qk.count) == (1, 64, 200, 3 * 32)
    kp = next(o for o in g.ops if o.name == "L0.k_proj")
    assert (kp.m, kp.k, kp.n) == (3, 2048, 512)  # 8 KV heads x 64
    head = next(o for o in g.ops if o.name == "head.lm_head")
    assert (head.m, head.n) == (3, 128256) and head.weight.name == "embeddings.word_embeddings.weight"
    assert g.workload.seq_len == 1 and g.context == 200
    with pytest.raises(ValueError):
        lower_decoder(wl, "decode", 1)


@pytest.mark.parametrize("cfg, want", [
    ({"model_type": "gpt2", "n_layer": 2, "n_embd": 32, "n_head": 4, "vocab_size": 100, "n_positions": 256,
      "activation_function": "gelu_new"}, {"family": "gpt2", "intermediate": 128, "seq_len": 128}),
    ({"model_type": "opt", "num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 4, "ffn_dim": 64,
      "vocab_size": 100, "max_position_embeddings": 128, "activation_function": "relu"},
     {"family": "opt", "activation": "relu", "seq_len": 64}),
    ({"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 8,
      "num_key_value_heads": 2, "intermediate_size": 96, "vocab_size": 100, "max_position_embeddings": 512,
      "hidden_act": "silu", "rope_parameters": {"rope_theta": 5e5}},
     {"family": "llama", "kv_heads": 2, "norm": "rmsnorm", "positions": "rotary", "rope_theta": 5e5}),
])
def test_hugging_face_decoder_configs(tmp_path, cfg, want):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    wl = load_workload(path)
    for k, v in want.items():
        assert getattr(wl, k) == v, k
    assert wl.gen_tokens == 64


@pytest.mark.parametrize("cfg, fragment", [
    ({"model_type": "opt", "num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 4, "ffn_dim": 64,
      "vocab_size": 100, "do_layer_norm_before": False}, "do_layer_norm_before"),
    ({"model_type": "opt", "num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 4, "ffn_dim": 64,
      "vocab_size": 100, "word_embed_proj_dim": 16}, "word_embed_proj_dim"),
    ({"model_type": "gpt2", "activation_function": "relu"}, "activation_function"),
    ({"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 8,
      "num_key_value_heads": 3, "intermediate_size": 96, "vocab_size": 100}, "kv_heads"),
])
def test_bad_decoder_configs(tmp_path, cfg, fragment):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=fragment):
        load_workload(path)


def test_overrides_are_checked():
    with pytest.raises(SimInputError, match="--gen-tokens"):
        load_workload("bert-base", gen_tokens=4)
    with pytest.raises(ConfigError, match="max_positions"):
        load_workload("gpt2", seq_len=1000, gen_tokens=64)
    assert load_workload("gpt2", gen_tokens=0).gen_tokens == 0


@pytest.mark.parametrize("name", ["gpt2", "opt-125m", "llama-3.2-1b", "tiny-gpt"])
def test_graph_macs_equal_the_closed_form(name):
    from sim.workload.decoder import decoder_macs_closed_form

    wl = load_workload(name).with_overrides(batch=2)
    assert lower(wl).total_macs() == decoder_macs_closed_form(wl)
    assert lower_decoder(wl, "decode", 300).total_macs() == decoder_macs_closed_form(wl, "decode", 300)
