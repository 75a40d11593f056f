"""Hostile quantization caches: entries that are FIFOs, devices, bombs or non-finite are misses, never hangs or
hits; odd cache locations are one line and exit 2; ``HOME`` unset never writes to ``/.cache``.

Each case runs ``sim run --hw gobo --workload tiny`` against a cache whose one entry was tampered with, and must
end in exit 0 (the entry rebuilt) or 2 (a one-line error), with no traceback, within a time limit, touching
nothing outside the test's directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sim.quant import QuantCache
from tests.hostile import cli_checked as cli
from tests.hostile import cli_forked

RUN = ("run", "--hw", "gobo", "--workload", "tiny", "--no-functional")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[str, bytes, bytes, dict]:
    """One clean run's cache entry (name, npz bytes, sidecar bytes) and report, made once for the module."""
    import subprocess
    import sys

    d = tmp_path_factory.mktemp("pristine")
    env = dict(os.environ, GOBOSIM_CACHE_DIR=str(d / "cache"), PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    subprocess.run([sys.executable, "-m", "sim", *RUN, "--json", str(d / "clean.json")], env=env, check=True,
                   timeout=120, capture_output=True)
    (npz,) = (d / "cache" / "quant").glob("*.npz")
    return npz.stem, npz.read_bytes(), npz.with_suffix(".json").read_bytes(), json.loads((d / "clean.json").read_text())


@pytest.fixture
def entry(tmp_path, monkeypatch, pristine) -> tuple[Path, Path, dict]:
    """A fresh copy of the pristine entry in this test's cache directory: ``(npz, sidecar, clean report)``."""
    key, npz_bytes, side_bytes, clean = pristine
    q = tmp_path / "cache" / "quant"
    q.mkdir(parents=True)
    monkeypatch.setenv("GOBOSIM_CACHE_DIR", str(tmp_path / "cache"))
    (q / f"{key}.npz").write_bytes(npz_bytes)
    (q / f"{key}.json").write_bytes(side_bytes)
    return q / f"{key}.npz", q / f"{key}.json", clean


def _same_run(tmp_path: Path, capsys, clean: dict, *, forked: bool = False) -> None:
    out = tmp_path / "again.json"
    if forked:
        rc, err = cli_forked(*RUN, "--json", str(out), timeout=60)
    else:
        rc, err = cli(capsys, *RUN, "--json", str(out))
    assert rc == 0, err
    again = json.loads(out.read_text())
    assert again == clean  # rebuilt from scratch: the same numbers


def _consistent_sidecar(npz: Path, side: Path) -> None:
    """Make the sidecar agree with whatever the npz now holds (an attacker can always do this)."""
    data = npz.read_bytes()
    info = json.loads(side.read_text())
    info.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    side.write_text(json.dumps(info))


def _entry_is_valid(npz: Path) -> bool:
    model, status = QuantCache(npz.parent.parent).load(npz.stem)
    return status == "hit" and model is not None


# ---- entries that could block ------------------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("which", ["npz", "sidecar"])
@pytest.mark.parametrize("what", ["fifo", "dev-zero"])
def test_entry_that_is_a_fifo_or_a_device_is_rebuilt_without_blocking(tmp_path, capsys, entry, which, what):
    npz, side, clean = entry
    target = npz if which == "npz" else side
    target.unlink()
    if what == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/zero")
    _same_run(tmp_path, capsys, clean, forked=True)
    assert target.is_file() and not target.is_symlink() and _entry_is_valid(npz)


# ---- entries that lie ----------------------------------------------------------------------------------------

def _deflate_bomb(npz: Path, inflated_bytes: int) -> None:
    """Rewrite the npz with one array replaced by a deflated member of ``inflated_bytes`` zeros (~1000:1)."""
    with zipfile.ZipFile(npz) as z:
        members = {n: z.read(n) for n in z.namelist()}
    name = next(n for n in members if n.endswith("_centroids.npy"))
    count = inflated_bytes // 4
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({count},), }}"
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    npy_head = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin1")
    tmp = npz.with_suffix(".bomb")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
        for n, data in members.items():
            if n != name:
                z.writestr(n, data)
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as fh:
            fh.write(npy_head)
            zeros = bytes(1 << 22)
            left = count * 4
            while left > 0:
                fh.write(zeros[: min(left, len(zeros))])
                left -= len(zeros)
    os.replace(tmp, npz)


def test_deflate_bomb_does_not_inflate(tmp_path, capsys, entry):
    npz, side, clean = entry
    _deflate_bomb(npz, 160 << 20)
    _consistent_sidecar(npz, side)
    assert npz.stat().st_size < 2 << 20
    tracemalloc.start()  # around the load only: tracing a whole run is slow
    try:
        model, status = QuantCache(npz.parent.parent).load(npz.stem)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == "corrupt" and model is None
    assert peak < 64 << 20, f"peak {peak >> 20} MiB: the bomb was inflated"
    _same_run(tmp_path, capsys, clean)  # the deleted entry is rebuilt
    assert _entry_is_valid(npz)


def _rewrite_arrays(npz: Path, side: Path, change) -> None:
    with np.load(npz, allow_pickle=False) as z:
        arrays = {k: np.array(z[k]) for k in z.files}
    change(arrays)
    with npz.open("wb") as fh:
        np.savez(fh, **arrays)
    _consistent_sidecar(npz, side)


def _meta(change):
    def edit(arrays):
        meta = json.loads(bytes(arrays["meta"]).decode())
        change(meta)
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return edit


