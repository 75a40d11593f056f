"""Running sweeps: results contract, resume, failing points, SIGKILL + resume, Dask == local, CLI exit codes."""

from __future__ import annotations

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

import sim
from sim.errors import SimInputError
from sim.sweeps.columns import CORE
from sim.sweeps.runner import plan_sweep, run_sweep
from sim.sweeps.store import ResultStore, parquet_available
from tests.conftest import REPO, run_cli


def write(tmp_path: Path, spec: dict, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def tpu_spec(rows=(8, 16), **extra) -> dict:
    return {"version": 1, "base": {"hw": "tpu", "workload": "tiny"},
            "axes": {"compute.rows": list(rows), "compute.dataflow": ["ws", "os"]}, **extra}


def csv_rows(out: Path) -> list[dict]:
    with open(out / "results.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_results_follow_the_contract(tmp_path):
    spec = tpu_spec(constraints=["utilization >= 0.2"])
    df = run_sweep(write(tmp_path, spec), tmp_path / "out", workers=2, progress=False)
    header = (tmp_path / "out" / "results.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["point_id", "compute.rows", "compute.dataflow"]
    assert header[3:3 + len(CORE)] == list(CORE)
    assert header[-3:] == ["feasible", "status", "error"]
    assert [h for h in header if h.startswith("stall_")] == [
        "stall_dram_read_cycles", "stall_buffer_full_cycles", "stall_vector_busy_cycles",
        "stall_dram_write_cycles", "stall_sram_port_cycles"]
    assert len(df) == 4 and (df["status"] == "ok").all()
    assert list(zip(df["compute.rows"], df["compute.dataflow"])) == [(8, "ws"), (8, "os"), (16, "ws"), (16, "os")]
    assert df["feasible"].map(lambda v: v in (True, False)).all()
    assert (df["feasible"] == (df["utilization"] >= 0.2)).all()
    # the numbers are those of a plain run
    from sim import api

    one = api.run("tpu", "tiny", sets=["compute.rows=16", 'compute.dataflow="os"'], functional=False)
    row = df[(df["compute.rows"] == 16) & (df["compute.dataflow"] == "os")].iloc[0]
    assert row["cycles"] == one.cycles and row["dram_read_bytes"] == one.dram_read_bytes
    saved = yaml.safe_load((tmp_path / "out" / "spec.yaml").read_text())
    assert saved["axes"] == {"compute.rows": [8, 16], "compute.dataflow": ["ws", "os"]}
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["version"] == sim.__version__ and meta["schema_version"] == 1 and meta["status"] == "finished"
    assert meta["points"]["ran"] == 4
    if parquet_available():
        import pandas as pd

        assert len(pd.read_parquet(tmp_path / "out" / "results.parquet")) == 4
    # DIR/spec.yaml is itself a valid spec with the same points
    again = plan_sweep(tmp_path / "out" / "spec.yaml")
    assert [p.point_id for p in again.points] == list(df["point_id"])


def test_sim_sweep_is_callable_and_exports_pareto(tmp_path):
    df = sim.sweep(tpu_spec(rows=(8,)), tmp_path / "out", workers=1, progress=False)
    assert len(df) == 2


def test_resume_skips_finished_points(tmp_path):
    out = tmp_path / "out"
    run_sweep(write(tmp_path, tpu_spec(rows=(8,))), out, workers=1, progress=False)
    with pytest.raises(SimInputError, match="already exists; pass --resume"):
        run_sweep(write(tmp_path, tpu_spec(rows=(8,))), out, workers=1, progress=False)
    df = run_sweep(write(tmp_path, tpu_spec(rows=(8, 16))), out, workers=1, resume=True, progress=False)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["points"]["already_done"] == 2 and meta["points"]["ran"] == 2
    assert len(meta["history"]) == 1
    ids = [r["point_id"] for r in csv_rows(out)]
    assert len(ids) == len(set(ids)) == 4 and len(df) == 4
    df2 = run_sweep(write(tmp_path, tpu_spec(rows=(8, 16))), out, workers=1, resume=True, progress=False)
    assert json.loads((out / "meta.json").read_text())["points"]["ran"] == 0 and len(df2) == 4


def test_resume_refuses_a_different_sweep(tmp_path):
    out = tmp_path / "out"
    run_sweep(write(tmp_path, tpu_spec(rows=(8,))), out, workers=1, progress=False)
    other = {"version": 1, "base": {"hw": "tpu", "workload": "tiny"}, "axes": {"compute.cols": [8]}}
    with pytest.raises(SimInputError, match="written by a sweep over compute.rows, compute.dataflow"):
        run_sweep(write(tmp_path, other), out, resume=True, progress=False)


def test_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path):
    spec = {"version": 1, "base": {"hw": "gobo", "workload": "tiny"},
            "axes": {"buffers.weights.capacity_bytes": [24, 65536, 131072]}}
    df = run_sweep(write(tmp_path, spec), tmp_path / "out", workers=2, progress=False)
    assert list(df["status"]) == ["error", "ok", "ok"]
    err = df["error"].iloc[0]
    assert err.startswith("SimInputError:") and "does not fit buffers.weights.capacity_bytes=24" in err
    assert "\n" not in err and df["error"].iloc[1] == ""
    assert df["cycles"].isna().iloc[0] and df["cycles"].notna().iloc[1:].all()


def test_torn_last_line_is_dropped_on_resume(tmp_path):
    out = tmp_path / "out"
    run_sweep(write(tmp_path, tpu_spec(rows=(8,))), out, workers=1, progress=False)
    path = out / "results.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:2]) + lines[2][:25])  # the machine died in the middle of the last row
    messages = []

    class Sink:
        def write(self, text):
            messages.append(text)

        def flush(self):
            pass

        def isatty(self):
            return False

    from sim.sweeps.progress import Progress

    df = run_sweep(write(tmp_path, tpu_spec(rows=(8,))), out, resume=True, progress=Progress(Sink()))
    assert len(df) == 2 and (df["status"] == "ok").all()
    assert any("dropped 1 incomplete row" in m for m in messages)
    assert path.read_text().count("\n") == 3


def test_store_grows_its_header_when_new_columns_appear(tmp_path):
    store = ResultStore(tmp_path, ["compute.rows"], list(CORE), ["status", "error"])
    store.open(resume=False)
    store.append({"point_id": "a", "compute.rows": 8, "cycles": 10, "status": "ok", "error": ""})
    store.append({"point_id": "b", "compute.rows": 16, "cycles": 5, "energy_pj": 2.0, "energy_dram_pj": 1.5,
                  "energy_compute_pj": 0.5, "status": "ok", "error": ""})
    store.close()
    header = (tmp_path / "results.csv").read_text().splitlines()[0].split(",")
    i = header.index("utilization")
    assert header[i + 1:i + 3] == ["energy_compute_pj", "energy_dram_pj"] and header[-2:] == ["status", "error"]
    rows = csv_rows(tmp_path)
    assert rows[0]["energy_dram_pj"] == "" and rows[1]["energy_dram_pj"] == "1.5"


def test_sigkill_midway_then_resume_runs_every_point_exactly_once(tmp_path):
    spec = {"version": 1, "base": {"hw": "tpu", "workload": "tiny"},
            "axes": {"compute.rows": [8, 12, 16, 20, 24, 28, 32, 40], "compute.dataflow": ["ws", "os", "is"]}}
    path = write(tmp_path, spec)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "sim", "sweep", str(path), "--out", str(out), "--workers", "1",
                             "--quiet"], env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    results = out / "results.csv"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if results.exists() and results.read_text().count("\n") >= 4:  # header + 3 finished points
            break
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes, mid-run
    proc.wait()
    before = len(csv_rows(out))
    assert 3 <= before < 24, before
    df = run_sweep(path, out, workers=2, resume=True, progress=False)
    ids = [r["point_id"] for r in csv_rows(out)]
    planned = [p.point_id for p in plan_sweep(path).points]
    assert sorted(ids) == sorted(planned) and len(ids) == 24  # every point exactly once
    assert (df["status"] == "ok").all() and list(df["point_id"]) == planned


def test_ctrl_c_stops_cleanly_and_keeps_finished_rows(tmp_path):
    spec = {"version": 1, "base": {"hw": "tpu", "workload": "tiny"},
            "axes": {"compute.rows": list(range(8, 136, 2)), "compute.dataflow": ["ws", "os"]}}
    # 128 points: enough that the interrupt lands mid-run however fast the cached points get
    path = write(tmp_path, spec)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    # SIGINT back to its default in the child: a test run started in the background of a non-interactive shell
    # inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler (a user's Ctrl-C always has one)
    proc = subprocess.Popen([sys.executable, "-m", "sim", "sweep", str(path), "--out", str(out), "--workers", "2"],
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not ((out / "results.csv").exists()
                                               and (out / "results.csv").read_text().count("\n") >= 3):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err.splitlines()[-1]
    assert json.loads((out / "meta.json").read_text())["status"] == "interrupted"
    rows = csv_rows(out)
    assert 2 <= len(rows) < 128 and all(r["status"] == "ok" for r in rows)
    df = run_sweep(path, out, workers=2, resume=True, progress=False)
    assert len(df) == 128 and len(csv_rows(out)) == 128


def test_dask_backend_gives_the_same_results_as_local(tmp_path):
    pytest.importorskip("distributed")
    spec = write(tmp_path, tpu_spec(rows=(8, 16, 32)))
    local = run_sweep(spec, tmp_path / "local", workers=2, progress=False)
    dask = run_sweep(spec, tmp_path / "dask", backend="dask", workers=2, progress=False)
    assert json.loads((tmp_path / "dask" / "meta.json").read_text())["backend"] == "dask"
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ  # the LocalCluster's nannies leave our environment alone
    import pandas.testing as pdt

    pdt.assert_frame_equal(local, dask)


def test_dask_scheduler_address_attaches_to_an_existing_cluster(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    from sim.sweeps import execute

    monkeypatch.setattr(execute, "CONNECT_TIMEOUT_S", 1.0)
    spec = write(tmp_path, tpu_spec(rows=(8,)))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        df = run_sweep(spec, tmp_path / "out", scheduler=cluster.scheduler_address, progress=False)
    assert len(df) == 2 and (df["status"] == "ok").all()
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["backend"] == "dask" and meta["scheduler"].startswith("tcp://") and meta["workers"] == 1
    with pytest.raises(SimInputError, match="--scheduler tcp://127.0.0.1:1: cannot connect"):
        run_sweep(spec, tmp_path / "out2", scheduler="tcp://127.0.0.1:1", progress=False)
    assert not (tmp_path / "out2").exists()  # nothing written when the cluster cannot be reached


def test_cli_exit_codes(tmp_path):
    good = write(tmp_path, tpu_spec(rows=(8,)))
    res = run_cli("sweep", str(good), "--out", str(tmp_path / "ok"), "--workers", "1")
    assert res.returncode == 0, res.stderr
    assert "2 points" in res.stdout
    bad = write(tmp_path, {**tpu_spec(), "axes": {"compute.rows": [0]}}, "bad.yaml")
    res = run_cli("sweep", str(bad), "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "bad.yaml: axes.compute.rows: value 0 is invalid" in res.stderr and "Traceback" not in res.stderr
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = run_cli("sweep", str(good), "--out", str(blocker / "sub"))
    assert res.returncode == 2 and "--out" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = run_cli("sweep", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "y"))
    assert res.returncode == 2 and "no such sweep spec file" in res.stderr
    res = run_cli("sweep", str(good), "--out", str(tmp_path / "ok"))  # exists, no --resume
    assert res.returncode == 2 and "--resume" in res.stderr
    assert not (tmp_path / "x").exists()  # a bad spec creates nothing
