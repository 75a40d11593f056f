"""gobosim: a cycle-level simulator of DNN accelerators (GOBO, TPU-like, Tensor-Core-like) for BERT-family models.

The public API, as plain functions (loaded on first use, so ``import sim`` stays cheap)::

    import sim
    r = sim.run("gobo", "bert-base")                          # RunResult (the run report)
    c = sim.compare("bert-base", ["gobo", "tcore", "tpu"])    # CompareReport
    m = sim.quantize("bert-base")                             # QuantizedModel (.report(): the quantize report)
    a = sim.area("gobo")                                      # AreaReport
    p = sim.price("run.json", node_nm=28)                     # RunResult re-priced, not re-simulated
    df = sim.sweep("sweeps/gobo-tiles-pes-wbuf.yaml", "out")  # the sweep's results DataFrame

See :mod:`sim.api`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sim._version import __version__

if TYPE_CHECKING:
    from sim.api import area, compare, price, quantize, run, run_bound, sweep

__all__ = ["__version__", "area", "compare", "price", "quantize", "run", "run_bound", "sweep"]

_EXPORTS = {name: "sim.api" for name in ("area", "compare", "price", "quantize", "run", "run_bound", "sweep")}


def __getattr__(name: str) -> Any:
    """Lazy exports (PEP 562) of :mod:`sim.api`'s functions."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
