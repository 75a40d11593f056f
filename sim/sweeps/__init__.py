"""Design-space sweeps: the spec, its points, parallel execution, durable results, Pareto fronts.

The public entry points are re-exported by :mod:`sim.sweep` (``sim.sweep(spec, out_dir)``,
``sim.sweep.pareto_front(df)``); the modules here are its parts:

- :mod:`~sim.sweeps.spec`     the YAML spec and its structural validation
- :mod:`~sim.sweeps.expr`     the constraint expression language
- :mod:`~sim.sweeps.plan`     expansion, constraints, per-point validation, point ids
- :mod:`~sim.sweeps.execute`  worker function, local / Dask backends, the scheduler loop
- :mod:`~sim.sweeps.store`    results.csv (atomic append, resume), parquet, spec.yaml, meta.json
- :mod:`~sim.sweeps.columns`  result columns and the metrics of one run
- :mod:`~sim.sweeps.progress` the progress reporter
- :mod:`~sim.sweeps.pareto`   Pareto fronts
- :mod:`~sim.sweeps.runner`   ``run_sweep``, tying them together
"""
