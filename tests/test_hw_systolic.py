"""Systolic array: per-cycle stepper == int64 matmul, stepper timing == closed form == sum of folds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.compute.systolic.stepper import SystolicStepper
from sim.compute.systolic.timing import (
    DATAFLOWS,
    FOLD_SCHEDULES,
    SystolicParams,
    systolic_fold_plan,
    systolic_gemm_timing,
    systolic_peak_macs_per_cycle,
    systolic_utilization,
)
from sim.hw.timing import ZERO_TIMING, TileTiming

SCHEDULES = FOLD_SCHEDULES


def _operands(rng: np.random.Generator, m: int, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng.integers(-128, 128, size=(m, k), dtype=np.int64).astype(np.int8)
    b = rng.integers(-128, 128, size=(k, n), dtype=np.int64).astype(np.int8)
    return a, b


def _check_case(params: SystolicParams, a: np.ndarray, b: np.ndarray) -> None:
    m, k = a.shape
    n = b.shape[1]
    res = SystolicStepper(params).run(a, b)
    assert res.output.dtype == np.int64
    np.testing.assert_array_equal(res.output, a.astype(np.int64) @ b.astype(np.int64))
    closed = systolic_gemm_timing(params, m, k, n)
    assert res.cycles == closed.cycles, (params, m, k, n)
    assert res.actions == dict(closed.actions), (params, m, k, n)
    assert res.timing == closed
    plan = systolic_fold_plan(params, m, k, n)
    assert sum((f.timing for f in plan.folds()), ZERO_TIMING) == closed
    assert plan.cycles == closed.cycles


# Shapes smaller than, equal to, multiples of, and not multiples of the array, for every dataflow.
EDGE_CASES = [
    # rows, cols, M, K, N
    (1, 1, 1, 1, 1),
    (1, 1, 3, 2, 4),
    (4, 4, 1, 1, 1),
    (4, 4, 4, 4, 4),
    (4, 4, 8, 8, 8),
    (3, 5, 2, 2, 2),
    (6, 2, 20, 19, 7),
    (2, 6, 7, 13, 20),
    (5, 3, 11, 1, 16),
    (1, 6, 5, 20, 1),
]


@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("rows,cols,m,k,n", EDGE_CASES)
def test_stepper_matches_matmul_and_closed_form_edge_cases(
    dataflow: str, schedule: str, rows: int, cols: int, m: int, k: int, n: int
) -> None:
    rng = np.random.default_rng(rows * 1000 + cols * 100 + m + k + n)
    a, b = _operands(rng, m, k, n)
    _check_case(SystolicParams(rows, cols, dataflow, schedule), a, b)  # type: ignore[arg-type]


@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_stepper_matches_matmul_and_closed_form_random(dataflow: str, schedule: str) -> None:
    rng = np.random.default_rng(12345 + DATAFLOWS.index(dataflow) * 7 + SCHEDULES.index(schedule))
    for _ in range(8):
        rows, cols = (int(x) for x in rng.integers(1, 7, size=2))
        m, k, n = (int(x) for x in rng.integers(1, 21, size=3))
        a, b = _operands(rng, m, k, n)
        _check_case(SystolicParams(rows, cols, dataflow, schedule), a, b)  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None)
@given(
    rows=st.integers(1, 8),
    cols=st.integers(1, 8),
    m=st.integers(1, 20),
    k=st.integers(1, 20),
    n=st.integers(1, 20),
    dataflow=st.sampled_from(DATAFLOWS),
    schedule=st.sampled_from(SCHEDULES),
    seed=st.integers(0, 2**16),
)
def test_stepper_equals_closed_form_hypothesis(
    rows: int, cols: int, m: int, k: int, n: int, dataflow: str, schedule: str, seed: int
) -> None:
    a, b = _operands(np.random.default_rng(seed), m, k, n)
    _check_case(SystolicParams(rows, cols, dataflow, schedule), a, b)  # type: ignore[arg-type]


def test_extreme_int8_values() -> None:
    a = np.full((5, 9), -128, dtype=np.int8)
    b = np.full((9, 4), -128, dtype=np.int8)
    for df in DATAFLOWS:
        _check_case(SystolicParams(3, 2, df), a, b)  # type: ignore[arg-type]


@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("m,k,n", [(10, 7, 5), (3, 9, 11)])
def test_closed_form_matches_standard_fold_formula(dataflow: str, schedule: str, m: int, k: int, n: int) -> None:
    """Folds and cycles follow the SCALE-Sim-style form F * (2R + C + T - 2), minus what the schedule hides."""
    rows, cols = 4, 3
    p = SystolicParams(rows, cols, dataflow, schedule)  # type: ignore[arg-type]
    sizes = {"ws": (k, n, m), "is": (k, m, n), "os": (m, n, k)}[dataflow]
    dr, dc, t = sizes
    folds = math.ceil(dr / rows) * math.ceil(dc / cols)
    fill_drain = rows + cols + t - 2
    expected = {
        "serial": folds * (rows + fill_drain),
        "preload-overlap": folds * fill_drain + rows,
        "pipelined": rows + (folds - 1) * max(t, rows) + fill_drain,
        # SCALE-Sim 3.0.0 (measured: tests/test_scalesim.py): os folds charge no drain; one cycle less
        "scalesim": folds * (fill_drain + (0 if dataflow == "os" else rows)) - 1,
    }[schedule]
    plan = systolic_fold_plan(p, m, k, n)
    assert plan.num_folds == folds
    assert plan.stream_len == t
    assert systolic_gemm_timing(p, m, k, n).cycles == expected


def test_hand_worked_ws_example() -> None:
    # 2x2 array, A 3x2, B 2x2: one fold; preload 2 cycles, then the last partial sum (t=2, column 1)
    # leaves the bottom at cycle 2 + 1 + 1 = 4 of the fold, so 5 compute cycles: 2 + 5 = 7.
    p = SystolicParams(2, 2, "ws")
    timing = systolic_gemm_timing(p, 3, 2, 2)
    assert timing.cycles == 7
    # reg bits: weights 8 * 2 cols * (1 + 2) hops; A 8 * 3 * 2 rows * 2 cols; psums 32 * 3 * 2 * 2.
    assert timing.action("reg_bits") == 8 * 2 * 3 + 8 * 3 * 2 * 2 + 32 * 3 * 2 * 2
    assert timing.action("mac_int8") == 12
    assert timing.action("add_int32") == 0


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_action_identities(dataflow: str) -> None:
    m, k, n = 37, 50, 29
    p = SystolicParams(8, 6, dataflow)  # type: ignore[arg-type]
    t = systolic_gemm_timing(p, m, k, n)
    assert t.action("mac_int8") == m * k * n  # only real-data MACs, never padding
    k_folds = math.ceil(k / 8)
    assert t.action("add_int32") == (0 if dataflow == "os" else (k_folds - 1) * m * n)


def test_overlap_hides_all_but_one_transfer() -> None:
    for df in DATAFLOWS:
        on = SystolicParams(5, 4, df, "preload-overlap")  # type: ignore[arg-type]
        off = SystolicParams(5, 4, df, "serial")  # type: ignore[arg-type]
        plan = systolic_fold_plan(on, 23, 17, 9)
        t_on = systolic_gemm_timing(on, 23, 17, 9)
        t_off = systolic_gemm_timing(off, 23, 17, 9)
        assert t_off.cycles - t_on.cycles == (plan.num_folds - 1) * 5
        assert dict(t_on.actions) == dict(t_off.actions)


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_fold_plan_partitions_the_gemm(dataflow: str) -> None:
    m, k, n = 13, 11, 9
    p = SystolicParams(4, 5, dataflow)  # type: ignore[arg-type]
    plan = systolic_fold_plan(p, m, k, n)
    cover = np.zeros((m, k, n), dtype=np.int64)
    folds = list(plan.folds())
    assert [f.index for f in folds] == list(range(plan.num_folds))
    for f in folds:
        cover[f.m_range[0] : f.m_range[1], f.k_range[0] : f.k_range[1], f.n_range[0] : f.n_range[1]] += 1
        assert 1 <= f.rows_used <= p.rows and 1 <= f.cols_used <= p.cols
        assert f.timing.action("mac_int8") == f.rows_used * f.cols_used * plan.stream_len
    assert (cover == 1).all()  # every (m, k, n) product in exactly one fold


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 64),
    cols=st.integers(1, 64),
    m=st.integers(1, 600),
    k=st.integers(1, 600),
    n=st.integers(1, 600),
    dataflow=st.sampled_from(DATAFLOWS),
    schedule=st.sampled_from(SCHEDULES),
)
def test_fold_sum_equals_closed_form_large(
    rows: int, cols: int, m: int, k: int, n: int, dataflow: str, schedule: str
) -> None:
    p = SystolicParams(rows, cols, dataflow, schedule)  # type: ignore[arg-type]
    plan = systolic_fold_plan(p, m, k, n)
    if plan.num_folds > 5000:
        return
    closed = systolic_gemm_timing(p, m, k, n)
    assert sum((f.timing for f in plan.folds()), ZERO_TIMING) == closed
    if schedule == "scalesim" and dataflow == "os":
        # SCALE-Sim's os count charges R + C + K - 2 per fold, minus one: on a 1 x 1 array that is fewer
        # cycles than MACs (1 x 1 x 2: 1 cycle; 1 x 1 x 1: 0, where SCALE-Sim itself divides by zero)
        assert closed.cycles == plan.num_folds * (rows + cols + k - 2) - 1
        return
    util = systolic_utilization(p, m, k, n)
    assert 0.0 < util <= 1.0
    assert util == pytest.approx(m * k * n / (closed.cycles * rows * cols))


def test_peak_and_utilization() -> None:
    p = SystolicParams(128, 128, "ws")
    assert systolic_peak_macs_per_cycle(p) == 128 * 128
    # Big, well-shaped GEMM approaches full utilization.
    assert systolic_utilization(p, 100_000, 1024, 1024) > 0.99


def test_result_is_a_tile_timing() -> None:
    t = systolic_gemm_timing(SystolicParams(4, 4), 8, 4, 8)
    assert isinstance(t, TileTiming)
    assert set(t.actions) == {"mac_int8", "reg_bits"}  # no K-fold merge: add_int32 == 0 is dropped
    t2 = systolic_gemm_timing(SystolicParams(4, 4), 8, 9, 8)
    assert set(t2.actions) == {"mac_int8", "add_int32", "reg_bits"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rows": 0, "cols": 4},
        {"rows": 4, "cols": -1},
        {"rows": 2.5, "cols": 4},
        {"rows": True, "cols": 4},
        {"rows": 4, "cols": 4, "dataflow": "rs"},
        {"rows": 4, "cols": 4, "schedule": "overlap"},
        {"rows": 4, "cols": 4, "schedule": True},
    ],
)
def test_params_validation(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        SystolicParams(**kwargs)


def test_bad_gemm_and_operands() -> None:
    p = SystolicParams(2, 2)
    with pytest.raises(ValueError, match="K"):
        systolic_gemm_timing(p, 4, 0, 4)
    with pytest.raises(ValueError):
        systolic_fold_plan(p, -1, 4, 4)
    stepper = SystolicStepper(p)
    with pytest.raises(ValueError, match="int8"):
        stepper.run(np.full((2, 2), 200), np.ones((2, 2), dtype=np.int64))
    with pytest.raises(ValueError):
        stepper.run(np.ones((2, 3), dtype=np.int8), np.ones((2, 2), dtype=np.int8))
    with pytest.raises(ValueError, match="integer"):
        stepper.run(np.ones((2, 2)), np.ones((2, 2)))


def test_pipelined_hides_the_shift_when_the_stream_is_long() -> None:
    """TPUv1's claim: the second weight tile hides the R-cycle shift; with T >= R a fold every T cycles."""
    p = SystolicParams(8, 8, "ws", "pipelined")
    plan = systolic_fold_plan(p, 16, 64, 8)  # T = 16 >= R = 8, 8 folds along K
    assert plan.fold_period_cycles == 16
    assert plan.cycles == 8 + 7 * 16 + (8 + 8 + 16 - 2)
    short = systolic_fold_plan(p, 3, 64, 8)  # T = 3 < R: the shift-in bounds the period
    assert short.fold_period_cycles == 8
    for df in DATAFLOWS:  # never slower than hiding the preload only, never faster than streaming
        for m, k, n in [(5, 30, 17), (40, 9, 9), (1, 1, 1)]:
            piped = systolic_gemm_timing(SystolicParams(5, 4, df, "pipelined"), m, k, n).cycles  # type: ignore[arg-type]
            over = systolic_gemm_timing(SystolicParams(5, 4, df, "preload-overlap"), m, k, n).cycles  # type: ignore[arg-type]
            assert piped <= over


