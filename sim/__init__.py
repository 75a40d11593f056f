"""gobosim: a cycle-level simulator of DNN accelerators (GOBO, TPU-like, Tensor-Core-like) for BERT-family models."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """Lazy exports: ``sim.sweep`` (callable module, see sim/sweep.py) is imported on first use."""
    if name == "sweep":
        import importlib

        return importlib.import_module("sim.sweep")
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
