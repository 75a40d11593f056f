"""Errors the user can fix: each carries a one-line message naming the file, the key path and what was expected.

The CLI turns a :class:`SimInputError` into one line on stderr and exit code 2; anything else is an
internal error (exit code 1).
"""

from __future__ import annotations

from dataclasses import dataclass


class SimInputError(ValueError):
    """Bad input (a file, a key, a value or a name the user gave); the message is one line for the user."""

    def __init__(self, message: str):
        super().__init__(shorten(one_line(str(message))))


MAX_MESSAGE_CHARS = 1000  # a message longer than this keeps its start and end (a huge value never fills a terminal)


def one_line(text: str) -> str:
    """``text`` with control characters (newlines, escape sequences) shown as ``\\xNN``/``\\n``, so a message
    stays on one line and a name cannot drive the terminal."""
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def shorten(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters, its middle elided (`` ... ``)."""
    if len(text) <= limit:
        return text
    keep = (limit - 5) // 2
    return f"{text[:keep]} ... {text[len(text) - keep:]}"


@dataclass(frozen=True)
class Problem:
    """One validation problem: where it is and what was expected."""

    source: str  # file name (or "--set", "<dict>")
    key: str  # dotted key path, "" for the whole file
    message: str  # what was expected / what is wrong

    def __str__(self) -> str:
        where = f"{self.source}: {self.key}" if self.key else self.source
        return f"{where}: {self.message}"


class ConfigError(SimInputError):
    """One or more validation problems in a configuration; ``str()`` lists them all on one line, "; "-separated."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived during a long command (a sweep): it stops as after Ctrl-C, cleaning up first."""

    def __init__(self, signum: int):
        import signal

        self.signum = signum
        try:
            self.signame = signal.Signals(signum).name
        except ValueError:
            self.signame = f"signal {signum}"
        super().__init__(f"terminated by {self.signame}")
