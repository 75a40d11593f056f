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
from dataclasses import dataclass

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
