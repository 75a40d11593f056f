"""OliVe array: the per-cycle reference (slow; :mod:`.timing`'s closed form is tested against it).

The array is stepped register by register by the systolic array's stepper
(:class:`sim.compute.systolic.stepper.SystolicStepper`, the same hardware); what this module adds is written
apart from :mod:`.timing`: the weight path from the packed pair bytes through the edge decoders, fold block by
fold block as the preload sends them (each block's bytes decoded by :func:`sim.quant.olive.decode_codes`
and counted), and the attention matmul's two nibble passes, merged per output.
"""

from __future__ import annotations

import numpy as np

from sim.compute.systolic.stepper import SystolicStepper
from sim.compute.systolic.timing import SystolicParams
from sim.hw.timing import StepperResult
from sim.quant.olive import decode_codes

__all__ = ["OliveStepper"]


def _merge(into: dict[str, int], add: dict[str, int]) -> None:
    for k, v in add.items():
        name = "mac_w4a8" if k == "mac_int8" else k
        into[name] = into.get(name, 0) + int(v)


class OliveStepper:
    """Per-cycle reference of an OliVe array (``params``: the array as a weight-stationary systolic array)."""

    def __init__(self, params: SystolicParams) -> None:
        if params.rows % 2:
            raise ValueError(f"an OliVe array needs an even number of PE rows, got {params.rows}")
        self.params = params

    def run_gemm(self, x: np.ndarray, pairs: np.ndarray, k: int) -> StepperResult:
        """``x [M, k] (int8) @ W^T`` for the OVP weight ``pairs`` (uint8 ``[N, ceil(k/2)]``, the packed rows of
        ``W [N, k]``): every fold block decoded at the edge as it is preloaded, then the array stepped."""
        x = np.asarray(x)
        R, C = self.params.rows, self.params.cols
        n = pairs.shape[0]
        w = np.zeros((k, n), dtype=np.int64)
        decodes = 0
        for c0 in range(0, n, C):
            for r0 in range(0, k, R):
                blk = pairs[c0:c0 + C, r0 // 2:(min(k, r0 + R) + 1) // 2]
                vals = decode_codes(blk)  # [cols of the block, 2 * pairs]
                decodes += int(blk.size)
                rows = min(k, r0 + R) - r0
                w[r0:r0 + rows, c0:c0 + C] = vals[:, :rows].T
        res = SystolicStepper(self.params).run(x, w)
        actions: dict[str, int] = {}
        _merge(actions, res.actions)
        actions["decode_pairs"] = decodes
        return StepperResult(res.output, res.cycles, actions)

    def run_bmm(self, a: np.ndarray, b: np.ndarray) -> StepperResult:
        """``a @ b`` of int8 activations: the stationary ``b`` in two nibble passes (``b = 16 hi + lo``)."""
        b = np.asarray(b, dtype=np.int64)
        lo = b & 0xF
        hi = b >> 4
        stepper = SystolicStepper(self.params)
        r_lo = stepper.run(a, lo)
        r_hi = stepper.run(a, hi)
        out = r_hi.output * 16 + r_lo.output
        actions: dict[str, int] = {}
        _merge(actions, r_lo.actions)
        _merge(actions, r_hi.actions)
        actions["add_int32"] = actions.get("add_int32", 0) + int(out.size)
        return StepperResult(out, r_lo.cycles + r_hi.cycles, actions)
