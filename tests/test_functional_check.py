"""functional_check (sim run --functional) on the `tiny` workload for each kind of design."""

from __future__ import annotations

import json

import pytest

from sim.config import load_hardware
from sim.functional import clear_cache
from sim.functional.check import functional_check
from sim.prepare import prepare
from sim.workload.loader import load_workload

KEYS = {"checked", "cosine_vs_float", "max_abs_err_vs_float", "output_sha256"}


@pytest.fixture(scope="module")
def tiny():
    return load_workload("tiny")


@pytest.mark.parametrize("hw", ["gobo", "tpu", "gobo-compress-tpu"])
def test_integer_designs_check_and_are_deterministic(tiny, hw):
    cfg = load_hardware(hw)
    first = functional_check(prepare(cfg, tiny)).to_dict()
    assert set(first) >= KEYS
    assert first["checked"] is True and first["exact"] is True
    assert first["gemms_checked"] >= 13 and first["mismatches"] == []
    assert 0.9 < first["cosine_vs_float"] <= 1.0 and first["max_abs_err_vs_float"] >= 0.0
    assert len(first["output_sha256"]) == 64
    json.dumps(first)  # the report is JSON
    clear_cache()
    again = functional_check(prepare(cfg, tiny)).to_dict()
    assert again["output_sha256"] == first["output_sha256"]


def test_gobo_on_pe_and_on_systolic_compute_the_same_integers(tiny):
    a = functional_check(prepare(load_hardware("gobo"), tiny)).to_dict()
    b = functional_check(prepare(load_hardware("gobo-compress-tpu"), tiny)).to_dict()
    assert a["engine"] == "gobo" and b["engine"] == "systolic"
    assert a["output_sha256"] == b["output_sha256"]


def test_kernel_set_follows_the_design(tiny):
    cfg = load_hardware("tpu", ["vector.kernels=ivit"])
    r = functional_check(prepare(cfg, tiny)).to_dict()
    assert r["kernels"] == "ivit" and r["checked"] is True


def test_tensor_core_is_not_an_integer_datapath(tiny):
    r = functional_check(prepare(load_hardware("tcore"), tiny)).to_dict()
    assert r["checked"] is None and r["exact"] is False and r["cosine_vs_float"] > 0.999
