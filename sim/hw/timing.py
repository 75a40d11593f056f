"""Shared result types for compute-tile timing models.

Every compute-unit model (GOBO tile, systolic array, tensor core) returns a :class:`TileTiming`:
the exact number of cycles one compute tile takes plus the actions it performed ("counts, then
prices": ``cost/`` multiplies the counts by energies per action; nothing here knows energies).
Per-cycle reference steppers return a :class:`StepperResult` (output, cycles, actions) whose
``timing`` must equal the closed form's :class:`TileTiming`.

Action vocabulary (name -> meaning of one count):

- ``add_int32``: one 32-bit integer addition (bin accumulate, adder-tree node, partial-sum merge).
- ``add_int16``: one 16-bit integer addition.
- ``add_int8``: one 8-bit integer addition.
- ``mul_int8``: one 8 x 8 -> 16-bit integer multiplication.
- ``mul_int8x32``: one int8 (centroid) x int32 (bin sum) multiplication.
- ``mac_int8``: one 8 x 8 multiply with 32-bit accumulate.
- ``mac_int8x16``: one int8 activation x int16 outlier weight multiply with int32 accumulate.
- ``fma_fp16``: one fp16 x fp16 multiply with fp32 accumulate that produces a useful result.
- ``add_fp32``: one fp32 addition.
- ``reg_bits``: bits written into pipeline or operand registers (each model's docstring says
  which registers it counts).
- ``index_read_bits``: weight-index bits read from a PE-local index register/FIFO.
- ``dict_read``: one centroid-dictionary entry read.

Additional actions (added by the GOBO-tile / tensor-core models):

- ``dict_write``: one centroid-dictionary entry written into one PE's dictionary registers
  (dictionary load of a new tensor).
- ``fma_fp16_padded``: one fp16 FMA issued on a padded (zero) lane of a partial MMA tile; the
  hardware spends it (energy) but it contributes nothing. Issued FMAs =
  ``fma_fp16 + fma_fp16_padded``.
- ``rf_read_bits``: bits read from the register-file level that feeds a tensor-core unit.
- ``rf_write_bits``: bits written back into that register-file level.

Zero counts are dropped from ``TileTiming.actions`` so that equal timings compare equal whether
or not a model listed an action it did not perform; use ``TileTiming.action(name)`` to read a
count with 0 as the default.
"""

from __future__ import annotations

import operator
from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np


def ceil_div(a: int, b: int) -> int:
    """ceil(a / b) for integers (b > 0)."""
    return -(-a // b)


def positive_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; TypeError / ValueError naming ``name`` otherwise."""
    try:
        v = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return v


def merge_actions(*dicts: Mapping[str, int]) -> dict[str, int]:
    """Sum action-count mappings key by key.

    Args:
        *dicts: mappings action name -> count (unit: actions).

    Returns:
        A new dict with, for every action present in any input, the sum of its counts
        (keys in first-seen order).
    """
    out: dict[str, int] = {}
    for d in dicts:
        for name, count in d.items():
            out[name] = out.get(name, 0) + int(count)
    return out


class FrozenCounts(Mapping[str, int]):
    """Immutable, hashable, picklable mapping action name -> count (zero counts dropped)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, int] | None = None) -> None:
        clean: dict[str, int] = {}
        for k, v in (data or {}).items():
            iv = int(v)
            if iv != v:
                raise ValueError(f"action {k!r} has a non-integer count {v!r}")
            if iv < 0:
                raise ValueError(f"action {k!r} has a negative count {iv}")
            if iv:
                clean[str(k)] = iv
        self._data = clean

    def __getitem__(self, key: str) -> int:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    # the read-only views and lookups of the underlying dict (the same items in the same order as the Mapping
    # mixins, without their per-item Python generator: the mapper, counting and pricing read every step's counts)
    def items(self) -> ItemsView[str, int]:
        """The (action, count) pairs, in insertion order."""
        return self._data.items()

    def keys(self) -> KeysView[str]:
        """The action names, in insertion order."""
        return self._data.keys()

    def values(self) -> ValuesView[int]:
        """The counts, in insertion order."""
        return self._data.values()

    def get(self, key: str, default: Any = None) -> Any:
        """The count of ``key``, or ``default`` when absent."""
        return self._data.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenCounts({self._data!r})"

    def __getstate__(self) -> dict[str, int]:
        return self._data

    def __setstate__(self, state: dict[str, int]) -> None:
        self._data = dict(state)


@dataclass(frozen=True)
class TileTiming:
    """Timing of one compute tile on one unit: exact cycles plus the actions it performed."""

    cycles: int
    """Cycles from the first operand entering to the last result leaving (unit: clock cycles)."""
    actions: Mapping[str, int] = field(default_factory=dict)
    """Action name -> count (see the module docstring for the vocabulary; zeros dropped)."""

    def __post_init__(self) -> None:
        if int(self.cycles) != self.cycles or self.cycles < 0:
            raise ValueError(f"TileTiming.cycles must be a non-negative integer, got {self.cycles!r}")
        object.__setattr__(self, "cycles", int(self.cycles))
        object.__setattr__(self, "actions", FrozenCounts(self.actions))

    def __add__(self, other: TileTiming) -> TileTiming:
        """Sequential composition: cycles add, action counts add."""
        if not isinstance(other, TileTiming):
            return NotImplemented
        return TileTiming(self.cycles + other.cycles, merge_actions(self.actions, other.actions))

    def action(self, name: str) -> int:
        """Count of action ``name`` (0 when absent; unit: actions)."""
        return int(self.actions.get(name, 0))


ZERO_TIMING = TileTiming(0, {})
"""The neutral element of ``+``: no cycles, no actions."""


class StepperResult(NamedTuple):
    """What a per-cycle reference stepper returns (fixed shape: output, cycles, actions)."""

    output: np.ndarray
    """The computed result (GOBO: int64 ``Y``; tensor core: float32 ``C``)."""
    cycles: int
    """Cycles the stepper ran (unit: clock cycles)."""
    actions: dict[str, int]
    """Action name -> count, as counted cycle by cycle (zeros dropped)."""

    @property
    def timing(self) -> TileTiming:
        """The cycles and actions as a :class:`TileTiming` (comparable with the closed form)."""
        return TileTiming(self.cycles, self.actions)
