"""Disk cache of quantized models, keyed by a sha256 of everything the result depends on.

Key: sha256 of the canonical JSON of ``{"code_version": CODE_VERSION, "params": GoboParams,
"source": ...}`` where the source is, for a checkpoint, the sha256 and size of the file's bytes
(content, not path or mtime), for a checkpoint conformed to a workload the sha256 of its canonical tensors
(:func:`quantize_workload_checkpoint`), and for synthetic weights the seed, the std-transfer rule, the
calibration version and every ``(name, shape, kind)``.

Entry: ``<key>.npz`` (``numpy.savez``, loaded with ``allow_pickle=False``) holding the packed buffers,
the fp32 tensors and a JSON metadata array; plus ``<key>.json``, a sidecar with the npz's size and
sha256. Both are written to a temporary file in the cache directory and moved into place with
``os.replace`` (atomic), npz first. On load the npz is checked against the sidecar; a missing
sidecar, a size or checksum mismatch, or an unreadable npz counts as corrupt: the entry is deleted,
rebuilt and rewritten (``cache_status == "rebuilt"``). Two processes writing the same key at once
can leave a sidecar that does not match the npz; that reads as corrupt and is rebuilt once.

Directory: ``$GOBOSIM_CACHE_DIR`` if set (an absolute path, not an existing non-directory; an empty value
counts as unset; anything else is a one-line error), else ``$HOME/.cache/gobosim``; with ``HOME`` unset or
empty, ``gobosim-cache-<uid>`` in the system temporary directory, created private (mode 0700) and used only if
it is a real directory owned by this user (never ``/.cache``). Entries live in its ``quant/``.

Loading is strict, as for any file a run reads: both files are opened without blocking and must be regular
files (a FIFO or a symlink to a device is corrupt, never waited on) within size limits (the sidecar
:data:`MAX_SIDECAR_BYTES`, the npz :data:`MAX_ENTRY_BYTES`); the npz must be an uncompressed archive (as
``numpy.savez`` writes it) whose members' declared sizes fit in the file, so nothing inflates; and the model
must be consistent and finite (centroids, outliers, fp32 tensors and statistics). Any failure is a corrupt
entry: deleted and rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import stat
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from sim.io import write_atomic, write_bytes_atomic

from .checkpoint import MAX_CHECKPOINT_BYTES, WorkloadCheckpoint, checkpoint_sha256, load_checkpoint, open_regular
from .errors import QuantError
from .model import CODE_VERSION, DeferredTensor, QuantizedModel, quantize_model
from .packed import PackedTensor
from .params import GoboParams
from .synthetic import CALIBRATION_VERSION, ShapeSpec, synthetic_makers

CACHE_ENV = "GOBOSIM_CACHE_DIR"
_HASH_CHUNK = 1 << 22
#: Largest cache sidecar read (it is a few hundred bytes of JSON).
MAX_SIDECAR_BYTES = 1 << 16
#: Largest cache entry (npz) read: as large as the largest checkpoint.
MAX_ENTRY_BYTES = MAX_CHECKPOINT_BYTES
_MAX_MEMBERS = 100_000


def default_cache_dir() -> Path:
    """The cache root (see the module docstring); raises :class:`QuantError` on an unusable value."""
    env = os.environ.get(CACHE_ENV)
    if env:
        if "\0" in env or any(ord(c) < 32 for c in env):
            raise QuantError(f"{CACHE_ENV}={env!r}: expected a directory path without control characters")
        if len(env) > 4096:
            raise QuantError(f"{CACHE_ENV}: a {len(env)}-character value, expected a directory path of at most "
                             "4096 characters")
        p = Path(env).expanduser()
        if not p.is_absolute():
            raise QuantError(f"{CACHE_ENV}={env!r}: expected an absolute directory path")
        try:
            st = p.stat()
        except FileNotFoundError:
            return p
        except OSError as exc:
            raise QuantError(f"{CACHE_ENV}={env!r}: cannot use it: {exc.strerror or exc}") from None
        if not stat.S_ISDIR(st.st_mode):
            raise QuantError(f"{CACHE_ENV}={env!r}: exists and is not a directory; expected a directory path")
        return p
    home = os.environ.get("HOME")
    if home:
        return Path(home) / ".cache" / "gobosim"
    return _private_temp_dir()


def _private_temp_dir() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    p = Path(tempfile.gettempdir()) / f"gobosim-cache-{uid}"
    try:
        p.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(p)
    except OSError as exc:
        raise QuantError(f"HOME is unset and {p} cannot be created ({exc.strerror or exc}); "
                         f"set {CACHE_ENV} to a directory") from None
    if not stat.S_ISDIR(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != uid) or st.st_mode & 0o022:
        raise QuantError(f"HOME is unset and {p} is not a private directory of this user; set {CACHE_ENV} "
                         "to a directory")
    return p


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 (hex) of a file's bytes (a regular file within the checkpoint size limit); memoised per process."""
    return checkpoint_sha256(path)[0]


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
    if not isinstance(meta, dict):
        raise ValueError("cache entry metadata is not an object")
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
        if not os.path.lexists(npz) and not os.path.lexists(side):
            return None, "miss"
        try:
            data = _read_verified(npz, side, key)
            arrays = _load_stored_npz(data)
            model = model_from_arrays(arrays)
            _check_finite(model)
            return model.with_cache_status("hit"), "hit"
        except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, IndexError, zipfile.BadZipFile,
                QuantError, UnicodeDecodeError, RecursionError, MemoryError):
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
        """Delete an entry (missing files are fine; a path that cannot be unlinked, such as a directory, is left:
        the entry then stays a miss and the rebuilt model is not stored)."""
        for p in self.paths(key):
            with contextlib.suppress(OSError):
                p.unlink(missing_ok=True)


