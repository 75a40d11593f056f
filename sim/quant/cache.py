"""Disk cache of quantized models, keyed by a sha256 of everything the result depends on.

Key: sha256 of the canonical JSON of ``{"code_version": CODE_VERSION, "params": GoboParams,
"source": ...}`` where the source is, for a checkpoint, the sha256 and size of the file's bytes
(content, not path or mtime), and for synthetic weights the seed, the std-transfer rule, the
calibration version and every ``(name, shape, kind)``.

Entry: ``<key>.npz`` (``numpy.savez``, loaded with ``allow_pickle=False``) holding the packed buffers,
the fp32 tensors and a JSON metadata array; plus ``<key>.json``, a sidecar with the npz's size and
sha256. Both are written to a temporary file in the cache directory and moved into place with
``os.replace`` (atomic), npz first. On load the npz is checked against the sidecar; a missing
sidecar, a size or checksum mismatch, or an unreadable npz counts as corrupt: the entry is deleted,
rebuilt and rewritten (``cache_status == "rebuilt"``). Two processes writing the same key at once
can leave a sidecar that does not match the npz; that reads as corrupt and is rebuilt once.

Directory: ``$GOBOSIM_CACHE_DIR`` if set, else ``~/.cache/gobosim``; entries live in its ``quant/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from sim.io import write_atomic, write_bytes_atomic

from .checkpoint import load_checkpoint
from .model import CODE_VERSION, QuantizedModel, quantize_model
from .packed import PackedTensor
from .params import GoboParams
from .synthetic import CALIBRATION_VERSION, ShapeSpec, iter_synthetic_weights

CACHE_ENV = "GOBOSIM_CACHE_DIR"
_HASH_CHUNK = 1 << 22
_file_hash_memo: dict[tuple[str, int, int], str] = {}


def default_cache_dir() -> Path:
    """``$GOBOSIM_CACHE_DIR`` or ``~/.cache/gobosim`` (the quantization cache is its ``quant/``)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gobosim"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 (hex) of a file's bytes; memoised per process on (path, size, mtime)."""
    p = Path(path).resolve()
    st = p.stat()
    memo_key = (str(p), st.st_size, st.st_mtime_ns)
    if memo_key in _file_hash_memo:
        return _file_hash_memo[memo_key]
    h = hashlib.sha256()
    with p.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
    _file_hash_memo[memo_key] = h.hexdigest()
    return _file_hash_memo[memo_key]


