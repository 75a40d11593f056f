"""The per-point caches of the timing path never change a report and are never served stale: validated hardware
configurations (by file text and ``--set`` items), operator graphs (by workload), GOBO blocks' timings (by the
very frozen outlier arrays), step multiplicities in the action counts, the dict views of frozen counts."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from sim import prepare as prepare_module
from sim.compute.gobo import unit as gobo_unit
from sim.config import loader
from sim.config.files import builtin_dir
from sim.errors import SimInputError
from sim.hw.timing import FrozenCounts, TileTiming
from sim.mapping.plan import Step
from sim.prepare import graph_of, prepare
from sim.simulate import count_actions, simulate
from sim.workload.graph import lower
from sim.workload.loader import load_workload


def _report(*args, **kwargs) -> str:
    return json.dumps(simulate(prepare(*args, **kwargs)).to_dict())  # key order kept: byte-identical


def _fresh(monkeypatch) -> None:
    """Empty every per-point memo of this module's subject (a cold process)."""
    monkeypatch.setattr(loader, "_HW_MEMO", {})
    monkeypatch.setattr(prepare_module, "_GRAPHS", {})
    monkeypatch.setattr(gobo_unit, "_BLOCKS", {})


@pytest.mark.parametrize("hw", ["gobo", "tpu"])
def test_cached_report_equals_a_fresh_one(hw: str, monkeypatch) -> None:
    _fresh(monkeypatch)
    cold = _report(hw, "tiny")
    assert _report(hw, "tiny") == cold  # every memo hit
    if hw == "gobo":
        assert gobo_unit._BLOCKS  # the blocks' timings were remembered (and served above)
    _fresh(monkeypatch)
    assert _report(hw, "tiny") == cold


def test_set_override_is_not_served_a_cached_design(monkeypatch) -> None:
    _fresh(monkeypatch)
    base = _report("gobo", "tiny")
    wide = _report("gobo", "tiny", sets=["compute.tiles=2"])
    assert wide != base
    _fresh(monkeypatch)
    assert _report("gobo", "tiny", sets=["compute.tiles=2"]) == wide  # the cached blocks of 2 tiles are its own
    assert _report("gobo", "tiny") == base


