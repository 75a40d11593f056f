r"""Seeded synthetic BERT-family weights calibrated on real all-MiniLM-L6-v2 weights.

Model per tensor kind (query, key, value, attn_out, ffn1, ffn2, word_emb, pos_emb, type_emb,
pooler): ``w = mean + std * x`` with ``x`` a unit-variance mixture of a Gaussian core and a Laplace
tail (scales in std units)

.. math:: x \sim (1-p)\,\mathcal{N}(0, c^2) + p\,\mathrm{Laplace}(0, b),\qquad (1-p)c^2 + 2pb^2 = 1

whose kurtosis is :math:`3(1-p)c^4 + 24pb^4` and whose two-sided tail beyond ``z`` std is
:math:`(1-p)\,\mathrm{erfc}(z/(c\sqrt2)) + p\,e^{-z/b}`. :func:`fit_tail` picks ``(p, b)`` so that
both the kurtosis (the median over the real tensors of the kind) and the fraction of weights the
GOBO rule flags (pooled over the real tensors, at the rule's ``z*`` for the kind's std) match.
Biases and LayerNorm parameters are plain Gaussians with the measured mean and std.

Transfer to other model sizes (``std_transfer``): "fan_in" (default) scales the std of FC weights
(Hugging Face ``[out, in]``: fan-in is ``shape[1]``) by ``sqrt(fan_in_ref / fan_in)``, as a
variance-preserving initialisation would; embeddings, biases and LayerNorm keep the measured std.
"none" keeps every measured std. Neither is validated on a bert-base checkpoint (none is available
here): an assumption. The tail shape is kept in std units, so the fraction the GOBO rule flags
shifts with the std (the rule's ``z*`` depends on ``std``); that is the rule's behaviour, not noise.

Every tensor has its own generator seeded by ``(seed, crc32(name))``: the result for a name does
not depend on which other tensors are generated or in what order.
"""

from __future__ import annotations

import math
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import numpy as np

from .calibration import CALIBRATION, CALIBRATION_VERSION
from .errors import QuantError
from .names import (
    ATTN_OUT,
    BIAS,
    BUFFER,
    EMBEDDING_KINDS,
    FC_KINDS,
    FFN1,
    FFN2,
    KEY,
    LAYERNORM,
    POOLER,
    POS_EMB,
    QUERY,
    TYPE_EMB,
    VALUE,
    WORD_EMB,
    classify_tensor,
)
from .outliers import z_threshold

ShapeSpec = Mapping[str, tuple[tuple[int, ...], str]]

#: Calibration keys for the parameters that are not quantized.
LN_WEIGHT = "layernorm_weight"
LN_BIAS = "layernorm_bias"


@dataclass(frozen=True)
class TailFit:
    """A fitted core+tail mixture in std units: tail weight ``p``, Laplace scale ``b``, core std ``c``."""

    p: float
    b: float
    c: float
    kurtosis: float
    tail_fraction: float  # two-sided fraction beyond the z used in the fit


def mixture_kurtosis(p: float, b: float) -> float:
    """Kurtosis (Gaussian = 3) of the unit-variance mixture with tail weight ``p``, Laplace scale ``b``."""
    c2 = (1.0 - 2.0 * p * b * b) / (1.0 - p)
    return 3.0 * (1.0 - p) * c2 * c2 + 24.0 * p * b ** 4


def mixture_tail(p: float, b: float, z: float) -> float:
    """Two-sided tail mass ``P(|x| >= z)`` of the mixture (z in std units)."""
    c = math.sqrt(max((1.0 - 2.0 * p * b * b) / (1.0 - p), 0.0))
    core = math.erfc(z / (c * math.sqrt(2.0))) if c > 0 else 0.0
    tail = math.exp(-z / b) if b > 0 else 0.0
    return (1.0 - p) * core + p * tail


