"""Canonical tensor names: Hugging Face checkpoint names -> the operator graph's BERT names.

The operator graph (:func:`sim.workload.graph.lower`) names every parameter with BERT's Hugging Face
name without the ``bert.`` prefix, for every family. This module maps checkpoints onto those names:

* BERT / RoBERTa: strip ``bert.`` / ``roberta.``; the old ``gamma``/``beta`` LayerNorm names become
  ``weight``/``bias``.
* DistilBERT (``distilbert.`` optional): ``transformer.layer.N.attention.{q,k,v}_lin`` ->
  ``encoder.layer.N.attention.self.{query,key,value}``, ``attention.out_lin`` ->
  ``attention.output.dense``, ``sa_layer_norm`` -> ``attention.output.LayerNorm``, ``ffn.lin1`` ->
  ``intermediate.dense``, ``ffn.lin2`` -> ``output.dense``, ``output_layer_norm`` -> ``output.LayerNorm``.
* ViT (``vit.`` optional): ``encoder.layer.N.attention.attention.{query,key,value}`` ->
  ``...attention.self.*``; ``layernorm_before`` (the pre-attention norm) -> ``attention.output.LayerNorm``
  and ``layernorm_after`` (the pre-MLP norm) -> ``output.LayerNorm``, the two norms the graph lists per
  layer; ``embeddings.*``, ``layernorm.*``, ``pooler.*`` and ``classifier.*`` keep their names.

Task heads (``cls.*``, ``lm_head.*``, ``qa_outputs``, ...) and integer buffers (``position_ids``) are
dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

__all__ = ["canonical_name", "canonical_weights"]

_PREFIXES = ("bert.", "roberta.", "distilbert.", "vit.")
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), r) for p, r in (
    (r"transformer\.layer\.(\d+)\.attention\.q_lin\.(weight|bias)", r"encoder.layer.\1.attention.self.query.\2"),
    (r"transformer\.layer\.(\d+)\.attention\.k_lin\.(weight|bias)", r"encoder.layer.\1.attention.self.key.\2"),
    (r"transformer\.layer\.(\d+)\.attention\.v_lin\.(weight|bias)", r"encoder.layer.\1.attention.self.value.\2"),
    (r"transformer\.layer\.(\d+)\.attention\.out_lin\.(weight|bias)", r"encoder.layer.\1.attention.output.dense.\2"),
    (r"transformer\.layer\.(\d+)\.sa_layer_norm\.(weight|bias)", r"encoder.layer.\1.attention.output.LayerNorm.\2"),
    (r"transformer\.layer\.(\d+)\.ffn\.lin1\.(weight|bias)", r"encoder.layer.\1.intermediate.dense.\2"),
    (r"transformer\.layer\.(\d+)\.ffn\.lin2\.(weight|bias)", r"encoder.layer.\1.output.dense.\2"),
    (r"transformer\.layer\.(\d+)\.output_layer_norm\.(weight|bias)", r"encoder.layer.\1.output.LayerNorm.\2"),
    (r"encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.(weight|bias)",
     r"encoder.layer.\1.attention.self.\2.\3"),
    (r"encoder\.layer\.(\d+)\.layernorm_before\.(weight|bias)", r"encoder.layer.\1.attention.output.LayerNorm.\2"),
    (r"encoder\.layer\.(\d+)\.layernorm_after\.(weight|bias)", r"encoder.layer.\1.output.LayerNorm.\2"),
))
_DROP = re.compile(r"(?:cls|lm_head|qa_outputs|pre_classifier|vocab_transform|vocab_layer_norm|vocab_projector)"
                   r"(?:\..*)?|.*position_ids|.*token_type_ids")


def canonical_name(name: str) -> str | None:
    """The operator graph's name for a checkpoint tensor name, or ``None`` for heads and buffers."""
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    if _DROP.fullmatch(name):
        return None
    for pattern, repl in _RULES:
        if pattern.fullmatch(name):
            return pattern.sub(repl, name)
    if name.endswith(".gamma"):
        return name[: -len("gamma")] + "weight"
    if name.endswith(".beta"):
        return name[: -len("beta")] + "bias"
    return name


def canonical_weights(tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Checkpoint tensors renamed to canonical names (heads, buffers and non-float tensors dropped).

    Raises ``ValueError`` when two checkpoint names map onto the same canonical name.
    """
    out: dict[str, np.ndarray] = {}
    for name, arr in tensors.items():
        a = np.asarray(arr)
        if not np.issubdtype(a.dtype, np.floating):
            continue
        canon = canonical_name(name)
        if canon is None:
            continue
        if canon in out:
            raise ValueError(f"checkpoint tensors map twice onto {canon!r} (e.g. {name!r})")
        out[canon] = a
    return out
