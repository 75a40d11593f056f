"""The vector unit's operation counts (``sim.mapping.costs``) against the kernel code they stand for.

Each kernel the mapper charges runs on a small integer input through an instrumented ndarray that counts every
numpy ufunc call, weighted by its element count, as the operation kinds of the vector unit (add, mul, shift,
cmp, logic, clz, div); calls on full-size arrays are per-element work, calls on one value per row per-row
work. Counting rules (what the hardware does, not what numpy does):

- the kernels' width checks (``check_width``, ``check_bound``, ``_max_abs``, the bound check of ``shift_by``)
  are verification, not datapath: stubbed out while counting;
- 1-bit flags (compare results, ``x & 1``) combined with each other are not lane operations (they are the
  carry-in of the rounding increment);
- a multiply by ``np.sign(x)`` is a conditional negate (``add``); ``np.where`` is a select (``cmp``);
  ``np.abs`` is a compare and a negate; ``np.clip`` one compare per bound; ``bit_length`` one ``clz``;
- the integer square root's Newton loop is counted apart (the table charges the worst-case iterations).

Where numpy spells one hardware operation as several, the known differences are listed per kernel in
``ARTIFACTS`` with the reason, and the test asserts the counted numbers minus those equal the table exactly.
"""

from __future__ import annotations

from collections import defaultdict
from unittest import mock

import numpy as np
import pytest

from sim.hw.vector import ALL_OPS
from sim.kernels import _common, dyadic, ibert, ivit, widths
from sim.kernels.opcounts import op_counts
from sim.mapping.costs import REQUANT, kernel_costs, worst_sqrt_iterations

KIND = {"add": ("add",), "subtract": ("add",), "negative": ("add",), "multiply": ("mul",),
        "left_shift": ("shift",), "right_shift": ("shift",), "maximum": ("cmp",), "minimum": ("cmp",),
        "greater": ("cmp",), "greater_equal": ("cmp",), "less": ("cmp",), "less_equal": ("cmp",),
        "equal": ("cmp",), "not_equal": ("cmp",), "sign": ("cmp",), "absolute": ("cmp", "add"),
        "clip": ("cmp", "cmp"), "bitwise_and": ("logic",), "bitwise_or": ("logic",), "logical_and": ("logic",),
        "logical_or": ("logic",), "floor_divide": ("div",), "remainder": ("div",), "divmod": ("div",)}


class _Log:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], int]] = []
        self.on = True


LOG = _Log()


class Counted(np.ndarray):
    """An int64 array that logs every ufunc applied to it (see the module docstring)."""

    _sign = False
    _flag = False

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raw = [x.view(np.ndarray) if isinstance(x, Counted) else x for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, Counted) else o for o in kwargs["out"])
        res = getattr(ufunc, method)(*raw, **kwargs)
        first = res[0] if isinstance(res, tuple) else res
        size = max(np.size(x) for x in raw) if method == "reduce" else np.size(first)
        name = ufunc.__name__
        arrays = [x for x in inputs if isinstance(x, np.ndarray) and np.ndim(x)]
        flags_only = bool(arrays) and all(getattr(x, "_flag", False) or x.dtype == bool for x in arrays)
        kinds = KIND.get(name, (name,))
        if name == "multiply" and any(getattr(x, "_sign", False) for x in inputs):
            kinds = ("add",)
        if LOG.on and not flags_only:
            LOG.calls.append((kinds, size))

        def wrap(r):
            return r.view(Counted) if isinstance(r, np.ndarray) else r

        out = tuple(wrap(r) for r in res) if isinstance(res, tuple) else wrap(res)
        if isinstance(out, Counted):
            out._sign = name == "sign"
            out._flag = out.dtype == bool or (name == "bitwise_and" and any(
                not isinstance(x, np.ndarray) and x == 1 for x in inputs))
        return out

    def __array_function__(self, func, types, args, kwargs):
        if func is np.where:
            raw = [a.view(np.ndarray) if isinstance(a, Counted) else a for a in args]
            r = np.where(*raw)
            if LOG.on:
                LOG.calls.append((("cmp",), r.size))
            return r.view(Counted)
        return super().__array_function__(func, types, args, kwargs)


