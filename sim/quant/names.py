"""Map Hugging Face tensor names of BERT-family checkpoints to tensor kinds.

Recognised families (the prefix is optional and stripped):

* BERT (``bert.`` prefix or none): ``encoder.layer.N.attention.self.{query,key,value}``,
  ``encoder.layer.N.attention.output.dense``, ``encoder.layer.N.intermediate.dense``,
  ``encoder.layer.N.output.dense``, ``embeddings.{word,position,token_type}_embeddings``,
  ``*.LayerNorm`` (``weight``/``bias`` or the old ``gamma``/``beta``), ``pooler.dense``.
* RoBERTa (``roberta.`` prefix): the same names as BERT.
* DistilBERT (``distilbert.`` prefix): ``transformer.layer.N.attention.{q,k,v,out}_lin``,
  ``transformer.layer.N.ffn.{lin1,lin2}``, ``transformer.layer.N.{sa,output}_layer_norm``.

Task heads (``cls.*``, ``classifier``, ``qa_outputs``, ``lm_head.*``, ``pre_classifier``,
``vocab_transform``/``vocab_layer_norm``/``vocab_projector``) map to ``head``; integer buffers
(``embeddings.position_ids``, ``embeddings.token_type_ids``) map to ``buffer``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

QUERY = "query"
KEY = "key"
VALUE = "value"
ATTN_OUT = "attn_out"
FFN1 = "ffn1"
FFN2 = "ffn2"
WORD_EMB = "word_emb"
POS_EMB = "pos_emb"
TYPE_EMB = "type_emb"
POOLER = "pooler"
LAYERNORM = "layernorm"
BIAS = "bias"
HEAD = "head"
BUFFER = "buffer"

#: Encoder fully-connected weight kinds (quantized at ``GoboParams.bits``).
FC_KINDS: tuple[str, ...] = (QUERY, KEY, VALUE, ATTN_OUT, FFN1, FFN2)
#: Embedding table kinds (quantized at ``GoboParams.embedding_bits``).
EMBEDDING_KINDS: tuple[str, ...] = (WORD_EMB, POS_EMB, TYPE_EMB)
#: Every kind :func:`classify_tensor` can return.
ALL_KINDS: tuple[str, ...] = FC_KINDS + EMBEDDING_KINDS + (POOLER, LAYERNORM, BIAS, HEAD, BUFFER)

_PREFIXES = ("bert.", "roberta.", "distilbert.")
_LN = r"(?:weight|bias|gamma|beta)"

# (regex on the name without family prefix, module kind, family); group "layer" is the layer number,
# group "param" is weight/bias.
_RULES: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern), kind, family)
    for pattern, kind, family in (
        (r"embeddings\.word_embeddings\.(?P<param>weight)", WORD_EMB, "bert"),
        (r"embeddings\.position_embeddings\.(?P<param>weight)", POS_EMB, "bert"),
        (r"embeddings\.token_type_embeddings\.(?P<param>weight)", TYPE_EMB, "bert"),
        (rf"embeddings\.LayerNorm\.(?P<param>{_LN})", LAYERNORM, "bert"),
        (r"embeddings\.(?:position_ids|token_type_ids)", BUFFER, "bert"),
        (r"encoder\.layer\.(?P<layer>\d+)\.attention\.self\.query\.(?P<param>weight|bias)", QUERY, "bert"),
        (r"encoder\.layer\.(?P<layer>\d+)\.attention\.self\.key\.(?P<param>weight|bias)", KEY, "bert"),
        (r"encoder\.layer\.(?P<layer>\d+)\.attention\.self\.value\.(?P<param>weight|bias)", VALUE, "bert"),
        (r"encoder\.layer\.(?P<layer>\d+)\.attention\.output\.dense\.(?P<param>weight|bias)", ATTN_OUT, "bert"),
        (rf"encoder\.layer\.(?P<layer>\d+)\.attention\.output\.LayerNorm\.(?P<param>{_LN})", LAYERNORM, "bert"),
        (r"encoder\.layer\.(?P<layer>\d+)\.intermediate\.dense\.(?P<param>weight|bias)", FFN1, "bert"),
        (r"encoder\.layer\.(?P<layer>\d+)\.output\.dense\.(?P<param>weight|bias)", FFN2, "bert"),
        (rf"encoder\.layer\.(?P<layer>\d+)\.output\.LayerNorm\.(?P<param>{_LN})", LAYERNORM, "bert"),
        (r"pooler\.dense\.(?P<param>weight|bias)", POOLER, "bert"),
        # decoder models in the graph's canonical names (sim.workload.decoder): Llama's gate projection, the
        # final norm
        (r"encoder\.layer\.(?P<layer>\d+)\.intermediate\.gate\.(?P<param>weight|bias)", FFN1, "bert"),
        (rf"final_layernorm\.(?P<param>{_LN})", LAYERNORM, "bert"),
        (r"transformer\.layer\.(?P<layer>\d+)\.attention\.q_lin\.(?P<param>weight|bias)", QUERY, "distilbert"),
        (r"transformer\.layer\.(?P<layer>\d+)\.attention\.k_lin\.(?P<param>weight|bias)", KEY, "distilbert"),
        (r"transformer\.layer\.(?P<layer>\d+)\.attention\.v_lin\.(?P<param>weight|bias)", VALUE, "distilbert"),
        (r"transformer\.layer\.(?P<layer>\d+)\.attention\.out_lin\.(?P<param>weight|bias)", ATTN_OUT, "distilbert"),
        (rf"transformer\.layer\.(?P<layer>\d+)\.sa_layer_norm\.(?P<param>{_LN})", LAYERNORM, "distilbert"),
        (r"transformer\.layer\.(?P<layer>\d+)\.ffn\.lin1\.(?P<param>weight|bias)", FFN1, "distilbert"),
        (r"transformer\.layer\.(?P<layer>\d+)\.ffn\.lin2\.(?P<param>weight|bias)", FFN2, "distilbert"),
        (rf"transformer\.layer\.(?P<layer>\d+)\.output_layer_norm\.(?P<param>{_LN})", LAYERNORM, "distilbert"),
        (r"(?:cls|lm_head|classifier|qa_outputs|pre_classifier|vocab_transform|vocab_layer_norm|vocab_projector)"
         r"(?:\..+)?", HEAD, "head"),
    )
)


@dataclass(frozen=True)
class TensorInfo:
    """What a checkpoint tensor is.

    ``kind`` is one of :data:`ALL_KINDS`; biases of any module have kind ``bias`` and their module
    in ``module`` (e.g. ``query``); LayerNorm weights and biases both have kind ``layernorm``.
    ``layer`` is the encoder layer number or ``None`` (embeddings, pooler, heads).
    """

    name: str
    kind: str
    module: str
    layer: int | None
    family: str


def classify_tensor(name: str) -> TensorInfo | None:
    """Classify a Hugging Face tensor name; ``None`` when it is not a BERT/RoBERTa/DistilBERT name."""
    stripped = name
    family_hint = ""
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            stripped = name[len(prefix):]
            family_hint = prefix[:-1]
            break
    for pattern, module, family in _RULES:
        m = pattern.fullmatch(stripped)
        if m is None:
            continue
        groups = m.groupdict()
        param = groups.get("param")
        layer = int(groups["layer"]) if groups.get("layer") is not None else None
        if module in (LAYERNORM, HEAD, BUFFER):
            kind = module
        elif param == "bias":
            kind = BIAS
        else:
            kind = module
        fam = family_hint or family
        if family == "distilbert" and family_hint not in ("", "distilbert"):
            continue  # DistilBERT module names under a bert./roberta. prefix are not a real model
        return TensorInfo(name=name, kind=kind, module=module, layer=layer, family=fam)
    return None


# ---- canonical names: checkpoint names -> the operator graph's BERT names ----------------------------
#
# Canonical tensor names: Hugging Face checkpoint names -> the operator graph's BERT names.
#
# The operator graph (:func:`sim.workload.graph.lower`) names every parameter with BERT's Hugging Face
# name without the ``bert.`` prefix, for every family. The functions below map checkpoints onto those names:
#
# * BERT / RoBERTa: strip ``bert.`` / ``roberta.``; the old ``gamma``/``beta`` LayerNorm names become
#   ``weight``/``bias``.
# * DistilBERT (``distilbert.`` optional): ``transformer.layer.N.attention.{q,k,v}_lin`` ->
#   ``encoder.layer.N.attention.self.{query,key,value}``, ``attention.out_lin`` ->
#   ``attention.output.dense``, ``sa_layer_norm`` -> ``attention.output.LayerNorm``, ``ffn.lin1`` ->
#   ``intermediate.dense``, ``ffn.lin2`` -> ``output.dense``, ``output_layer_norm`` -> ``output.LayerNorm``.
# * ViT (``vit.`` optional): ``encoder.layer.N.attention.attention.{query,key,value}`` ->
#   ``...attention.self.*``; ``layernorm_before`` (the pre-attention norm) -> ``attention.output.LayerNorm``
#   and ``layernorm_after`` (the pre-MLP norm) -> ``output.LayerNorm``, the two norms the graph lists per
#   layer; ``embeddings.*``, ``layernorm.*``, ``pooler.*`` and ``classifier.*`` keep their names.
#
# Task heads (``cls.*``, ``lm_head.*``, ``qa_outputs``, ...) and integer buffers (``position_ids``) are
# dropped.

_CANON_PREFIXES = ("bert.", "roberta.", "distilbert.", "vit.")
_CANON_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), r) for p, r in (
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
    for prefix in _CANON_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    if _DROP.fullmatch(name):
        return None
    for pattern, repl in _CANON_RULES:
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