def _b_for_kurtosis(p: float, kurt: float) -> float:
    """Laplace scale on the heavy branch (``b**2 >= 1/(4-2p)``) giving kurtosis ``kurt`` (clamped)."""
    u_lo, u_hi = 1.0 / (4.0 - 2.0 * p), 1.0 / (2.0 * p) * (1.0 - 1e-12)
    if mixture_kurtosis(p, math.sqrt(u_lo)) >= kurt:
        return math.sqrt(u_lo)
    if mixture_kurtosis(p, math.sqrt(u_hi)) <= kurt:
        return math.sqrt(u_hi)
    for _ in range(200):
        mid = 0.5 * (u_lo + u_hi)
        if mixture_kurtosis(p, math.sqrt(mid)) < kurt:
            u_lo = mid
        else:
            u_hi = mid
    return math.sqrt(0.5 * (u_lo + u_hi))


def fit_tail(outlier_fraction: float, kurtosis: float, z: float) -> TailFit:
    """Fit ``(p, b)`` to a target two-sided tail fraction beyond ``z`` std and a target kurtosis.

    Scans ``p`` on a log grid (1e-6 .. 0.5), solving ``b`` for the kurtosis at each, and refines the
    best bracket by bisection on ``log p``. If the targets cannot both be met, the tail fraction is
    matched as closely as the grid allows (check ``tail_fraction`` and ``kurtosis`` of the result).
    Kurtosis <= 3 gives the pure Gaussian (``p = 0``).
    """
    if kurtosis <= 3.0 or outlier_fraction <= 0.0:
        return TailFit(0.0, 0.0, 1.0, 3.0, math.erfc(z / math.sqrt(2.0)))
    target = math.log(outlier_fraction)

    def miss(logp: float) -> float:
        p = math.exp(logp)
        return math.log(max(mixture_tail(p, _b_for_kurtosis(p, kurtosis), z), 1e-300)) - target

    grid = np.linspace(math.log(1e-6), math.log(0.5), 400)
    vals = [miss(float(g)) for g in grid]
    best = int(np.argmin(np.abs(vals)))
    for i in range(len(grid) - 1):  # prefer a sign change (an exact solution) nearest the best point
        if vals[i] == 0.0 or vals[i] * vals[i + 1] < 0.0:
            lo, hi = float(grid[i]), float(grid[i + 1])
            for _ in range(100):
                mid = 0.5 * (lo + hi)
                if miss(lo) * miss(mid) <= 0.0:
                    hi = mid
                else:
                    lo = mid
            logp = 0.5 * (lo + hi)
            break
    else:
        logp = float(grid[best])
    p = math.exp(logp)
    b = _b_for_kurtosis(p, kurtosis)
    c = math.sqrt((1.0 - 2.0 * p * b * b) / (1.0 - p))
    return TailFit(p, b, c, mixture_kurtosis(p, b), mixture_tail(p, b, z))


def calibration_key(name: str, kind: str) -> str:
    """The :data:`~sim.quant.calibration.CALIBRATION` entry used for a tensor of this name and kind."""
    if kind == LAYERNORM:
        return LN_BIAS if name.endswith(("bias", "beta")) else LN_WEIGHT
    if kind in (LN_WEIGHT, LN_BIAS, BIAS) or kind in CALIBRATION:
        return kind
    raise QuantError(f"{name}: no synthetic-weight calibration for tensor kind {kind!r}")


def tensor_std(entry: Mapping[str, float], kind: str, shape: tuple[int, ...], std_transfer: str) -> float:
    """Target std (weight units) for a synthetic tensor of this kind and shape."""
    std = float(entry["std"])
    if std_transfer == "fan_in" and kind in FC_KINDS + (POOLER,) and len(shape) == 2:
        std *= math.sqrt(float(entry["fan_in"]) / shape[1])
    return std


#: Bytes of generated tensors :func:`retain_generated` keeps at most (bert-base: 440 MB; a larger model keeps its
#: first tensors up to this and regenerates the rest).
RETAIN_BYTES = 1 << 30


