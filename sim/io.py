"""The one file-writing layer: atomic, durable writes and up-front writability checks.

Every file the tool writes goes through here, so the rules hold everywhere:

- **Atomic replace** (:func:`write_bytes_atomic`, :func:`write_text_atomic`): the data goes to a temporary
  file created exclusively (``O_CREAT | O_EXCL``, a random name, never following a symlink) in the target's
  directory, is flushed and fsync'ed, then renamed over the target, and the directory is fsync'ed: a reader
  sees the old file or the new one, never half of one, and a crash keeps one of them. On any error the
  temporary is removed and the error propagates with the operating system's own reason.
- **Non-regular targets**: a character device (``/dev/null``, a terminal) is written in place, never
  replaced by a regular file; a FIFO (a write would block), a socket, a block device or a directory in the
  way is refused (:class:`OutputError`, one line, exit 2). A symlink as the target is replaced itself (the
  file it points to is never written), except a symlink to a character device, which is written through.
- **Errors**: every failure is an :class:`OutputError` naming the path with the operating system's reason
  (``No space left on device``, ``Input/output error``); the file is closed exactly once.
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

__all__ = ["OutputError", "check_writable", "check_writable_dir", "fsync_dir", "os_reason", "write_atomic",
           "write_bytes_atomic", "write_text_atomic"]


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


class OutputError(SimInputError, OSError):
    """An output that cannot be written (one line naming the path and the operating system's reason; exit 2).

    Also an :class:`OSError`, so callers that treat a failed write as best effort keep working."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def _target_mode(path: Path) -> int | None:
    """``st_mode`` of what ``path`` names (a symlink followed), None if nothing is there."""
    try:
        return os.stat(path).st_mode
    except OSError:
        return None


def _is_special(path: Path) -> bool:
    """True when ``path`` exists and is neither a regular file nor a directory (a device, a FIFO, a socket)."""
    mode = _target_mode(path)
    return mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _write_in_place(target: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write into an existing character device (``/dev/null``, a terminal): never created, never replaced."""
    fd = os.open(target, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
    try:
        if not stat.S_ISCHR(os.fstat(fd).st_mode):  # replaced since it was looked at: do not write
            raise OutputError(f"{target}: changed while being opened; not written")
        fh = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise
    _fill(fh, write, sync=False)


def _fill(fh: BinaryIO, write: Callable[[BinaryIO], None], sync: bool) -> None:
    """``write(fh)``, flush (and fsync), close: the first error propagates, the file is closed exactly once."""
    try:
        write(fh)
        fh.flush()
        if sync:
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            fh.close()
        raise
    fh.close()


def write_atomic(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> None:
    """Write a file atomically: ``write(fh)`` fills a fresh temporary in the target's directory, then it replaces
    ``path`` (see the module docstring). An existing character device is written in place; any other
    non-regular target (a FIFO, a socket, a block device, a directory) is refused.

    Raises:
        OutputError: (a :class:`SimInputError` and an :class:`OSError`) the target is refused, or the operating
            system refused a step; the message names the path and the OS's reason (``No space left on device``).
    """
    target = Path(path)
    try:
        mode = _target_mode(target)
        if mode is not None and stat.S_ISCHR(mode):
            _write_in_place(target, write)
            return
        if mode is not None and not stat.S_ISREG(mode):
            raise OutputError(f"{target}: is {_kind(mode)}; expected a regular file (it is never replaced)")
        target.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp: O_CREAT | O_EXCL | O_NOFOLLOW, a random name, mode 0600: nothing planted can redirect it
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:64]}.", suffix=".tmp")
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"{target}: cannot write ({os_reason(exc)})") from None
    try:
        _fill(os.fdopen(fd, "wb"), write, sync=True)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"{target}: cannot write ({os_reason(exc)})") from None
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
        mode = _target_mode(target)
        if mode is not None and stat.S_ISCHR(mode):
            if not os.access(target, os.W_OK):
                raise SimInputError(f"{flag} {target}: cannot write there (permission denied)")
            return
        if mode is not None and not stat.S_ISREG(mode):
            raise SimInputError(f"{flag} {target}: is {_kind(mode)}; expected a regular file path")
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
