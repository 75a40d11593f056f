"""Fuzzing the ``sim`` command line with hypothesis: hardware files, ``--set``, workload files (YAML and Hugging
Face ``config.json``), ``--seq-len``/``--batch`` and whole argument vectors.

The contract (docs/ARCHITECTURE.md, CLI): exit 0, or exit 2 with exactly one line on stderr and no traceback; never exit 1
on bad input, never a traceback, never a hang. A configuration ``sim validate`` accepts must also *run* on the
``tiny`` workload: finish (within the per-case time limit) or be refused with a one-line reason (exit 2).

CLI cases run in-process (``sim.cli.main(argv)`` with stdout/stderr redirected, each under a time limit), which is
~50x faster than a subprocess; ``test_process_level_cases`` runs a handful as real ``python -m sim`` processes.

Profiles, the long-run command and the tolerance of known bugs: see ``tests/test_fuzz_config.py`` (same switches:
``GOBOSIM_FUZZ_PROFILE=long``, ``GOBOSIM_FUZZ_STRICT=1``)::

    GOBOSIM_FUZZ_PROFILE=long python -m pytest tests/test_fuzz_config.py tests/test_fuzz_cli.py

Bounding the runs: the fuzzer's numbers are not clamped for the hardware (a valid hardware file of any size runs
on ``tiny``: it finishes or is refused); for workloads, whose size is the simulation's size, only workloads below
``RUN_MACS_LIMIT`` encoder MACs and ``RUN_PARAMS_LIMIT`` weights are run (the others are validated only). Workloads
with more than ``LAYERS_LIMIT`` layers or a batch above ``BATCH_LIMIT`` are not generated: they used to hang
(bugs layers-unbounded, batch-unbounded; the schema now caps layers at 1024 and batch at 4096, so the filter is
a guard against a regression). Every in-process case also runs under ``memory_limit`` (address space capped at
the current size + 4 GiB): a time limit cannot interrupt one huge numpy allocation, and an uncapped case once
grew a test process to 24 GB and got it OOM-killed.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, event, given
from hypothesis import strategies as st

from sim.cli import main
from sim.errors import SimInputError
from sim.workload import encoder_macs_closed_form, load_workload, lower
from tests.test_fuzz_config import (
    HF_CONFIGS,
    HW_PRESETS,
    NASTY_TEXT,
    TEXT,
    VALUES,
    CaseTimeout,
    ProcResult,
    _preset_raw,
    _preset_text,
    dotted,
    dump_yaml,
    fuzz_settings,
    known_bug,
    memory_limit,
    mutate,
    paths_of,
    preset_raw,
    run_processes,
    set_items,
    time_limit,
    xfail_bug,
)

REPO = Path(__file__).resolve().parents[1]
CASE_TIME_LIMIT_S = 10.0  # per CLI call; a run on tiny takes ~0.02-1 s
RUN_MACS_LIMIT = 5 * 10**7  # workloads above this many encoder MACs are validated, not run (tiny: 2.6e6)
RUN_PARAMS_LIMIT = 2 * 10**7  # ... or above this many weights (the functional pass materializes them; tiny: 0.2e6)
LAYERS_LIMIT = 4096
BATCH_LIMIT = 4096


# -- running the CLI in-process -----------------------------------------------------------------------------
@dataclass
class CliResult:
    argv: list[str]
    rc: int | None  # None: main() raised (a traceback in a real process) or the case timed out
    stdout: str
    stderr: str
    raised: BaseException | None
    seconds: float
    timed_out: bool = False

    @property
    def signature(self) -> str:
        """What a known bug is recognised by: the escaped exception, else stderr."""
        if self.raised is not None:
            return f"{type(self.raised).__name__}: {self.raised}"
        return self.stderr


def cli(argv: list[str], seconds: float = CASE_TIME_LIMIT_S) -> CliResult:
    """``sim ARGV`` in-process: exit code, output, and whatever escaped ``main``."""
    out, err = io.StringIO(), io.StringIO()
    rc: int | None = None
    raised = None
    timed_out = False
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), memory_limit(), time_limit(seconds):
            rc = main(argv)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except CaseTimeout:
        timed_out = True
    except BaseException as exc:  # noqa: BLE001 - a traceback in a real process
        raised = exc
    return CliResult(list(argv), rc, out.getvalue(), err.getvalue(), raised, time.perf_counter() - start, timed_out)


def check_cli(res: CliResult, scope: str, context: Any = None) -> str:
    """Assert the CLI contract; returns "ok", "refused" (exit 2) or "known-bug"."""
    where = f"sim {' '.join(res.argv)!r}" + (f" ({context!r})" if context is not None else "")
    assert not res.timed_out, f"hang: no exit after {res.seconds:.1f} s: {where}"
    if res.raised is not None:
        if known_bug(res.signature, scope):
            return "known-bug"
        raise AssertionError(f"traceback: {res.signature}: {where}") from res.raised
    if res.rc == 1 and known_bug(res.stderr, scope):
        return "known-bug"
    assert res.rc in (0, 2), f"exit {res.rc}: {res.stderr.strip()[:500]}: {where}"
    assert "Traceback" not in res.stderr, f"traceback on stderr: {res.stderr[-800:]}: {where}"
    if res.rc == 2:
        lines = res.stderr.splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {res.stderr[:800]!r}: {where}"
        assert lines[0].startswith("sim") and "error" in lines[0], f"unexpected message {lines[0]!r}: {where}"
        return "refused"
    return "ok"


def _reject_constant(name: str):
    raise ValueError(f"non-finite number {name} in a JSON report")


def check_report(path: Path, context: Any) -> dict:
    """A run's JSON report: strict JSON (no NaN/Infinity), the totals present and sane."""
    report = json.loads(path.read_text(), parse_constant=_reject_constant)
    for key in ("hw", "workload", "cycles", "seconds", "ops", "config", "dram_read_bytes", "utilization"):
        assert key in report, (key, context)
    assert isinstance(report["cycles"], int) and report["cycles"] >= 0, (report["cycles"], context)
    assert report["seconds"] >= 0 and 0 <= report["utilization"] <= 1 + 1e-9, context
    return report


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-cli")


