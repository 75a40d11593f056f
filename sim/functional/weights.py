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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.errors import SimInputError
from sim.quant import classify_tensor, read_safetensors, synthetic_tensor
from sim.workload.graph import lower
from sim.workload.spec import WorkloadSpec

from .names import canonical_weights

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
    """Float32 tensors by canonical name, plus where they came from (``source``: a path or "synthetic:seed=N")."""

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


def _conform(tensors: Mapping[str, np.ndarray], wl: WorkloadSpec, source: str) -> dict[str, np.ndarray]:
    """Check every tensor the workload needs is present with the graph's shape; return float32 copies."""
    out: dict[str, np.ndarray] = {}
    for name, (shape, _kind) in _expected(wl).items():
        if name not in tensors:
            if name.startswith("classifier.") or name.startswith("pooler."):
                continue  # heads are optional for the encoder forward
            raise SimInputError(f"{source}: no tensor {name!r} (needed by workload {wl.name}); "
                                "is this checkpoint of that model?")
        a = np.asarray(tensors[name])
        if a.shape != tuple(shape):
            if int(np.prod(a.shape)) == int(np.prod(shape)) and name.endswith("projection.weight"):
                a = a.reshape(shape)  # ViT conv [H, C, p, p] -> [H, C*p*p]
            else:
                raise SimInputError(f"{source}: tensor {name!r} has shape {list(a.shape)}, workload {wl.name} "
                                    f"needs {list(shape)}")
        out[name] = np.ascontiguousarray(a, dtype=np.float32)
    return out


def load_float_weights(path: str | os.PathLike[str], wl: WorkloadSpec) -> FloatWeights:
    """Read a safetensors checkpoint (BERT/RoBERTa/DistilBERT/ViT names) and conform it to ``wl``.

    Raises :class:`~sim.errors.SimInputError` (one line) on a missing file, a missing tensor or a shape
    that does not match the workload.
    """
    p = Path(path)
    raw = read_safetensors(p)  # a QuantError (a SimInputError) names the file and what is wrong
    try:
        canon = canonical_weights(raw)
    except ValueError as exc:
        raise SimInputError(f"{p}: {exc}") from None
    return FloatWeights(_conform(canon, wl, str(p)), str(p))


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
    return FloatWeights(out, f"synthetic:seed={int(seed)}")