def _bit_length(n):
    LOG.calls.append((("clz",), np.size(n)))
    LOG.on = False
    try:
        return widths.bit_length(np.asarray(n).view(np.ndarray)).view(Counted)
    finally:
        LOG.on = True


_ISQRT = _common.isqrt_newton
SQRT_SEEN: list[int] = []


def _isqrt(n, x0=None):
    LOG.on = False
    try:
        root, it = _ISQRT(np.asarray(n).view(np.ndarray), x0)
        SQRT_SEEN.append(int(it.max()))
        return root.view(Counted), it
    finally:
        LOG.on = True


def _shift(v, f, **_):
    return v << f if f >= 0 else v >> (-f)


@pytest.fixture(autouse=True)
def instrumented():
    def nocheck(a, *args, **kwargs):
        return a

    patches = [mock.patch.object(m, "check_width", nocheck) for m in (ibert, ivit, _common)]
    patches += [mock.patch.object(m, "check_bound", lambda *a, **k: None) for m in (ibert, ivit)]
    patches += [mock.patch.object(m, "_max_abs", lambda a: 0) for m in (ibert, ivit, dyadic)]
    patches += [mock.patch.object(m, "shift_by", _shift) for m in (ibert, ivit, _common)]
    patches += [mock.patch.object(m, "as_int64", lambda q, bits, kernel: q.astype(np.int64)) for m in (ibert, ivit)]
    patches += [mock.patch.object(ibert, "bit_length", _bit_length),
                mock.patch.object(_common, "isqrt_newton", _isqrt)]
    for p in patches:
        p.start()
    yield
    for p in reversed(patches):
        p.stop()


ROWS, ROW_LEN = 3, 7
RNG = np.random.default_rng(7)
Q8 = RNG.integers(-127, 128, (ROWS, ROW_LEN)).astype(np.int64)
Q32 = RNG.integers(-(1 << 20), 1 << 20, (ROWS, ROW_LEN)).astype(np.int64)
W = RNG.uniform(0.5, 1.5, ROW_LEN)
B = RNG.uniform(-0.2, 0.2, ROW_LEN)


def count(fn, q) -> tuple[dict[str, int], dict[str, int]]:
    """(per element, per row) operations ``fn`` applies to ``q`` (``ROWS x ROW_LEN``)."""
    LOG.calls.clear()
    with mock.patch.object(np, "asarray", np.asanyarray):
        fn(q.view(Counted))
    per_element: dict[str, int] = defaultdict(int)
    per_row: dict[str, int] = defaultdict(int)
    for kinds, size in LOG.calls:
        if size == ROWS * ROW_LEN:
            target, n = per_element, 1
        elif size == ROWS:
            target, n = per_row, 1
        else:
            raise AssertionError(f"an operation on {size} values: neither per element nor per row")
        for k in kinds:
            target[k] += n
    return dict(per_element), dict(per_row)


def sub(a, b):
    out = {k: a.get(k, 0) - b.get(k, 0) for k in ALL_OPS}
    return {k: v for k, v in out.items() if v}


