"""Vector unit: the closed form against the per-cycle lane stepper, hand-computed cases, and the mapper's use."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.hw.vector import ALL_OPS, SIMPLE_OPS, KernelCost, VectorParams, vector_timing
from sim.hw.vector_stepper import step_vector

counts = st.dictionaries(st.sampled_from(ALL_OPS), st.integers(0, 9), max_size=len(ALL_OPS))


@settings(max_examples=300, deadline=None)
@given(per_element=counts, per_row=counts, rows=st.integers(0, 40), row_len=st.integers(0, 70),
       lanes=st.integers(1, 70), divider_cycles=st.integers(1, 33))
def test_stepper_equals_closed_form(per_element, per_row, rows, row_len, lanes, divider_cycles):
    params = VectorParams(lanes, divider_cycles)
    cost = KernelCost("k", per_element, per_row)
    assert step_vector(params, cost, rows, row_len) == vector_timing(params, cost, rows, row_len)


def test_zero_op_kernel_takes_no_cycles():
    params = VectorParams(8, 8)
    for cost, rows, row_len in ((KernelCost("none"), 5, 7), (KernelCost("k", {"add": 3}, {"div": 1}), 0, 9)):
        assert step_vector(params, cost, rows, row_len).cycles == 0
        assert vector_timing(params, cost, rows, row_len).cycles == 0


# A hand-worked case: 3 rows x 5 elements, 4 lanes, an 8-cycle divider.
# simple: 15 * (add 3 + shift 1) + 3 * mul 2 = 66 -> ceil(66 / 4) = 17 cycles
# divisions: 15 * 1 + 3 * 1 = 18 -> 5 waves of 4 lanes (the last has 2) x 8 cycles = 40 cycles
HAND = (VectorParams(4, 8), KernelCost("hand", {"add": 3, "shift": 1, "div": 1}, {"mul": 2, "div": 1}), 3, 5)
HAND_CYCLES = 17 + 40


@pytest.mark.parametrize("model", [vector_timing, step_vector])
def test_hand_computed_case(model):
    t = model(*HAND)
    assert t.cycles == HAND_CYCLES
    assert dict(t.actions) == {"vec_add": 45, "vec_shift": 15, "vec_mul": 6, "vec_div": 18}


@pytest.mark.parametrize("model", [vector_timing, step_vector])
def test_mutations_are_caught(model):
    """Each of these wrong models gives a different number from the one both models agree on."""
    params, cost, rows, row_len = HAND
    got = model(params, cost, rows, row_len).cycles
    elements = rows * row_len
    simple = sum(elements * cost.per_element.get(k, 0) + rows * cost.per_row.get(k, 0) for k in SIMPLE_OPS)
    div = elements * cost.per_element.get("div", 0) + rows * cost.per_row.get("div", 0)
    lanes, dc = params.lanes, params.divider_cycles
    wrong = {
        "no divider term": math.ceil(simple / lanes),
        "divisions as simple ops": math.ceil((simple + div) / lanes),
        "halved": HAND_CYCLES // 2,
        "floor instead of ceil": simple // lanes + div // lanes * dc,
        "divider work split across lanes": math.ceil(simple / lanes) + math.ceil(div * dc / lanes),
        "per-row ops ignored": math.ceil(elements * 4 / lanes) + math.ceil(elements / lanes) * dc,
    }
    for name, value in wrong.items():
        assert value != got, name


def test_divider_cycles_scale_the_division_phase():
    cost = KernelCost("d", {"div": 1})
    a = step_vector(VectorParams(16, 1), cost, 4, 16).cycles
    b = step_vector(VectorParams(16, 8), cost, 4, 16).cycles
    assert (a, b) == (4, 32)


def test_one_division_stays_on_one_lane():
    # one division on a wide unit: the lane that starts it is busy for the whole divider latency
    assert step_vector(VectorParams(64, 8), KernelCost("d", per_row={"div": 1}), 1, 10).cycles == 8


def test_stepper_is_fast_for_a_million_operations():
    import time

    cost = KernelCost("big", {"add": 6, "mul": 2, "shift": 3, "cmp": 4, "div": 1}, {"div": 1})
    t0 = time.perf_counter()
    t = step_vector(VectorParams(256, 8), cost, 128, 512)
    assert sum(t.actions.values()) > 1_000_000
    assert t == vector_timing(VectorParams(256, 8), cost, 128, 512)
    assert time.perf_counter() - t0 < 5.0


def test_mapper_vector_work_matches_the_stepper():
    """Every vector step and epilogue the mapper builds for a tiny run times as the stepper says."""
    from sim.prepare import prepare
    from sim.simulate import map_steps

    prep = prepare("gobo", "tiny")
    params = VectorParams(prep.hw.vector.lanes, prep.hw.vector.divider_cycles)
    _, _, steps = map_steps(prep)
    checked = 0
    for s in steps:
        for work, timing in ((s.work, s.compute), (s.epilogue_work, s.epilogue)):
            if work is not None and work.kind == "vector":
                assert work.kernel is not None and timing is not None
                assert step_vector(params, work.kernel, work.rows, work.row_len) == timing, s.op
                checked += 1
    assert checked > 10
    assert any(s.epilogue is not None and s.epilogue.action("vec_div") for s in steps) or any(
        s.unit == "vector" and s.compute.action("vec_div") for s in steps)