def _first(key: str, value):
    def edit(arrays):
        arrays[key] = arrays[key].copy()
        arrays[key].reshape(-1)[0] = value
    return edit


LIES = {
    "NaN centroid": _first("p0_centroids", np.nan),
    "inf centroid": _first("p0_centroids", np.inf),
    "NaN outlier value": lambda a: _first("p0_outlier_values", np.nan)(a) if a["p0_outlier_values"].size
    else a.__setitem__("p0_centroids", np.full_like(a["p0_centroids"], np.nan)),
    "NaN fp32 tensor": _first("f0", np.nan),
    "NaN std": _meta(lambda m: m["packed"][0].__setitem__("std", float("nan"))),
    "missing array": lambda a: a.pop("p1_index"),
    "meta not JSON": lambda a: a.__setitem__("meta", np.frombuffer(b"{not json", dtype=np.uint8)),
    "meta of a list": lambda a: a.__setitem__("meta", np.frombuffer(b"[1, 2]", dtype=np.uint8)),
    "deeply nested meta": lambda a: a.__setitem__("meta", np.frombuffer(b"[" * 100_000 + b"]" * 100_000,
                                                                        dtype=np.uint8)),
    "other code version": _meta(lambda m: m.__setitem__("code_version", "gobo-quant-0")),
    "bad bits": _meta(lambda m: m["packed"][0].__setitem__("bits", "three")),
}


@pytest.mark.parametrize("case", list(LIES))
def test_consistent_entry_with_bad_contents_is_a_miss(tmp_path, capsys, entry, case):
    npz, side, clean = entry
    good = npz.read_bytes(), side.read_bytes()
    _rewrite_arrays(npz, side, LIES[case])
    assert QuantCache(npz.parent.parent).load(npz.stem)[1] == "corrupt"
    npz.write_bytes(good[0])  # load() deleted the entry: tamper again, then run
    side.write_bytes(good[1])
    _rewrite_arrays(npz, side, LIES[case])
    _same_run(tmp_path, capsys, clean)
    assert _entry_is_valid(npz)


@pytest.mark.parametrize("case", ["truncated npz", "huge sidecar", "sidecar not JSON", "sidecar a list",
                                  "npz a directory", "sidecar missing"])
def test_damaged_entry_files_are_a_miss(tmp_path, capsys, entry, case):
    npz, side, clean = entry
    if case == "truncated npz":
        npz.write_bytes(npz.read_bytes()[:100])
        _consistent_sidecar(npz, side)
    elif case == "huge sidecar":
        side.write_text(json.dumps({"pad": "x" * (1 << 20)}))
    elif case == "sidecar not JSON":
        side.write_text("{")
    elif case == "sidecar a list":
        side.write_text("[]")
    elif case == "npz a directory":
        npz.unlink()
        npz.mkdir()
    else:
        side.unlink()
    if case == "npz a directory":  # cannot be replaced by a file: the run still ends cleanly, uncached
        rc, err = cli(capsys, *RUN)
        assert rc == 0, err
        return
    _same_run(tmp_path, capsys, clean)
    assert _entry_is_valid(npz)


# ---- where the cache lives -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value,needle", [
    ("relative/cache", "absolute"),
    ("FILE", "not a directory"),
    ("/dev/null", "not a directory"),
    ("/tmp/a\x01b", "control characters"),
    ("/" + "x" * 5000, "4096"),
], ids=["relative", "a file", "dev-null", "control char", "too long"])
def test_odd_cache_dir_values_are_one_line_exit_2(tmp_path, capsys, monkeypatch, value, needle):
    if value == "FILE":
        value = str(tmp_path / "a-file")
        Path(value).write_text("not a directory")
    monkeypatch.setenv("GOBOSIM_CACHE_DIR", value)
    rc, err = cli(capsys, *RUN)
    assert rc == 2 and "GOBOSIM_CACHE_DIR" in err and needle in err, err
    assert Path(tmp_path / "a-file").read_text() == "not a directory" if value.endswith("a-file") else True


def test_empty_cache_dir_means_the_default(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GOBOSIM_CACHE_DIR", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    rc, err = cli(capsys, *RUN)
    assert rc == 0, err
    assert list((tmp_path / "home" / ".cache" / "gobosim" / "quant").glob("*.npz"))


def test_home_unset_uses_a_private_temp_dir_never_slash_cache(tmp_path, capsys, monkeypatch):
    import tempfile

    existed = os.path.lexists("/.cache")
    monkeypatch.delenv("GOBOSIM_CACHE_DIR", raising=False)
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    rc, err = cli(capsys, *RUN)
    assert rc == 0, err
    private = tmp_path / f"gobosim-cache-{os.getuid()}"
    assert list((private / "quant").glob("*.npz")) and (private.stat().st_mode & 0o777) == 0o700
    assert os.path.lexists("/.cache") == existed


def test_home_unset_and_a_foreign_temp_dir_is_exit_2(tmp_path, capsys, monkeypatch):
    import tempfile

    monkeypatch.delenv("GOBOSIM_CACHE_DIR", raising=False)
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    planted = tmp_path / f"gobosim-cache-{os.getuid()}"
    planted.mkdir(mode=0o777)
    planted.chmod(0o777)  # world-writable: someone else could have planted it
    rc, err = cli(capsys, *RUN)
    assert rc == 2 and "HOME is unset" in err and "GOBOSIM_CACHE_DIR" in err
    assert list(planted.iterdir()) == []
