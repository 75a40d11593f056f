"""OLAccel (Park, Kim, Yoo, ISCA 2018) as a compute kind (``compute.kind: olaccel``): groups of 4-bit-weight SIMD
MAC lanes sharing one broadcast activation, with one extra high-precision MAC per group for outlier weights.

See ``docs/hw/olaccel.md``. Modules: :mod:`.config`, :mod:`.timing` (closed form), :mod:`.stepper` (per-cycle
reference), :mod:`.unit`, :mod:`.cost`, :mod:`.dataflow`, :mod:`.plugin`.
"""
