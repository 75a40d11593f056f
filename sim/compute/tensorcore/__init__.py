"""The Tensor-Core-like compute kind (``compute.kind: tensorcore``): units of fp16 MMAs with fp32 accumulation.

See ``docs/hw/tensorcore.md``. Modules: :mod:`.config`, :mod:`.timing` (closed form), :mod:`.stepper`
(per-cycle reference), :mod:`.unit`, :mod:`.cost`, :mod:`.plugin`. No integer datapath: the functional pass
runs the float model with fp16 operands.
"""
