"""The generic validate-then-build Builder (sim/config/schema.py): types, rules, hooks, key policies, partial."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from sim.config.schema import Builder, spec_field, unknown_key


def build(cls: type, raw: Any) -> tuple[Any, list[str]]:
    b = Builder("f.yaml")
    obj = b.build(cls, raw)
    return obj, [str(p) for p in b.problems]


@dataclass(frozen=True, kw_only=True)
class Point:
    x: float = spec_field(doc="x", ge=0)
    y: float = spec_field(0.0, doc="y")


@dataclass(frozen=True, kw_only=True)
class Lists:
    ints: list[int] = spec_field(default_factory=list, doc="ints", ge=1)
    names: tuple[str, ...] = spec_field((), doc="names", min_len=1)
    pair: tuple[float, str] | None = spec_field(None, doc="a number and a name")
    points: tuple[Point, ...] = spec_field((), doc="points")
    pairs: tuple[tuple[float, float], ...] = spec_field((), doc="pairs", gt=0, min_len=2)


def test_lists_and_tuples_of_scalars_and_specs():
    obj, problems = build(Lists, {"ints": [1, "2", 3.0], "names": ["a"], "pair": [1, "b"],
                                  "points": [{"x": 1}, {"x": 2, "y": 3}], "pairs": [[1, 2], [3, 4]]})
    assert problems == []
    assert obj.ints == [1, 2, 3] and isinstance(obj.ints, list)
    assert obj.names == ("a",) and obj.pair == (1.0, "b")
    assert obj.points == (Point(x=1.0), Point(x=2.0, y=3.0))
    assert obj.pairs == ((1.0, 2.0), (3.0, 4.0))


def test_list_problems_name_the_item():
    obj, problems = build(Lists, {"ints": [1, 0, "x"], "names": [], "pair": [1, 2, 3],
                                  "points": [{"x": -1}, 3], "pairs": [[1, -2]]})
    assert obj is None
    assert problems == [
        "f.yaml: ints[1]: must be >= 1, got 0",  # scalar rules apply to every item
        "f.yaml: ints[2]: expected an integer, got 'x'",
        "f.yaml: names: must not be empty",
        "f.yaml: pair: expected a list of 2 values, got 3",
        "f.yaml: points[0].x: must be >= 0, got -1.0",
        "f.yaml: points[1]: expected a mapping, got 3",
        "f.yaml: pairs[0][1]: must be > 0, got -2.0",
    ]
    # min_len counts the field's own items (not the length of each string in it)
    _, problems = build(Lists, {"pairs": [[1, 2]], "names": ["  "]})
    assert problems == ["f.yaml: pairs: must have at least 2 items, got 1"]


def test_min_len_counts_strings_without_whitespace():
    @dataclass(frozen=True, kw_only=True)
    class Named:
        name: str = spec_field(doc="name", min_len=1)
        tags: dict[str, int] = spec_field(default_factory=dict, doc="tags", min_len=1)

    assert build(Named, {"name": "  ", "tags": {}})[1] == ["f.yaml: name: must not be empty",
                                                           "f.yaml: tags: must not be empty"]
    assert build(Named, {"name": "n"})[0] == Named(name="n")  # a default is not checked


def test_single_choice_and_unknown_key_messages():
    @dataclass(frozen=True, kw_only=True)
    class Versioned:
        version: int = spec_field(doc="version", choices=(1,))
        unit: str = spec_field("pJ", doc="unit", choices=("pJ",))

    _, problems = build(Versioned, {"version": 2, "unit": "nJ", "vesion": 1, "zzz": 1})
    assert problems == ["f.yaml: vesion: unknown key (did you mean 'version'?)",
                        "f.yaml: zzz: unknown key (allowed: version, unit)",
                        "f.yaml: version: must be 1, got 2", "f.yaml: unit: must be 'pJ', got 'nJ'"]
    assert unknown_key("hbm3", ["phy", "hbm2.read", "hbm2.write"]) == "unknown key (did you mean 'hbm2'?)"
    assert unknown_key("hbm2.reed", ["phy", "hbm2.read", "hbm2.write"]) == "unknown key (did you mean 'read'?)"
    assert unknown_key("x", [f"k{i}" for i in range(40)]) == "unknown key"  # too many to list


def _even(value: Any, report) -> None:
    for i, v in enumerate(value):
        if v % 2:
            report(f"[{i}]", f"must be even, got {v}")


def _one_or_more(raw: Any, report) -> Any:
    return [raw] if isinstance(raw, (int, str)) else raw


def _expand(raw: Any, report) -> Any:
    """{upto: n} -> [1 .. n]; anything else unchanged."""
    if isinstance(raw, dict) and set(raw) == {"upto"}:
        n = raw["upto"]
        if not isinstance(n, int) or n < 1:
            report("upto", f"expected a positive integer, got {n!r}")
            return None
        return list(range(1, n + 1))
    return raw


@dataclass(frozen=True, kw_only=True)
class Hooked:
    evens: tuple[int, ...] = spec_field((), doc="even numbers", convert=_one_or_more, validate=_even)
    counts: tuple[int, ...] = spec_field((), doc="counts", convert=_expand, ge=1)
    anything: Any = spec_field(None, doc="not checked")


def test_convert_and_validate_hooks():
    obj, problems = build(Hooked, {"evens": 4, "counts": {"upto": 3}, "anything": {"a": [1]}})
    assert problems == [] and obj == Hooked(evens=(4,), counts=(1, 2, 3), anything={"a": [1]})
    _, problems = build(Hooked, {"evens": [2, 3, 5], "counts": {"upto": 0}})
    assert problems == ["f.yaml: evens[1]: must be even, got 3", "f.yaml: evens[2]: must be even, got 5",
                        "f.yaml: counts.upto: expected a positive integer, got 0"]
    _, problems = build(Hooked, {"evens": ["x"], "counts": [0]})
    assert problems == ["f.yaml: evens[0]: expected an integer, got 'x'",  # validate runs on typed values only
                        "f.yaml: counts[0]: must be >= 1, got 0"]


def _dotted(name: str) -> str | None:
    return None if all(name.split(".")) else "expected a dotted key such as a.b"


@dataclass(frozen=True, kw_only=True)
class Keyed:
    free: dict[str, int] = spec_field(default_factory=dict, doc="any key", keys=_dotted, ge=0)
    fixed: dict[str, Any] = spec_field(default_factory=dict, doc="typed by key", keys={"n": int, "p": Point})
    named: dict[str, str] = spec_field(default_factory=dict, doc="allowed names", keys=("red", "green"))
    some: dict[str, Point] = spec_field(default_factory=dict, doc="independent entries", partial=True)
    total: int = spec_field(0, doc="sum of the x of some")

    def check(self):
        if self.total and self.total != sum(p.x for p in self.some.values()):
            yield "total", f"must be the sum of some's x ({sum(p.x for p in self.some.values()):g})"


def test_key_policies():
    obj, problems = build(Keyed, {"free": {"a.b": 1, "c": 2}, "fixed": {"n": "3", "p": {"x": 1}},
                                  "named": {"red": "r"}})
    assert problems == []
    assert obj.free == {"a.b": 1, "c": 2} and obj.fixed == {"n": 3, "p": Point(x=1.0)}
    _, problems = build(Keyed, {"free": {"a..b": 1, "c": -1, 3: 1}, "fixed": {"n": 1.5, "q": 1},
                                "named": {"gren": "g"}})
    assert problems == ["f.yaml: free.a..b: expected a dotted key such as a.b",
                        "f.yaml: free.c: must be >= 0, got -1",
                        "f.yaml: free: keys must be non-empty strings, got 3",
                        "f.yaml: fixed.n: expected an integer, got 1.5",
                        "f.yaml: fixed.q: unknown key (allowed: n, p)",
                        "f.yaml: named.gren: unknown key (did you mean 'green'?)"]


def test_partial_mapping_keeps_the_valid_entries_and_runs_check():
    b = Builder("f.yaml")
    obj = b.build(Keyed, {"some": {"a": {"x": 1}, "b": {"x": -1}, "c": {"x": 2}}, "total": 4})
    assert [str(p) for p in b.problems] == ["f.yaml: some.b.x: must be >= 0, got -1.0",
                                            "f.yaml: total: must be the sum of some's x (3)"]
    assert obj is not None and set(obj.some) == {"a", "c"}  # built from the valid entries; problems recorded
    b = Builder("f.yaml")
    assert b.build(Keyed, {"some": 3}) is None and [str(p) for p in b.problems] == [
        "f.yaml: some: expected a mapping, got 3"]


def test_several_problems_of_different_kinds_in_one_error():
    from sim.config.loader import build_spec
    from sim.errors import ConfigError

    raw = {"free": {"a.": 1}, "fixed": {"p": {"x": "far", "z": 0}}, "named": {"blue": "b"},
           "evens": 1, "colour": 1}

    @dataclass(frozen=True, kw_only=True)
    class Both(Keyed):
        evens: tuple[int, ...] = spec_field((), doc="even numbers", convert=_one_or_more, validate=_even)
        needed: bool = spec_field(doc="a required flag")

    with pytest.raises(ConfigError) as info:
        build_spec(Both, raw, "f.yaml")
    message = str(info.value)
    assert "\n" not in message
    assert message.split("; ") == [
        "f.yaml: colour: unknown key (allowed: free, fixed, named, some, total, evens, needed)",  # unknown key
        "f.yaml: free.a.: expected a dotted key such as a.b",  # key policy (callable)
        "f.yaml: fixed.p.z: unknown key (allowed: x, y)",  # unknown key in a nested spec
        "f.yaml: fixed.p.x: expected a number, got 'far'",  # type
        "f.yaml: named.blue: unknown key (allowed: red, green)",  # key policy (names)
        "f.yaml: evens[0]: must be even, got 1",  # convert + validate hooks
        "f.yaml: needed: missing (expected a required flag)",  # missing field
    ]
    assert len(info.value.problems) == 7