class _Retained:
    """The tensors kept by :func:`retain_generated`: (name, shape, kind, seed, std_transfer) -> read-only array."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.arrays: dict[tuple, np.ndarray] = {}
        self.nbytes = 0


_RETAINED = _Retained()


@contextmanager
def retain_generated() -> Iterator[None]:
    """Within the block, :func:`synthetic_tensor` keeps what it generates (up to :data:`RETAIN_BYTES`) and returns
    the same read-only array again for the same arguments instead of generating it again.

    A run with the functional pass generates the synthetic weights twice on a cold cache: tensor by tensor
    for the GOBO quantizer, then all of them as the float model (calibration, float reference). The values are
    the same (each tensor depends only on its arguments, see the module docstring), so the second use can take
    the first one's arrays. Read-only, so that no consumer can change what another one sees. Everything kept is
    dropped when the outermost block exits."""
    with _RETAINED.lock:
        _RETAINED.depth += 1
    try:
        yield
    finally:
        with _RETAINED.lock:
            _RETAINED.depth -= 1
            if _RETAINED.depth == 0:
                _RETAINED.arrays.clear()
                _RETAINED.nbytes = 0


def synthetic_tensor(name: str, shape: tuple[int, ...], kind: str, seed: int = 0,
                     *, std_transfer: str = "fan_in") -> np.ndarray:
    """One synthetic float32 tensor (see the module docstring); deterministic in (seed, name).

    Inside :func:`retain_generated` the array may be one generated before for the same arguments (read-only)."""
    if std_transfer not in ("fan_in", "none"):
        raise QuantError(f"std_transfer must be 'fan_in' or 'none', got {std_transfer!r}")
    key = (name, tuple(int(d) for d in shape), kind, int(seed), std_transfer)
    if _RETAINED.depth:
        with _RETAINED.lock:
            kept = _RETAINED.arrays.get(key)
        if kept is not None:
            return kept
    x = _generate(name, shape, kind, seed, std_transfer)
    if _RETAINED.depth:
        with _RETAINED.lock:
            if _RETAINED.depth and _RETAINED.nbytes + x.nbytes <= RETAIN_BYTES:
                x.setflags(write=False)
                _RETAINED.arrays[key] = x
                _RETAINED.nbytes += x.nbytes
    return x


def _generate(name: str, shape: tuple[int, ...], kind: str, seed: int, std_transfer: str) -> np.ndarray:
    entry = CALIBRATION[calibration_key(name, kind)]
    n = int(math.prod(shape))
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode("utf-8"))])
    std = tensor_std(entry, kind, tuple(shape), std_transfer)
    p = float(entry.get("tail_weight", 0.0))
    x = rng.standard_normal(n, dtype=np.float32)
    if p > 0.0:
        x *= np.float32(entry["core_std"])
        tail = np.flatnonzero(rng.random(n, dtype=np.float32) < np.float32(p))
        x[tail] = rng.laplace(0.0, float(entry["tail_scale"]), tail.size).astype(np.float32)
    x *= np.float32(std)
    x += np.float32(entry["mean"])
    return x.reshape(shape)


def synthetic_makers(shapes: ShapeSpec, seed: int = 0, *, std_transfer: str = "fan_in"
                     ) -> Iterator[tuple[str, tuple[int, ...], Callable[[], np.ndarray]]]:
    """Yield ``(name, shape, make)`` for ``shapes`` (name -> (shape, kind)) in order, ``make()`` generating the
    float32 tensor (:func:`synthetic_tensor`): nothing is generated until it is called (the quantizer's
    workers call it, see :class:`~sim.quant.model.DeferredTensor`). Buffers are left out."""
    for name, (shape, kind) in shapes.items():
        if kind == BUFFER:
            continue
        dims = tuple(int(d) for d in shape)
        yield name, dims, partial(synthetic_tensor, name, dims, kind, seed, std_transfer=std_transfer)


def iter_synthetic_weights(shapes: ShapeSpec, seed: int = 0, *, std_transfer: str = "fan_in"
                           ) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(name, float32 array)`` for ``shapes`` (name -> (shape, kind)) one at a time, in order."""
    for name, _, make in synthetic_makers(shapes, seed, std_transfer=std_transfer):
        yield name, make()


