"""Design-space sweeps (the ``sim sweep`` command's Python API).

``sim.sweep`` is this module, and the module is callable::

    import sim
    df = sim.sweep("sweeps/gobo-tiles-pes-wbuf.yaml", "out/gobo")      # == sim.sweep.run_sweep(...)
    front = sim.sweep.pareto_front(df, ["seconds", "energy_pj"])

(``from sim.sweep import run_sweep, pareto_front`` works too.) The spec format is described in
:mod:`sim.sweeps.spec`; the results table in :mod:`sim.sweeps.columns`; durability and resume in
:mod:`sim.sweeps.store`.
"""

from __future__ import annotations

import sys
import types

from sim.sweeps.pareto import pareto_front, pareto_mask
from sim.sweeps.plan import Plan, Point, PointTask
from sim.sweeps.progress import Progress
from sim.sweeps.runner import plan_sweep, run_sweep
from sim.sweeps.spec import SweepSpec, load_spec

__all__ = ["run_sweep", "plan_sweep", "load_spec", "pareto_front", "pareto_mask", "SweepSpec", "Plan", "Point",
           "PointTask", "Progress"]


class _CallableModule(types.ModuleType):
    """Makes ``sim.sweep(spec, out_dir, ...)`` call :func:`run_sweep`; ``sim.sweep.pareto_front`` stays reachable."""

    def __call__(self, spec_or_path, out_dir, **kwargs):
        return run_sweep(spec_or_path, out_dir, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
