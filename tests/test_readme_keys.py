"""The README's configuration reference lists every key with its type, default and meaning as the specs
define them (so the documentation cannot drift from the validator)."""

from __future__ import annotations

from pathlib import Path

from sim.config.hardware import HardwareConfig
from sim.config.schema import describe
from sim.workload import WorkloadSpec

README = Path(__file__).resolve().parents[1] / "README.md"


def _rows(cls: type) -> list[str]:
    return [f"| `{k}` | {t} | {d} | {m} |" for k, t, d, m in describe(cls)]


def _section(start: str, end: str) -> list[str]:
    text = README.read_text()
    part = text[text.index(start):text.index(end)] if end else text[text.index(start):]
    return [line for line in part.splitlines() if line.startswith("| `")]


def test_hardware_keys_match_the_spec():
    assert _section("**Hardware keys**", "**Workload keys**") == _rows(HardwareConfig), \
        "regenerate with: python -m sim.config.keys"


def test_workload_keys_match_the_spec():
    rows = _section("**Workload keys**", "## Energy and area")
    assert rows[:len(_rows(WorkloadSpec))] == _rows(WorkloadSpec), "regenerate with: python -m sim.config.keys"