def test_hardware_memo_follows_the_file_text_and_the_overrides(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(loader, "_HW_MEMO", {})
    path = tmp_path / "hw.yaml"
    shutil.copy(builtin_dir("hwconfigs") / "gobo.yaml", path)
    first = loader.load_hardware(path)
    assert loader.load_hardware(path) is first  # served from the memo
    assert loader.load_hardware(path, ["compute.tiles=2"]).compute.tiles == 2
    assert loader.load_hardware(path) is first
    text = path.read_text()
    # an edit within the file's mtime granularity is still seen: the key is the text itself
    edited = text.replace("clock_hz:", "clock_hz: 5.0e8 #", 1)
    path.write_text(edited)
    second = loader.load_hardware(path)
    assert second is not first and second.clock_hz == 5.0e8
    path.write_text(text.replace("version: 1", "version: 1\nbogus_key: 3", 1))
    for _ in range(2):  # a bad file is refused every time (errors are never kept)
        with pytest.raises(SimInputError, match="bogus_key"):
            loader.load_hardware(path)


def test_graph_memo_is_keyed_by_the_whole_workload(monkeypatch) -> None:
    monkeypatch.setattr(prepare_module, "_GRAPHS", {})
    wl = load_workload("tiny")
    g = graph_of(wl)
    assert graph_of(load_workload("tiny")) is g  # an equal spec, another object
    assert g == lower(wl)
    longer = load_workload("tiny", seq_len=wl.seq_len * 2)
    assert graph_of(longer) is not g and graph_of(longer) == lower(longer)
    assert graph_of(dataclasses.replace(wl, batch=2)).workload.batch == 2


def test_blocks_memo_needs_the_very_frozen_arrays(monkeypatch) -> None:
    monkeypatch.setattr(gobo_unit, "_BLOCKS", {})
    prep = prepare("gobo", "tiny")
    simulate(prep)
    keys = set(gobo_unit._BLOCKS)
    assert keys
    for ref_counts, ref_columns, _ in gobo_unit._BLOCKS.values():
        assert not ref_counts().flags.writeable  # only read-only arrays stand for their timings
        assert ref_columns is None or not ref_columns().flags.writeable
    simulate(prepare("gobo", "tiny", qmodel=prep.qmodel))  # the same packed tensors (a sweep worker's later points)
    assert set(gobo_unit._BLOCKS) == keys  # the same arrays: hits, nothing new
    simulate(prepare("gobo", "tiny", sets=["compute.tiles=2"], qmodel=prep.qmodel))
    assert len(gobo_unit._BLOCKS) > len(keys)  # another tile count: its own entries


def _step(op: str, acts: dict[str, int], sram: dict) -> Step:
    return Step(op, "matrix", TileTiming(3, acts), sram=sram)


def test_count_actions_with_shared_steps_equals_distinct_copies() -> None:
    a = _step("x", {"mac": 2, "reg": 1}, {"sram.weights": {"read_bytes": 5}})
    b = _step("y", {"reg": 4, "mac": 1}, {"sram.outputs": {"write_bytes": 7}, "sram.weights": {"read_bytes": 1}})
    c = _step("x", {"add": 9}, {"sram.weights": {"write_bytes": 2, "read_bytes": 3}})
    shared = [a, b, a, c, b, a]
    copies = [dataclasses.replace(s) for s in shared]  # distinct step objects with equal contents
    got, want = count_actions(shared, "gobo"), count_actions(copies, "gobo")
    assert json.dumps(got) == json.dumps(want)  # values and key order
    assert got[0]["gobo"] == {"mac": 8, "reg": 11, "add": 9}


def test_frozen_counts_views_are_the_mapping_views() -> None:
    f = FrozenCounts({"b": 2, "a": 0, "c": 3})
    assert list(f.items()) == [("b", 2), ("c", 3)] and list(f.keys()) == ["b", "c"] and list(f.values()) == [2, 3]
    assert f.get("b") == 2 and f.get("a") is None and f.get("a", 0) == 0
    assert "c" in f and "a" not in f
    assert f == {"b": 2, "c": 3} and dict(f) == {"b": 2, "c": 3}


def test_blocks_memo_first_steps_are_the_blocks_plus_the_dictionary_load(monkeypatch) -> None:
    from sim.compute.gobo.timing import gobo_parallel_dictionary_timing
    from sim.simulate import map_steps

    monkeypatch.setattr(gobo_unit, "_BLOCKS", {})
    prep = prepare("gobo", "tiny")
    unit = prep.unit
    works = [s.work for s in map_steps(prep)[2] if s.work is not None and s.work.kind == "weight-gemm"]
    firsts = [w for w in works if w.first]
    assert firsts and len(firsts) < len(works)
    for w in firsts:
        assert w.tile is not None
        blocks, n_blocks = unit._blocks_timing(w.m, w.k, w.tile, w.tile.operand)  # not memoised
        want = blocks + gobo_parallel_dictionary_timing(unit.params, n_blocks, unit.tiles)
        assert want != blocks
        for _ in range(2):  # computed, then served
            assert unit.weight_gemm_timing(w.m, w.k, w.n, w.tile, first=True) == want
            assert unit.weight_gemm_timing(w.m, w.k, w.n, w.tile, first=False) == blocks
        # another dictionary load time: its own first steps, the same blocks
        slow = gobo_unit.GoboUnit(dataclasses.replace(unit.params, dict_load_cycles=997), unit.tiles)
        got = slow.weight_gemm_timing(w.m, w.k, w.n, w.tile, first=True)
        assert got.cycles == blocks.cycles + 997
        assert slow.weight_gemm_timing(w.m, w.k, w.n, w.tile, first=False) == blocks