def synthetic_weights(shapes: ShapeSpec, seed: int = 0, *, std_transfer: str = "fan_in") -> dict[str, np.ndarray]:
    """All synthetic tensors for ``shapes`` (name -> (shape, kind)) as a dict, in order."""
    return dict(iter_synthetic_weights(shapes, seed, std_transfer=std_transfer))


def bert_tensor_shapes(
    num_layers: int = 12,
    hidden: int = 768,
    intermediate: int = 3072,
    vocab_size: int = 30522,
    max_position: int = 512,
    type_vocab_size: int = 2,
    *,
    pooler: bool = True,
    prefix: str = "",
) -> dict[str, tuple[tuple[int, ...], str]]:
    """Hugging Face BERT tensor names -> (shape, kind), weights stored ``[out, in]``.

    Defaults are bert-base (12 layers, hidden 768, intermediate 3072, vocab 30522, 512 positions,
    2 token types). ``prefix`` is prepended to every name (e.g. "bert.").
    """
    s: dict[str, tuple[tuple[int, ...], str]] = {}
    e = f"{prefix}embeddings."
    s[e + "word_embeddings.weight"] = ((vocab_size, hidden), WORD_EMB)
    s[e + "position_embeddings.weight"] = ((max_position, hidden), POS_EMB)
    s[e + "token_type_embeddings.weight"] = ((type_vocab_size, hidden), TYPE_EMB)
    s[e + "LayerNorm.weight"] = ((hidden,), LAYERNORM)
    s[e + "LayerNorm.bias"] = ((hidden,), LAYERNORM)
    for i in range(num_layers):
        L = f"{prefix}encoder.layer.{i}."
        for mod, kind in (("attention.self.query", QUERY), ("attention.self.key", KEY),
                          ("attention.self.value", VALUE), ("attention.output.dense", ATTN_OUT)):
            s[L + mod + ".weight"] = ((hidden, hidden), kind)
            s[L + mod + ".bias"] = ((hidden,), BIAS)
        s[L + "attention.output.LayerNorm.weight"] = ((hidden,), LAYERNORM)
        s[L + "attention.output.LayerNorm.bias"] = ((hidden,), LAYERNORM)
        s[L + "intermediate.dense.weight"] = ((intermediate, hidden), FFN1)
        s[L + "intermediate.dense.bias"] = ((intermediate,), BIAS)
        s[L + "output.dense.weight"] = ((hidden, intermediate), FFN2)
        s[L + "output.dense.bias"] = ((hidden,), BIAS)
        s[L + "output.LayerNorm.weight"] = ((hidden,), LAYERNORM)
        s[L + "output.LayerNorm.bias"] = ((hidden,), LAYERNORM)
    if pooler:
        s[f"{prefix}pooler.dense.weight"] = ((hidden, hidden), POOLER)
        s[f"{prefix}pooler.dense.bias"] = ((hidden,), BIAS)
    return s