class ArrayStore:
    """A directory of cached named-array entries other than quantized models (e.g. the functional pass's
    calibrated integer models), with the same file format, integrity checks and hardened reading as
    :class:`QuantCache`: ``<key>.npz`` (uncompressed, loaded with ``allow_pickle=False``) and its
    ``<key>.json`` sidecar (size and sha256); a corrupt entry is deleted and reads as a miss."""

    def __init__(self, subdir: str, root: str | os.PathLike[str] | None = None) -> None:
        base = Path(root) if root is not None else default_cache_dir()
        self.dir = base / subdir

    def paths(self, key: str) -> tuple[Path, Path]:
        """``(<key>.npz, <key>.json)`` in the store's directory."""
        return self.dir / f"{key}.npz", self.dir / f"{key}.json"

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        """The entry's arrays, or None (missing, or corrupt: then deleted)."""
        npz, side = self.paths(key)
        if not os.path.lexists(npz) and not os.path.lexists(side):
            return None
        try:
            data = _read_verified(npz, side, key)
            return _load_stored_npz(data)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, IndexError, zipfile.BadZipFile,
                QuantError, UnicodeDecodeError, RecursionError, MemoryError):
            self.remove(key)
            return None

    def store(self, key: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Write the entry atomically (npz, then its sidecar); raises OSError if the directory is not writable."""
        self.dir.mkdir(parents=True, exist_ok=True)
        npz, side = self.paths(key)
        write_atomic(npz, lambda fh: np.savez(fh, **arrays))  # type: ignore[arg-type]
        info = {"key": key, "bytes": npz.stat().st_size, "sha256": _sha256_path(npz)}
        write_bytes_atomic(side, json.dumps(info, indent=1).encode("utf-8"))

    def remove(self, key: str) -> None:
        """Delete an entry (missing files are fine)."""
        for p in self.paths(key):
            with contextlib.suppress(OSError):
                p.unlink(missing_ok=True)


def _read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (opened without blocking; QuantError otherwise)."""
    fd, size = open_regular(path, max_bytes=limit, what="cache entry")
    try:
        chunks, left = [], size
        while left > 0:
            b = os.read(fd, min(left, _HASH_CHUNK))
            if not b:
                break
            chunks.append(b)
            left -= len(b)
        return b"".join(chunks)
    finally:
        os.close(fd)



def _read_verified(npz: Path, side: Path, key: str) -> bytes:
    """The entry's npz bytes after checking them against the sidecar (its key, size and sha256); ValueError
    (or the reader's OSError) if anything disagrees."""
    info = json.loads(_read_regular(side, MAX_SIDECAR_BYTES).decode("utf-8"))
    if not isinstance(info, dict):
        raise ValueError("sidecar is not an object")
    data = _read_regular(npz, MAX_ENTRY_BYTES)
    if info.get("key") != key or info.get("bytes") != len(data):
        raise ValueError("size mismatch")
    if info.get("sha256") != hashlib.sha256(data).hexdigest():
        raise ValueError("checksum mismatch")
    return data


def _load_stored_npz(data: bytes) -> dict[str, np.ndarray]:
    """Arrays of an uncompressed npz held in memory; members compressed or declared larger than the file fail."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        if len(infos) > _MAX_MEMBERS:
            raise ValueError("too many members")
        if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
            raise ValueError("compressed member (the cache writes stored members only)")
        if sum(i.file_size for i in infos) > len(data):
            raise ValueError("members declare more bytes than the file holds")
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _check_finite(model: QuantizedModel) -> None:
    """A cached model must be finite where a freshly quantized one is (ValueError otherwise)."""
    for name, p in model.packed.items():
        if not (np.isfinite(p.centroids).all() and np.isfinite(p.outlier_values).all()):
            raise ValueError(f"non-finite centroids or outliers in {name!r}")
        if not all(math.isfinite(x) for x in (p.mean, p.std, p.threshold, p.sq_norm, p.sq_error)):
            raise ValueError(f"non-finite statistics in {name!r}")
    for name, a in model.fp32.items():
        if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
            raise ValueError(f"non-finite values in {name!r}")


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


#: Models a process keeps after loading or storing them (:func:`cached`), least recently used dropped first.
MEMO_ENTRIES = 4
#: A cache file modified less than this long before it was checked is "racy" (see :func:`cached`).
RACY_NS = 2_000_000_000
_MEMO: dict[tuple[str, str], tuple[QuantizedModel, tuple, int]] = {}


def _fingerprint(qc: QuantCache, key: str) -> tuple | None:
    """Inode, size, mtime and ctime of an entry's two files (None if either is missing or not regular)."""
    out = []
    for p in qc.paths(key):
        try:
            st = os.lstat(p)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        out.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(out)


def _remember(qc: QuantCache, key: str, model: QuantizedModel) -> None:
    fp = _fingerprint(qc, key)
    if fp is None:
        return
    mkey = (str(qc.dir), key)
    _MEMO.pop(mkey, None)
    _MEMO[mkey] = (model, fp, time.time_ns())
    while len(_MEMO) > MEMO_ENTRIES:
        del _MEMO[next(iter(_MEMO))]


def _recall(qc: QuantCache, key: str) -> QuantizedModel | None:
    """The model this process last loaded or stored for the entry, if the entry's files are provably unchanged
    since: same inode, size, mtime and ctime, and not racy (modified at least :data:`RACY_NS` before the
    model was remembered, so an in-place rewrite within the file system's timestamp granularity would have
    shown as a newer mtime). Otherwise None (the caller reads and checks the entry as usual)."""
    mkey = (str(qc.dir), key)
    hit = _MEMO.get(mkey)
    if hit is None:
        return None
    model, fp, seen_ns = hit
    if _fingerprint(qc, key) != fp or any(seen_ns - f[3] < RACY_NS or seen_ns - f[4] < RACY_NS for f in fp):
        return None
    _MEMO[mkey] = _MEMO.pop(mkey)  # most recently used last
    return model


def clear_memo() -> None:
    """Forget the models this process remembered (:func:`cached` then reads the disk entries again)."""
    _MEMO.clear()


def cached(source: Mapping[str, object], params: GoboParams, build: Callable[[], QuantizedModel],
           cache: bool | QuantCache | str | os.PathLike[str] = True) -> QuantizedModel:
    """Return the cached model for ``(source, params)`` or ``build()`` it and store it.

    ``cache``: True (default directory), False (no cache), a :class:`QuantCache` or a directory.
    The result's ``cache_status`` is "hit", "miss", "rebuilt" (corrupt entry replaced), "off", or
    "unstored" (built, but the cache directory could not be written).

    Within one process (a sweep's worker, repeated runs) a model already loaded or stored is returned again
    without reading the entry while its files are provably unchanged (:func:`_recall`); it reports "hit", as
    reading the entry would.
    """
    qc = _resolve(cache)
    if qc is None:
        return build().with_cache_status("off")
    key = cache_key(source, params)
    memo = _recall(qc, key)
    if memo is not None:
        return memo
    model, status = qc.load(key)
    if model is not None:
        _remember(qc, key, model)
        return model
    built = build()
    try:
        qc.store(key, built)
    except OSError:
        return built.with_cache_status("unstored")
    _remember(qc, key, built.with_cache_status("hit"))
    return built.with_cache_status("rebuilt" if status == "corrupt" else "miss")


def quantize_checkpoint(path: str | os.PathLike[str], params: GoboParams | None = None, *,
                        cache: bool | QuantCache | str | os.PathLike[str] = True, strict: bool = True,
                        workers: int = 1) -> QuantizedModel:
    """Quantize a BERT-family safetensors checkpoint, through the cache (key: the file's sha256)."""
    prm = params or GoboParams()
    ck = load_checkpoint(path, strict=strict)  # validates before hashing
    sha, size = checkpoint_sha256(path)
    source = {"type": "safetensors", "sha256": sha, "bytes": size}
    return cached(source, prm, lambda: quantize_model(ck.tensors, prm, workers=workers), cache)


def quantize_workload_checkpoint(ck: WorkloadCheckpoint, params: GoboParams | None = None, *,
                                 cache: bool | QuantCache | str | os.PathLike[str] = True,
                                 workers: int = 1) -> QuantizedModel:
    """Quantize a checkpoint conformed to a workload (canonical names), through the cache.

    Key: a sha256 over the canonical tensors taken from the file (name, shape and float32 bytes, in order), so
    the same weights under another layout or prefix share one entry.
    """
    prm = params or GoboParams()
    h = hashlib.sha256()
    for name, a in ck.tensors.items():
        h.update(json.dumps([name, list(a.shape)]).encode("utf-8"))
        h.update(np.ascontiguousarray(a, dtype=np.float32).data)
    source = {"type": "tensors", "sha256": h.hexdigest()}
    return cached(source, prm, lambda: quantize_model(ck.tensors, prm, workers=workers), cache)


def quantize_synthetic(shapes: ShapeSpec, params: GoboParams | None = None, *, seed: int = 0,
                       std_transfer: str = "fan_in", cache: bool | QuantCache | str | os.PathLike[str] = True,
                       workers: int = 1) -> QuantizedModel:
    """Quantize seeded synthetic weights for ``shapes`` (name -> (shape, kind)), through the cache.

    Each tensor is generated by the worker that quantizes it (:class:`~sim.quant.model.DeferredTensor`; memory
    stays near one tensor per worker plus the packed result).
    """
    prm = params or GoboParams()
    source = {"type": "synthetic", "seed": int(seed), "std_transfer": std_transfer,
              "calibration_version": CALIBRATION_VERSION,
              "shapes": [[n, list(s), k] for n, (s, k) in shapes.items()]}
    f32 = np.dtype(np.float32)
    return cached(source, prm, lambda: quantize_model(
        ((name, DeferredTensor(dims, f32, make)) for name, dims, make in
         synthetic_makers(shapes, seed, std_transfer=std_transfer)), prm, workers=workers), cache)