# -- value strategies: mostly plausible (so that many mutations stay valid and get run), some junk ---------------
CHOICES = ["gobo", "systolic", "tensorcore", "ws", "os", "is", "ibert", "ivit", "ddr4-3200", "lpddr4-3200", "hbm2",
           "int8", "fp16", "horowitz45", "bert", "roberta", "distilbert", "vit", "gelu", "relu"]
EXTREME_INTS = [0, -1, 1, 2**31, 2**63, 2**70, 10**6]
EXTREME_FLOATS = [0.0, -0.0, 1e-300, 5e-324, 1e30, 1e308, -1e308, math.nan, math.inf, -math.inf]


def plausible(current: Any) -> st.SearchStrategy:
    """A value of the same kind as ``current``: mostly small and near it (often valid), sometimes extreme."""
    if isinstance(current, bool):
        return st.booleans()
    if isinstance(current, int):
        near = st.one_of(st.sampled_from(sorted({1, 2, 3, 4, current, max(1, current // 2), max(1, current * 2)})),
                         st.integers(1, max(8, 2 * current)))
        return st.one_of(*[near] * 6, st.sampled_from(EXTREME_INTS))
    if isinstance(current, float):
        near = st.floats(current / 100, current * 100) if current > 0 else st.floats(-20.0, 0.0)
        return st.one_of(*[near] * 6, st.sampled_from(EXTREME_FLOATS))
    if isinstance(current, str):
        return st.one_of(*[st.just(current)] * 4, st.sampled_from(CHOICES), NASTY_TEXT)
    return VALUES


CLI_OPS = ("set",) * 12 + ("delete", "add", "top")  # mostly value changes: many stay valid and get run


def cli_values(path: tuple, current: Any) -> st.SearchStrategy:
    """Half the examples: plausible values only (many configurations stay valid and get run); else anything."""
    if current is None:  # a new (unknown) key
        return VALUES
    return st.one_of(plausible(current), VALUES)


def plausible_values(path: tuple, current: Any) -> st.SearchStrategy:
    return VALUES if current is None else plausible(current)


def cli_mutations(raw: dict, junk: bool) -> st.SearchStrategy:
    """Junk examples: any value, any operation; the others: plausible values, value changes only."""
    if junk:
        return mutate(raw, values=cli_values, max_mutations=2, ops=CLI_OPS)
    return mutate(raw, values=plausible_values, max_mutations=2, ops=("set",))


# -- hardware files: validate, then run on tiny -------------------------------------------------------------
@fuzz_settings(60)
@given(data=st.data(), name=st.sampled_from(HW_PRESETS), junk=st.booleans())
def test_fuzz_cli_hardware_file(workdir, data, name, junk):
    raw, muts = data.draw(cli_mutations(preset_raw("hwconfigs", name), junk), label="mutations")
    hw = workdir / "hw.yaml"
    hw.write_text(dump_yaml(raw))
    val = cli(["validate", "--hw", str(hw)])
    verdict = check_cli(val, "cli-hw", muts)
    if verdict == "refused":
        assert hw.name in val.stderr, f"the error does not name the file: {val.stderr!r}"
    out = workdir / "report.json"
    out.unlink(missing_ok=True)
    run = cli(["run", "--hw", str(hw), "--workload", "tiny", "--json", str(out)])
    run_verdict = check_cli(run, "cli-hw", muts)
    if verdict == "refused" and run_verdict != "known-bug":
        assert run_verdict == "refused", f"validate refused the file but run accepted it: {val.stderr!r}"
    if run_verdict == "ok":
        check_report(out, muts)
    event(f"validate {verdict}, run {run_verdict}")


# -- --set ------------------------------------------------------------------------------------------------
@st.composite
def plausible_set_items(draw, raw: dict) -> list[str]:
    """1..3 ``--set`` items on real leaf keys with plausible (often valid) values, or fully junk items."""
    leaves = [p for p in paths_of(raw) if not isinstance(_get(raw, p), dict)]
    items = []
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(leaves))
        value = draw(plausible(_get(raw, path)))
        text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**6)
        items.append(f"{dotted(path)}={text.removesuffix(chr(10)).removesuffix(chr(10) + '...')}")
    return items


def _get(raw: Any, path: tuple) -> Any:
    for part in path:
        raw = raw[part]
    return raw


@fuzz_settings(60)
@given(data=st.data(), name=st.sampled_from(HW_PRESETS), junk=st.booleans())
def test_fuzz_cli_set(workdir, data, name, junk):
    raw = _preset_raw("hwconfigs", name)
    items = data.draw(set_items(raw) if junk else plausible_set_items(raw), label="sets")
    sets = [arg for item in items for arg in ("--set", item)]
    val = cli(["validate", "--hw", name, *sets])
    verdict = check_cli(val, "cli-set", items)
    if verdict != "ok":
        event(f"validate {verdict}")
        return
    out = workdir / "set-report.json"
    out.unlink(missing_ok=True)
    run = cli(["run", "--hw", name, "--workload", "tiny", "--json", str(out), *sets])
    run_verdict = check_cli(run, "cli-set", items)
    if run_verdict == "ok":
        check_report(out, items)
    event(f"validate ok, run {run_verdict}")


# -- workload files (YAML and Hugging Face config.json) ------------------------------------------------------
WL_BASES = ["tiny", "tiny", "tiny", "minilm-l6", "distilbert", "vit-base"]
FLAG_VALUES = st.one_of(st.none(), st.none(), st.sampled_from(
    ["1", "2", "8", "16", "64", "65", "512", "0", "-1", "abc", "", " 4", "1e3", "٣", "4.0", "99999999999999999999"]))


def _int_flag(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)  # what argparse's type=int does
    except ValueError:
        return None


def _parameters(wl) -> int:
    """Weights of a workload (all tensors of its graph: embeddings, position and classifier tables included; the
    encoder-MACs bound alone lets max_positions x hidden reach gigabytes)."""
    return sum(math.prod(t.shape) for t in lower(wl).tensors)


def _loads_or_none(path: Path, seq_len: int | None, batch: int | None):
    try:
        with time_limit(10):
            return load_workload(path, seq_len=seq_len, batch=batch)
    except SimInputError:
        return None
    except Exception:  # noqa: BLE001 - the CLI call below reports it
        return None


@fuzz_settings(60)
@given(data=st.data(), hf=st.booleans(), junk=st.booleans(), seq_len=FLAG_VALUES, batch=FLAG_VALUES)
def test_fuzz_cli_workload_file(workdir, data, hf, junk, seq_len, batch):
    if hf:
        name = data.draw(st.sampled_from(sorted(HF_CONFIGS)), label="config")
        raw, muts = data.draw(cli_mutations(copy.deepcopy(HF_CONFIGS[name]), junk), label="mutations")
        path = workdir / "config.json"
        try:
            path.write_text(json.dumps(raw))
        except (TypeError, ValueError):
            path.write_text(json.dumps(raw, default=str, skipkeys=True))
    else:
        name = data.draw(st.sampled_from(WL_BASES), label="workload")
        raw, muts = data.draw(cli_mutations(preset_raw("workloads", name), junk), label="mutations")
        path = workdir / "wl.yaml"
        path.write_text(dump_yaml(raw))
    flags = (["--seq-len", seq_len] if seq_len is not None else []) + (["--batch", batch] if batch is not None else [])
    wl = _loads_or_none(path, _int_flag(seq_len), _int_flag(batch))
    # bugs layers-unbounded / batch-unbounded (fixed: the schema caps both): a guard against a regression
    assume(wl is None or (wl.layers <= LAYERS_LIMIT and wl.batch <= BATCH_LIMIT))
    val = cli(["validate", "--hw", "tpu", "--workload", str(path), *flags])
    verdict = check_cli(val, "cli-workload", muts)
    if verdict == "refused" and not val.stderr.split(": error: ", 1)[-1].startswith(("--seq-len", "--batch", "argument")):
        assert path.name in val.stderr, f"the error names no file: {val.stderr!r}"
    if verdict != "ok" or wl is None:
        event(f"validate {verdict}")
        return
    if encoder_macs_closed_form(wl) > RUN_MACS_LIMIT or _parameters(wl) > RUN_PARAMS_LIMIT:
        event("validate ok, too big to run")
        return
    out = workdir / "wl-report.json"
    out.unlink(missing_ok=True)
    run = cli(["run", "--hw", "tpu", "--workload", str(path), "--json", str(out), *flags])
    run_verdict = check_cli(run, "cli-workload", muts)
    if run_verdict == "ok":
        report = check_report(out, muts)
        assert report["seq_len"] == wl.seq_len and report["batch"] == wl.batch
    event(f"validate ok, run {run_verdict}")


# -- whole argument vectors -----------------------------------------------------------------------------------
@contextlib.contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


_JUNK_HW = "junk-hw.yaml"
_OPTIONS = {  # option -> its values (only fast workloads: tiny, or files/names that fail)
    "--hw": ["gobo", "tpu", "tcore", "gobo-compress-tpu", "gobo.yaml", "nope", "", _JUNK_HW, "."],
    "--workload": ["tiny", "tiny.yaml", "nope", "", _JUNK_HW, "config.json"],
    "--set": ["compute.tiles=2", "compute.rows=8", "x=1", "garbage", "clock_hz=abc", "compute.kind=gobo", "="],
    "--seq-len": ["8", "16", "0", "-1", "x", "65"],
    "--batch": ["1", "2", "0", "-3", "x"],
    "--json": ["out.json", "", ".", "sub/dir/out.json", "/", "out", "n" * 300 + ".json"],
    "--csv": ["out.csv", ".", ""],
    "--iso": ["area", "peak", "none", "x"],
    "--bits": ["2", "3", "8", "1", "9", "x"],
    "--embedding-bits": ["2", "4", "0", "x"],
    "--threshold": ["-4", "0", "5", "nan", "inf", "x"],
    "--seed": ["0", "1", "-1", "x", "99999999999999999999"],
    "--weights": ["nope.safetensors", _JUNK_HW, ""],
    "--plot": ["hist.png", "hist.svg", "hist.xyz", "", "."],
    "--tensor": ["nope", "encoder.layer.0.intermediate.dense.weight"],
}
_FLAGS = ["--functional", "--no-functional", "--help", "--version", "-h", "--", "-", "--unknown"]
_COMMANDS = ["run", "validate", "compare", "quantize", "sweep", "plot", "area", "price", "", "RUN", "frobnicate"]


@st.composite
def argvs(draw) -> list[str]:
    argv = [draw(st.sampled_from(_COMMANDS))] if draw(st.integers(0, 9)) else []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 9))
        if kind < 7:
            opt = draw(st.sampled_from(sorted(_OPTIONS)))
            argv.append(opt)
            if draw(st.integers(0, 9)):
                argv.append(draw(st.sampled_from(_OPTIONS[opt])))
        elif kind < 9:
            argv.append(draw(st.sampled_from(_FLAGS)))
        else:
            argv.append(draw(TEXT))
    return argv


