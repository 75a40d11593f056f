"""Model dimensions of an encoder, taken from a :class:`~sim.workload.spec.WorkloadSpec`."""

from __future__ import annotations

from dataclasses import dataclass

from sim.workload.spec import WorkloadSpec

__all__ = ["EncoderDims"]

#: Padding token id per family (Hugging Face configs: BERT/DistilBERT 0, RoBERTa 1).
PAD_TOKEN_ID = {"bert": 0, "distilbert": 0, "roberta": 1, "vit": 0}


@dataclass(frozen=True)
class EncoderDims:
    """Shape parameters the forward passes need (counts; ``norm_eps`` is the LayerNorm epsilon)."""

    family: str
    layers: int
    hidden: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    norm_eps: float
    pooler: bool
    image_size: int = 0
    patch_size: int = 0
    channels: int = 3

    @property
    def head_dim(self) -> int:
        """Per-head width ``hidden / heads``."""
        return self.hidden // self.heads

    @property
    def pad_token_id(self) -> int:
        """The family's padding token id (RoBERTa's position ids count from it)."""
        return PAD_TOKEN_ID[self.family]

    @property
    def is_vit(self) -> bool:
        """True for the pre-LN ViT encoder."""
        return self.family == "vit"

    @classmethod
    def from_workload(cls, wl: WorkloadSpec) -> EncoderDims:
        """The dimensions of a workload."""
        return cls(family=wl.family, layers=wl.layers, hidden=wl.hidden, heads=wl.heads,
                   intermediate=wl.intermediate, vocab=wl.vocab, max_positions=wl.max_positions,
                   type_vocab=wl.type_vocab, norm_eps=wl.norm_eps, pooler=wl.pooler,
                   image_size=wl.image_size, patch_size=wl.patch_size, channels=wl.channels)