def cache_key(source: Mapping[str, object], params: GoboParams) -> str:
    """sha256 (hex) of the canonical JSON of code version, parameters and source description."""
    blob = json.dumps({"code_version": CODE_VERSION, "params": params.as_dict(), "source": source},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# ---- (de)serialisation -----------------------------------------------------------------------

_PACKED_META = ("mean", "std", "threshold", "z", "iterations", "sq_norm", "sq_error")


def model_to_arrays(model: QuantizedModel) -> dict[str, np.ndarray]:
    """Flatten a quantized model into named arrays (no object arrays) for ``numpy.savez``."""
    arrays: dict[str, np.ndarray] = {}
    packed_meta = []
    for i, (name, p) in enumerate(model.packed.items()):
        packed_meta.append({"name": name, "shape": list(p.shape), "bits": p.bits,
                            "l1_history": list(p.l1_history), **{k: getattr(p, k) for k in _PACKED_META}})
        arrays[f"p{i}_index"] = p.index_bytes
        arrays[f"p{i}_centroids"] = p.centroids
        arrays[f"p{i}_outlier_values"] = p.outlier_values
        arrays[f"p{i}_outlier_skips"] = p.outlier_skips
    for i, a in enumerate(model.fp32.values()):
        arrays[f"f{i}"] = np.ascontiguousarray(a)
    for i, a in enumerate(model.buffers.values()):
        arrays[f"b{i}"] = np.ascontiguousarray(a)
    meta = {"code_version": CODE_VERSION, "params": model.params.as_dict(), "order": list(model.order),
            "packed": packed_meta, "fp32": list(model.fp32), "buffers": list(model.buffers)}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    return arrays


def model_from_arrays(arrays: Mapping[str, np.ndarray]) -> QuantizedModel:
    """Inverse of :func:`model_to_arrays` (raises ``KeyError``/``ValueError`` on inconsistent input)."""
    meta = json.loads(bytes(np.asarray(arrays["meta"], dtype=np.uint8)).decode("utf-8"))
    if meta.get("code_version") != CODE_VERSION:
        raise ValueError(f"cache entry of code version {meta.get('code_version')!r}")
    packed = {}
    for i, m in enumerate(meta["packed"]):
        packed[m["name"]] = PackedTensor(
            name=m["name"], shape=tuple(m["shape"]), bits=int(m["bits"]),
            index_bytes=arrays[f"p{i}_index"], centroids=arrays[f"p{i}_centroids"],
            outlier_values=arrays[f"p{i}_outlier_values"], outlier_skips=arrays[f"p{i}_outlier_skips"],
            mean=float(m["mean"]), std=float(m["std"]), threshold=float(m["threshold"]), z=float(m["z"]),
            iterations=int(m["iterations"]), sq_norm=float(m["sq_norm"]), sq_error=float(m["sq_error"]),
            l1_history=tuple(float(x) for x in m["l1_history"]),
        )
    fp32 = {n: arrays[f"f{i}"] for i, n in enumerate(meta["fp32"])}
    buffers = {n: arrays[f"b{i}"] for i, n in enumerate(meta["buffers"])}
    return QuantizedModel(GoboParams(**meta["params"]), tuple(meta["order"]), packed, fp32, buffers)


class QuantCache:
    """A directory of cached quantized models (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        base = Path(root) if root is not None else default_cache_dir()
        self.dir = base / "quant"

    def paths(self, key: str) -> tuple[Path, Path]:
        """``(<key>.npz, <key>.json)`` in the cache directory."""
        return self.dir / f"{key}.npz", self.dir / f"{key}.json"

    def load(self, key: str) -> tuple[QuantizedModel | None, str]:
        """``(model, "hit")``, ``(None, "miss")`` or ``(None, "corrupt")`` (the entry is then deleted)."""
        npz, side = self.paths(key)
        if not npz.exists() and not side.exists():
            return None, "miss"
        try:
            info = json.loads(side.read_text())
            if info.get("key") != key or info.get("bytes") != npz.stat().st_size:
                raise ValueError("size mismatch")
            if info.get("sha256") != _sha256_path(npz):
                raise ValueError("checksum mismatch")
            with np.load(npz, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            return model_from_arrays(arrays).with_cache_status("hit"), "hit"
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
            self.remove(key)
            return None, "corrupt"

    def store(self, key: str, model: QuantizedModel) -> None:
        """Write the entry atomically (npz, then its sidecar)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        npz, side = self.paths(key)
        arrays = model_to_arrays(model)
        write_atomic(npz, lambda fh: np.savez(fh, **arrays))  # type: ignore[arg-type]
        info = {"key": key, "bytes": npz.stat().st_size, "sha256": _sha256_path(npz),
                "code_version": CODE_VERSION}
        write_bytes_atomic(side, json.dumps(info, indent=1).encode("utf-8"))

    def remove(self, key: str) -> None:
        """Delete an entry (missing files are fine)."""
        for p in self.paths(key):
            p.unlink(missing_ok=True)


def _sha256_path(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _resolve(cache: bool | QuantCache | str | os.PathLike[str]) -> QuantCache | None:
    if cache is True:
        return QuantCache()
    if cache is False or cache is None:
        return None
    if isinstance(cache, QuantCache):
        return cache
    return QuantCache(cache)


def cached(source: Mapping[str, object], params: GoboParams, build: Callable[[], QuantizedModel],
           cache: bool | QuantCache | str | os.PathLike[str] = True) -> QuantizedModel:
    """Return the cached model for ``(source, params)`` or ``build()`` it and store it.

    ``cache``: True (default directory), False (no cache), a :class:`QuantCache` or a directory.
    The result's ``cache_status`` is "hit", "miss", "rebuilt" (corrupt entry replaced), "off", or
    "unstored" (built, but the cache directory could not be written).
    """
    qc = _resolve(cache)
    if qc is None:
        return build().with_cache_status("off")
    key = cache_key(source, params)
    model, status = qc.load(key)
    if model is not None:
        return model
    built = build()
    try:
        qc.store(key, built)
    except OSError:
        return built.with_cache_status("unstored")
    return built.with_cache_status("rebuilt" if status == "corrupt" else "miss")


def quantize_checkpoint(path: str | os.PathLike[str], params: GoboParams | None = None, *,
                        cache: bool | QuantCache | str | os.PathLike[str] = True, strict: bool = True,
                        workers: int = 1) -> QuantizedModel:
    """Quantize a BERT-family safetensors checkpoint, through the cache (key: the file's sha256)."""
    prm = params or GoboParams()
    ck = load_checkpoint(path, strict=strict)  # validates before hashing
    source = {"type": "safetensors", "sha256": file_sha256(path), "bytes": Path(path).stat().st_size}
    return cached(source, prm, lambda: quantize_model(ck.tensors, prm, workers=workers), cache)


def quantize_synthetic(shapes: ShapeSpec, params: GoboParams | None = None, *, seed: int = 0,
                       std_transfer: str = "fan_in", cache: bool | QuantCache | str | os.PathLike[str] = True,
                       workers: int = 1) -> QuantizedModel:
    """Quantize seeded synthetic weights for ``shapes`` (name -> (shape, kind)), through the cache.

    Tensors are generated and quantized one at a time (memory stays near one tensor per worker plus
    the packed result).
    """
    prm = params or GoboParams()
    source = {"type": "synthetic", "seed": int(seed), "std_transfer": std_transfer,
              "calibration_version": CALIBRATION_VERSION,
              "shapes": [[n, list(s), k] for n, (s, k) in shapes.items()]}
    return cached(source, prm, lambda: quantize_model(
        iter_synthetic_weights(shapes, seed, std_transfer=std_transfer), prm, workers=workers), cache)
