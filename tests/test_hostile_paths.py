"""Hostile output paths: device nodes, FIFOs, planted symlinks, a full or failing disk, foreign directories and
plot file names made from report fields. Every case ends in exit 0 or 2 with one line, and nothing outside the
output is touched."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest
import yaml

from sim.errors import SimInputError
from sim.io import write_atomic, write_bytes_atomic
from tests.hostile import assert_clean, cli, cli_proc

VICTIM = b"precious\n"


@pytest.fixture
def victim(tmp_path) -> Path:
    v = tmp_path / "elsewhere" / "victim.txt"
    v.parent.mkdir()
    v.write_bytes(VICTIM)
    return v


def test_a_character_device_is_written_in_place(run_json):
    rc, out, err = cli("price", run_json, "--json", "/dev/null")
    assert_clean(rc, err, (0,))
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_fifo_is_refused_not_waited_on(tmp_path, run_json):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    rc, _, err = cli_proc("price", run_json, "--json", fifo, timeout=30)  # a write would block forever
    assert_clean(rc, err, (2,))
    assert "FIFO" in err and stat.S_ISFIFO(os.stat(fifo).st_mode)
    from sim.io import OutputError

    with pytest.raises(OutputError, match="FIFO"):
        write_bytes_atomic(fifo, b"x")


def test_a_full_device_gives_the_os_reason(run_json):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    rc, _, err = cli("price", run_json, "--json", "/dev/full")
    assert_clean(rc, err, (2,))
    assert "No space left on device" in err and "Bad file descriptor" not in err


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_a_failing_write_surfaces_the_real_error_once(tmp_path, code):
    target = tmp_path / "out.json"
    target.write_bytes(VICTIM)

    def fail(fh):
        fh.write(b"x" * 100_000)  # buffered: the error may come at flush or close
        raise OSError(code, os.strerror(code))

    from sim.io import OutputError

    with pytest.raises(OutputError) as info:
        write_atomic(target, fail)
    assert os.strerror(code) in str(info.value) and "Bad file descriptor" not in str(info.value)
    assert isinstance(info.value, SimInputError) and isinstance(info.value, OSError)
    assert target.read_bytes() == VICTIM and sorted(os.listdir(tmp_path)) == ["out.json"]  # no temporary left


def test_a_symlink_at_the_target_is_replaced_not_followed(tmp_path, victim, run_json):
    link = tmp_path / "out.json"
    link.symlink_to(victim)
    rc, _, err = cli("price", run_json, "--json", link)
    assert_clean(rc, err, (0,))
    assert victim.read_bytes() == VICTIM and not link.is_symlink() and json.loads(link.read_text())


def test_planted_temporaries_cannot_redirect_writes(tmp_path, victim, run_json):
    for name in (".out.json.tmp", ".out.json.probe", ".gobosim.probe", ".out.json.XXXX.tmp"):
        (tmp_path / name).symlink_to(victim)
    rc, _, err = cli("price", run_json, "--json", tmp_path / "out.json")
    assert_clean(rc, err, (0,))
    assert victim.read_bytes() == VICTIM


def _spec(tmp_path: Path) -> Path:
    spec = {"version": 1, "base": {"hw": "tpu", "workload": "tiny"}, "functional": False,
            "axes": {"compute.rows": [8]}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_sweep_never_overwrites_a_foreign_directory(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    for name in ("spec.yaml", "meta.json", "notes.txt"):
        (foreign / name).write_bytes(VICTIM)
    rc, _, err = cli("sweep", _spec(tmp_path), "--out", foreign, "--quiet", "--workers", "1")
    assert_clean(rc, err, (2,))
    assert "not a sweep directory" in err
    assert sorted(os.listdir(foreign)) == ["meta.json", "notes.txt", "spec.yaml"]
    assert all((foreign / n).read_bytes() == VICTIM for n in os.listdir(foreign))
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, _, err = cli("sweep", _spec(tmp_path), "--out", empty, "--quiet", "--workers", "1")
    assert_clean(rc, err, (0,))
    rc, _, err = cli("sweep", _spec(tmp_path), "--out", empty, "--quiet", "--workers", "1", "--resume")
    assert_clean(rc, err, (0,))  # its own directory stays usable


def test_sweep_refuses_planted_symlinks_in_its_directory(tmp_path, victim):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".lock").symlink_to(victim)
    rc, _, err = cli("sweep", _spec(tmp_path), "--out", out, "--quiet", "--workers", "1")
    assert_clean(rc, err, (2,))
    assert victim.read_bytes() == VICTIM
    (out / ".lock").unlink()
    rc, _, err = cli("sweep", _spec(tmp_path), "--out", out, "--quiet", "--workers", "1")
    assert_clean(rc, err, (0,))
    (out / "results.csv").rename(tmp_path / "real.csv")
    (out / "results.csv").symlink_to(victim)
    rc, _, err = cli("sweep", _spec(tmp_path), "--out", out, "--quiet", "--workers", "1", "--resume")
    assert_clean(rc, err, (2,))
    assert victim.read_bytes() == VICTIM


def test_plot_names_from_report_fields_stay_inside_out_and_never_collide(tmp_path, run_json):
    data = json.loads(run_json.read_text())
    inputs = []
    for i, hw in enumerate(["../../escape", "a/b", "a-b", "A-B", "x\n\x1b[31mred", ".hidden", ""]):
        p = tmp_path / f"r{i}.json"
        p.write_text(json.dumps({**data, "hw": hw}))
        inputs.append(p)
    out = tmp_path / "figs"
    rc, stdout, err = cli("plot", *inputs, "--out", out, "--kind", "latency")
    assert_clean(rc, err, (0,))
    written = sorted(os.listdir(out))
    assert len(written) == len(inputs) and len(set(n.lower() for n in written)) == len(inputs)
    assert all(n.endswith(".png") and not n.startswith(".") and "\x1b" not in n and "\n" not in n for n in written)
    assert sorted(os.listdir(tmp_path)) == sorted(["figs", *(p.name for p in inputs)])  # nothing outside out
    assert "\x1b" not in stdout


def test_safe_stems():
    from sim.plotting import safe_stem, unique_stems

    for text in ["../x", "a/b\\c", "..", ".", "", "\x00\x7f", "é" * 500, "-" * 3, "a..b"]:
        stem = safe_stem(text)
        assert stem and "/" not in stem and "\\" not in stem and ".." not in stem and not stem.startswith(".")
        assert stem.isascii() and stem.isprintable() and len(stem) <= 120
    assert unique_stems(["a", "a", "A", "a-2"]) == ["a", "a-2", "A-3", "a-2-2"]
