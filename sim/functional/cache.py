"""Disk cache of the functional pass's expensive, deterministic state: calibrated integer models and the float
reference output.

Building an integer model (:func:`~.api.integer_encoder`) needs the float weights (for seeded synthetic
weights, regenerated each process), a calibration forward, the smoothing of the int8 weights and the
integer weights; the float reference output of the functional input needs the float weights and a float
forward. Both depend only on their inputs, so they are kept on disk beside the quantized models
(``$GOBOSIM_CACHE_DIR/functional/``) in the format of :class:`sim.quant.cache.ArrayStore` (uncompressed npz,
no pickles, a sidecar with size and sha256; a corrupt entry is deleted and rebuilt).

Keys: the sha256 of the canonical JSON of everything the result depends on: the kind of entry, the weights
(seed and synthetic-generator version, or the checkpoint file's sha256), the encoder dimensions, the mode,
kernel set and options, the calibration batch's description (which names the tokenizer file's sha256),
the GOBO parameters where a quantized model is used, a sha256 of the source code that computes the result
(:mod:`sim.functional`, :mod:`sim.kernels`, :mod:`sim.quant`, :mod:`sim.workload`, :mod:`sim.weights`), so that
any code change makes new entries instead of reading stale ones, and the numeric environment (numpy's version,
the CPUs and the BLAS thread variables, :func:`numeric_environment`): an entry holds exactly what an uncached
run in the same configuration computes.

What an integer-model entry holds: the calibration (max-abs, ranges, per-channel max-abs), the LayerNorm
parameters, every linear's scale and bias, the int8 weights and tables (int8 mode, and GOBO-mode fallbacks)
and the smoothing factors. GOBO weights are not duplicated: the integer forms are rebuilt from the design's
quantized model (the same :meth:`~sim.quant.PackedTensor.integer` call the builder makes), and their scales
are checked against the entry's.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from sim.quant.cache import ArrayStore, file_sha256
from sim.quant.errors import QuantError
from sim.quant.synthetic import CALIBRATION_VERSION

from .calibration import Calibration
from .names import canonical_name
from .qweights import IntLinear, IntTable, QuantizedWeights
from .weights import FloatWeights

__all__ = ["ENTRY_VERSION", "code_digest", "entry_key", "load_arrays", "store_arrays", "weights_identity",
           "encoder_to_arrays", "encoder_parts_from_arrays"]

#: Layout version of the entries written here (bumped when the layout changes).
ENTRY_VERSION = 1
_SUBDIR = "functional"
_PACKAGES = ("functional", "kernels", "quant", "workload", "weights.py")
#: Environment variables that set the BLAS library's thread count (float results depend on it, see below).
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_CORETYPE")


@lru_cache(maxsize=1)
def code_digest() -> str:
    """sha256 over the source files (path and bytes, sorted) of the packages whose code computes the entries."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for pkg in _PACKAGES:
        files = [root / pkg] if pkg.endswith(".py") else sorted((root / pkg).rglob("*.py"))
        for f in files:
            h.update(str(f.relative_to(root)).encode("utf-8"))
            h.update(f.read_bytes())
    return h.hexdigest()


def numeric_environment() -> dict[str, Any]:
    """What the float32 results depend on besides the inputs and the code: numpy's version and the BLAS thread
    configuration. (Measured: the float32 forward of bert-base gives different last bits with 1 and 2
    OpenBLAS threads, and the same bits run after run with the same count; so an entry made under one
    thread count is not used under another.)"""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return {"numpy": np.__version__, "cpus": cpus, "blas_env": {k: os.environ.get(k) for k in BLAS_ENV}}


def weights_identity(weights: str | None, seed: int) -> dict[str, Any]:
    """The weights as a key states them: content (sha256) of a checkpoint, or the synthetic seed and version."""
    if weights is None:
        return {"synthetic_seed": int(seed), "calibration_version": CALIBRATION_VERSION}
    return {"checkpoint_sha256": file_sha256(weights)}


