"""Sweep constraints: a small, safe expression language over dotted parameter and metric names.

A constraint is one Python-like boolean expression, e.g. ``"compute.rows == compute.cols"``,
``"compute.tiles * compute.pes_per_tile <= 2048"``, ``"dram.kind in ['ddr4-3200', 'hbm2']"`` or
``"area_mm2 <= 50"``. Allowed: numbers, strings, ``True``/``False``, dotted names, ``+ - * / // % **``,
comparisons (chained too), ``in``/``not in`` a list, ``and``/``or``/``not``, and the functions
``min``, ``max``, ``abs``, ``log2``. Nothing else is evaluated (no attribute access on objects, no calls
to anything else), so a spec file cannot run code.

Caps (the usual ones of safe evaluators such as simpleeval), so a spec cannot hang or exhaust memory: an
expression has at most :data:`MAX_EXPR_CHARS` characters, :data:`MAX_NODES` syntax nodes and
:data:`MAX_DEPTH` levels; integers stay within :data:`MAX_INT_BITS` bits (a power whose result would be
larger is refused before it is computed); strings and lists built by ``*`` or ``+`` stay within
:data:`MAX_SEQUENCE_LEN` items; ``%`` on a string (printf-style formatting) is refused.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_CMPOPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_FUNCS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "abs": abs, "log2": math.log2}

MAX_EXPR_CHARS = 2000
MAX_NODES = 500
MAX_DEPTH = 40
MAX_INT_BITS = 1024
MAX_SEQUENCE_LEN = 10_000


def _int_ok(v: Any) -> Any:
    if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > MAX_INT_BITS:
        raise ExprError(f"an integer of over {MAX_INT_BITS} bits")
    if isinstance(v, (str, list)) and len(v) > MAX_SEQUENCE_LEN:
        raise ExprError(f"a string or list of over {MAX_SEQUENCE_LEN:,} items")
    return v


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _pow(a: Any, b: Any) -> Any:
    if _is_int(a) and _is_int(b) and b > 0 and abs(a) > 1 and b * math.log2(abs(a)) > MAX_INT_BITS:
        raise ExprError(f"a power of over {MAX_INT_BITS} bits")
    if isinstance(b, (int, float)) and abs(b) > 1_000_000 and isinstance(a, (int, float)) and abs(a) != 1:
        raise ExprError("an exponent over 1e6 in magnitude")  # floats: overflow or underflow anyway
    return operator.pow(a, b)


def _mul(a: Any, b: Any) -> Any:
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, (str, list)) and _is_int(n) and len(seq) * max(n, 0) > MAX_SEQUENCE_LEN:
            raise ExprError(f"a string or list of over {MAX_SEQUENCE_LEN:,} items")
    if _is_int(a) and _is_int(b) and a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
        raise ExprError(f"an integer of over {MAX_INT_BITS} bits")
    return operator.mul(a, b)


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, str):
        raise ExprError("string formatting ('...' % x) is not allowed")
    return operator.mod(a, b)


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, (str, list)) and isinstance(b, (str, list)) and len(a) + len(b) > MAX_SEQUENCE_LEN:
        raise ExprError(f"a string or list of over {MAX_SEQUENCE_LEN:,} items")
    return operator.add(a, b)


_BINOPS.update({ast.Pow: _pow, ast.Mult: _mul, ast.Mod: _mod, ast.Add: _add})


class ExprError(ValueError):
    """A constraint that does not parse, or uses something the language does not allow."""


class Unknown(Exception):
    """Raised during evaluation when a name's value is null (e.g. a metric the model did not compute)."""


@dataclass(frozen=True)
class Constraint:
    """One parsed constraint: its text, the dotted names it reads, and its syntax tree."""

    text: str
    names: tuple[str, ...]
    tree: ast.Expression

    def evaluate(self, values: Mapping[str, Any]) -> bool:
        """True if the constraint holds for ``values`` (dotted name -> value).

        Raises:
            Unknown: a name it reads is null (``None`` or NaN) in ``values``.
            ExprError: a type error (e.g. comparing a string with a number).
        """
        try:
            return bool(_eval(self.tree.body, values))
        except Unknown:
            raise
        except ExprError as exc:
            raise ExprError(f"cannot evaluate {_short(self.text)!r}: {exc}") from None
        except (TypeError, ZeroDivisionError, ValueError, OverflowError, MemoryError, RecursionError) as exc:
            raise ExprError(f"cannot evaluate {_short(self.text)!r}: {type(exc).__name__}: "
                            f"{str(exc)[:200]}") from None


def dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def parse(text: str) -> Constraint:
    """Parse and check one constraint (raises :class:`ExprError` with a one-line reason)."""
    if not isinstance(text, str) or not text.strip():
        raise ExprError("expected a non-empty expression string, e.g. 'compute.rows == compute.cols'")
    if len(text) > MAX_EXPR_CHARS:
        raise ExprError(f"an expression of {len(text):,} characters; at most {MAX_EXPR_CHARS:,}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"not a valid expression ({exc.msg})") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExprError(f"not a valid expression ({type(exc).__name__})") from None
    nodes = 0
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:  # size and depth first, iteratively: the checks below recurse
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES or depth > MAX_DEPTH:
            raise ExprError(f"too large an expression (at most {MAX_NODES} terms, {MAX_DEPTH} levels deep)")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    names: list[str] = []
    _check(tree.body, names)
    return Constraint(text=text.strip(), names=tuple(dict.fromkeys(names)), tree=tree)


def _check(node: ast.AST, names: list[str]) -> None:
    name = dotted(node)
    if name is not None:
        if name not in ("True", "False"):
            names.append(name)
        return
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float, str, bool)):
            raise ExprError(f"constant {node.value!r} not allowed")
        _int_ok(node.value)
        return
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        _check(node.left, names)
        _check(node.right, names)
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)):
        _check(node.operand, names)
        return
    if isinstance(node, ast.BoolOp):
        for v in node.values:
            _check(v, names)
        return
    if isinstance(node, ast.Compare) and all(type(op) in _CMPOPS for op in node.ops):
        for v in [node.left, *node.comparators]:
            _check(v, names)
        return
    if isinstance(node, (ast.List, ast.Tuple)):
        for v in node.elts:
            _check(v, names)
        return
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS \
            and not node.keywords:
        for v in node.args:
            _check(v, names)
        return
    what = type(node).__name__
    if isinstance(node, ast.Call):
        what = f"call of {ast.unparse(node.func)}() (allowed: {', '.join(_FUNCS)})"
    raise ExprError(f"{what} is not allowed in a constraint")


def _eval(node: ast.AST, values: Mapping[str, Any]) -> Any:
    name = dotted(node)
    if name is not None:
        if name in ("True", "False"):
            return name == "True"
        value = values.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise Unknown(name)
        return value
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp):
        return _int_ok(_BINOPS[type(node.op)](_eval(node.left, values), _eval(node.right, values)))
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, values)
        return (not v) if isinstance(node.op, ast.Not) else (-v if isinstance(node.op, ast.USub) else +v)
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_eval(v, values) for v in node.values)
        return any(_eval(v, values) for v in node.values)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, values)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, values)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(v, values) for v in node.elts]
    if isinstance(node, ast.Call):
        return _FUNCS[node.func.id](*(_eval(a, values) for a in node.args))  # type: ignore[attr-defined]
    raise ExprError(f"{type(node).__name__} is not allowed")  # unreachable after parse()


def _short(text: str) -> str:
    return text if len(text) <= 120 else text[:117] + "..."
