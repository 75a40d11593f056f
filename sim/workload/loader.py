"""Load a workload: a workloads/*.yaml file, a built-in name, or a Hugging Face ``config.json``."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from sim.config.files import read_mapping, resolve
from sim.config.loader import _display, build_spec
from sim.errors import ConfigError, Problem, SimInputError
from sim.workload.spec import DECODER_FAMILIES, DEFAULT_GEN_TOKENS, WorkloadSpec

DEFAULT_TEXT_SEQ_LEN = 128  # sequence length given to a Hugging Face text config (it has none of its own)

# Hugging Face config.json key -> our key, per model_type.
_HF_KEYS = {
    "bert": {
        "num_hidden_layers": "layers", "hidden_size": "hidden", "num_attention_heads": "heads",
        "intermediate_size": "intermediate", "vocab_size": "vocab",
        "max_position_embeddings": "max_positions", "type_vocab_size": "type_vocab", "layer_norm_eps": "norm_eps",
    },
    "distilbert": {
        "n_layers": "layers", "dim": "hidden", "n_heads": "heads", "hidden_dim": "intermediate",
        "vocab_size": "vocab", "max_position_embeddings": "max_positions",
    },
    "vit": {
        "num_hidden_layers": "layers", "hidden_size": "hidden", "num_attention_heads": "heads",
        "intermediate_size": "intermediate", "layer_norm_eps": "norm_eps", "image_size": "image_size",
        "patch_size": "patch_size", "num_channels": "channels",
    },
}
_HF_KEYS["roberta"] = _HF_KEYS["bert"]
# decoder-only language models
_HF_KEYS["gpt2"] = {
    "n_layer": "layers", "n_embd": "hidden", "n_head": "heads", "n_inner": "intermediate", "vocab_size": "vocab",
    "n_positions": "max_positions", "layer_norm_epsilon": "norm_eps",
}
_HF_KEYS["opt"] = {
    "num_hidden_layers": "layers", "hidden_size": "hidden", "num_attention_heads": "heads",
    "ffn_dim": "intermediate", "vocab_size": "vocab", "max_position_embeddings": "max_positions",
}
_HF_KEYS["llama"] = {
    "num_hidden_layers": "layers", "hidden_size": "hidden", "num_attention_heads": "heads",
    "num_key_value_heads": "kv_heads", "intermediate_size": "intermediate", "vocab_size": "vocab",
    "max_position_embeddings": "max_positions", "rms_norm_eps": "norm_eps", "rope_theta": "rope_theta",
    "tie_word_embeddings": "tie_embeddings",
}
# the activation each family's config names, and the one we model it as
_DECODER_ACTS = {"gpt2": ("activation_function", ("gelu", "gelu_new", "gelu_pytorch_tanh"), "gelu"),
                 "opt": ("activation_function", ("relu",), "relu"),
                 "llama": ("hidden_act", ("silu",), "silu")}


def _from_hf_decoder(raw: dict[str, Any], model_type: str, source: str) -> dict[str, Any]:
    key, accepted, ours = _DECODER_ACTS[model_type]
    act = raw.get(key, accepted[0])
    if act not in accepted:
        raise ConfigError([Problem(source, key, f"a {model_type} model is modelled with {accepted[0]}, got {act!r}")])
    if model_type == "opt":
        if raw.get("do_layer_norm_before", True) is not True:
            raise ConfigError([Problem(source, "do_layer_norm_before", "only pre-LN OPT models are modelled "
                                       "(opt-350m's post-LN layout is not), got false")])
        proj = raw.get("word_embed_proj_dim", raw.get("hidden_size"))
        if proj != raw.get("hidden_size"):
            raise ConfigError([Problem(source, "word_embed_proj_dim", "must equal hidden_size (the project_in/out "
                                       f"layers of opt-350m are not modelled), got {proj!r}")])
    head_dim = raw.get("head_dim")
    if model_type == "llama" and head_dim is not None and raw.get("hidden_size") and raw.get("num_attention_heads") \
            and head_dim * raw["num_attention_heads"] != raw["hidden_size"]:
        raise ConfigError([Problem(source, "head_dim", "must be hidden_size / num_attention_heads, got "
                                   f"{head_dim!r}")])
    out: dict[str, Any] = {"version": 1, "family": model_type, "activation": ours, "type_vocab": 0,
                           "pooler": False, "gen_tokens": DEFAULT_GEN_TOKENS}
    for theirs, mine in _HF_KEYS[model_type].items():
        if raw.get(theirs) is not None:
            out[mine] = raw[theirs]
    if model_type == "gpt2" and raw.get("n_inner") is None and isinstance(out.get("hidden"), int):
        out["intermediate"] = 4 * out["hidden"]  # GPT-2's default inner width
    if model_type == "opt":
        out["norm_eps"] = 1e-5  # torch.nn.LayerNorm's default, which OPT uses
    if model_type == "llama":
        out.update(norm="rmsnorm", positions="rotary")
        rope = raw.get("rope_parameters")  # newer configs keep the base frequency here
        if "rope_theta" not in out and isinstance(rope, dict) and rope.get("rope_theta") is not None:
            out["rope_theta"] = rope["rope_theta"]
        if isinstance(raw.get("rope_scaling"), dict):
            out["source_note"] = "rope_scaling ignored (it changes the angles, not the work)"
    else:
        out["norm_eps"] = out.get("norm_eps", 1e-5)
    names = raw.get("_name_or_path") or raw.get("architectures")
    if isinstance(names, list):
        names = names[0] if names else None
    out["name"] = names if isinstance(names, str) and names else model_type
    out["source"] = f"Hugging Face config.json ({source})" + (f"; {out.pop('source_note')}" if "source_note" in out
                                                               else "")
    positions = out.get("max_positions")
    ok = isinstance(positions, int) and not isinstance(positions, bool) and positions > DEFAULT_GEN_TOKENS
    out["seq_len"] = min(DEFAULT_TEXT_SEQ_LEN, int(positions) - DEFAULT_GEN_TOKENS) if ok else DEFAULT_TEXT_SEQ_LEN  # type: ignore[arg-type]  # bad ones: reported
    return out


def from_hf_config(raw: dict[str, Any], source: str) -> dict[str, Any]:
    """Translate a Hugging Face BERT/RoBERTa/DistilBERT/ViT or GPT-2/OPT/Llama ``config.json`` into our
    workload keys."""
    model_type = raw.get("model_type")
    if not isinstance(model_type, str) or model_type not in _HF_KEYS:
        supported = ", ".join(_HF_KEYS)
        message = f"unsupported model type {model_type!r} (supported: {supported})"
        raise ConfigError([Problem(source, "model_type", message)])
    if model_type in DECODER_FAMILIES:
        return _from_hf_decoder(raw, model_type, source)
    act = raw.get("hidden_act", raw.get("activation", "gelu"))
    if not isinstance(act, str) or not act.startswith("gelu"):
        raise ConfigError([Problem(source, "hidden_act", f"only GELU encoders are modelled, got {act!r}")])
    out: dict[str, Any] = {"version": 1, "family": model_type, "activation": "gelu"}
    for theirs, ours in _HF_KEYS[model_type].items():
        if theirs in raw:
            out[ours] = raw[theirs]
    names = raw.get("_name_or_path") or raw.get("architectures")
    if isinstance(names, list):
        names = names[0] if names else None
    out["name"] = names if isinstance(names, str) and names else model_type
    out["source"] = f"Hugging Face config.json ({source})"
    if model_type == "distilbert":
        out["type_vocab"] = 0
        out["pooler"] = False  # DistilBERT has no pooler
    if model_type == "vit":
        image, patch = out.get("image_size"), out.get("patch_size")
        if isinstance(image, int) and isinstance(patch, int) and patch > 0:
            out["seq_len"] = (image // patch) ** 2 + 1
        out["vocab"] = 0
        out["type_vocab"] = 0
        labels = raw.get("id2label")
        out["num_classes"] = len(labels) if isinstance(labels, dict) else 0
    else:
        positions = out.get("max_positions")
        ok = isinstance(positions, int) and not isinstance(positions, bool) and positions > 0
        out["seq_len"] = min(DEFAULT_TEXT_SEQ_LEN, int(positions)) if ok else DEFAULT_TEXT_SEQ_LEN  # type: ignore[arg-type]  # bad ones: reported
    return out


def load_workload(name_or_path: str | os.PathLike[str], seq_len: int | None = None,
                  batch: int | None = None, gen_tokens: int | None = None,
                  decode_samples: int | None = None) -> WorkloadSpec:
    """The validated :class:`WorkloadSpec` of a file, built-in name or HF config, with seq/batch (decoders:
    generated tokens, decode samples) overrides."""
    path = resolve(str(name_or_path), "workloads", "workload")
    raw = read_mapping(path)
    source = _display(path)
    if "model_type" in raw and "version" not in raw:
        raw = from_hf_config(raw, source)
    for key, value in (("seq_len", seq_len), ("batch", batch)):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SimInputError(f"--{key.replace('_', '-')}: must be a positive integer, got {value}")
            raw[key] = value
    for key, flag, value in (("gen_tokens", "--gen-tokens", gen_tokens),
                             ("decode_samples", "--decode-samples", decode_samples)):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise SimInputError(f"{flag}: must be a non-negative integer, got {value}")
            if raw.get("family") not in DECODER_FAMILIES:
                raise SimInputError(f"{flag}: {source} is not a decoder workload (family {raw.get('family')!r}; "
                                    f"decoders: {', '.join(DECODER_FAMILIES)})")
            raw[key] = value
    return build_spec(WorkloadSpec, raw, source)


def workload_fields() -> list[str]:
    """The keys a workload file may hold."""
    return [f.name for f in dataclasses.fields(WorkloadSpec)]