def distilbert_tensor_shapes(
    num_layers: int = 6,
    dim: int = 768,
    hidden_dim: int = 3072,
    vocab_size: int = 30522,
    max_position: int = 512,
    *,
    prefix: str = "",
) -> dict[str, tuple[tuple[int, ...], str]]:
    """Hugging Face DistilBERT tensor names -> (shape, kind); no token types and no pooler."""
    s: dict[str, tuple[tuple[int, ...], str]] = {}
    e = f"{prefix}embeddings."
    s[e + "word_embeddings.weight"] = ((vocab_size, dim), WORD_EMB)
    s[e + "position_embeddings.weight"] = ((max_position, dim), POS_EMB)
    s[e + "LayerNorm.weight"] = ((dim,), LAYERNORM)
    s[e + "LayerNorm.bias"] = ((dim,), LAYERNORM)
    for i in range(num_layers):
        L = f"{prefix}transformer.layer.{i}."
        for mod, kind in (("attention.q_lin", QUERY), ("attention.k_lin", KEY), ("attention.v_lin", VALUE),
                          ("attention.out_lin", ATTN_OUT)):
            s[L + mod + ".weight"] = ((dim, dim), kind)
            s[L + mod + ".bias"] = ((dim,), BIAS)
        s[L + "sa_layer_norm.weight"] = ((dim,), LAYERNORM)
        s[L + "sa_layer_norm.bias"] = ((dim,), LAYERNORM)
        s[L + "ffn.lin1.weight"] = ((hidden_dim, dim), FFN1)
        s[L + "ffn.lin1.bias"] = ((hidden_dim,), BIAS)
        s[L + "ffn.lin2.weight"] = ((dim, hidden_dim), FFN2)
        s[L + "ffn.lin2.bias"] = ((dim,), BIAS)
        s[L + "output_layer_norm.weight"] = ((dim,), LAYERNORM)
        s[L + "output_layer_norm.bias"] = ((dim,), LAYERNORM)
    return s


def shapes_from_hf_config(config: Mapping[str, object]) -> dict[str, tuple[tuple[int, ...], str]]:
    """Tensor shapes of the base model described by a Hugging Face ``config.json`` (as a dict).

    ``model_type`` "bert" and "roberta" (and configs without it) use the BERT names and keys
    ``num_hidden_layers``, ``hidden_size``, ``intermediate_size``, ``vocab_size``,
    ``max_position_embeddings``, ``type_vocab_size``; "distilbert" uses ``n_layers``, ``dim``,
    ``hidden_dim``, ``vocab_size``, ``max_position_embeddings``. Names carry no prefix.
    """
    def get(key: str) -> int:
        if key not in config:
            raise QuantError(f"config has no {key!r} (model_type {config.get('model_type', '?')!r})")
        return int(config[key])  # type: ignore[call-overload]

    model_type = str(config.get("model_type", "bert"))
    if model_type == "distilbert":
        return distilbert_tensor_shapes(get("n_layers"), get("dim"), get("hidden_dim"), get("vocab_size"),
                                        get("max_position_embeddings"))
    if model_type in ("bert", "roberta"):
        return bert_tensor_shapes(get("num_hidden_layers"), get("hidden_size"), get("intermediate_size"),
                                  get("vocab_size"), get("max_position_embeddings"),
                                  int(config.get("type_vocab_size", 2)))  # type: ignore[call-overload]
    raise QuantError(f"config model_type {model_type!r} is not a BERT-family model (bert, roberta, distilbert)")


def shapes_of(tensors: Mapping[str, np.ndarray]) -> dict[str, tuple[tuple[int, ...], str]]:
    """name -> (shape, kind) for real tensors (unrecognised names and buffers are left out)."""
    out: dict[str, tuple[tuple[int, ...], str]] = {}
    for name, arr in tensors.items():
        info = classify_tensor(name)
        if info is None or info.kind in (BUFFER, "head"):
            continue
        out[name] = (tuple(np.shape(arr)), info.kind)
    return out


# ---- calibration measurement (used by bench/bench_quant.py --calibrate and the tests) -----------------

QUANT_KINDS: tuple[str, ...] = FC_KINDS + EMBEDDING_KINDS + (POOLER,)
FC_FAN_IN_AXIS = 1


def _moments(a: np.ndarray) -> tuple[float, float, float]:
    x = np.asarray(a, dtype=np.float64).reshape(-1)
    mu = float(x.mean())
    d = x - mu
    var = float(np.dot(d, d) / x.size)
    kurt = float(np.mean(d ** 4) / var ** 2) if var > 0 else 3.0
    return mu, math.sqrt(var), kurt


