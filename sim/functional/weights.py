"""The float weights of an encoder under canonical names: from a checkpoint or the seeded synthetic generator.

Canonical names are the operator graph's (:mod:`.names`). Linear weights stay in Hugging Face
orientation ``[out, in]`` (``[n, k]``); the ViT patch projection (a conv ``[H, C, p, p]`` in the
checkpoint) is flattened to ``[H, C*p*p]`` as the graph lists it.

Synthetic weights (``weights=None``): every tensor the generator knows is made by
:func:`sim.quant.synthetic_tensor` with the graph's name, shape, kind and seed, exactly as
:func:`sim.quant.quantize_synthetic` makes them, so the float model matches a design's quantized model
tensor for tensor. That includes LayerNorm weights/biases and linear biases, drawn from the generator's
calibration on all-MiniLM-L6-v2 (gamma ~ N(0.611, 0.093), beta ~ N(0.0067, 0.083), biases as measured):
not gamma = 1 / beta = 0, so the synthetic model's norms scale like the real model's. ViT-only tensors the
generator has no kind for are drawn with a stated stand-in kind (:data:`VIT_STANDIN_KINDS`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from sim.errors import SimInputError
from sim.quant import classify_tensor, synthetic_tensor
from sim.weights import load_weights, synthetic_source
from sim.workload.graph import lower
from sim.workload.spec import WorkloadSpec

__all__ = ["FloatWeights", "load_float_weights", "synthetic_float_weights", "VIT_STANDIN_KINDS"]

#: ViT tensors the synthetic generator has no calibration for, and the kind drawn instead (assumed).
VIT_STANDIN_KINDS = {
    "embeddings.patch_embeddings.projection.weight": "query",  # a fan-in-scaled FC weight
    "embeddings.patch_embeddings.projection.bias": "bias",
    "embeddings.cls_token": "bias",
    "embeddings.position_embeddings": "pos_emb",
    "layernorm.weight": "layernorm",
    "layernorm.bias": "layernorm",
    "classifier.weight": "pooler",
    "classifier.bias": "bias",
}


@dataclass(frozen=True, eq=False)
class FloatWeights:
    """Float32 tensors by canonical name, plus where they came from.

    ``source``: "PATH (sha256 HEX)" or "synthetic seed N".
    """

    tensors: dict[str, np.ndarray]
    source: str

    def __getitem__(self, name: str) -> np.ndarray:
        return self.tensors[name]

    def __contains__(self, name: object) -> bool:
        return name in self.tensors

    def get(self, name: str) -> np.ndarray | None:
        """The tensor or None."""
        return self.tensors.get(name)


def _expected(wl: WorkloadSpec) -> dict[str, tuple[tuple[int, ...], str]]:
    return {t.name: (t.shape, t.tensor_type) for t in lower(wl).tensors}


def load_float_weights(path: str | os.PathLike[str], wl: WorkloadSpec) -> FloatWeights:
    """Read a safetensors checkpoint (BERT/RoBERTa/DistilBERT/ViT names, with or without task-head prefixes)
    through the one checkpoint loader (:func:`sim.weights.load_weights`) and return float32 copies.

    Raises :class:`~sim.errors.SimInputError` (one line) on a missing or malformed file, missing tensors, a
    non-floating dtype, a shape that does not match the workload or non-finite values.
    """
    ck = load_weights(path, lower(wl))
    return FloatWeights({n: np.array(a, dtype=np.float32) for n, a in ck.tensors.items()}, ck.source)


def synthetic_float_weights(wl: WorkloadSpec, seed: int = 0) -> FloatWeights:
    """Seeded synthetic float32 weights for every tensor of ``wl`` (see the module docstring)."""
    out: dict[str, np.ndarray] = {}
    for name, (shape, _ttype) in _expected(wl).items():
        info = classify_tensor(name)
        if info is not None and info.kind not in ("head", "buffer"):
            kind = info.kind
        elif name in VIT_STANDIN_KINDS:
            kind = VIT_STANDIN_KINDS[name]
        else:
            raise SimInputError(f"no synthetic generator for tensor {name!r} of workload {wl.name}")
        out[name] = synthetic_tensor(name, tuple(shape), kind, seed)
    return FloatWeights(out, synthetic_source(seed))
