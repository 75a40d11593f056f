"""The BiQGEMM-style lookup-table accelerator's compute kind (``compute.kind: biqgemm``) for binary-coded weights.

See ``docs/hw/biqgemm.md``. Modules: :mod:`.config`, :mod:`.timing` (closed form), :mod:`.stepper` (per-cycle
reference), :mod:`.unit`, :mod:`.cost`, :mod:`.dataflow`, :mod:`.plugin`.
"""
