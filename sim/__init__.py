"""gobosim: a cycle-level simulator of DNN accelerators (GOBO, TPU-like, Tensor-Core-like) for BERT-family models."""

__version__ = "0.1.0"
