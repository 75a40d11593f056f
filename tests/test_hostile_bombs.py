"""Resource bombs from a spec or a file: constraint expressions, huge grids, YAML alias bombs, deep nesting,
huge numbers, a schema-valid huge workload. Each case runs as a child process under an address-space limit and
a time limit, and must end in exit 0 or 2 with one (short) line, quickly."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import REPO
from tests.hostile import cli_batch, unclean

TIME_LIMIT_S = 20
MAX_LINE = 2000  # an error message never embeds a huge value

TINY = yaml.safe_load((REPO / "workloads" / "tiny.yaml").read_text())

CONSTRAINTS = [
    "9**9**9**9 > 0",
    "compute.rows ** 10**10 > 0",
    "'a' * 10**12 == 'a'",
    "'a' * compute.rows * 10**10 == 'b'",
    "[1] * 10**10 == []",
    "'%999999999d' % 1 == 'a'",
    "'%.999999999f' % 1.0 == ''",
    "max(1, 10**10**10) > 0",
    "abs(-9**9**9) > 0",
    "log2(10**400) > 0",
    "10**400 / 3 > 0",
    "(" * 300 + "1" + ")" * 300 + " > 0",
    " + ".join(["compute.rows"] * 20000) + " > 0",
    "-" * 50000 + "1 < 0",
    "not " * 50000 + "True",
    "compute.rows in [" + ",".join(["1"] * 200000) + "]",
    "'x' * 1000 * 1000 * 1000 == ''",
    "1 << 10**9 > 0",
]


def _spec(tmp_path: Path, name: str = "s.yaml", **over) -> Path:
    spec = {"version": 1, "base": {"hw": "tpu", "workload": "tiny"}, "functional": False,
            "axes": {"compute.rows": [8, 16]}, **over}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False, width=10**9))
    return path


_EVAL_CHILD = """
import json, sys, time
from sim.sweeps import expr
MAX_LINE = @MAX_LINE@
for text in json.loads(sys.stdin.read()):
    t0 = time.monotonic()
    try:
        expr.parse(text).evaluate({"compute.rows": 8})
        out = "ok"
    except expr.ExprError as exc:
        out = "refused" if len(str(exc)) <= MAX_LINE else "long message"
    print(json.dumps([out, time.monotonic() - t0]), flush=True)