@fuzz_settings(100)
@given(argv=argvs())
def test_fuzz_cli_argv(workdir, argv):
    base = workdir / "argv"
    base.mkdir(exist_ok=True)
    (base / _JUNK_HW).write_text("version: 1\nname: [junk\n")
    (base / "config.json").write_text(json.dumps(HF_CONFIGS["all-MiniLM-L6-v2"]))
    with _cwd(base):
        res = cli(argv)
    event(f"{argv[0] if argv else '-'}: {check_cli(res, 'cli-argv')}")


# -- a handful of real processes ------------------------------------------------------------------------------
def _process_cases(tmp: Path) -> dict[str, tuple[list[str], set[int]]]:
    junk = tmp / "junk.yaml"
    junk.write_text(_preset_text("hwconfigs", "gobo").replace("tiles: 16", "tiles: [16, ü]", 1) + "ключ: 1\n")
    binary = tmp / "binary.yaml"
    binary.write_bytes(bytes(range(256)))
    syntax = tmp / "syntax.yaml"
    syntax.write_text("version: 1\ncompute: {kind: gobo\n")
    hf = tmp / "config.json"
    cfg = dict(HF_CONFIGS["bert-base-uncased"], num_attention_heads=7)
    hf.write_text(json.dumps(cfg))
    return {
        "junk-file": (["validate", "--hw", str(junk)], {2}),
        "binary-file": (["run", "--hw", str(binary), "--workload", "tiny"], {2}),
        "syntax-error": (["validate", "--hw", str(syntax)], {2}),
        "bad-set": (["run", "--hw", "gobo", "--workload", "tiny", "--set", "compute.tiles=-1"], {2}),
        "hf-heads": (["validate", "--hw", "tpu", "--workload", str(hf)], {2}),
        "usage": (["run", "--hw"], {2}),
        "ok-tpu": (["run", "--hw", "tpu", "--workload", "tiny", "--set", "compute.rows=8", "--set", "compute.cols=8"],
                   {0}),
        "ok-validate": (["validate", "--hw", "gobo", "--workload", "tiny"], {0}),
    }