def _outlier_count(a: np.ndarray, threshold: float) -> int:
    x = np.asarray(a, dtype=np.float64).reshape(-1)
    mu, sd = x.mean(), x.std()
    z = z_threshold(float(sd), threshold)
    return int(np.count_nonzero(np.abs(x - mu) >= z * sd)) if math.isfinite(z) else 0


def measure_calibration(tensors: Mapping[str, np.ndarray], threshold: float = -4.0) -> dict[str, dict[str, float]]:
    """Measure per-kind calibration figures on real tensors and fit the tail model.

    For each quantized kind: ``n_tensors``, ``fan_in`` (``shape[1]`` of the first tensor),
    ``mean`` (pooled), ``std`` (pooled RMS about the per-tensor means), ``kurtosis`` (median over the
    tensors), ``kurtosis_min``/``kurtosis_max``, ``outlier_fraction`` (pooled, GOBO rule per tensor),
    ``z_threshold`` (the rule's z* at the pooled std) and the fit ``tail_weight``, ``tail_scale``,
    ``core_std``. For biases and LayerNorm weights/biases: ``mean`` and ``std`` only.
    """
    groups: dict[str, list[np.ndarray]] = {}
    for name, arr in tensors.items():
        info = classify_tensor(name)
        if info is None or not np.issubdtype(np.asarray(arr).dtype, np.floating):
            continue
        if info.kind in QUANT_KINDS and np.ndim(arr) == 2:
            key = info.kind
        elif info.kind in (BIAS, LAYERNORM):
            key = calibration_key(name, info.kind)
        else:
            continue
        groups.setdefault(key, []).append(np.asarray(arr))
    out: dict[str, dict[str, float]] = {}
    for key, arrs in groups.items():
        n = sum(a.size for a in arrs)
        stats = [_moments(a) for a in arrs]
        mean = sum(m * a.size for (m, _, _), a in zip(stats, arrs, strict=True)) / n
        std = math.sqrt(sum(s * s * a.size for (_, s, _), a in zip(stats, arrs, strict=True)) / n)
        entry: dict[str, float] = {"n_tensors": len(arrs), "mean": mean, "std": std}
        if key in QUANT_KINDS:
            kurts = sorted(k for _, _, k in stats)
            frac = sum(_outlier_count(a, threshold) for a in arrs) / n
            z = z_threshold(std, threshold)
            fit = fit_tail(frac, float(np.median(kurts)), z)
            entry.update({
                "fan_in": int(arrs[0].shape[FC_FAN_IN_AXIS]), "kurtosis": float(np.median(kurts)),
                "kurtosis_min": kurts[0], "kurtosis_max": kurts[-1], "outlier_fraction": frac,
                "z_threshold": z, "tail_weight": fit.p, "tail_scale": fit.b, "core_std": fit.c,
            })
        out[key] = entry
    return out


def synthetic_check(tensors: Mapping[str, np.ndarray], seed: int = 0, threshold: float = -4.0
                    ) -> dict[str, dict[str, float]]:
    """Generate synthetic twins of ``tensors`` (same names and shapes) and measure per kind:
    ``std``, ``kurtosis`` (median) and ``outlier_fraction`` (pooled, GOBO rule)."""
    measured: dict[str, dict[str, float]] = {}
    shapes = shapes_of(tensors)
    twins = synthetic_weights(shapes, seed)
    cal = measure_calibration(twins, threshold)
    for key, e in cal.items():
        measured[key] = {str(k): e[k] for k in ("std", "mean", "kurtosis", "outlier_fraction") if k in e}
    return measured


__all__ = [
    "CALIBRATION_VERSION", "TailFit", "bert_tensor_shapes", "calibration_key", "distilbert_tensor_shapes", "fit_tail",
    "iter_synthetic_weights", "measure_calibration", "mixture_kurtosis", "mixture_tail", "retain_generated",
    "shapes_of", "shapes_from_hf_config", "synthetic_check", "synthetic_makers", "synthetic_tensor",
    "synthetic_weights", "tensor_std",
]
