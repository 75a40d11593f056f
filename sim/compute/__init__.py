"""Compute kinds as plug-ins: one package per kind of compute engine, a registry mapping ``compute.kind`` to it.

- :mod:`sim.compute.base`      the protocol (``ComputeKind``, ``MatrixUnit``, ``Datapath``, ``ComputeConfig``)
- :mod:`sim.compute.registry`  ``get(kind)``, ``register(plugin)``, ``kinds()``
- :mod:`sim.compute.gobo`, :mod:`sim.compute.systolic`, :mod:`sim.compute.tensorcore`: the built-in kinds, each with
  ``config`` (its YAML section), ``timing`` (closed forms), ``stepper`` (per-cycle references, for the tests),
  ``unit`` (mapping hooks), ``cost`` (area/energy estimator), ``dataflow`` (functional datapath) and ``plugin``.
"""
