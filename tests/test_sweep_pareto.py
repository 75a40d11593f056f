"""Pareto fronts on hand-made frames, checked against a brute-force definition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.sweeps.pareto import pareto_front, pareto_mask


def brute(values: np.ndarray) -> np.ndarray:
    n = len(values)
    keep = np.ones(n, bool)
    for i in range(n):
        for j in range(n):
            if np.all(values[j] <= values[i]) and np.any(values[j] < values[i]):
                keep[i] = False
                break
    return keep


def test_two_metrics_by_hand():
    df = pd.DataFrame({
        "name": ["a", "b", "c", "d", "e", "f", "g"],
        "seconds": [1.0, 2.0, 3.0, 2.0, 4.0, 1.0, 3.0],
        "energy_pj": [5.0, 3.0, 1.0, 4.0, 1.0, 6.0, 1.0],
    })
    # a (1,5), b (2,3), c (3,1) and its twin g (3,1) are on the front; d is dominated by b, e by c, f by a
    front = pareto_front(df)
    assert list(front["name"]) == ["a", "b", "c", "g"]
    assert list(front.index) == [0, 1, 2, 6]  # original index kept, sorted by the first metric


def test_maximize_flags_and_three_metrics():
    df = pd.DataFrame({"speed": [1, 2, 3, 3], "cost": [1, 2, 3, 4], "x": [3, 2, 1, 1]})
    # speed maximised, cost minimised: (3, 4) is beaten by (3, 3); sorted by speed, best (highest) first
    assert list(pareto_front(df, ["speed", "cost"], minimize=[False, True]).index) == [2, 1, 0]
    three = pd.DataFrame({"a": [1, 2, 1, 3], "b": [2, 1, 2, 3], "c": [2, 2, 1, 3]})
    assert sorted(pareto_front(three, ["a", "b", "c"]).index) == [1, 2]
    with pytest.raises(ValueError, match="2 or 3 metrics"):
        pareto_front(three, ["a"])
    with pytest.raises(ValueError, match="no column 'z'"):
        pareto_front(three, ["a", "z"])


def test_errors_nulls_and_infeasible_rows_are_left_out():
    df = pd.DataFrame({
        "seconds": [1.0, 0.5, 0.1, 2.0, 0.2],
        "energy_pj": [1.0, np.nan, 0.1, 0.5, 0.05],
        "status": ["ok", "ok", "error", "ok", "ok"],
        "feasible": [True, True, True, None, False],
    })
    assert list(pareto_front(df).index) == [0, 3]


@pytest.mark.parametrize("d", [2, 3])
def test_random_frames_match_brute_force(d):
    rng = np.random.default_rng(7)
    for _ in range(30):
        values = rng.integers(0, 6, size=(rng.integers(1, 60), d)).astype(float)  # many ties
        assert np.array_equal(pareto_mask(values), brute(values))
