"""The mapper's records (Transfer, Work, Step) keep the dataclass contract with their faster ``__init__``:
positional and keyword arguments, defaults, fresh default factories, required fields, frozen, replace."""

from __future__ import annotations

import dataclasses

import pytest

from sim.hw.timing import TileTiming
from sim.mapping.plan import Step, Transfer, Work


@pytest.mark.parametrize("cls", [Transfer, Work, Step])
def test_defaults_are_the_declared_ones(cls) -> None:
    required = [f for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    values = {"nbytes": 7, "write": True, "what": "outputs", "kind": "vector", "op": "x", "unit": "matrix",
              "compute": TileTiming(3, {"mac_int8": 2})}
    obj = cls(**{f.name: values[f.name] for f in required})
    for f in dataclasses.fields(cls):
        got = getattr(obj, f.name)
        if f.name in values:
            assert got == values[f.name]
        elif f.default_factory is not dataclasses.MISSING:
            assert got == f.default_factory()
            assert got is not getattr(cls(**{r.name: values[r.name] for r in required}), f.name)  # a fresh one
        else:
            assert got == f.default
    with pytest.raises(TypeError):
        cls()
    with pytest.raises(dataclasses.FrozenInstanceError):
        obj.__setattr__(dataclasses.fields(cls)[0].name, 1)
    assert dataclasses.replace(obj) == obj
    if cls is not Step:  # a step holds dicts (its SRAM counts): equal, not hashable
        assert hash(dataclasses.replace(obj)) == hash(obj)


def test_positional_arguments_follow_the_field_order() -> None:
    t = Transfer(64, False, "weights", "scattered", 16, 3, 4, "L0.q")
    assert dataclasses.astuple(t) == (64, False, "weights", "scattered", 16, 3, 4, "L0.q")
    w = Work("matmul", 2, 3, 4)
    assert (w.kind, w.m, w.k, w.n, w.rows) == ("matmul", 2, 3, 4, 0)
    timing = TileTiming(5, {})
    s = Step("op", "vector", timing, 9, (t,), sram={"sram.outputs": {"read_bytes": 1}})
    assert (s.op, s.unit, s.compute, s.macs, s.loads, s.stores, s.sram) == \
        ("op", "vector", timing, 9, (t,), (), {"sram.outputs": {"read_bytes": 1}})
    assert dataclasses.replace(s, op="other").op == "other" and s.op == "op"
    with pytest.raises(TypeError):
        Transfer(1, False, "weights", nbytes=2)  # type: ignore[misc]
