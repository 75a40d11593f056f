"""A sweep's output directory: ``results.csv`` appended row by row, ``results.parquet``, ``spec.yaml``, ``meta.json``.

No lost work:

- Only the parent process writes. Each finished point becomes one CSV line, written with a single
  ``os.write`` on a file descriptor opened ``O_APPEND`` and followed by ``os.fsync``: once ``append``
  returns, the row survives a crash, SIGKILL or power loss of the machine (as far as the disk honours fsync).
- A new column (an energy part the model reports for the first time) rewrites the file with the wider
  header through a temporary sibling + ``os.replace`` (atomic; a reader sees the old or the new file).
- On ``resume`` a torn last line (no newline: the machine died mid-write) or a row with the wrong number of
  fields is dropped (rewritten atomically) and reported; every ``point_id`` present counts as done.
- ``DIR/.lock`` is held with ``flock`` while a sweep writes, so two sweeps never write the same directory
  (the kernel releases it when the process dies, however it dies). The lock belongs to the parent alone:
  its descriptor (and the results descriptor) is closed in every process forked from the parent (worker
  processes), so a worker that outlived its sweep could not keep the directory locked. The file holds the
  locking sweep's pid, which the "another sweep is writing" message names.
- ``results.parquet`` (where pyarrow is installed) is a snapshot rewritten atomically at checkpoints and
  at the end; ``results.csv`` is the source of truth.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import importlib.util
import io
import json
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sim.errors import SimInputError
from sim.io import check_writable_dir, write_atomic, write_bytes_atomic
from sim.sweeps.columns import ID, TAIL, cell, is_metric_name, order_columns

RESULTS = "results.csv"
PARQUET = "results.parquet"
SPEC = "spec.yaml"
META = "meta.json"
LOCK = ".lock"


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # a planted symlink is refused (ELOOP), never written through
OWN_FILES = frozenset({RESULTS, PARQUET, SPEC, META, LOCK})

_PARENT_ONLY_FDS: set[int] = set()  # descriptors a forked child must not keep (the lock, the results file)


def _close_parent_only_fds() -> None:
    for fd in list(_PARENT_ONLY_FDS):
        with contextlib.suppress(OSError):
            os.close(fd)
    _PARENT_ONLY_FDS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_parent_only_fds)


def _is_sweep_dir(path: Path, names: list[str]) -> bool:
    """True if ``path`` (with entries ``names``) was written by ``sim sweep``: only its own file names (a sweep
    stopped early: the lock is created first), or a ``results.csv`` or a ``meta.json`` of a sweep."""
    if LOCK in names and all(n in OWN_FILES or (n.startswith(".") and n.endswith(".tmp")) for n in names):
        return True
    try:
        meta = json.loads((path / META).read_text(encoding="utf-8"))
        if isinstance(meta, dict) and "points" in meta and "backend" in meta:
            return True
    except (OSError, ValueError):
        pass
    try:
        with open(path / RESULTS, newline="", encoding="utf-8", errors="replace") as fh:
            header = next(csv.reader([fh.readline(65536)]), [])
        return bool(header) and header[0] == ID and "status" in header
    except OSError:
        return False


def check_out_dir(out_dir: str | os.PathLike[str]) -> None:
    """Fail (one line) before any work if ``out_dir`` cannot be created or written, or if it is an existing
    directory that a sweep did not write (its files are never overwritten): use a new or empty directory."""
    check_writable_dir(out_dir, "--out")
    path = Path(out_dir)
    try:
        names = sorted(os.listdir(path)) if path.is_dir() else []
    except OSError as exc:
        raise SimInputError(f"--out {path}: cannot read the directory ({exc.strerror or exc})") from None
    if names and not _is_sweep_dir(path, names):
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise SimInputError(f"--out {path}: exists and is not a sweep directory (it holds {shown}); "
                            "choose a new or empty directory")


def _line(values: Iterable[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(list(values))
    return buf.getvalue().encode()


def parquet_available() -> bool:
    """True where pyarrow is installed (Parquet output is optional)."""
    return importlib.util.find_spec("pyarrow") is not None


def read_results(path: str | Path):
    """A ``results.csv`` as a DataFrame: point_id, status and error as strings (error '' when ok), feasible as
    True/False/None, empty cells as NaN elsewhere."""
    import pandas as pd

    df = pd.read_csv(path, dtype={ID: str, "status": str, "error": str}, keep_default_na=False, na_values=[""])
    if "error" in df.columns:
        df["error"] = df["error"].fillna("")
    if "feasible" in df.columns:
        df["feasible"] = df["feasible"].map({"True": True, "False": False, True: True, False: False}).astype(object)
        df["feasible"] = df["feasible"].where(df["feasible"].notna(), None)
    return df


class ResultStore:
    """The results table of one sweep directory (parent process only)."""

    def __init__(self, out_dir: str | os.PathLike[str], swept: list[str], metrics: list[str], tail: list[str]):
        """``swept``: key columns; ``metrics``: metric columns known now; ``tail``: feasible?, status, error."""
        self.dir = Path(out_dir)
        self.swept = list(swept)
        self.tail = list(tail)
        self.header = order_columns(self.swept, metrics, self.tail)
        self.csv_path = self.dir / RESULTS
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self.notes: list[str] = []

    # -- opening ----------------------------------------------------------------------------------------
    def open(self, resume: bool) -> set[str]:
        """Create or reopen the directory; returns the point ids already recorded (empty unless resuming)."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.dir / LOCK, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
            if not stat.S_ISREG(os.fstat(self._lock_fd).st_mode):
                os.close(self._lock_fd)
                self._lock_fd = None
                raise SimInputError(f"--out {self.dir}: {LOCK} is not a regular file")
        except OSError as exc:
            raise SimInputError(f"--out {self.dir}: cannot write there ({exc.strerror or exc})") from None
        _PARENT_ONLY_FDS.add(self._lock_fd)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = self._lock_holder()
            self._close_lock()
            who = f" (pid {holder})" if holder else ""
            if holder and not _alive(holder):
                raise SimInputError(f"--out {self.dir}: the sweep that locked it{who} has ended but a process it "
                                    "started still holds the lock; end that process and retry") from None
            raise SimInputError(f"--out {self.dir}: another sweep{who} is writing this directory") from None
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, f"{os.getpid()}\n".encode(), 0)
        done: set[str] = set()
        if self.csv_path.exists():
            if not resume:
                self.close()
                raise SimInputError(f"--out {self.dir}: {RESULTS} already exists; pass --resume to continue "
                                    "that sweep, or choose another directory")
            done = self._reopen()
        else:
            write_bytes_atomic(self.csv_path, _line(self.header))
        self._fd = _open_append(self.csv_path)
        _PARENT_ONLY_FDS.add(self._fd)
        return done

    def _lock_holder(self) -> int | None:
        """The pid written in the lock file by the sweep holding it, if readable."""
        try:
            text = os.pread(self._lock_fd, 32, 0).decode("ascii", errors="replace").strip() \
                if self._lock_fd is not None else ""
            return int(text) if text.isdigit() else None
        except OSError:
            return None

    def _close_lock(self) -> None:
        if self._lock_fd is not None:
            _PARENT_ONLY_FDS.discard(self._lock_fd)
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def _reopen(self) -> set[str]:
        data = self.csv_path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        torn = bool(text) and not text.endswith("\n")
        if torn:
            text = text[: text.rfind("\n") + 1]
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            write_bytes_atomic(self.csv_path, _line(self.header))
            return set()
        header, body = rows[0], rows[1:]
        if ID not in header or "status" not in header:
            self.close()
            raise SimInputError(f"--resume {self.csv_path}: not a sweep results file (no point_id/status columns)")
        old_swept = [c for c in header[1:] if not is_metric_name(c) and c not in TAIL]
        if old_swept != self.swept:
            self.close()
            raise SimInputError(f"--resume {self.csv_path}: written by a sweep over "
                                f"{', '.join(old_swept) or 'nothing'}, "
                                f"not {', '.join(self.swept) or 'nothing'}; use another --out directory")
        good = [r for r in body if len(r) == len(header)]
        dropped = len(body) - len(good) + (1 if torn else 0)
        self.tail = [c for c in TAIL if c in self.tail or c in header]
        metrics = [c for c in [*header, *self.header] if is_metric_name(c)]
        merged = order_columns(self.swept, metrics, self.tail)
        if dropped or merged != header:
            if dropped:
                self.notes.append(f"dropped {dropped} incomplete row(s) from {self.csv_path.name}")
            self.header = merged
            self._write_all(header, good)
        else:
            self.header = header
        return {r[header.index(ID)] for r in good}

    def _write_all(self, old_header: list[str], rows: list[list[str]]) -> None:
        pos = {c: i for i, c in enumerate(old_header)}
        out = [_line(self.header)]
        for r in rows:
            out.append(_line(r[pos[c]] if c in pos else "" for c in self.header))
        write_bytes_atomic(self.csv_path, b"".join(out))

    # -- appending --------------------------------------------------------------------------------------
    def append(self, row: Mapping[str, Any]) -> None:
        """Append one finished point durably (grows the header first if the row brings new columns)."""
        new = [k for k in row if k not in self.header]
        if new:
            self._grow(new)
        assert self._fd is not None, "store not open"
        os.write(self._fd, _line(cell(row.get(c)) for c in self.header))
        os.fsync(self._fd)

    def _grow(self, new: list[str]) -> None:
        metrics = [c for c in self.header if is_metric_name(c)] + new
        old = self.header
        with open(self.csv_path, newline="") as fh:
            rows = list(csv.reader(fh))[1:]
        self.header = order_columns(self.swept, metrics, self.tail)
        if self._fd is not None:
            _PARENT_ONLY_FDS.discard(self._fd)
            os.close(self._fd)
            self._fd = None
        self._write_all(old, rows)
        self._fd = _open_append(self.csv_path)
        _PARENT_ONLY_FDS.add(self._fd)

    # -- reading / snapshots ----------------------------------------------------------------------------
    def frame(self):
        """The whole CSV as a DataFrame (see :func:`read_results`)."""
        return read_results(self.csv_path)

    def write_parquet(self, df=None) -> Path | None:
        """Rewrite ``results.parquet`` atomically from ``df`` (default: the CSV); None without pyarrow."""
        if not parquet_available():
            return None
        df = self.frame() if df is None else df
        path = self.dir / PARQUET
        write_atomic(path, lambda fh: df.to_parquet(fh, index=False))
        return path

    def write_json(self, name: str, data: Mapping[str, Any]) -> None:
        """Write ``DIR/name`` as JSON, atomically."""
        write_bytes_atomic(self.dir / name, (json.dumps(data, indent=2, default=str) + "\n").encode())

    def write_text(self, name: str, text: str) -> None:
        """Write ``DIR/name`` atomically."""
        write_bytes_atomic(self.dir / name, text.encode())

    def read_json(self, name: str) -> dict[str, Any] | None:
        """``DIR/name`` as JSON, or None if missing or unreadable."""
        try:
            return json.loads((self.dir / name).read_text())
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        """Close the append descriptor and release the directory lock."""
        if self._fd is not None:
            _PARENT_ONLY_FDS.discard(self._fd)
            os.close(self._fd)
            self._fd = None
        self._close_lock()


def _alive(pid: int) -> bool:
    """True if a process ``pid`` exists (a zombie counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _open_append(path: Path) -> int:
    """``path`` opened for appending; a symlink or a non-regular file there is refused (one line)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | _NOFOLLOW)
    except OSError as exc:
        raise SimInputError(f"--out {path}: cannot append ({exc.strerror or exc}; a symbolic link is refused)") \
            from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SimInputError(f"--out {path}: not a regular file")
    return fd
