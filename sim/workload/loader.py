"""Load a workload: a workloads/*.yaml file, a built-in name, or a Hugging Face ``config.json``."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from sim.config.files import read_mapping, resolve
from sim.config.loader import _display, build_spec
from sim.errors import ConfigError, Problem, SimInputError
from sim.workload.spec import WorkloadSpec

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


def from_hf_config(raw: dict[str, Any], source: str) -> dict[str, Any]:
    """Translate a Hugging Face BERT/RoBERTa/DistilBERT/ViT ``config.json`` into our workload keys."""
    model_type = raw.get("model_type")
    if not isinstance(model_type, str) or model_type not in _HF_KEYS:
        supported = ", ".join(_HF_KEYS)
        message = f"unsupported model type {model_type!r} (supported: {supported})"
        raise ConfigError([Problem(source, "model_type", message)])
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
                  batch: int | None = None) -> WorkloadSpec:
    """The validated :class:`WorkloadSpec` of a file, built-in name or HF config, with seq/batch overrides."""
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
    return build_spec(WorkloadSpec, raw, source)


def workload_fields() -> list[str]:
    """The keys a workload file may hold."""
    return [f.name for f in dataclasses.fields(WorkloadSpec)]
