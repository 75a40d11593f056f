"""sim.pipeline runs the timing simulation beside the functional pass: same report as one after the other."""

from __future__ import annotations

import threading

import pytest

from sim import pipeline
from sim.config.loader import load_hardware
from sim.errors import SimInputError
from sim.functional.check import functional_check
from sim.prepare import prepare
from sim.simulate import simulate
from sim.workload.loader import load_workload


def test_overlapped_run_equals_sequential_run():
    prep = prepare(load_hardware("gobo"), load_workload("tiny"))
    together = pipeline.run_prepared(prep, functional=True).to_dict()
    apart = simulate(prep)
    apart.functional = functional_check(prep)
    assert together == apart.to_dict()
    assert together["functional"]["checked"] is True


def test_beside_runs_the_background_on_another_thread_and_raises_its_error():
    seen: dict[str, object] = {}

    def background(prep):
        seen["thread"] = threading.current_thread()
        raise SimInputError("bad: from the background")

    with pytest.raises(SimInputError, match="from the background"):
        pipeline._beside(background, lambda prep: 1, None)
    assert seen["thread"] is not threading.main_thread()
    assert pipeline._beside(lambda prep: prep + 1, lambda prep: prep * 10, 4) == (5, 40)


def test_beside_raises_the_foreground_error_first():
    def foreground(prep):
        raise ValueError("foreground")

    def background(prep):
        raise SimInputError("background")

    with pytest.raises(ValueError, match="foreground"):
        pipeline._beside(background, foreground, None)
