"""Hostile sweep lifecycle: real signals to a real ``sim sweep``; workers die with it, the lock is the parent's,
``--resume`` completes with the results of an uninterrupted run; ``--workers`` is capped."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sim.errors import SimInputError
from sim.sweeps.runner import run_sweep
from sim.sweeps.store import ResultStore
from tests.conftest import REPO

SPEC = {"version": 1, "name": "hostile", "base": {"hw": "tpu", "workload": "tiny"}, "functional": False,
        "axes": {"compute.rows": {"range": [8, 88, 2]}, "compute.dataflow": ["ws", "os"]}}  # 80 points
POINTS = 80


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            head, tail = fh.read().rsplit(b")", 1)
    except OSError:
        return None
    return tail.decode().split()  # [state, ppid, pgrp, ...]


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (scanning /proc; psutil is not a dependency)."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None:
                parents[int(name)] = int(st[1])
    out: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - out
        out |= frontier
    return out


def alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def rows(out: Path) -> list[dict]:
    with open(out / "results.csv", newline="") as fh:
        return sorted(csv.DictReader(fh), key=lambda r: r["point_id"])


@pytest.fixture(scope="module")
def spec_and_reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref")
    path = d / "s.yaml"
    path.write_text(yaml.safe_dump(SPEC, sort_keys=False))
    run_sweep(path, d / "out", workers=2, progress=False)
    return path, rows(d / "out")


def _start(path: Path, out: Path, err: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with open(err, "wb") as fh:  # a file, not a pipe: a surviving worker holding a pipe open must not hang us
        return subprocess.Popen([sys.executable, "-m", "sim", "sweep", str(path), "--out", str(out), "--workers",
                                 "2", "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=fh,
                                start_new_session=True)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_workers_die_with_the_sweep_and_resume_completes(tmp_path, spec_and_reference, sig):
    path, reference = spec_and_reference
    out = tmp_path / "out"
    proc = _start(path, out, tmp_path / "err")
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:  # mid-run: workers up, a few rows written
            workers |= descendants(proc.pid)
            if len(workers) >= 2 and (out / "results.csv").is_file() and len(rows(out)) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep ended before it could be signalled"
        os.kill(proc.pid, sig)  # the parent only, as a user's kill or a closing terminal does
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(w) for w in workers):
            time.sleep(0.05)
        survivors = [w for w in workers if alive(w)]
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever is left of the session (the test's own cleanup)
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    err = (tmp_path / "err").read_bytes()
    assert workers
    assert not survivors, f"workers outlived the sweep after {sig.name}"
    before = len(rows(out))
    assert before < POINTS
    if sig != signal.SIGKILL:  # caught: one line, exit 128 + signal, meta.json says so
        assert proc.returncode == 128 + sig, (proc.returncode, err)
        assert err.decode().strip().count("\n") == 0 and "Traceback" not in err.decode()
        assert json.loads((out / "meta.json").read_text())["status"] == "interrupted"
    else:
        assert json.loads((out / "meta.json").read_text())["status"] == "running"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-m", "sim", "sweep", str(path), "--out", str(out), "--workers", "2",
                          "--quiet", "--resume"], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert rows(out) == reference  # every point exactly once, the numbers of an uninterrupted run
    meta = json.loads((out / "meta.json").read_text())
    assert meta["status"] == "finished"
    assert meta["history"][-1]["status"] == ("died" if sig == signal.SIGKILL else "interrupted")


def test_the_lock_is_not_inherited_by_forked_children(tmp_path):
    store = ResultStore(tmp_path / "out", ["compute.rows"], ["cycles"], ["status", "error"])
    store.open(resume=False)
    r, w = os.pipe()
    child = os.fork()
    if child == 0:  # a worker-like child that lives on after the parent let go of the directory
        os.write(w, b"1")
        time.sleep(5)
        os._exit(0)
    os.close(w)
    assert os.read(r, 1) == b"1"  # the child runs (its fork hooks have run)
    os.close(r)
    try:
        store.close()
        again = ResultStore(tmp_path / "out", ["compute.rows"], ["cycles"], ["status", "error"])
        again.open(resume=True)  # the child does not hold the lock
        with pytest.raises(SimInputError, match=rf"another sweep \(pid {os.getpid()}\) is writing"):
            ResultStore(tmp_path / "out", ["compute.rows"], ["cycles"], ["status", "error"]).open(resume=True)
        again.close()
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def test_workers_are_capped_and_started_only_when_needed(tmp_path, spec_and_reference):
    from sim.sweeps.execute import max_workers

    path, _ = spec_and_reference
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "sim", "sweep", str(path), "--out", str(tmp_path / "o"),
                          "--workers", "100000", "--quiet"], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert f"at most {max_workers()}" in res.stderr and time.monotonic() - t0 < 20
    assert not (tmp_path / "o").exists()
    # a two-point sweep with the largest allowed --workers starts two workers, not max_workers()
    spec = {**SPEC, "axes": {"compute.rows": [8], "compute.dataflow": ["ws", "os"]}}
    small = tmp_path / "small.yaml"
    small.write_text(yaml.safe_dump(spec))
    run_sweep(small, tmp_path / "s", workers=max_workers(), progress=False)
    assert json.loads((tmp_path / "s" / "meta.json").read_text())["workers"] == 2
