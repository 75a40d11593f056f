"""The sweep's ``meta.json``: how a sweep directory was made (versions, backend, point counts, history)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from sim._version import __version__
from sim.results.base import SCHEMA_VERSION, Report

__all__ = ["SweepMeta", "SweepPoints", "WorkerSeconds"]


@dataclass(repr=False)
class SweepPoints(Report):
    """Point counts of a sweep run."""

    REPR_FIELDS: ClassVar[tuple[str, ...]] = ("planned", "ran", "errors")

    expanded: int = 0
    """Points the axes expand to (before constraints)."""
    filtered_by_constraints: int = 0
    duplicates: int = 0
    planned: int = 0
    already_done: int = 0
    """Points found in results.csv when resuming."""
    ran: int = 0
    errors: int = 0


@dataclass(repr=False)
class WorkerSeconds(Report):
    """Wall-clock and CPU seconds the workers spent on the points run now (diagnostics, not results)."""

    wall: float = 0.0
    cpu: float = 0.0


@dataclass(repr=False)
class SweepMeta(Report):
    """``DIR/meta.json`` of ``sim sweep`` (rewritten atomically as the sweep progresses)."""

    REPR_FIELDS: ClassVar[tuple[str, ...]] = ("name", "status", "points")

    git: str | None
    python: str
    started_at: str
    finished_at: str | None
    status: str
    """running, finished, interrupted or failed."""
    spec: str
    name: str
    backend: str
    workers: int
    scheduler: str | None
    resumed: bool
    points: SweepPoints = field(default_factory=SweepPoints)
    worker_seconds: WorkerSeconds = field(default_factory=WorkerSeconds)
    history: list[dict[str, Any]] = field(default_factory=list)
    """Summaries of earlier runs into the same directory (resumes), oldest first."""
    version: str = __version__
    schema_version: int = SCHEMA_VERSION