# numpy spelling of one hardware operation (counted minus table, per element / per row), with the reason
REMAINDER = {"mul": 1, "add": 1}  # r = x - x0 * z: the divider returns the remainder with the quotient
ZERO_ROW_CHECK = {"cmp": 1}  # normalize_rows' int(total.min()) <= 0 check is verification, not datapath
# mean (2 (total << g) + C) // 2C is one shift by g + 1; lbits + R - F is one add (R - F is a constant);
# std == 0 guards the reciprocal (one compare, one select, both charged), numpy's second pair only keeps its
# own division from dividing by zero
LAYERNORM_ROW = {"mul": 1, "add": 1, "cmp": 2}
ARTIFACTS = {
    "ibert.int_gelu": ({}, {}),
    "ibert.int_softmax": (REMAINDER, ZERO_ROW_CHECK),
    "ivit.shiftmax": (REMAINDER, ZERO_ROW_CHECK),
    # -|q| is min(q, -q) (numpy: abs, then negate); (. << 0) >> z with pre_shift 0 is one shift; the select
    # q > 0 ? one : E takes the sign bit (numpy: a compare, then np.where)
    "ivit.shift_gelu": ({"mul": 1, "add": 2, "shift": 1, "cmp": 1}, {}),
    "ibert.int_layernorm": ({}, LAYERNORM_ROW),
    "ivit.int_layernorm": ({}, LAYERNORM_ROW),
}
KERNELS = {
    # name: (kernel set, mapper cost key, run on int8-scale input, run on accumulator-scale input)
    "ibert.int_gelu": ("ibert", "gelu", lambda q: ibert.int_gelu(q, 0.05, in_bits=8),
                       lambda q: ibert.int_gelu(q, 1e-5)),
    "ibert.int_softmax": ("ibert", "softmax", lambda q: ibert.int_softmax(q, 0.05, in_bits=8),
                          lambda q: ibert.int_softmax(q, 1e-5)),
    "ibert.int_layernorm": ("ibert", "layernorm", lambda q: ibert.int_layernorm(q, 0.05, W, B, in_bits=8),
                            lambda q: ibert.int_layernorm(q, 0.01, W, B, in_bits=22)),
    "ivit.shift_gelu": ("ivit", "gelu", lambda q: ivit.shift_gelu(q, 0.05, in_bits=8),
                        lambda q: ivit.shift_gelu(q, 1e-5)),
    "ivit.shiftmax": ("ivit", "softmax", lambda q: ivit.shiftmax(q, 0.05, in_bits=8),
                      lambda q: ivit.shiftmax(q, 1e-5)),
    "ivit.int_layernorm": ("ivit", "layernorm", lambda q: ivit.int_layernorm(q, 0.05, W, B, in_bits=8),
                           lambda q: ivit.int_layernorm(q, 0.01, W, B, in_bits=22)),
}


@pytest.mark.parametrize("name", list(KERNELS))
def test_kernel_counts_match_the_mapper(name):
    kset, key, int8_run, acc_run = KERNELS[name]
    cost = kernel_costs(kset)[key]
    table = op_counts(name, "clean")
    d_elem, d_row = ARTIFACTS[name]
    SQRT_SEEN.clear()
    worst_elem, worst_row = count(int8_run, Q8 if "layernorm" not in name else Q8)
    acc_elem, acc_row = count(acc_run, Q32)
    # the table charges the worst case of the two working-shift branches (a saturating left shift at int8
    # scales costs a compare that the right shift at accumulator scales does not)
    assert sub(worst_elem, d_elem) == dict(cost.per_element), (name, worst_elem)
    acc = sub(acc_elem, d_elem)
    assert all(acc.get(k, 0) <= v for k, v in cost.per_element.items()) and set(acc) <= set(cost.per_element)
    assert sub(acc_elem, d_elem) != {} and sub(acc_row, d_row) == sub(worst_row, d_row)
    # per row: the kernel's own work plus, for LayerNorm, the worst-case Newton iterations of the sqrt
    # (and I-BERT's start 2^ceil(bits/2): clz 1, add 1, shift 2, inside the sqrt routine)
    expected_row = dict(cost.per_row)
    if "layernorm" in name:
        n = worst_sqrt_iterations(kset)
        assert SQRT_SEEN and max(SQRT_SEEN) <= n  # the bound holds for the inputs seen
        per_iter = {k: int(v) for k, v in table.per_sqrt_iteration.items() if v}
        expected_row = sub(expected_row, {k: n * v for k, v in per_iter.items()})
        if kset == "ibert":
            expected_row = sub(expected_row, {"clz": 1, "add": 1, "shift": 2})
    assert sub(worst_row, d_row) == expected_row, (name, worst_row)


def test_requantization_matches_REQUANT():
    elem, row = count(lambda q: dyadic.requantize(q, 1234567, 30, 8), Q32)
    assert elem == REQUANT and row == {}


def test_residual_add_matches_the_integer_model():
    """The encoder's residual (functional.integer: both terms requantized, added, saturated to 22 bits)."""
    from sim.functional.integer import IntegerEncoder

    other = RNG.integers(-(1 << 20), 1 << 20, (ROWS, ROW_LEN)).astype(np.int64).view(Counted)
    elem, row = count(lambda q: IntegerEncoder._residual(q, 1e-4, other, 2e-4, 3e-4), Q32)
    assert row == {}
    # the matmul feeding a fused residual has no requantizing epilogue of its own: the residual charges both
    assert elem == dict(kernel_costs("ibert")["residual_add"].per_element)
