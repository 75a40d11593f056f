"""Where a run's weights come from: a safetensors checkpoint or the seeded synthetic generator, quantized per format.

One place for the timing path, the functional pass and ``sim quantize``: :func:`load_weights` (the one
checkpoint loader: a safetensors file conformed to a workload's operator graph, names mapped, every tensor
checked, see :func:`sim.quant.checkpoint.load_for_workload`), :func:`gobo_params` (a design's GOBO
quantization parameters), :func:`synthetic_shapes` (the tensors the synthetic generator makes for a workload),
:func:`quantize_model_for` (the GOBO-quantized model of a workload, disk-cached by :mod:`sim.quant`) and
:func:`tensor_values` (one tensor's float values, for plots).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from sim.errors import SimInputError
from sim.quant import (
    GoboParams,
    QuantizedModel,
    WorkloadCheckpoint,
    canonical_name,
    classify_tensor,
    load_for_workload,
    quantize_checkpoint,
    quantize_synthetic,
    quantize_workload_checkpoint,
    read_safetensors,
    synthetic_tensor,
)
from sim.workload.graph import OperatorGraph, lower
from sim.workload.loader import load_workload
from sim.workload.spec import WorkloadSpec

if TYPE_CHECKING:
    from sim.config.hardware import HardwareConfig

__all__ = ["gobo_params", "load_weights", "quantize_format_for", "quantize_model_for", "synthetic_shapes",
           "synthetic_source", "tensor_values"]

QUANT_WORKERS = 2
"""Processes used to quantize a model (the machines this targets have 2 cores)."""


def gobo_params(hw: HardwareConfig) -> GoboParams:
    """The GOBO quantization parameters of a design (its ``weights`` section)."""
    w = hw.weights
    return GoboParams(bits=w.bits, embedding_bits=w.embedding_bits, outlier_threshold=w.outlier_threshold,
                      quantize_embeddings=w.quantize_embeddings)


def synthetic_source(seed: int) -> str:
    """``weights_source`` of the reports for seeded synthetic weights."""
    return f"synthetic seed {int(seed)}"


_LOADED: dict[tuple[str, int, int, int, tuple], WorkloadCheckpoint] = {}


def load_weights(path: str | os.PathLike[str], graph: OperatorGraph) -> WorkloadCheckpoint:
    """The checkpoint at ``path`` conformed to ``graph``'s parameter tensors (one line and exit 2 if it does not
    cover them); memoised per process on (file identity, tensor list)."""
    expected = {t.name: tuple(t.shape) for t in graph.tensors}
    try:
        st = os.stat(path)
        key: tuple[str, int, int, int, tuple] | None = (os.path.realpath(path), st.st_size, st.st_mtime_ns,
                                                         st.st_ino, tuple(expected.items()))
    except OSError:
        key = None  # the loader names the problem
    if key is not None and key in _LOADED:
        return _LOADED[key]
    ck = load_for_workload(path, expected, workload=f"workload {graph.workload.name}")
    if key is not None:
        if len(_LOADED) >= 2:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = ck
    return ck


def synthetic_shapes(graph: OperatorGraph) -> dict[str, tuple[tuple[int, ...], str]]:
    """name -> (shape, kind) of the tensors the synthetic generator can make for a graph."""
    shapes = {}
    for t in graph.tensors:
        info = classify_tensor(t.name)
        if info is not None and info.kind not in ("head", "buffer"):
            shapes[t.name] = (t.shape, info.kind)
    return shapes


def quantize_model_for(graph: OperatorGraph | None, params: GoboParams, *,
                       weights: str | os.PathLike[str] | WorkloadCheckpoint | None = None,
                       seed: int = 0) -> QuantizedModel:
    """The GOBO-quantized model: of a safetensors checkpoint (``weights``: a path, or one already loaded by
    :func:`load_weights`), or of the seeded synthetic weights of the workload whose graph is ``graph``.

    With a graph the checkpoint is conformed to it (canonical names, every tensor checked); without one (``sim
    quantize --weights`` alone) the file's own tensors are quantized under their own names."""
    if isinstance(weights, WorkloadCheckpoint):
        return quantize_workload_checkpoint(weights, params, workers=QUANT_WORKERS)
    if weights is not None and graph is not None:
        return quantize_workload_checkpoint(load_weights(weights, graph), params, workers=QUANT_WORKERS)
    if weights is not None:
        return quantize_checkpoint(os.fspath(weights), params, workers=QUANT_WORKERS)
    if graph is None:
        raise SimInputError("quantize: give a workload (synthetic weights) or a checkpoint")
    return quantize_synthetic(synthetic_shapes(graph), params, seed=seed, workers=QUANT_WORKERS)


def tensor_values(name: str, *, weights: str | os.PathLike[str] | None = None,
                  workload: str | os.PathLike[str] | WorkloadSpec | None = None, seed: int = 0) -> Any:
    """The float values of one tensor: read from the checkpoint, or regenerated from the synthetic seed."""
    if weights is not None:
        found = read_safetensors(str(weights))
        if name in found:
            return found[name]
        for key, arr in found.items():
            if canonical_name(key) == name:
                return arr
        raise SimInputError(f"{weights}: no tensor named {name!r}")
    if workload is None:
        raise SimInputError("give a workload (synthetic weights) or a checkpoint")
    wl = workload if isinstance(workload, WorkloadSpec) else load_workload(workload)
    shapes = synthetic_shapes(lower(wl))
    if name not in shapes:
        raise SimInputError(f"--tensor {name}: not a quantizable tensor of {wl.name}")
    shape, kind = shapes[name]
    return synthetic_tensor(name, shape, kind, seed)


