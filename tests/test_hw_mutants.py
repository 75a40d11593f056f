"""Tests written to kill mutants of sim/hw that survived the suite (bench/mutation.py)."""

from __future__ import annotations

import math
import pickle

import pytest

from sim.hw.dram import DramModel, dram_spec, to_cycles
from sim.hw.timing import ZERO_TIMING, FrozenCounts, TileTiming, ceil_div, merge_actions, positive_int


def test_ceil_div_and_positive_int():
    assert [ceil_div(a, 4) for a in (0, 1, 4, 5, 8, 9)] == [0, 1, 1, 2, 2, 3]
    assert positive_int("x", 3) == 3 and positive_int("x", 0, minimum=0) == 0
    with pytest.raises(ValueError, match="x must be >= 1, got 0"):
        positive_int("x", 0)
    with pytest.raises(TypeError, match="x must be an integer"):
        positive_int("x", 1.5)


def test_merge_actions_sums_key_by_key_in_first_seen_order():
    out = merge_actions({"a": 1, "b": 2}, {"b": 3, "c": 4}, {})
    assert out == {"a": 1, "b": 5, "c": 4} and list(out) == ["a", "b", "c"]


def test_frozen_counts():
    fc = FrozenCounts({"a": 2, "z": 0, "b": 3.0})
    assert dict(fc) == {"a": 2, "b": 3} and len(fc) == 2 and list(fc) == ["a", "b"]
    assert hash(fc) == hash(FrozenCounts({"b": 3, "a": 2}))
    assert pickle.loads(pickle.dumps(fc)) == fc
    assert repr(fc) == "FrozenCounts({'a': 2, 'b': 3})"
    with pytest.raises(ValueError, match="negative"):
        FrozenCounts({"a": -1})
    with pytest.raises(ValueError, match="non-integer"):
        FrozenCounts({"a": 1.5})
    assert FrozenCounts() == {} and FrozenCounts(None) == {}


def test_tile_timing_composition():
    t = TileTiming(5, {"x": 1}) + TileTiming(7, {"x": 2, "y": 1})
    assert t.cycles == 12 and dict(t.actions) == {"x": 3, "y": 1}
    assert t.action("y") == 1 and t.action("nope") == 0
    assert t + ZERO_TIMING == t and ZERO_TIMING.cycles == 0 and dict(ZERO_TIMING.actions) == {}
    with pytest.raises(ValueError):
        TileTiming(-1, {})
    with pytest.raises(ValueError):
        TileTiming(1.5, {})
    assert TileTiming(3.0, {}).cycles == 3 and type(TileTiming(3.0, {}).cycles) is int


def test_to_cycles_rounds_up_within_tolerance():
    assert to_cycles(10.0, 1e9) == 10
    assert to_cycles(10.000001, 1e9) == 11
    assert to_cycles(0.0, 1e9) == 0
    assert to_cycles(5.0, 2e9) == 10
    assert DramModel.cycles(3.5, 1e9) == 4
    for bad in (-1.0, math.inf, math.nan):
        with pytest.raises(ValueError):
            to_cycles(bad, 1e9)
    for bad in (0.0, -1e9, math.inf):
        with pytest.raises(ValueError):
            to_cycles(1.0, bad)


def test_streaming_bandwidth_is_below_peak_and_scales_with_channels():
    for kind in ("ddr4-3200", "hbm2", "lpddr4-3200"):
        one = DramModel(dram_spec(kind, channels=1))
        two = DramModel(dram_spec(kind, channels=2))
        assert 0 < one.streaming_bytes_per_s() <= one.spec.peak_bytes_per_s
        assert two.streaming_bytes_per_s() == pytest.approx(2 * one.streaming_bytes_per_s())
        # a long stream approaches the sustained rate: 8 MiB in at most 2% more time than bytes / rate
        n = 8 << 20
        t = two.transfer(n, write=False).time_ns * 1e-9
        assert n / two.streaming_bytes_per_s() <= t * 1.0001
        assert t <= 1.02 * n / two.streaming_bytes_per_s()


def test_requests_for_is_the_canonical_list():
    from sim.hw.dram import requests_for, scattered_requests, stream_requests

    spec = dram_spec("ddr4-3200", channels=2)
    assert list(requests_for(spec, 4096, write=False)) == list(stream_requests(spec, 4096, write=False))
    assert list(requests_for(spec, 4096, write=True, pattern="scattered", chunk_bytes=256)) == \
        list(scattered_requests(spec, 4096, 256, write=True))
    with pytest.raises(ValueError, match="unknown pattern"):
        requests_for(spec, 64, write=False, pattern="zigzag")


def test_shortest_burst_is_two_beats():
    assert dram_spec("ddr4-3200", burst_length=2).burst_length == 2
    with pytest.raises(ValueError):
        dram_spec("ddr4-3200", burst_length=1)
