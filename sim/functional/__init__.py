"""Integer encoder forward (bit-accurate, as each design's datapath computes it) and the float reference.

Public API (contract)::

    from sim.functional import encode
    h = encode(token_ids, workload="minilm-l6", weights="model.safetensors" | None,
               mode="float" | "int8" | "gobo3" | "gobo4", attention_mask=None, nonlinear="ibert" | "ivit")
    # -> last hidden state, float64 [batch, seq, hidden]
    h = encode(pixel_values, workload="vit-base", mode="int8")   # a ViT: images [batch, 3, 224, 224]
    # nonlinear=None (default): "ivit" for a ViT, "ibert" for the BERT family

Modules: :mod:`.reference` (float forward, BERT family and ViT), :mod:`.tokenizer` (WordPiece),
:mod:`.integer` (the integer pipeline, post-LN BERT and pre-LN ViT; its GEMMs run on the design's datapath,
``sim/compute/<kind>/dataflow.py``), :mod:`.calibration`, :mod:`.smoothing`, :mod:`.qweights`,
:mod:`.check` (``sim run --functional``), :mod:`.metrics`, :mod:`.api`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import MODES, clear_cache, encode, integer_encoder
    from .dims import EncoderDims
    from .integer import IntegerEncoder, IntegerOutput
    from .metrics import cosine, max_abs_error, sentence_embedding
    from .reference import FloatOutput, bert_forward, vit_forward
    from .tokenizer import TokenBatch, WordPieceTokenizer
    from .weights import FloatWeights, load_float_weights, synthetic_float_weights

_EXPORTS = {
    "MODES": "sim.functional.api", "clear_cache": "sim.functional.api", "encode": "sim.functional.api",
    "integer_encoder": "sim.functional.api", "EncoderDims": "sim.functional.dims",
    "IntegerEncoder": "sim.functional.integer", "IntegerOutput": "sim.functional.integer",
    "cosine": "sim.functional.metrics", "max_abs_error": "sim.functional.metrics",
    "sentence_embedding": "sim.functional.metrics", "FloatOutput": "sim.functional.reference",
    "bert_forward": "sim.functional.reference", "vit_forward": "sim.functional.reference",
    "TokenBatch": "sim.functional.tokenizer", "WordPieceTokenizer": "sim.functional.tokenizer",
    "FloatWeights": "sim.functional.weights", "load_float_weights": "sim.functional.weights",
    "synthetic_float_weights": "sim.functional.weights",
}
__all__ = ["EncoderDims", "FloatOutput", "FloatWeights", "IntegerEncoder", "IntegerOutput", "MODES", "TokenBatch",
    "WordPieceTokenizer", "bert_forward", "clear_cache", "cosine", "encode", "integer_encoder",
    "load_float_weights", "max_abs_error", "sentence_embedding", "synthetic_float_weights", "vit_forward"]


def __getattr__(name: str) -> Any:
    """Lazy exports (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sim.functional' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