def _format_tensors(graph: OperatorGraph | None, weights: str | os.PathLike[str] | None,
                    seed: int) -> tuple[list[tuple[str, Any]], str]:
    """(name, float array) of every floating tensor, and the weights source, for :func:`quantize_format_for`."""
    import hashlib

    import numpy as np

    if weights is not None:
        if graph is not None:
            ck = load_weights(weights, graph)
            items = [(n, a) for n, a in ck.tensors.items()]
            return items, ck.source
        found = read_safetensors(str(weights))
        with open(weights, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        return ([(n, a) for n, a in found.items() if np.issubdtype(np.asarray(a).dtype, np.floating)],
                f"{os.fspath(weights)} (sha256 {digest})")
    if graph is None:
        raise SimInputError("quantize: give --workload (synthetic weights) or --weights FILE.safetensors")
    return ([(n, synthetic_tensor(n, shape, kind, seed)) for n, (shape, kind) in synthetic_shapes(graph).items()],
            synthetic_source(seed))


def quantize_format_for(fmt: str, graph: OperatorGraph | None, *, weights: str | os.PathLike[str] | None = None,
                        seed: int = 0, options: dict[str, Any] | None = None, embeddings: bool = False,
                        frequencies: Any = None) -> Any:
    """``sim quantize --format F`` for a registered format other than gobo: every encoder FC and pooler weight
    quantized with the format's quantizer (``options`` override its defaults); with ``embeddings`` also the word
    embedding table (ternary: row-wise TWN, as TernaryBERT; bcq: frequency-aware mixed bits,
    :func:`sim.quant.bcq.bcq_embedding`, rows ranked by ``frequencies`` (one count per row; None: all equal, so
    by row index)). Returns a :class:`~sim.results.FormatQuantizeReport`."""
    import numpy as np

    from sim.quant.bcq import bcq_embedding
    from sim.quant.formats import get_format, quantize_tensor
    from sim.quant.names import FC_KINDS, POOLER, WORD_EMB
    from sim.quant.ternary import ternarize
    from sim.results import FormatLayer, FormatQuantizeReport

    get_format(fmt)
    if fmt == "gobo":
        raise SimInputError("--format gobo: use the GOBO quantize report (sim quantize without --format)")
    if embeddings and fmt not in ("ternary", "bcq"):
        raise SimInputError(f"--embeddings: format {fmt} has no embedding quantizer (ternary and bcq do)")
    opts = dict(options or {})
    items, source = _format_tensors(graph, weights, seed)
    layers = []
    total = qn = qbytes = 0
    err2 = norm2 = 0.0
    for name, arr in items:
        a = np.asarray(arr, dtype=np.float32)
        info = classify_tensor(name)
        kind = info.kind if info is not None else "unknown"
        total += a.size
        fc = kind in FC_KINDS + (POOLER,) and a.ndim == 2
        emb = embeddings and kind == WORD_EMB
        if not (fc or emb):
            layers.append(FormatLayer(name, kind, list(a.shape), False, int(a.size), int(a.nbytes), 32.0, 0.0))
            continue
        if emb and fmt == "ternary":
            q: Any = ternarize(a, granularity="row", name=name)
        elif emb:
            f = np.zeros(a.shape[0]) if frequencies is None else np.asarray(frequencies, dtype=np.float64)
            q = bcq_embedding(a, f, name=name)
        else:
            q = quantize_tensor(fmt, a, name=name, **opts)
        stats = {k: v for k, v in q.stats().items() if k not in ("packed_bytes", "bits_per_weight", "rel_l2_error")}
        layers.append(FormatLayer(name, kind, list(a.shape), True, int(a.size), int(q.packed_bytes),
                                  float(q.bits_per_weight), float(q.rel_l2_error), stats))
        qn += a.size
        qbytes += int(q.packed_bytes)
        n2 = float(np.square(a, dtype=np.float64).sum())
        err2 += (q.rel_l2_error ** 2) * n2
        norm2 += n2
    if qn == 0:
        raise SimInputError(f"quantize --format {fmt}: no FC weights found (names: {', '.join(n for n, _ in items[:5])}"
                            f"{', ...' if len(items) > 5 else ''})")
    fp32_bytes = sum(x.packed_bytes for x in layers if not x.quantized)
    shown = {**get_format(fmt).options, **opts}
    if embeddings:
        shown["embeddings"] = "word embedding row-wise TWN" if fmt == "ternary" else "word embedding mixed-bit BCQ"
    return FormatQuantizeReport(
        format=fmt, options=shown, weights_source=source, weights=int(total), quantized_weights=int(qn),
        packed_bytes=int(qbytes), bits_per_weight=8.0 * qbytes / qn, compression_ratio=32.0 * qn / (8.0 * qbytes),
        rel_l2_error=float(np.sqrt(err2 / norm2)) if norm2 > 0 else 0.0,
        model_bits_per_weight=8.0 * (qbytes + fp32_bytes) / total, layers=layers)
