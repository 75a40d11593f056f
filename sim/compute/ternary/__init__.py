"""The ternary-weight accelerator's compute kind (``compute.kind: ternary``): add/subtract PEs on {-1, 0, +1}.

See ``docs/hw/ternary.md``. Modules: :mod:`.config`, :mod:`.timing` (closed form), :mod:`.stepper` (per-cycle
reference), :mod:`.unit`, :mod:`.cost`, :mod:`.dataflow`, :mod:`.plugin`.
"""
