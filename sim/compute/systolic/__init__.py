"""The TPU-like systolic array's compute kind (``compute.kind: systolic``): int8 MAC PEs, ws/os/is dataflows.

See ``docs/hw/systolic.md``. Modules: :mod:`.config`, :mod:`.timing` (fold plan and closed form),
:mod:`.stepper` (per-cycle reference), :mod:`.unit`, :mod:`.cost`, :mod:`.dataflow`, :mod:`.plugin`.
"""
