"""Integer encoder forward (bit-accurate, as each design's datapath computes it) and the float reference.

Public API (contract)::

    from sim.functional import encode
    h = encode(token_ids, workload="minilm-l6", weights="model.safetensors" | None,
               mode="float" | "int8" | "gobo3" | "gobo4", attention_mask=None, nonlinear="ibert" | "ivit")
    # -> last hidden state, float64 [batch, seq, hidden]

Modules: :mod:`.reference` (float forward, BERT family and ViT), :mod:`.tokenizer` (WordPiece),
:mod:`.integer` (the integer pipeline), :mod:`.dataflow` (systolic fold-wise and GOBO PE GEMMs),
:mod:`.calibration`, :mod:`.smoothing`, :mod:`.qweights`, :mod:`.check` (``sim run --functional``),
:mod:`.metrics`, :mod:`.api`.
"""

from .api import MODES, clear_cache, encode, integer_encoder
from .dataflow import gobo_pe_gemm, systolic_gemm
from .dims import EncoderDims
from .integer import IntegerEncoder, IntegerOutput
from .metrics import cosine, max_abs_error, sentence_embedding
from .reference import FloatOutput, bert_forward, vit_forward
from .tokenizer import TokenBatch, WordPieceTokenizer
from .weights import FloatWeights, load_float_weights, synthetic_float_weights

__all__ = [
    "MODES", "EncoderDims", "FloatOutput", "FloatWeights", "IntegerEncoder", "IntegerOutput", "TokenBatch",
    "WordPieceTokenizer", "bert_forward", "clear_cache", "cosine", "encode", "gobo_pe_gemm", "integer_encoder",
    "load_float_weights", "max_abs_error", "sentence_embedding", "synthetic_float_weights", "systolic_gemm",
    "vit_forward",
]