def entry_key(kind: str, fields: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of an entry's kind, fields, layout version and code digest."""
    blob = json.dumps({"kind": kind, "entry_version": ENTRY_VERSION, "code": code_digest(),
                       "numeric": numeric_environment(), **fields},
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _store() -> ArrayStore | None:
    try:
        return ArrayStore(_SUBDIR)
    except QuantError:  # an unusable cache directory: no caching (the quantization cache reports it)
        return None


def load_arrays(key: str) -> dict[str, np.ndarray] | None:
    """A cached entry's arrays, or None (no cache, missing or corrupt)."""
    st = _store()
    return st.load(key) if st is not None else None


def store_arrays(key: str, arrays: Mapping[str, np.ndarray]) -> bool:
    """Store an entry; False (nothing stored) if the cache directory cannot be written."""
    st = _store()
    if st is None:
        return False
    try:
        st.store(key, arrays)
    except OSError:
        return False
    return True


# ---- integer models ------------------------------------------------------------------------------


def _json_array(obj: object) -> np.ndarray:
    return np.frombuffer(json.dumps(obj).encode("utf-8"), dtype=np.uint8)  # insertion order kept


def encoder_to_arrays(qw: QuantizedWeights, ln: FloatWeights, cal: Calibration,
                      smooth: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The parts of a calibrated integer model that come from the float weights, as named arrays."""
    arrays: dict[str, np.ndarray] = {}
    linears = []
    for i, (name, lin) in enumerate(qw.linears.items()):
        arrays[f"l{i}_scale"] = np.asarray(lin.scale)
        arrays[f"l{i}_bias"] = np.asarray(lin.bias)
        if lin.gobo is None:
            arrays[f"l{i}_w"] = np.asarray(lin.w_nk)
        linears.append({"name": name, "gobo": lin.gobo is not None})
    tables = []
    for i, (name, tab) in enumerate(qw.tables.items()):
        per_channel = isinstance(tab.scale, np.ndarray)
        gobo = qw.fmt == "gobo" and name not in qw.fallback
        if not gobo:
            arrays[f"t{i}_ints"] = np.asarray(tab.ints)
        if per_channel:
            arrays[f"t{i}_scale"] = np.asarray(tab.scale)
        tables.append({"name": name, "gobo": gobo, "scale": None if per_channel else float(tab.scale)})
    for i, a in enumerate(ln.tensors.values()):
        arrays[f"n{i}"] = np.ascontiguousarray(a)
    for i, a in enumerate(cal.channel_maxabs.values()):
        arrays[f"c{i}"] = np.asarray(a)
    for i, a in enumerate(smooth.values()):
        arrays[f"s{i}"] = np.asarray(a)
    meta = {"fmt": qw.fmt, "bits": qw.bits, "fallback": list(qw.fallback), "linears": linears, "tables": tables,
            "ln": list(ln.tensors), "ln_source": ln.source, "cal_source": cal.source,
            "maxabs": cal.maxabs, "minv": cal.minv, "maxv": cal.maxv, "channels": list(cal.channel_maxabs),
            "smooth": list(smooth)}
    arrays["meta"] = _json_array(meta)
    return arrays


def encoder_parts_from_arrays(arrays: Mapping[str, np.ndarray], qmodel: object | None
                              ) -> tuple[QuantizedWeights, FloatWeights, Calibration, dict[str, np.ndarray]]:
    """Inverse of :func:`encoder_to_arrays` (GOBO weights rebuilt from ``qmodel``); raises ``KeyError`` /
    ``ValueError`` on an inconsistent entry."""
    meta = json.loads(bytes(np.asarray(arrays["meta"], dtype=np.uint8)).decode("utf-8"))
    packed: dict[str, Any] = {}
    if meta["fmt"] == "gobo":
        if qmodel is None:
            raise ValueError("a GOBO-mode entry needs the quantized model")
        packed = {c: p for n, p in qmodel.packed.items()  # type: ignore[attr-defined]
                  if (c := canonical_name(n)) is not None}
    linears: dict[str, IntLinear] = {}
    for i, m in enumerate(meta["linears"]):
        name = m["name"]
        scale, bias = arrays[f"l{i}_scale"], arrays[f"l{i}_bias"]
        if m["gobo"]:
            g = packed[f"{name}.weight"].integer()
            if scale.shape != (1,) or float(scale[0]) != float(g.scale):
                raise ValueError(f"{name}: cached scale differs from the quantized model's")
            linears[name] = IntLinear(name, scale, bias, gobo=g)
        else:
            linears[name] = IntLinear(name, scale, bias, w_nk=arrays[f"l{i}_w"])
    tables: dict[str, IntTable] = {}
    for i, m in enumerate(meta["tables"]):
        name = m["name"]
        if m["gobo"]:
            g = packed[name].integer()
            if m["scale"] is None or float(m["scale"]) != float(g.scale):
                raise ValueError(f"{name}: cached scale differs from the quantized model's")
            tables[name] = IntTable(name, g, float(g.scale))
        else:
            tscale: float | np.ndarray = arrays[f"t{i}_scale"] if m["scale"] is None else float(m["scale"])
            tables[name] = IntTable(name, arrays[f"t{i}_ints"], tscale)
    qw = QuantizedWeights(meta["fmt"], linears, tables, meta["bits"], tuple(meta["fallback"]))
    ln = FloatWeights({n: arrays[f"n{i}"] for i, n in enumerate(meta["ln"])}, meta["ln_source"])
    cal = Calibration({k: float(v) for k, v in meta["maxabs"].items()},
                      {n: arrays[f"c{i}"] for i, n in enumerate(meta["channels"])}, meta["cal_source"],
                      {k: float(v) for k, v in meta["minv"].items()}, {k: float(v) for k, v in meta["maxv"].items()})
    smooth = {n: arrays[f"s{i}"] for i, n in enumerate(meta["smooth"])}
    return qw, ln, cal, smooth