def test_process_level_cases(tmp_path):
    """The same contract with real processes (exit status, stderr, no traceback), all started at once."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = {}
    for case, (argv, expected) in _process_cases(tmp_path).items():
        procs[case] = (subprocess.Popen([sys.executable, "-m", "sim", *argv], cwd=tmp_path, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE), expected)
    for case, (proc, expected) in procs.items():
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"{case}: no exit after 120 s")
        assert proc.returncode in expected, (case, proc.returncode, err[-800:])
        assert "Traceback" not in err, (case, err[-800:])
        if proc.returncode == 2:
            assert len(err.strip().splitlines()) == 1, (case, err)
        else:
            assert err == "" and out, (case, err)


# -- dedicated tests of the known CLI bugs (strict xfail: an XPASS means fixed - remove the marker) -------------
@xfail_bug("valueerror-traceback")
def test_bug_value_error_escapes_main(monkeypatch):
    import sim.api

    def boom(*args, **kwargs):
        raise ValueError("an internal ValueError")

    monkeypatch.setattr(sim.api, "run", boom)
    res = cli(["run", "--hw", "tpu", "--workload", "tiny"])
    assert res.raised is None, f"escaped main(): {res.signature}"
    assert res.rc == 1 and len(res.stderr.splitlines()) == 1 and "internal error" in res.stderr


@xfail_bug("valueerror-traceback", " (seen from a real process: an HF config.json with a text max_position_embeddings)")
def test_bug_value_error_traceback_in_a_process(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(dict(HF_CONFIGS["bert-base-uncased"], max_position_embeddings="abc")))
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "sim", "validate", "--hw", "tpu", "--workload", str(cfg)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr and proc.returncode == 2, proc.stderr[-800:]


@xfail_bug("huge-int-overflow")
@pytest.mark.parametrize("key", ["compute.decode_latency_cycles", "compute.add_latency_cycles",
                                 "compute.outlier_macs_per_cycle"])
def test_bug_huge_valid_integers_overflow(key):
    res = cli(["run", "--hw", "gobo", "--workload", "tiny", "--set", f"{key}={2**70}"])
    assert check_cli(res, "strict") in ("ok", "refused")


@xfail_bug("clock-overflow")
def test_bug_huge_clock_overflows():
    res = cli(["run", "--hw", "gobo", "--workload", "tiny", "--set", "clock_hz=1e308"])
    assert check_cli(res, "strict") in ("ok", "refused")


def test_subnormal_clock_is_refused_or_reported_finite(tmp_path):
    """clock_hz=5e-324 makes seconds infinite: once a traceback (ValueError from json.dumps, re-raised by main),
    fixed during this work (now refused: "energy model: seconds must be a number >= 0, got inf")."""
    out = tmp_path / "r.json"
    res = cli(["run", "--hw", "tpu", "--workload", "tiny", "--set", "clock_hz=5e-324", "--json", str(out)])
    if check_cli(res, "strict") == "ok":
        check_report(out, "clock_hz=5e-324")


HANG_CPU_LIMIT_S = 5  # CPU seconds per process; a fixed library refuses these in well under a second


@pytest.fixture(scope="module")
def hang_results(tmp_path_factory) -> dict[str, ProcResult]:
    """The hang reproducers, as processes with a memory limit (they allocate ~50-75 MB/s while they spin), all at
    once, killed after HANG_CPU_LIMIT_S seconds of CPU time."""
    d = tmp_path_factory.mktemp("hangs")
    (d / "layers.yaml").write_text(_preset_text("workloads", "tiny").replace("layers: 2 ", f"layers: {2**70} ", 1))
    assert f"layers: {2**70}" in (d / "layers.yaml").read_text()
    return run_processes({
        "batch-unbounded": (["run", "--hw", "tpu", "--workload", "tiny", "--batch", str(2**70)], d),
        "layers-unbounded": (["validate", "--hw", "tpu", "--workload", "layers.yaml"], d),
    }, 60.0, cpu_seconds=HANG_CPU_LIMIT_S)


@pytest.mark.parametrize("bug", [pytest.param(b, marks=xfail_bug(b), id=b)
                                 for b in ("batch-unbounded", "layers-unbounded")])
def test_bug_huge_sizes_hang(hang_results, bug):
    res = hang_results[bug]
    assert res.returncode is not None and res.returncode >= 0, (
        f"{bug}: killed after {res.seconds:.1f} s (CPU limit {HANG_CPU_LIMIT_S} s): {res.stderr[-300:]}")
    assert res.returncode in (0, 2) and "Traceback" not in res.stderr, res.stderr[-500:]
    if res.returncode == 2:
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr


@xfail_bug("quantize-plot-format")
def test_bug_quantize_plot_unknown_format(tmp_path):
    res = cli(["quantize", "--workload", "tiny", "--plot", str(tmp_path / "hist.xyz")])
    assert check_cli(res, "strict") == "refused"


def test_compare_iso_area_and_run_functional_work():
    """Both were exit 1 at the start of this work (NameError scale_to_area; ModuleNotFoundError
    sim.functional.check), then implemented by others: kept as regressions of the fuzz vocabulary."""
    assert check_cli(cli(["compare", "--workload", "tiny", "--hw", "gobo", "tpu", "--iso", "area"]), "strict") == "ok"
    assert check_cli(cli(["run", "--hw", "tpu", "--workload", "tiny", "--functional"]), "strict") == "ok"


@xfail_bug("output-path-oserror")
@pytest.mark.parametrize("command", [["run", "--hw", "tpu", "--workload", "tiny", "--no-functional"],
                                     ["compare", "--workload", "tiny", "--hw", "tpu"],
                                     ["quantize", "--workload", "tiny"]])
def test_bug_output_path_refused_by_the_os(tmp_path, command):
    """check_writable() accepts a 300-byte file name in a writable directory; the write fails after the run."""
    res = cli([*command, "--json", str(tmp_path / ("x" * 300 + ".json"))])
    assert check_cli(res, "strict") == "refused"
    assert res.stdout == "", "the bad output path should be refused before any work"


@xfail_bug("tcore-latency-zero")
@pytest.mark.parametrize("hw", ["tcore", "gobo-compress-tcore"])
def test_bug_tensorcore_zero_pipeline_latency(hw):
    """What validate accepts, run must run (or refuse with a reason): found by the long fuzz profile."""
    sets = ["--set", "compute.pipeline_latency_cycles=0"]
    # fixed: the schema now requires >= 1 like the timing model, so validate and run refuse alike
    assert check_cli(cli(["validate", "--hw", hw, *sets]), "strict") == "refused"
    assert check_cli(cli(["run", "--hw", hw, "--workload", "tiny", *sets]), "strict") == "refused"