""".replace("@MAX_LINE@", str(MAX_LINE))


def test_constraint_bombs_are_refused_by_the_evaluator():
    """The evaluator itself: every bomb refused (at parse or within the caps) in well under a second each; one
    child process under a memory limit runs them all (a hang or a MemoryError fails the test)."""
    import subprocess
    import sys

    from tests.hostile import MEMORY_LIMIT_BYTES, _limits

    res = subprocess.run([sys.executable, "-c", _EVAL_CHILD], input=json.dumps(CONSTRAINTS), capture_output=True,
                         text=True, timeout=60, cwd=REPO, preexec_fn=lambda: _limits(MEMORY_LIMIT_BYTES))
    outcomes = [json.loads(line) for line in res.stdout.splitlines()]
    assert res.returncode == 0 and len(outcomes) == len(CONSTRAINTS), (res.stderr[-2000:], outcomes)
    for text, (out, seconds) in zip(CONSTRAINTS, outcomes):
        assert out == "refused" and seconds < 1.0, (text[:80], out, seconds)


def _alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["xxxxxxxxxx", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxxxxxxx"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def file_cases(tmp_path: Path) -> dict[str, list]:
    """Every hostile file or argument of this module: {case name: sim argv}; each must exit 2 with one line."""
    cases: dict[str, list] = {}

    def f(name: str, text: str | bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return path

    # constraint bombs through a sweep (the evaluator's own caps are tested above)
    for i, text in enumerate([CONSTRAINTS[0], CONSTRAINTS[2], CONSTRAINTS[5]]):
        cases[f"sweep constraint {text[:20]}"] = ["sweep", _spec(tmp_path, f"c{i}.yaml", constraints=[text]),
                                                  "--out", tmp_path / f"oc{i}", "--quiet", "--workers", "1"]
    # huge grids and zips: refused before expansion
    axes = {"compute.rows": {"range": [1, 100001, 1]}, "compute.cols": {"range": [1, 100001, 1]},
            "buffers.weights.capacity_bytes": {"logrange": [1024, 1 << 30, 100000]}}
    for mode in ("grid", "zip", "random"):
        extra = {"samples": 5} if mode == "random" else {}
        cases[f"{mode} of 1e15 points"] = ["sweep", _spec(tmp_path, f"g{mode}.yaml", axes=axes, mode=mode, **extra),
                                           "--out", tmp_path / f"og{mode}", "--quiet"]
    # YAML alias bombs in every kind of input
    bomb = _alias_bomb()
    cases["alias bomb: hardware"] = ["validate", "--hw", f("ab-hw.yaml", "version: 1\n" + bomb + "compute: *a8\n")]
    cases["alias bomb: workload"] = ["validate", "--hw", "tpu", "--workload",
                                     f("ab-wl.yaml", yaml.safe_dump(TINY) + bomb + "name: *a8\n")]
    cases["alias bomb: spec"] = ["sweep", f("ab-s.yaml", "version: 1\nbase: {hw: tpu, workload: tiny}\n" + bomb
                                            + "axes: {compute.rows: *a8}\n"), "--out", tmp_path / "oab", "--quiet"]
    flow = "{" + bomb.replace("\n", ", ").rstrip(", ") + "}"
    cases["alias bomb: --set"] = ["validate", "--hw", "tpu", "--set", f"compute.rows={flow}"]
    cases["alias bomb: price report"] = ["price", f("ab-r.yaml", bomb + "actions: *a8\nseconds: 1\n")]
    # deep nesting
    cases["deep YAML lists"] = ["validate", "--hw", f("d1.yaml", "version: 1\ncompute: " + "[" * 5000 + "]" * 5000)]
    cases["deep YAML maps"] = ["validate", "--hw", f("d2.yaml", "version: 1\ncompute: " + "{a: " * 3000 + "1"
                                                     + "}" * 3000)]
    cases["deep JSON"] = ["validate", "--hw", f("d3.json", '{"version": 1, "compute": ' + "[" * 100000
                                                + "]" * 100000 + "}")]
    cases["deep --set"] = ["validate", "--hw", "tpu", "--set", "compute.rows=" + "[" * 5000 + "]" * 5000]
    cases["deep run report"] = ["price", f("d4.json", '{"actions": ' + "[" * 100000 + "]" * 100000 + "}")]
    deep = "[" * 100 + "1" + "]" * 100
    cases["100-dimension axis value"] = ["sweep", f("d5.yaml", "version: 1\nbase: {hw: tpu, workload: tiny}\n"
                                                    f"axes: {{compute.rows: {deep}}}\n"), "--out", tmp_path / "od5",
                                         "--quiet"]
    cases["100-dimension --set"] = ["validate", "--hw", "tpu", "--set", f"compute.rows={deep}"]
    # 5000-digit integers
    big = "9" * 5000
    cases["5000 digits: hardware"] = ["validate", "--hw", f("i1.yaml", f"version: 1\ncompute:\n  rows: {big}\n")]
    cases["5000 digits: workload"] = ["validate", "--hw", "tpu", "--workload",
                                      f("i2.yaml", yaml.safe_dump(TINY).replace("hidden: 64", f"hidden: {big}"))]
    cases["5000 digits: config.json"] = ["validate", "--hw", "tpu", "--workload",
                                         f("config.json", '{"model_type": "bert", "hidden_size": ' + big + "}")]
    cases["5000 digits: --set"] = ["validate", "--hw", "tpu", "--set", f"compute.rows={big}"]
    cases["5000 digits: --seq-len"] = ["validate", "--hw", "tpu", "--workload", "tiny", "--seq-len", big]
    cases["5000 digits: spec"] = ["sweep", f("i3.yaml", "version: 1\nbase: {hw: tpu, workload: tiny}\n"
                                             f"axes: {{compute.rows: [{big}]}}\n"), "--out", tmp_path / "oi3",
                                  "--quiet"]
    cases["5000 digits: run report"] = ["price", f("i4.json", '{"actions": {}, "seconds": ' + big + "}")]
    # a schema-valid huge workload: refused from its shapes, before the quantizer or the functional pass
    huge = {**TINY, "name": "huge", "layers": 1024, "hidden": 65536, "heads": 1024, "intermediate": 262144,
            "vocab": 4194304, "max_positions": 65536, "seq_len": 65536, "batch": 4096}
    hw_path = f("huge.yaml", yaml.safe_dump(huge))
    for hw in ("gobo", "tpu", "tcore"):
        cases[f"huge workload on {hw}"] = ["run", "--hw", hw, "--workload", hw_path]
    long_seq = {**TINY, "name": "longseq", "max_positions": 65536, "seq_len": 65536}
    cases["functional pass of a 65536-token sequence"] = ["run", "--hw", "tpu", "--workload",
                                                          f("longseq.yaml", yaml.safe_dump(long_seq))]
    # a huge (sparse) file is refused by its size, unread
    sparse = tmp_path / "sparse.yaml"
    with open(sparse, "wb") as fh:
        fh.write(b"version: 1\n# ")
        fh.truncate(64 << 20)
    cases["64 MiB configuration file"] = ["validate", "--hw", sparse]
    return cases


def test_file_and_argument_bombs_end_in_exit_2_quickly(tmp_path):
    cases = file_cases(tmp_path)
    results = cli_batch(cases, timeout=240)
    assert len(results) == len(cases)
    ok_random = results.pop("random of 1e15 points")  # random mode may draw its samples (exit 0) or refuse
    assert not unclean({"random": ok_random}, max_seconds=TIME_LIMIT_S)
    assert not unclean(results, expect=(2,), max_seconds=TIME_LIMIT_S, max_chars=MAX_LINE)
    assert not (tmp_path / "ogrid" / "results.csv").exists()
    assert "huge" in results["huge workload on gobo"][1]
