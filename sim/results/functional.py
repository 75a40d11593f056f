"""The functional pass's report (``functional`` in a run report): the design's integer datapath checked bit for bit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from sim.results.base import Report

__all__ = ["FunctionalReport"]


@dataclass(repr=False)
class FunctionalReport(Report):
    """What ``sim run --functional`` found: the hardware dataflow's GEMMs against the reference kernels, and the
    integer model's accuracy against the float model (last hidden state)."""

    REPR_FIELDS: ClassVar[tuple[str, ...]] = ("checked", "mode", "engine", "cosine_vs_float")

    checked: bool | None = None
    """True: every datapath GEMM equals the reference kernel bit for bit; None: no integer datapath (fp16)."""
    cosine_vs_float: float | None = None
    """Mean cosine of the integer (or fp16) model's last hidden state against the float model's."""
    max_abs_err_vs_float: float | None = None
    """Largest absolute difference of the last hidden states."""
    output_sha256: str | None = None
    """sha256 of the final output bytes (int8; fp16 for the float models)."""
    exact: bool = False
    """True when the model is integer (bit-exact by construction)."""
    kernels: str = ""
    """The nonlinear kernel set (``vector.kernels``: ibert or ivit)."""
    weights_source: str = ""
    """Where the weights come from: ``PATH (sha256 HEX)`` of the checkpoint, or ``synthetic seed N``."""
    input: str | None = None
    """How the input token ids were made."""
    mode: str | None = None
    """int8, gobo<bits>, fp16 or gobo<bits>-dequantized-fp16."""
    engine: str | None = None
    """The datapath the GEMMs ran on (the compute kind's, e.g. gobo, systolic, tensorcore-fp16)."""
    gemms: int | None = None
    """Weight GEMMs computed."""
    bmms: int | None = None
    """Attention matmul calls computed (each covering every head)."""
    gemms_checked: int | None = None
    """Datapath products compared with the reference kernel."""
    mismatches: list[str] = field(default_factory=list)
    """Names of the products that differed (empty when ``checked``)."""
    calibration: str | None = None
    """The calibration batch of the activation scales."""
    smoothing: bool | None = None
    """Whether SmoothQuant-style smoothing was applied (int8 weights)."""
    notes: list[str] = field(default_factory=list)
    """What the functional model approximates for this design."""
    skipped: str | None = None
    """Why the pass did not run (e.g. no integer pipeline for the workload family), else None."""
