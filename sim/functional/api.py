"""The functional API: ``encode(token_ids, workload, weights, mode, attention_mask, nonlinear)``.

A ViT workload takes images instead of token ids: ``encode(pixel_values, workload="vit-base", ...)`` (or
``encode(None, ..., pixel_values=...)``), float ``[batch, channels, image, image]``, already normalised.
``nonlinear`` defaults to the family's kernel set (:data:`DEFAULT_NONLINEAR`: "ivit" for ViT, "ibert" for
the BERT family); either is selectable.

Modes: ``"float"`` (the float64 reference forward, :mod:`.reference`), ``"int8"`` (the integer pipeline
with int8 per-channel weights and smoothing, on the weight-stationary systolic datapath), ``"gobo3"`` /
``"gobo4"`` (the integer pipeline with GOBO 3-/4-bit weights, 4-bit embedding tables, on the GOBO PE
datapath). Expensive state is cached in memory per (weights, workload, mode, kernel set, options): the
float weights, the GOBO-quantized model (also cached on disk by :mod:`sim.quant`) and the calibrated
integer model. The cache holds at most :data:`CACHE_ENTRIES` integer models.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from sim.compute.base import ActivationFormat, Datapath
from sim.errors import SimInputError
from sim.progress import step
from sim.quant import GoboParams, QuantizedModel
from sim.weights import quantize_model_for
from sim.workload.graph import lower
from sim.workload.loader import load_workload
from sim.workload.spec import WorkloadSpec

from . import cache as fcache
from .calibration import CALIBRATION_SENTENCES, random_image_batch, random_token_batch
from .dims import EncoderDims
from .integer import NONLINEAR_SETS, IntegerEncoder
from .model import build_integer_encoder, default_datapath
from .qweights import format_mode
from .reference import bert_forward, vit_forward
from .tokenizer import load_tokenizer
from .weights import FloatWeights, load_float_weights, synthetic_float_weights

__all__ = ["encode", "MODES", "integer_encoder", "float_weights", "resolve_workload", "validate_tokens",
           "validate_images", "calibration_batch", "gobo_model", "clear_cache", "CACHE_ENTRIES", "DEFAULT_NONLINEAR",
           "default_nonlinear", "RANDOM_IMAGE_CALIBRATION"]

MODES = ("float", "int8", "gobo3", "gobo4", "olive", "olaccel")
CACHE_ENTRIES = 4
#: Calibration batch for weights without a vocabulary: seeded random ids, this shape and seed.
RANDOM_CALIBRATION = {"batch": 4, "seq": 32, "seed": 1234}
#: Calibration batch of a ViT (no image set ships with the repository): seeded random images
#: (:func:`~.calibration.random_image_batch`), at least ``batch`` of them and at least ``tokens`` tokens in all
#: (vit-base: 2 images; a 17-token ViT: 16), this seed. Fewer tokens leave the 8-bit points' max-abs ranges
#: short: on the tiny test ViT, 2 images gave a max |error| of 0.69 at the output (saturation), 32 images 0.29.
RANDOM_IMAGE_CALIBRATION = {"batch": 2, "tokens": 256, "seed": 1234}
#: The nonlinear kernel set by family when none is given (I-ViT's kernels for a ViT, I-BERT's otherwise).
DEFAULT_NONLINEAR = {"vit": "ivit"}


def default_nonlinear(wl: WorkloadSpec) -> str:
    """The kernel set a workload runs with when none is given: "ivit" for a ViT, "ibert" for the BERT family."""
    return DEFAULT_NONLINEAR.get(wl.family, "ibert")

_FLOAT: OrderedDict[tuple, FloatWeights] = OrderedDict()
_INT: OrderedDict[tuple, tuple[IntegerEncoder, object]] = OrderedDict()  # (model, the qmodel keyed by id)


def clear_cache() -> None:
    """Drop every cached float model and integer model."""
    _FLOAT.clear()
    _INT.clear()


def _put(cache: OrderedDict, key: tuple, value: object, limit: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > limit:
        cache.popitem(last=False)


def resolve_workload(workload: str | os.PathLike[str] | WorkloadSpec) -> WorkloadSpec:
    """A WorkloadSpec from a spec, a built-in name, a YAML path or a Hugging Face config.json."""
    return workload if isinstance(workload, WorkloadSpec) else load_workload(workload)


def _weights_key(weights: str | os.PathLike[str] | None, seed: int) -> str:
    if weights is None:
        return f"synthetic:seed={int(seed)}"
    p = Path(weights)
    if not p.is_file():
        raise SimInputError(f"{p}: no such checkpoint file")
    st = p.stat()
    return f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def _wl_key(wl: WorkloadSpec) -> tuple:
    d = EncoderDims.from_workload(wl)
    return tuple(sorted(vars(d).items()))


def float_weights(wl: WorkloadSpec, weights: str | os.PathLike[str] | None = None, seed: int = 0) -> FloatWeights:
    """The float32 weights of ``wl``: from ``weights`` (a safetensors checkpoint) or seeded synthetic (cached)."""
    key = (_weights_key(weights, seed), _wl_key(wl))
    if key not in _FLOAT:
        with step("float weights"):
            w = synthetic_float_weights(wl, seed) if weights is None else load_float_weights(weights, wl)
        _put(_FLOAT, key, w, 2)
    _FLOAT.move_to_end(key)
    return _FLOAT[key]


def gobo_model(wl: WorkloadSpec, weights: str | os.PathLike[str] | None, bits: int, seed: int = 0,
               embedding_bits: int = 4) -> QuantizedModel:
    """The GOBO-quantized model (:class:`sim.quant.QuantizedModel`) of a checkpoint or of the synthetic weights
    (disk-cached by :mod:`sim.quant`)."""
    return quantize_model_for(lower(wl), GoboParams(bits=bits, embedding_bits=embedding_bits), weights=weights,
                              seed=seed)


def calibration_batch(wl: WorkloadSpec, weights: str | os.PathLike[str] | None) -> tuple[np.ndarray, np.ndarray, str]:
    """``(ids, mask, description)`` of the calibration batch (see :mod:`.calibration`); for a ViT
    ``(images, mask of ones per token, description)``."""
    if wl.family == "vit":
        r = RANDOM_IMAGE_CALIBRATION
        n = max(r["batch"], -(-r["tokens"] // wl.seq_len))
        px = random_image_batch(n, wl.channels, wl.image_size, r["seed"])
        return px, np.ones((n, wl.seq_len), dtype=np.int64), (
            f"seeded random images uniform in [-1, 1) (batch {n}, {wl.channels}x{wl.image_size}x"
            f"{wl.image_size}, seed {r['seed']})")
    if weights is not None:
        found = load_tokenizer(Path(weights).parent)
        if found is not None:
            tok, tok_file = found
            if len(tok.vocab) <= wl.vocab:
                b = tok.batch(list(CALIBRATION_SENTENCES), max_length=min(wl.max_positions, 128))
                digest = hashlib.sha256(tok_file.read_bytes()).hexdigest()
                return b.input_ids, b.attention_mask, (f"{len(CALIBRATION_SENTENCES)} calibration sentences "
                                                       f"tokenized with the checkpoint's {tok_file.name} "
                                                       f"(sha256 {digest})")
    r = RANDOM_CALIBRATION
    seq = min(r["seq"], wl.max_positions - (2 if wl.family == "roberta" else 0))
    ids = random_token_batch(wl.vocab, r["batch"], seq, r["seed"])
    return ids, np.ones_like(ids), f"seeded random token ids (batch {r['batch']}, seq {seq}, seed {r['seed']})"


def integer_encoder(wl: WorkloadSpec, weights: str | os.PathLike[str] | None, mode: str, nonlinear: str | None = None,
                    *, seed: int = 0, qmodel: object | None = None,
                    datapath: Datapath | None | str = "default",
                    act_format: ActivationFormat | None = None) -> IntegerEncoder:
    """The calibrated integer model for a mode ("int8", "gobo3", "gobo4"), built once and cached.

    ``qmodel``: a GOBO-quantized model to use instead of quantizing here (a design's own model); with it any
    "gobo{bits}" mode (bits 2..8, the model's own) is accepted. ``datapath``: the GEMM datapath (a design's;
    None: the reference kernel; "default": the format's own, :func:`~.model.default_datapath`).
    ``nonlinear``: "ibert" or "ivit"; None: the family's (:func:`default_nonlinear`). ``act_format``: the
    design's GEMM-input activation format (its plug-in's :meth:`~sim.compute.base.ComputeKind.activation_format`;
    None: int8).
    """
    if nonlinear is None:
        nonlinear = default_nonlinear(wl)
    gobo_any = qmodel is not None and mode.startswith("gobo") and mode[4:].isdigit()
    if (mode not in MODES or mode == "float") and not gobo_any and format_mode(mode) is None:
        raise SimInputError(f"integer mode must be one of int8, gobo3, gobo4, ternary, ternary-tensor, bcq1..bcq8, "
                            f"olive, olaccel, got {mode!r}")
    if nonlinear not in NONLINEAR_SETS:
        raise SimInputError(f"nonlinear must be one of {', '.join(NONLINEAR_SETS)}, got {nonlinear!r}")
    dp_key = datapath if isinstance(datapath, str) else (None if datapath is None else datapath.key)
    key = (_weights_key(weights, seed), _wl_key(wl), mode, nonlinear, dp_key,
           id(qmodel) if qmodel is not None else None, None if act_format is None else act_format.key)
    if key in _INT:
        _INT.move_to_end(key)
        return _INT[key][0]
    dims = EncoderDims.from_workload(wl)
    ids, mask, desc = calibration_batch(wl, weights)
    if mode == "int8" or format_mode(mode) is not None:
        fmt, qm = mode, None
    else:
        fmt = "gobo"
        qm = qmodel if qmodel is not None else gobo_model(wl, weights, int(mode[4:]), seed)
    # the disk cache's entry layout is the BERT family's int8/GOBO model; a ViT and the other weight formats
    # are calibrated in each process
    cacheable = not dims.is_vit and fmt in ("int8", "gobo") and act_format is None
    disk_key = fcache.entry_key("integer-model", {
        "weights": fcache.weights_identity(None if weights is None else os.fspath(weights), seed),
        "dims": vars(dims), "mode": mode, "nonlinear": nonlinear, "calibration": desc,
        "gobo_params": qm.params.as_dict() if qm is not None else None}) if cacheable else None  # type: ignore[attr-defined]
    enc = _load_encoder(disk_key, dims, qm, nonlinear, datapath, fmt) if disk_key is not None else None
    if enc is None:
        w = float_weights(wl, weights, seed)
        with step("calibrate"):
            enc = build_integer_encoder(dims, w, fmt, ids, mask, qmodel=qm, nonlinear=nonlinear, datapath=datapath,
                                        calib_source=desc, act_format=act_format)
        if disk_key is not None:
            fcache.store_arrays(disk_key, fcache.encoder_to_arrays(enc.qw, enc.w, enc.cal, enc.smooth))
    _put(_INT, key, (enc, qmodel), CACHE_ENTRIES)  # holding qmodel keeps its id from being reused
    return enc


def _load_encoder(disk_key: str, dims: EncoderDims, qmodel: object | None, nonlinear: str,
                  datapath: Datapath | None | str, fmt: str) -> IntegerEncoder | None:
    """The calibrated integer model from the disk cache (:mod:`.cache`), or None (missing or unusable)."""
    arrays = fcache.load_arrays(disk_key)
    if arrays is None:
        return None
    try:
        qw, ln, cal, smooth = fcache.encoder_parts_from_arrays(arrays, qmodel)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError):
        return None
    dp = default_datapath(fmt) if isinstance(datapath, str) else datapath
    return IntegerEncoder(dims, ln, qw, cal, nonlinear=nonlinear, datapath=dp, smooth=smooth)


def validate_tokens(token_ids: object, wl: WorkloadSpec, attention_mask: object = None,
                    token_type_ids: object = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check and normalise inputs to int64 ``[batch, seq]`` arrays; a 1-D sequence becomes a batch of one.

    Raises :class:`~sim.errors.SimInputError` (one line) for a non-integer or empty input, more than two
    dimensions, ids outside ``[0, vocab)``, a sequence longer than the position table, a mask of another
    shape or with values other than 0/1, a sequence with no unmasked token, or bad token types.
    """
    def as_int(name: str, x: object) -> np.ndarray:
        try:
            a = np.asarray(x)
        except (TypeError, ValueError):
            raise SimInputError(f"{name} must be an integer array") from None
        if a.dtype == object or (a.size and a.dtype.kind not in "iub"):
            raise SimInputError(f"{name} must be integers, got dtype {a.dtype}")
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2:
            raise SimInputError(f"{name} must be [batch, seq] (or one sequence), got shape {list(a.shape)}")
        return a.astype(np.int64)

    ids = as_int("token_ids", token_ids)
    if ids.size == 0:
        raise SimInputError("token_ids is empty")
    if wl.family == "vit":
        raise SimInputError(f"workload {wl.name} is a ViT: it takes images, not token ids")
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= wl.vocab:
        bad = lo if lo < 0 else hi
        raise SimInputError(f"token id {bad} is outside the vocabulary [0, {wl.vocab}) of {wl.name}")
    limit = wl.max_positions - (2 if wl.family == "roberta" else 0)  # RoBERTa positions start at pad + 1
    if ids.shape[1] > limit:
        raise SimInputError(f"sequence length {ids.shape[1]} exceeds {limit} positions of {wl.name}")
    if attention_mask is None:
        mask = np.ones_like(ids)
    else:
        mask = as_int("attention_mask", attention_mask)
        if mask.shape != ids.shape:
            raise SimInputError(f"attention_mask shape {list(mask.shape)} differs from token_ids {list(ids.shape)}")
        if not np.isin(mask, (0, 1)).all():
            raise SimInputError("attention_mask values must be 0 or 1")
        if (mask.sum(axis=1) == 0).any():
            raise SimInputError("every sequence needs at least one unmasked token")
    if token_type_ids is None:
        tt = np.zeros_like(ids)
    else:
        tt = as_int("token_type_ids", token_type_ids)
        if tt.shape != ids.shape:
            raise SimInputError(f"token_type_ids shape {list(tt.shape)} differs from token_ids {list(ids.shape)}")
        if tt.min() < 0 or tt.max() >= max(1, wl.type_vocab):
            raise SimInputError(f"token_type_ids must lie in [0, {max(1, wl.type_vocab)})")
    return ids, mask, tt


def validate_images(pixel_values: object, wl: WorkloadSpec) -> np.ndarray:
    """Check and normalise images to float64 ``[batch, channels, image, image]``; one image ``[channels, image,
    image]`` becomes a batch of one. Raises :class:`~sim.errors.SimInputError` (one line) for a non-numeric or
    empty input, another shape than the workload's (``channels``, ``image_size``), or non-finite values."""
    try:
        a = np.asarray(pixel_values)
    except (TypeError, ValueError):
        raise SimInputError("pixel_values must be a numeric array") from None
    if a.dtype == object or a.dtype.kind not in "iuf" or a.size == 0:
        raise SimInputError(f"pixel_values must be a non-empty numeric array, got dtype {a.dtype}, "
                            f"shape {list(a.shape)}")
    if a.ndim == 3:
        a = a[None]
    want = [wl.channels, wl.image_size, wl.image_size]
    if a.ndim != 4 or list(a.shape[1:]) != want:
        raise SimInputError(f"pixel_values of {wl.name} must be [batch, {', '.join(map(str, want))}], "
                            f"got shape {list(a.shape)}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise SimInputError("pixel_values must be finite")
    return a


def encode(token_ids: object, workload: str | os.PathLike[str] | WorkloadSpec = "minilm-l6",
           weights: str | os.PathLike[str] | None = None, mode: str = "float", attention_mask: object = None,
           nonlinear: str | None = None, *, token_type_ids: object = None, seed: int = 0,
           pixel_values: object = None) -> np.ndarray:
    """The last hidden state ``[batch, seq, hidden]`` (float64) of a BERT-family encoder or a ViT.

    ``token_ids``: int ``[batch, seq]`` (or one sequence ``[seq]``); ``workload``: a built-in name, YAML or
    Hugging Face config.json (shapes); ``weights``: a safetensors checkpoint, or None for the seeded
    synthetic weights (``seed``); ``mode``: "float" (float64 reference), "int8", "gobo3", "gobo4" (the
    bit-accurate integer pipeline, output dequantized: ``int8 * scale``); ``attention_mask``: 1 token /
    0 padding (default all ones); ``nonlinear``: "ibert" or "ivit" kernels (integer modes; default: the
    family's, :func:`default_nonlinear`).

    ViT workloads take images: ``pixel_values`` (or the first argument) float ``[batch, channels, image,
    image]`` (or one image), normalised as the model expects; no mask or token types. The result covers every
    token ([CLS] first, then the patches in row-major order) after the final LayerNorm.
    Raises :class:`~sim.errors.SimInputError` (a ``ValueError``) on bad input.
    """
    if mode not in MODES:
        raise SimInputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if nonlinear is not None and nonlinear not in NONLINEAR_SETS:
        raise SimInputError(f"nonlinear must be one of {', '.join(NONLINEAR_SETS)}, got {nonlinear!r}")
    wl = resolve_workload(workload)
    if wl.family == "vit":
        if pixel_values is not None and token_ids is not None:
            raise SimInputError("give the images once: as the first argument or as pixel_values")
        if attention_mask is not None or token_type_ids is not None:
            raise SimInputError(f"workload {wl.name} is a ViT: it takes no attention_mask or token_type_ids")
        px = validate_images(pixel_values if pixel_values is not None else token_ids, wl)
        if mode == "float":
            return vit_forward(float_weights(wl, weights, seed), EncoderDims.from_workload(wl), px).last_hidden_state
        return integer_encoder(wl, weights, mode, nonlinear, seed=seed).forward_images(px).hidden
    if pixel_values is not None:
        raise SimInputError(f"workload {wl.name} is a {wl.family} text encoder: it takes token ids, not pixel_values")
    ids, mask, tt = validate_tokens(token_ids, wl, attention_mask, token_type_ids)
    if mode == "float":
        w = float_weights(wl, weights, seed)
        return bert_forward(w, EncoderDims.from_workload(wl), ids, mask, tt).last_hidden_state
    enc = integer_encoder(wl, weights, mode, nonlinear, seed=seed)
    return enc.forward(ids, mask, tt).hidden
