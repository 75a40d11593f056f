"""Runs every GEMM of the integer forward on a design's datapath and, in check mode, against the reference.

A datapath (:class:`sim.compute.base.Datapath`, from the design's compute-kind plug-in: the GOBO PE bins, the
systolic array's folds, ...) computes each product the way the hardware does; ``None`` means the reference
kernel :func:`sim.kernels.gemm.int_gemm` computes everything (nothing to check). A datapath may also decline
one product (e.g. GOBO's attention BMMs, plain int8 MACs), which the reference kernel then computes.

Check mode: each datapath result is compared with ``int_gemm`` on the same integers (the reconstructed
matrix for GOBO) element for element; :class:`GemmStats` records the counts and any mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.compute.base import Datapath
from sim.kernels.gemm import int_gemm

from .qweights import IntLinear

__all__ = ["GemmRunner", "GemmStats"]


@dataclass
class GemmStats:
    """Counts over one forward: ``gemms`` (weight GEMMs), ``bmms`` (attention BMM calls, each covering all
    heads), ``checked`` (datapath results compared with ``int_gemm``), ``mismatches`` (names of those
    that differed), ``dataflow`` (name -> how it was computed, for the first layer only), ``activations``
    (what an activation format counted over the forward: elements, outliers, clipped; empty for int8)."""

    gemms: int = 0
    bmms: int = 0
    checked: int = 0
    mismatches: list[str] = field(default_factory=list)
    dataflow: dict[str, str] = field(default_factory=dict)
    activations: dict[str, int] = field(default_factory=dict)

    @property
    def all_equal(self) -> bool:
        """True when every checked GEMM matched bit for bit (and at least one was checked)."""
        return self.checked > 0 and not self.mismatches


class GemmRunner:
    """Computes GEMMs on one datapath (None: the reference kernel); see the module docstring."""

    def __init__(self, datapath: Datapath | None = None, *, check: bool = False, act_bits: int = 8) -> None:
        self.datapath = datapath
        self.check = bool(check)
        self.act_bits = int(act_bits)
        self.stats = GemmStats()

    def _compare(self, name: str, got: np.ndarray, ref: np.ndarray) -> None:
        self.stats.checked += 1
        if got.shape != ref.shape or not np.array_equal(got, ref):
            self.stats.mismatches.append(name)

    def linear(self, x: np.ndarray, lin: IntLinear, name: str) -> np.ndarray:
        """``x (m x k, int8) @ W^T`` for ``W = lin`` (``[n, k]``); int64 accumulators ``(m, n)``."""
        self.stats.gemms += 1
        ib = max(self.act_bits, lin.in_bits)  # declared operand width (both operands of int_gemm)
        done = self.datapath.linear(x, lin, ib) if self.datapath is not None else None
        if done is None:
            out, how = int_gemm(x, lin.matrix_nk().T, in_bits=ib).astype(np.int64), "int_gemm"
        else:
            out, how = done
        if len(self.stats.dataflow) < 16:
            self.stats.dataflow.setdefault(name, how)
        if self.check and how != "int_gemm":
            self._compare(name, out, int_gemm(x, lin.matrix_nk().T, in_bits=ib))
        return out

    def bmm(self, a: np.ndarray, b: np.ndarray, name: str, *, in_bits: int = 8,
            pair_axes: tuple[int | None, int | None] = (None, None)) -> np.ndarray:
        """Batched ``a @ b`` of activations (attention); int64. ``pair_axes``: per operand, the axis along which
        it is in the design's paired activation format (None: not in it); passed to the datapath only when
        one is given (only the datapaths of kinds with an activation format take it)."""
        self.stats.bmms += 1
        if self.datapath is None:
            out = None
        elif pair_axes != (None, None):
            out = self.datapath.bmm(a, b, in_bits, pair_axes=pair_axes)  # type: ignore[call-arg]
        else:
            out = self.datapath.bmm(a, b, in_bits)
        if out is None:
            return int_gemm(a, b, in_bits=in_bits).astype(np.int64)
        if self.check:
            self._compare(name, out, int_gemm(a, b, in_bits=in_bits))
        return out
