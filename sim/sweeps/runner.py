"""``run_sweep``: spec -> checked points -> parallel runs -> ``DIR/results.csv`` (+ parquet, spec.yaml, meta.json)."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import platform
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.errors import SimInputError, Terminated
from sim.results.sweep import SweepMeta, SweepPoints
from sim.sweeps import expr
from sim.sweeps.columns import ID, initial_metrics, select
from sim.sweeps.execute import make_backend, run_points
from sim.sweeps.plan import Plan, Point, make_plan
from sim.sweeps.progress import Progress
from sim.sweeps.spec import SweepSpec, load_spec
from sim.sweeps.store import META, SPEC, ResultStore, check_out_dir

CHECKPOINT_S = 60.0  # results.parquet is refreshed at most this often while running (seconds)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def git_revision(start: Path | None = None) -> str | None:
    """The commit the code was loaded from, read from ``.git`` files (no git process); None outside a checkout."""
    here = (start or Path(__file__)).resolve()
    for d in [here, *here.parents]:
        git = d / ".git"
        try:
            if git.is_file():  # a worktree: "gitdir: PATH"
                git = Path(git.read_text().split(":", 1)[1].strip())
            if not (git / "HEAD").is_file():
                continue
            head = (git / "HEAD").read_text().strip()
            if not head.startswith("ref:"):
                return head[:12]
            ref = head.split(":", 1)[1].strip()
            common = git / "commondir"
            roots = [git] + ([git / common.read_text().strip()] if common.is_file() else [])
            for root in roots:
                if (root / ref).is_file():
                    return f"{(root / ref).read_text().strip()[:12]} ({ref.rsplit('/', 1)[-1]})"
                packed = root / "packed-refs"
                if packed.is_file():
                    for line in packed.read_text().splitlines():
                        if line.endswith(" " + ref):
                            return f"{line.split()[0][:12]} ({ref.rsplit('/', 1)[-1]})"
            return None
        except (OSError, IndexError):
            return None
    return None


def _feasible(plan: Plan, point: Point, metrics: Mapping[str, Any]) -> bool | None:
    """All metric constraints hold (True), one fails (False), or one reads a null metric (None)."""
    values = {**point.params, **metrics}
    unknown = False
    for con in plan.metric_constraints:
        try:
            if not con.evaluate(values):
                return False
        except (expr.Unknown, expr.ExprError):
            unknown = True
    return None if unknown else True


@contextlib.contextmanager
def _stop_on_signals():
    """While a sweep runs in the main thread, SIGTERM and SIGHUP raise :class:`Terminated` (a KeyboardInterrupt):
    the workers are stopped, ``meta.json`` says ``interrupted`` and the lock is released, as after Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    sigs = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]

    def stop(signum, frame):
        for s in sigs:  # a second signal must not interrupt the cleanup
            signal.signal(s, signal.SIG_IGN)
        raise Terminated(signum)

    previous = {s: signal.signal(s, stop) for s in sigs}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def run_sweep(spec_or_path: str | Path | Mapping[str, Any] | SweepSpec, out_dir: str | os.PathLike[str],
              backend: str = "local", workers: int | None = None, scheduler: str | None = None, resume: bool = False,
              progress: bool | Progress = True):
    """Run every point of a sweep; returns the results table (a pandas DataFrame, one row per point, spec order).

    Args:
        spec_or_path: a sweep spec file, or the spec as a mapping (see :mod:`sim.sweeps.spec`).
        out_dir: directory for ``results.csv``, ``results.parquet`` (with pyarrow), ``spec.yaml``, ``meta.json``.
        backend: ``local`` (a process pool on this machine) or ``dask``.
        workers: parallel points (default: every core; for dask, the LocalCluster's worker processes).
        scheduler: ``tcp://HOST:PORT`` of an existing Dask scheduler (implies ``backend="dask"``). Dask moves
            pickles: the scheduler and its workers can run code in this process and forge results, so attach
            only to a scheduler you started yourself, on a network you control.
        resume: continue a sweep in ``out_dir``: points already in ``results.csv`` are skipped.
        progress: report progress on stderr (a bar on a terminal); or a :class:`Progress` to use.

    Workers are separate processes, started with the platform's default multiprocessing method for ``local``
    (fork on Linux up to Python 3.13) and spawned for ``dask``; spawning re-imports the calling script, so
    guard a script's top level with ``if __name__ == "__main__":``.

    Raises:
        SimInputError: bad spec, bad point, unwritable ``out_dir``, existing results without ``resume`` -- all
            before any point runs.
        KeyboardInterrupt: after stopping the workers; every finished point is already in ``results.csv``.
    """
    with _stop_on_signals():
        return _run_sweep(spec_or_path, out_dir, backend, workers, scheduler, resume, progress)


