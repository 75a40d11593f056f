"""OliVe (Guo et al., ISCA 2023) as a compute kind (``compute.kind: olive``): a weight-stationary systolic array
of 4-bit x 8-bit exponent-integer PEs fed by outlier-victim pair decoders at the array edge.

See ``docs/hw/olive.md``. Modules: :mod:`.config`, :mod:`.timing` (closed form), :mod:`.stepper` (per-cycle
reference), :mod:`.unit`, :mod:`.cost`, :mod:`.dataflow`, :mod:`.plugin`.
"""
