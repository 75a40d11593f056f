"""The Python API: everything the CLI does, as plain functions returning typed reports.

``import sim`` gives the same functions as ``sim.run``, ``sim.compare``, ``sim.quantize``, ``sim.sweep``,
``sim.area`` and ``sim.price``. This module is a facade: the work is done by :mod:`sim.prepare` (a run prepared
once), :mod:`sim.simulate` (mapping + engine + pricing), :mod:`sim.functional.check` (the functional pass),
:mod:`sim.comparison`, :mod:`sim.weights` and :mod:`sim.sweeps`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from sim.comparison import compare
from sim.config.hardware import HardwareConfig
from sim.config.loader import load_hardware
from sim.cost.area import area as _area
from sim.cost.reprice import apply_prices, reprice_file
from sim.errors import SimInputError
from sim.pipeline import run, run_bound, run_prepared
from sim.prepare import PreparedRun, prepare
from sim.quant import GoboParams, QuantizedModel
from sim.results import AreaReport, RunResult
from sim.sweeps.runner import run_sweep
from sim.weights import quantize_format_for, quantize_model_for, tensor_values
from sim.workload.graph import lower
from sim.workload.loader import load_workload
from sim.workload.spec import WorkloadSpec

__all__ = ["PreparedRun", "area", "compare", "prepare", "price", "quantize", "quantize_format", "run", "run_bound",
           "run_prepared", "sweep", "tensor_values"]


def quantize(workload: str | os.PathLike[str] | WorkloadSpec | None = None, *,
             weights: str | os.PathLike[str] | None = None, bits: int = 3, embedding_bits: int = 4,
             outlier_threshold: float = -4.0, seed: int = 0) -> QuantizedModel:
    """GOBO-quantize a checkpoint, or the seeded synthetic weights of a workload; returns the QuantizedModel
    (``sim.results.QuantizeReport.from_dict(model.report())`` is its report)."""
    params = GoboParams(bits=bits, embedding_bits=embedding_bits, outlier_threshold=outlier_threshold)
    if weights is not None:
        return quantize_model_for(None, params, weights=weights)
    if workload is None:
        raise SimInputError("quantize: give --workload (synthetic weights) or --weights FILE.safetensors")
    wl = workload if isinstance(workload, WorkloadSpec) else load_workload(workload)
    return quantize_model_for(lower(wl), params, seed=seed)


def quantize_format(fmt: str, workload: str | os.PathLike[str] | WorkloadSpec | None = None, *,
                    weights: str | os.PathLike[str] | None = None, seed: int = 0,
                    options: dict[str, Any] | None = None, embeddings: bool = False,
                    frequencies: Any = None) -> Any:
    """``sim quantize --format F`` (F a registered format other than gobo): the
    :class:`~sim.results.FormatQuantizeReport` of a checkpoint or of a workload's synthetic weights."""
    graph = None
    if workload is not None:
        graph = lower(workload if isinstance(workload, WorkloadSpec) else load_workload(workload))
    return quantize_format_for(fmt, graph, weights=weights, seed=seed, options=options, embeddings=embeddings,
                               frequencies=frequencies)


def area(hw: str | os.PathLike[str] | HardwareConfig, *, sets: Iterable[str] = (), table: str | None = None,
         node_nm: int | None = None) -> AreaReport:
    """The area report of a design (``sim area``)."""
    hw_cfg = hw if isinstance(hw, HardwareConfig) else load_hardware(hw, sets)
    return _area(hw_cfg, table=table, node_nm=node_nm)


def price(report: str | os.PathLike[str] | Mapping[str, Any] | RunResult, *, table: str | None = None,
          node_nm: int | None = None) -> RunResult:
    """A run report re-priced with another table or node, without re-simulating (``sim price``)."""
    if isinstance(report, RunResult):
        data = apply_prices(report.to_dict(), table=table, node_nm=node_nm, source="<RunResult>")
    elif isinstance(report, Mapping):
        data = apply_prices(report, table=table, node_nm=node_nm)
    else:
        data = reprice_file(report, table=table, node_nm=node_nm)
    return RunResult.from_dict(data, str(report) if not isinstance(report, (Mapping, RunResult)) else "<report>")


def sweep(spec: Any, out_dir: str | os.PathLike[str], **kwargs: Any) -> Any:
    """Run a design-space sweep (``sim sweep``): the results DataFrame (see :func:`sim.sweeps.runner.run_sweep`)."""
    return run_sweep(spec, out_dir, **kwargs)
