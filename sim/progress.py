"""Progress of the long steps of one command: a status line on a terminal's stderr, nothing elsewhere.

The steps that can take over a second (quantize, float weights, calibrate, float reference, functional pass,
simulate, compare, plot) are wrapped in :func:`step`. Nothing is shown unless a command turned reporting on
with :func:`reporting` (the CLI does, unless ``--quiet``) **and** stderr is a terminal: in a log file or CI
(not a terminal) nothing is written, so logs and captured output stay exactly as before. On a terminal the
current step is shown on one line redrawn in place (``simulate > functional pass ... 2.3 s``, ~10 times per
second by a background thread while the step computes), and a step that took at least ``min_s`` (1 s)
leaves one line with its time when it ends (``functional pass: 4.1 s``).

Why not tqdm (installed as a dependency of other tools, not of this project): tqdm draws counted bars; the
steps here have no count, only a name and an elapsed time, which is a ten-line redraw loop; and
:mod:`sim.sweeps.progress` already draws the sweep's counted bar in the same style. No dependency is added.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

__all__ = ["StepReporter", "reporting", "step"]

_ACTIVE: StepReporter | None = None


class StepReporter:
    """Shows the running steps (a stack: nested steps show as ``outer > inner``) on ``stream``."""

    def __init__(self, stream: TextIO, *, min_s: float = 1.0, interval_s: float = 0.1) -> None:
        self.stream = stream
        self.min_s = min_s
        self.interval_s = interval_s
        self._stack: list[tuple[str, float]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def begin(self, label: str) -> None:
        """A step starts."""
        label = "".join(ch if ch.isprintable() else "?" for ch in label)  # names from files reach the terminal
        with self._lock:
            self._stack.append((label, time.monotonic()))
            self._draw()
        if self._thread is None:
            self._thread = threading.Thread(target=self._tick, name="sim-progress", daemon=True)
            self._thread.start()

    def end(self) -> None:
        """The innermost step ended: its line stays if it took at least ``min_s``."""
        with self._lock:
            if not self._stack:
                return
            label, t0 = self._stack.pop()
            elapsed = time.monotonic() - t0
            self._clear()
            if elapsed >= self.min_s:
                self.stream.write(f"{label}: {elapsed:.1f} s\n")
            self._draw()
            self.stream.flush()

    def close(self) -> None:
        """Stop the redraw thread and clear the status line."""
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        with self._lock:
            self._clear()
            self.stream.flush()

    def _tick(self) -> None:
        while not self._closed:
            self._wake.wait(self.interval_s)
            if self._closed:
                return
            with self._lock:
                self._draw()

    def _clear(self) -> None:
        self.stream.write("\r\033[K")

    def _draw(self) -> None:
        if not self._stack:
            return
        path = " > ".join(label for label, _ in self._stack)
        elapsed = time.monotonic() - self._stack[0][1]
        cols = shutil.get_terminal_size((120, 24)).columns
        self.stream.write(f"\r\033[K{f'{path} ... {elapsed:.1f} s'[:max(20, cols - 1)]}")
        self.stream.flush()


@contextlib.contextmanager
def reporting(enabled: bool = True, stream: TextIO | None = None) -> Iterator[StepReporter | None]:
    """Turn step reporting on for the body (if ``enabled`` and the stream, stderr by default, is a terminal)."""
    global _ACTIVE
    out = stream if stream is not None else sys.stderr
    try:
        tty = bool(out.isatty())
    except (AttributeError, ValueError, OSError):
        tty = False
    if not enabled or not tty or _ACTIVE is not None:
        yield None
        return
    rep = _ACTIVE = StepReporter(out)
    try:
        yield rep
    finally:
        _ACTIVE = None
        rep.close()


@contextlib.contextmanager
def step(label: str) -> Iterator[None]:
    """One step of the running command (shown only while :func:`reporting` is on; otherwise free)."""
    rep = _ACTIVE
    if rep is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    rep.begin(label)
    try:
        yield
    finally:
        rep.end()