def test_pipelined_stepper_rejects_a_too_early_fold() -> None:
    """The register checks are live: starting each stream one cycle before PE(0, 0)'s tile is loaded fails."""
    import sim.compute.systolic.stepper as stepper_mod

    params = SystolicParams(4, 3, "ws", "pipelined")
    a, b = _operands(np.random.default_rng(3), 2, 12, 3)  # T = 2 < R = 4: the shift bounds the period
    src = stepper_mod.__file__
    text = Path(src).read_text().replace("cycle >= feeds[-1][1] + R", "cycle >= feeds[-1][1] + R - 1")
    ns: dict = {}
    exec(compile(text, src, "exec"), ns)
    with pytest.raises(RuntimeError, match="schedule error"):
        ns["SystolicStepper"](params).run(a, b)


def test_fold_schedule_key_and_the_older_overlap_flag(tmp_path) -> None:
    """``compute.fold_schedule`` is validated; YAMLs with only ``weight_preload_overlap`` keep their meaning."""
    import yaml

    from sim.compute.registry import get_kind
    from sim.config.loader import load_hardware
    from sim.errors import SimInputError

    base = yaml.safe_load(Path("hwconfigs/tpu.yaml").read_text())

    def schedule_of(**compute: object) -> str:
        raw = {**base, "compute": {k: v for k, v in base["compute"].items() if k != "fold_schedule"} | compute}
        path = tmp_path / "hw.yaml"
        path.write_text(yaml.safe_dump(raw))
        hw = load_hardware(path)
        return get_kind("systolic").params(hw.compute).schedule  # type: ignore[arg-type]

    assert schedule_of() == "preload-overlap"
    assert schedule_of(weight_preload_overlap=True) == "preload-overlap"
    assert schedule_of(weight_preload_overlap=False) == "serial"
    for s in FOLD_SCHEDULES:
        assert schedule_of(fold_schedule=s) == s
    assert schedule_of(fold_schedule="pipelined", weight_preload_overlap=True) == "pipelined"
    with pytest.raises(SimInputError, match="compute.weight_preload_overlap"):
        schedule_of(fold_schedule="pipelined", weight_preload_overlap=False)
    with pytest.raises(SimInputError, match="compute.fold_schedule"):
        schedule_of(fold_schedule="wavefront")
    assert load_hardware("tpu").compute.fold_schedule == "pipelined"  # type: ignore[union-attr]
