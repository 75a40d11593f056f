"""Quantization parameters and the rule that decides which tensors are quantized at how many bits."""

from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass

from .errors import QuantParamError
from .names import EMBEDDING_KINDS, FC_KINDS, POOLER, classify_tensor

MIN_BITS = 2
MAX_BITS = 8
DEFAULT_OUTLIER_THRESHOLD = -4.0
DEFAULT_MAX_ITERATIONS = 100


def check_bits(bits: int, what: str = "bits") -> int:
    """Return ``bits`` if it is an int in 2..8, else raise :class:`QuantParamError` (one line)."""
    if isinstance(bits, bool) or not hasattr(bits, "__index__"):
        raise QuantParamError(f"{what} must be an integer in {MIN_BITS}..{MAX_BITS}, got {bits!r}")
    b = operator.index(bits)
    if not MIN_BITS <= b <= MAX_BITS:
        raise QuantParamError(f"{what} must be in {MIN_BITS}..{MAX_BITS}, got {b}")
    return b


def check_threshold(threshold: float) -> float:
    """Return the outlier log-density threshold (natural log, nats) if finite, else raise."""
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise QuantParamError(f"outlier_threshold must be a number (natural-log density), got {threshold!r}") from None
    if not math.isfinite(t):
        raise QuantParamError(f"outlier_threshold must be finite, got {threshold!r}")
    return t


def check_max_iterations(max_iterations: int) -> int:
    """Return ``max_iterations`` if it is an int >= 1, else raise."""
    if isinstance(max_iterations, bool) or not hasattr(max_iterations, "__index__") or max_iterations < 1:
        raise QuantParamError(f"max_iterations must be an integer >= 1, got {max_iterations!r}")
    return operator.index(max_iterations)


@dataclass(frozen=True)
class GoboParams:
    """GOBO quantization settings (a spec: frozen, validated on construction).

    * ``bits``: index width of the encoder FC weights (query, key, value, attention output, FFN1,
      FFN2) and of the pooler; 2..8, so 2**bits centroids per tensor.
    * ``embedding_bits``: index width of the word / position / token-type embedding tables, 2..8.
    * ``outlier_threshold``: a weight is an outlier when the natural log of the fitted Gaussian's
      density at it is <= this value (nats; GOBO uses -4).
    * ``quantize_embeddings``: quantize the embedding tables (else they stay fp32).
    * ``quantize_pooler``: quantize the pooler dense weight at ``bits`` (else it stays fp32).
    * ``max_iterations``: cap on GOBO centroid-refinement steps per tensor.

    LayerNorm parameters, biases, task heads and integer buffers are never quantized.
    """

    bits: int = 3
    embedding_bits: int = 4
    outlier_threshold: float = DEFAULT_OUTLIER_THRESHOLD
    quantize_embeddings: bool = True
    quantize_pooler: bool = True
    max_iterations: int = DEFAULT_MAX_ITERATIONS

    def __post_init__(self) -> None:
        object.__setattr__(self, "bits", check_bits(self.bits, "bits"))
        object.__setattr__(self, "embedding_bits", check_bits(self.embedding_bits, "embedding_bits"))
        object.__setattr__(self, "outlier_threshold", check_threshold(self.outlier_threshold))
        object.__setattr__(self, "max_iterations", check_max_iterations(self.max_iterations))
        for flag in ("quantize_embeddings", "quantize_pooler"):
            if not isinstance(getattr(self, flag), bool):
                raise QuantParamError(f"{flag} must be true or false, got {getattr(self, flag)!r}")

    def as_dict(self) -> dict[str, object]:
        """The parameters as a plain JSON-serialisable dict."""
        return asdict(self)


def bits_for_kind(kind: str | None, params: GoboParams) -> int | None:
    """Index width (bits) for a tensor of this kind, or ``None`` when it stays fp32."""
    if kind in FC_KINDS:
        return params.bits
    if kind == POOLER:
        return params.bits if params.quantize_pooler else None
    if kind in EMBEDDING_KINDS:
        return params.embedding_bits if params.quantize_embeddings else None
    return None


def bits_for_tensor(name: str, shape: tuple[int, ...], params: GoboParams) -> int | None:
    """Index width (bits) for a Hugging Face tensor name, or ``None`` when it stays fp32.

    Tensors with fewer than 2 dimensions and names :func:`~sim.quant.names.classify_tensor` does not
    recognise always stay fp32.
    """
    if len(shape) < 2:
        return None
    info = classify_tensor(name)
    return bits_for_kind(info.kind if info else None, params)
