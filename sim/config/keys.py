"""The configuration reference tables of the README, generated from the specs.

``python -m sim.config.keys`` prints them; ``python -m sim.config.keys --readme README.md`` replaces the
tables under the README's "**Hardware keys**" and "**Workload keys**" headings (a test checks they match).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.config.hardware import HardwareConfig
from sim.config.schema import describe
from sim.workload import WorkloadSpec

HEAD = "| key | type / allowed | default | meaning |\n|---|---|---|---|"
SECTIONS = (("**Hardware keys**", HardwareConfig), ("**Workload keys**", WorkloadSpec))


def table(cls: type) -> str:
    """The markdown table of every key of ``cls`` (type / allowed values, default, meaning)."""
    return HEAD + "\n" + "\n".join(f"| `{k}` | {t} | {d} | {m} |" for k, t, d, m in describe(cls))


def splice(text: str) -> str:
    """``text`` with the table after each section heading replaced by the generated one."""
    lines = text.split("\n")
    for heading, cls in SECTIONS:
        i = next(n for n, line in enumerate(lines) if line.startswith(heading))
        start = next(n for n in range(i + 1, len(lines)) if lines[n].startswith("|"))
        end = start
        while end < len(lines) and lines[end].startswith("|"):
            end += 1
        lines[start:end] = table(cls).split("\n")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the tables, or rewrite them in the README given with ``--readme``."""
    p = argparse.ArgumentParser(description="print or update the README's configuration reference")
    p.add_argument("--readme", help="rewrite the tables of this README in place")
    args = p.parse_args(argv)
    if args.readme:
        path = Path(args.readme)
        path.write_text(splice(path.read_text()))
        return 0
    for heading, cls in SECTIONS:
        print(f"{heading}\n\n{table(cls)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
