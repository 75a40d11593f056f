"""Runs every GEMM of the integer forward on a design's datapath and, in check mode, against the reference.

Engines (``engine``):

* ``"gobo"``: GOBO weights through the GOBO PE dataflow (:func:`~.dataflow.gobo_pe_gemm`); attention
  BMMs on the PEs' multipliers as plain int8 MACs (:func:`sim.kernels.gemm.int_gemm`).
* ``"systolic"``: every GEMM and BMM fold-wise on a weight-stationary array of ``rows`` PE rows
  (:func:`~.dataflow.systolic_gemm`): int8 weights; GOBO weights decompressed to their integer matrix
  (int8 centroids, int16 outliers: 16-bit weight operands) for "GOBO compression on the systolic array".
* ``"reference"``: :func:`sim.kernels.gemm.int_gemm` for everything (nothing to check).

Check mode: each datapath result is compared with ``int_gemm`` on the same integers (the reconstructed
matrix for GOBO) element for element; :class:`GemmStats` records the counts and any mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.kernels.gemm import int_gemm

from .dataflow import gobo_pe_gemm, systolic_gemm
from .qweights import IntLinear

__all__ = ["GemmRunner", "GemmStats", "ENGINES"]

ENGINES = ("gobo", "systolic", "reference")


@dataclass
class GemmStats:
    """Counts over one forward: ``gemms`` (weight GEMMs), ``bmms`` (attention BMM calls, each covering all
    heads), ``checked`` (datapath results compared with ``int_gemm``), ``mismatches`` (names of those
    that differed), ``dataflow`` (name -> how it was computed, for the first layer only)."""

    gemms: int = 0
    bmms: int = 0
    checked: int = 0
    mismatches: list[str] = field(default_factory=list)
    dataflow: dict[str, str] = field(default_factory=dict)

    @property
    def all_equal(self) -> bool:
        """True when every checked GEMM matched bit for bit (and at least one was checked)."""
        return self.checked > 0 and not self.mismatches


class GemmRunner:
    """Computes GEMMs on one engine (see the module docstring); ``rows``: systolic PE rows per fold."""

    def __init__(self, engine: str, *, rows: int = 64, check: bool = False, act_bits: int = 8) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        self.engine = engine
        self.rows = int(rows)
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
        if self.engine == "gobo" and lin.gobo is not None:
            out = gobo_pe_gemm(x, lin.gobo)
            how = "gobo-pe"
        elif self.engine == "systolic":
            out = systolic_gemm(x, lin.matrix_nk().T, self.rows, in_bits=ib)
            how = f"systolic-ws(rows={self.rows}, w{lin.in_bits})"
        else:
            out = int_gemm(x, lin.matrix_nk().T, in_bits=ib).astype(np.int64)
            how = "int_gemm"
        if len(self.stats.dataflow) < 16:
            self.stats.dataflow.setdefault(name, how)
        if self.check and how != "int_gemm":
            self._compare(name, out, int_gemm(x, lin.matrix_nk().T, in_bits=ib))
        return out

    def bmm(self, a: np.ndarray, b: np.ndarray, name: str, *, in_bits: int = 8) -> np.ndarray:
        """Batched ``a @ b`` of activations (attention); int64."""
        self.stats.bmms += 1
        if self.engine == "systolic":
            out = systolic_gemm(a, b, self.rows, in_bits=in_bits)
            if self.check:
                self._compare(name, out, int_gemm(a, b, in_bits=in_bits))
            return out
        return int_gemm(a, b, in_bits=in_bits).astype(np.int64)
