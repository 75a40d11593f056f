"""Hostile names and numbers: control characters in names never reach the terminal raw, report numbers out of
range (1e308 seconds, 10**400 counts, NaN) are refused with one line, HOME unset changes nothing printed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.hostile import assert_clean, cli, cli_batch, unclean

EVIL = "evil\n\x1b[31mred\x07\r\u202eright"


def _raw(text: str) -> bool:
    """True if ``text`` holds a control character other than newline (what a terminal would act on)."""
    return any(not ch.isprintable() and ch not in "\n\t" for ch in text)


@pytest.fixture
def hf_config(tmp_path) -> Path:
    cfg = {"model_type": "bert", "_name_or_path": EVIL, "num_hidden_layers": 2, "hidden_size": 64,
           "num_attention_heads": 4, "intermediate_size": 256, "vocab_size": 1000, "max_position_embeddings": 64}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return path


@pytest.mark.parametrize("command", ["run", "validate", "compare"])
def test_names_from_a_downloaded_config_are_escaped(hf_config, command):
    args = {"run": ["run", "--hw", "tpu", "--workload", hf_config, "--no-functional"],
            "validate": ["validate", "--hw", "tpu", "--workload", hf_config],
            "compare": ["compare", "--hw", "tpu", "tcore", "--workload", hf_config]}[command]
    rc, out, err = cli(*args)
    assert_clean(rc, err, (0,))
    assert not _raw(out) and not _raw(err)
    if command != "validate":  # validate prints YAML, which quotes and escapes the name itself
        assert "evil\\n\\x1b[31mred" in out.splitlines()[0] or any("evil\\n" in line for line in out.splitlines())


def test_names_from_a_report_are_escaped(tmp_path, run_json):
    data = json.loads(run_json.read_text())
    path = tmp_path / "r.json"
    path.write_text(json.dumps({**data, "hw": EVIL, "workload": EVIL}))
    rc, out, err = cli("price", path)
    assert_clean(rc, err, (0,))
    assert not _raw(out) and out.splitlines()[0].startswith("evil\\n")
    rc, out, err = cli("plot", path, "--out", tmp_path / "figs", "--kind", "latency")
    assert_clean(rc, err, (0,))
    assert not _raw(out)


def test_report_numbers_out_of_range_are_refused(tmp_path, run_json):
    data = json.loads(run_json.read_text())
    first = next(iter(data["actions"]))
    action = next(iter(data["actions"][first]))

    def report(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    def with_(name: str, **fields) -> Path:
        return report(name, json.dumps({**data, **fields}))

    big_count = json.dumps({**data, "actions": {**data["actions"], first: {action: 1}}}).replace(
        f'"{action}": 1', f'"{action}": ' + "9" * 400)
    nan_seconds = json.dumps({**data, "seconds": 1.0}).replace('"seconds": 1.0', '"seconds": NaN')
    cases = {
        "price: 1e308 seconds": ["price", with_("s308.json", seconds=1e308)],
        "price: seconds NaN": ["price", report("snan.json", nan_seconds)],
        "price: seconds Infinity": ["price", report("sinf.json", nan_seconds.replace("NaN", "Infinity"))],
        "price: 10**400 action count": ["price", report("c400.json", big_count)],
        "price: 1e300 action count": ["price", report("c300.json", big_count.replace("9" * 400, "1e300"))],
        "plot: 10**400 cycles": ["plot", report("p400.json", json.dumps(data).replace(
            f'"cycles": {data["cycles"]}', '"cycles": ' + "9" * 400)), "--out", tmp_path / "f1"],
        "plot: NaN energy": ["plot", report("pnan.json", json.dumps({**data, "energy_pj": 1.0}).replace(
            '"energy_pj": 1.0', '"energy_pj": NaN')), "--out", tmp_path / "f2"],
        "plot: 1e308 seconds": ["plot", with_("p308.json", seconds=1e308), "--out", tmp_path / "f3"],
    }
    csv = tmp_path / "sweep" / "results.csv"
    csv.parent.mkdir()
    csv.write_text("point_id,compute.rows,cycles,seconds,energy_pj,status,error\n"
                   "a,8,10,1e308,5,ok,\nb,16,inf,1,5,ok,\n")
    cases["plot: sweep results with inf"] = ["plot", csv.parent, "--out", tmp_path / "f4"]
    results = cli_batch(cases)
    assert not unclean(results, expect=(2,))
    assert "seconds" in results["price: 1e308 seconds"][1]
    assert not any((tmp_path / f"f{i}").exists() and os.listdir(tmp_path / f"f{i}") for i in range(1, 5))


def test_home_unset_changes_nothing_printed(tmp_path, run_json):
    cache_before = os.path.exists("/.cache")
    env = {"HOME": None, "GOBOSIM_CACHE_DIR": str(tmp_path / "cache"), "MPLCONFIGDIR": None}
    from tests.hostile import cli_proc

    rc, out, err = cli_proc("price", run_json, env=env, cwd=tmp_path)
    assert_clean(rc, err, (0,)) and err == ""
    rc, out, err = cli_proc("plot", run_json, "--out", tmp_path / "figs", "--kind", "latency", env=env, cwd=tmp_path)
    assert_clean(rc, err, (0,))
    assert cache_before or not os.path.exists("/.cache")
