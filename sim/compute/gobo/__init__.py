"""The GOBO accelerator's compute kind (``compute.kind: gobo``): add-mostly PEs over 3-bit weight indices.

See ``docs/hw/gobo.md`` for the micro-architecture. Modules: :mod:`.config`, :mod:`.timing` (closed forms of
the tile and, for attention, its MAC mode), :mod:`.stepper` (per-cycle references), :mod:`.unit` (mapping hooks),
:mod:`.cost` (area/energy), :mod:`.dataflow` (the GOBO PE GEMM, bit for bit), :mod:`.plugin`.
"""
