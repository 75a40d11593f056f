"""Progress of a sweep: a one-line bar with rate and ETA on a terminal, plain lines otherwise.

The only place the sweep code writes to the user. On a terminal the bar is redrawn in place (at most
~10 times per second); elsewhere (a log file, CI) a line is printed every ``every`` points or every
``interval_s`` seconds, whichever comes first, plus one at the end.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """Counts finished points and reports them; ``message`` prints a note without breaking the bar."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True, tty: bool | None = None,
                 interval_s: float = 10.0, every: int | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval_s = interval_s
        self.every = every
        self.total = 0
        self.done = 0
        self.errors = 0
        self._t0 = time.monotonic()
        self._last_print = 0.0
        self._last_done = 0
        self._bar_shown = False

    def start(self, total: int, label: str = "sweep") -> None:
        """Begin counting ``total`` points to run now."""
        self.total, self.done, self.errors, self.label = total, 0, 0, label
        self._t0 = self._last_print = time.monotonic()
        if self.every is None:
            self.every = max(1, total // 20)
        self._draw(force=True)

    def advance(self, ok: bool = True) -> None:
        """One more point finished (``ok`` False: it was recorded as an error)."""
        self.done += 1
        self.errors += 0 if ok else 1
        self._draw()

    def tick(self) -> None:
        """Called while waiting: refreshes the ETA / prints the periodic line if due."""
        self._draw()

    def message(self, text: str) -> None:
        """A note for the user (one line)."""
        if not self.enabled:
            return
        if self._bar_shown:
            self.stream.write("\r\033[K")
        self.stream.write(f"{text}\n")
        self.stream.flush()
        if self._bar_shown:
            self._draw(force=True)

    def close(self) -> None:
        """Final line."""
        if not self.enabled:
            return
        if self.tty or self.done != self._last_done:
            self._draw(force=True)
        if self.tty and self._bar_shown:
            self.stream.write("\n")
            self.stream.flush()
        self._bar_shown = False

    @property
    def rate(self) -> float:
        """Points per second so far."""
        elapsed = time.monotonic() - self._t0
        return self.done / elapsed if elapsed > 0 else 0.0

    def _line(self) -> str:
        elapsed = time.monotonic() - self._t0
        rate = self.rate
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        eta_s = _duration(eta) if rate > 0 else "--:--"
        err = f", {self.errors} error{'s' if self.errors != 1 else ''}" if self.errors else ""
        pct = 100.0 * self.done / self.total if self.total else 100.0
        return (f"{self.label}: {self.done}/{self.total} points ({pct:3.0f}%{err}) "
                f"[{_duration(elapsed)} elapsed, ETA {eta_s}, {rate:.2f} points/s]")

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            if not force and now - self._last_print < 0.1 and self.done < self.total:
                return
            width = 24
            filled = int(width * self.done / self.total) if self.total else width
            bar = "#" * filled + "-" * (width - filled)
            cols = shutil.get_terminal_size((120, 24)).columns
            self.stream.write(f"\r\033[K{f'|{bar}| {self._line()}'[:max(20, cols - 1)]}")
            self.stream.flush()
            self._bar_shown = True
        else:
            due = self.done - self._last_done >= (self.every or 1) or now - self._last_print >= self.interval_s
            if not (force or due):
                return
            self.stream.write(self._line() + "\n")
            self.stream.flush()
            self._last_done = self.done
        self._last_print = now
