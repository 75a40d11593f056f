"""The one file-writing layer: atomic, durable writes and up-front writability checks.

Every file the tool writes goes through here, so the rules hold everywhere:

- **Atomic replace** (:func:`write_bytes_atomic`, :func:`write_text_atomic`): the data goes to a temporary
  file created exclusively (``O_CREAT | O_EXCL``, a random name, never following a symlink) in the target's
  directory, is flushed and fsync'ed, then renamed over the target, and the directory is fsync'ed: a reader
  sees the old file or the new one, never half of one, and a crash keeps one of them. On any error the
  temporary is removed and the error propagates with the operating system's own reason.
- **Non-regular targets** (a character device such as ``/dev/null``, a FIFO) are written in place, never
  replaced by a regular file; a directory in the way is an error.
- **Writability before work** (:func:`check_writable`): an output path is tried with a real, exclusively
  created trial file in its directory before any simulation runs, so a long run never ends in "cannot
  write". The trial file is removed again.

Stdlib only: every layer may import it (``sim.quant`` included).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from sim.errors import SimInputError

__all__ = ["check_writable", "check_writable_dir", "fsync_dir", "os_reason", "write_atomic", "write_bytes_atomic",
           "write_text_atomic"]


def os_reason(exc: OSError) -> str:
    """The operating system's reason for an error, as a short phrase (``strerror``, else the message)."""
    return exc.strerror or str(exc)


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename inside it survives a crash (best effort where the OS refuses)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _is_special(path: Path) -> bool:
    """True when ``path`` exists and is neither a regular file nor a directory (a device, a FIFO, a socket)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def write_atomic(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> None:
    """Write a file atomically: ``write(fh)`` fills a fresh temporary in the target's directory, then it replaces
    ``path`` (see the module docstring). A non-regular existing target is written in place instead."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(target))
    if _is_special(target):
        with open(target, "wb") as fh:
            write(fh)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)


def _write_all(fh: BinaryIO, data: bytes) -> None:
    fh.write(data)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (see :func:`write_atomic`)."""
    write_atomic(path, lambda fh: _write_all(fh, data))


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically and durably (see :func:`write_atomic`)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def _nearest_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _trial(directory: Path) -> None:
    """Create and remove an exclusively created trial file in ``directory`` (the OS decides)."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".gobosim-", suffix=".probe")
    os.close(fd)
    os.unlink(tmp)


def check_writable(path: str | os.PathLike[str] | None, flag: str) -> None:
    """Fail before any work (:class:`SimInputError`, one line) if the output file ``path`` cannot be written.

    ``flag`` names the option in the message (``--json``). None or "" is accepted (no output requested).
    """
    if not path:
        return
    target = Path(path)
    try:
        if target.is_dir():
            raise SimInputError(f"{flag} {target}: is a directory, expected a file path")
        if _is_special(target):
            if not os.access(target, os.W_OK):
                raise SimInputError(f"{flag} {target}: cannot write there (permission denied)")
            return
        parent = target.parent if str(target.parent) else Path(".")
        probe = _nearest_existing(parent)
        if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
            raise SimInputError(f"{flag} {target}: cannot write there ({probe} is not a writable directory)")
        if probe == parent:  # the directory exists: let the OS say whether a file can be created in it
            _trial(parent)
            if len(os.fsencode(target.name)) > os.pathconf(parent, "PC_NAME_MAX"):
                raise SimInputError(f"{flag} {target}: cannot write there (File name too long)")
    except OSError as exc:
        raise SimInputError(f"{flag} {target}: cannot write there ({os_reason(exc)})") from None


def check_writable_dir(path: str | os.PathLike[str], flag: str) -> None:
    """Fail early (:class:`SimInputError`) if directory ``path`` can neither be used nor created."""
    target = Path(path)
    try:
        if target.exists() and not target.is_dir():
            raise SimInputError(f"{flag} {target}: exists and is not a directory")
        probe = _nearest_existing(target)
        if not probe.is_dir():
            raise SimInputError(f"{flag} {target}: cannot create it ({probe} is not a directory)")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise SimInputError(f"{flag} {target}: cannot write there ({probe} is not writable)")
        if probe == target:
            _trial(target)
    except OSError as exc:
        raise SimInputError(f"{flag} {target}: cannot write there ({os_reason(exc)})") from None