def _run_sweep(spec_or_path, out_dir, backend, workers, scheduler, resume, progress):
    check_out_dir(out_dir)
    if scheduler and backend == "local":
        backend = "dask"
    be = make_backend(backend, workers, scheduler)
    spec = load_spec(spec_or_path)
    plan = make_plan(spec)
    reporter = progress if isinstance(progress, Progress) else Progress(enabled=bool(progress))
    tail = (["feasible"] if plan.metric_constraints else []) + ["status", "error"]
    store = ResultStore(out_dir, spec.swept_keys, initial_metrics(spec.functional, spec.metrics), tail)
    be.start()  # before touching out_dir: a cluster that cannot be reached leaves nothing behind
    try:
        done = store.open(resume)
    except BaseException:
        be.close()
        raise
    status = "failed"
    previous = store.read_json(META) if resume else None
    if previous and previous.get("status") == "running":  # we hold the lock: that sweep died without a word
        previous = {**previous, "status": "died"}
    be.fit(sum(p.point_id not in done for p in plan.points))
    meta = SweepMeta(
        git=git_revision(), python=platform.python_version(), started_at=_now(), finished_at=None,
        status="running", spec=spec.source, name=spec.name, backend=be.name, workers=be.slots,  # slots: after start
        scheduler=scheduler, resumed=bool(resume),
        points=SweepPoints(expanded=plan.expanded, filtered_by_constraints=plan.filtered,
                           duplicates=plan.duplicates, planned=len(plan.points),
                           already_done=sum(p.point_id in done for p in plan.points)),
        history=((previous or {}).get("history", []) + [_summary(previous)]) if previous else [],
    )
    counts = meta.points
    last_checkpoint = time.monotonic()

    def record(point: Point, outcome: dict[str, Any]) -> None:
        nonlocal last_checkpoint
        ok = outcome["status"] == "ok"
        metrics = select(outcome.get("metrics", {}), spec.metrics)
        row: dict[str, Any] = {ID: point.point_id, **point.values, **metrics}
        if plan.metric_constraints:
            row["feasible"] = _feasible(plan, point, metrics) if ok else None
        row["status"], row["error"] = outcome["status"], outcome.get("error", "")
        store.append(row)
        counts.ran += 1
        counts.errors += 0 if ok else 1
        meta.worker_seconds.wall += outcome.get("wall_s", 0.0)
        meta.worker_seconds.cpu += outcome.get("cpu_s", 0.0)
        reporter.advance(ok)
        if time.monotonic() - last_checkpoint >= CHECKPOINT_S:
            last_checkpoint = time.monotonic()
            store.write_parquet()
            store.write_json(META, meta.to_dict())

    try:
        import yaml

        store.write_text(SPEC, yaml.safe_dump(spec.to_dict(), sort_keys=False, default_flow_style=None))
        store.write_json(META, meta.to_dict())
        for note in store.notes + _plan_notes(plan, done):
            reporter.message(f"{spec.name}: {note}")
        todo = [p for p in plan.points if p.point_id not in done]
        if todo:
            reporter.start(len(todo), spec.name)
            try:
                run_points(todo, be, record, reporter.tick)
            finally:
                reporter.close()
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        be.close()
        meta.status, meta.finished_at = status, _now()
        try:
            store.write_json(META, meta.to_dict())
            store.write_parquet()
        finally:
            store.close()
    return ordered(store.frame(), plan)


def ordered(df, plan: Plan):
    """The rows of ``df`` that belong to ``plan``, in the plan's point order."""
    rank = {p.point_id: p.index for p in plan.points}
    out = df[df[ID].isin(rank)].copy()
    out["_rank"] = out[ID].map(rank)
    return out.sort_values("_rank", kind="stable").drop(columns="_rank").reset_index(drop=True)


def _plan_notes(plan: Plan, done: set[str]) -> list[str]:
    notes = []
    if plan.filtered:
        notes.append(f"{plan.filtered} of {plan.expanded} points excluded by parameter constraints (not run)")
    if plan.duplicates:
        notes.append(f"{plan.duplicates} duplicate points dropped (same resolved inputs as an earlier point)")
    skipped = sum(p.point_id in done for p in plan.points)
    if skipped:
        notes.append(f"resuming: {skipped} of {len(plan.points)} points already in results.csv")
    return notes


def _summary(meta: dict[str, Any]) -> dict[str, Any]:
    keep = ("version", "git", "started_at", "finished_at", "status", "backend", "workers", "points")
    out = {k: meta.get(k) for k in keep}
    if out["version"] is None and "sim_version" in meta:  # a meta.json written before schema_version 1
        out["version"] = meta["sim_version"]
    return out


def plan_sweep(spec_or_path: str | Path | Mapping[str, Any] | SweepSpec) -> Plan:
    """Check a spec and list its points without running anything (raises :class:`SimInputError`)."""
    return make_plan(load_spec(spec_or_path))


__all__ = ["run_sweep", "plan_sweep", "git_revision", "SimInputError"]
