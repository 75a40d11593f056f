"""The workload: a BERT-family or ViT encoder described by its shape parameters."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sim.config.schema import spec_field

FAMILIES = ("bert", "roberta", "distilbert", "vit")


@dataclass(frozen=True, kw_only=True)
class WorkloadSpec:
    """A transformer encoder workload (one YAML file under workloads/, or a Hugging Face config.json)."""

    version: int = spec_field(doc="schema version", choices=(1,))
    name: str = spec_field(doc="workload name")
    family: str = spec_field(doc="model family", choices=FAMILIES)
    layers: int = spec_field(doc="encoder layers", ge=1, le=1024)
    hidden: int = spec_field(doc="hidden size (model width)", ge=1, le=1 << 16)
    heads: int = spec_field(doc="attention heads", ge=1, le=1024)
    intermediate: int = spec_field(doc="FFN inner size", ge=1, le=1 << 18)
    seq_len: int = spec_field(doc="tokens per sequence (for ViT: patches + 1 class token)", ge=1, le=1 << 16)
    batch: int = spec_field(1, doc="sequences per inference", ge=1, le=1 << 12)
    vocab: int = spec_field(0, doc="vocabulary size (0 for ViT)", ge=0, le=1 << 22)
    max_positions: int = spec_field(512, doc="position-embedding table rows", ge=1, le=1 << 20)
    type_vocab: int = spec_field(2, doc="token-type embedding rows (0: none)", ge=0, le=1 << 16)
    activation: str = spec_field("gelu", doc="FFN activation", choices=("gelu",))
    norm_eps: float = spec_field(1e-12, doc="LayerNorm epsilon", gt=0)
    pooler: bool = spec_field(True, doc="has a pooler (BERT/RoBERTa) or classifier head (ViT)")
    image_size: int = spec_field(0, doc="ViT input image side in pixels", ge=0, le=1 << 14)
    patch_size: int = spec_field(0, doc="ViT patch side in pixels", ge=0, le=1 << 14)
    channels: int = spec_field(3, doc="ViT input channels", ge=1, le=1024)
    num_classes: int = spec_field(0, doc="ViT classifier outputs (0: no classifier)", ge=0, le=1 << 20)
    source: str = spec_field("", doc="where the shape parameters come from")

    @property
    def head_dim(self) -> int:
        """Per-head width."""
        return self.hidden // self.heads

    @property
    def tokens(self) -> int:
        """Rows of every token-wise GEMM: batch x seq_len."""
        return self.batch * self.seq_len

    def check(self):
        """Semantic checks across fields."""
        if self.hidden % self.heads:
            yield "heads", f"must divide hidden ({self.hidden}), got {self.heads}"
        if self.family == "vit":
            if self.image_size <= 0 or self.patch_size <= 0:
                yield "patch_size", "a ViT workload needs image_size and patch_size > 0"
            elif self.image_size % self.patch_size:
                yield "patch_size", f"must divide image_size ({self.image_size}), got {self.patch_size}"
            elif self.seq_len != (self.image_size // self.patch_size) ** 2 + 1:
                n = (self.image_size // self.patch_size) ** 2 + 1
                yield "seq_len", f"a ViT sees (image_size/patch_size)^2 + 1 = {n} tokens, got {self.seq_len}"
        else:
            if self.vocab <= 0:
                yield "vocab", f"a {self.family} workload needs vocab > 0, got {self.vocab}"
            if self.seq_len > self.max_positions:
                yield "seq_len", f"must be <= max_positions ({self.max_positions}), got {self.seq_len}"

    def with_overrides(self, seq_len: int | None = None, batch: int | None = None) -> WorkloadSpec:
        """A copy with ``seq_len``/``batch`` replaced (None keeps the value)."""
        changes = {}
        if seq_len is not None:
            changes["seq_len"] = seq_len
        if batch is not None:
            changes["batch"] = batch
        return replace(self, **changes) if changes else self  # type: ignore[arg-type]
