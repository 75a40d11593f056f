"""The workload: a BERT-family or ViT encoder, or a decoder-only language model (GPT-2, OPT, Llama), described
by its shape parameters."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sim.config.schema import spec_field

ENCODER_FAMILIES = ("bert", "roberta", "distilbert", "vit")
DECODER_FAMILIES = ("gpt2", "opt", "llama")
FAMILIES = ENCODER_FAMILIES + DECODER_FAMILIES
DEFAULT_GEN_TOKENS = 64  # decode steps of a decoder workload unless its file or --gen-tokens says otherwise


@dataclass(frozen=True, kw_only=True)
class WorkloadSpec:
    """A transformer workload (one YAML file under workloads/, or a Hugging Face config.json).

    For a decoder family ``seq_len`` is the prompt length (the prefill pass) and ``gen_tokens`` the tokens
    generated after it, one decode step each."""

    version: int = spec_field(doc="schema version", choices=(1,))
    name: str = spec_field(doc="workload name")
    family: str = spec_field(doc="model family", choices=FAMILIES)
    layers: int = spec_field(doc="transformer layers (encoder or decoder blocks)", ge=1, le=1024)
    hidden: int = spec_field(doc="hidden size (model width)", ge=1, le=1 << 16)
    heads: int = spec_field(doc="attention heads", ge=1, le=1024)
    intermediate: int = spec_field(doc="FFN inner size", ge=1, le=1 << 18)
    seq_len: int = spec_field(doc="tokens per sequence (for ViT: patches + 1 class token)", ge=1, le=1 << 16)
    batch: int = spec_field(1, doc="sequences per inference", ge=1, le=1 << 12)
    vocab: int = spec_field(0, doc="vocabulary size (0 for ViT)", ge=0, le=1 << 22)
    max_positions: int = spec_field(512, doc="position-embedding table rows", ge=1, le=1 << 20)
    type_vocab: int = spec_field(2, doc="token-type embedding rows (0: none)", ge=0, le=1 << 16)
    activation: str = spec_field("gelu", doc="FFN activation (silu: Llama's gated SwiGLU FFN)",
                                 choices=("gelu", "relu", "silu"))
    norm_eps: float = spec_field(1e-12, doc="LayerNorm epsilon", gt=0)
    pooler: bool = spec_field(True, doc="has a pooler (BERT/RoBERTa) or classifier head (ViT)")
    image_size: int = spec_field(0, doc="ViT input image side in pixels", ge=0, le=1 << 14)
    patch_size: int = spec_field(0, doc="ViT patch side in pixels", ge=0, le=1 << 14)
    channels: int = spec_field(3, doc="ViT input channels", ge=1, le=1024)
    num_classes: int = spec_field(0, doc="ViT classifier outputs (0: no classifier)", ge=0, le=1 << 20)
    kv_heads: int = spec_field(0, doc="decoders: key/value heads (grouped-query attention; 0: as heads)", ge=0,
                               le=1024)
    norm: str = spec_field("layernorm", doc="normalization (rmsnorm: Llama)", choices=("layernorm", "rmsnorm"))
    positions: str = spec_field("learned", doc="position encoding: a learned table or rotary (Llama)",
                                choices=("learned", "rotary"))
    rope_theta: float = spec_field(10000.0, doc="rotary base frequency (positions: rotary)", gt=0)
    tie_embeddings: bool = spec_field(True, doc="decoders: the LM head is the word-embedding table")
    gen_tokens: int = spec_field(0, doc="decoders: tokens generated after the prompt (one decode step each)",
                                 ge=0, le=1 << 16)
    decode_samples: int = spec_field(8, doc="decoders: decode steps simulated exactly; the others take the cost "
                                     "of their group's middle step (0: simulate every step)", ge=0, le=1 << 16)
    source: str = spec_field("", doc="where the shape parameters come from")

    @property
    def head_dim(self) -> int:
        """Per-head width."""
        return self.hidden // self.heads

    @property
    def is_decoder(self) -> bool:
        """A decoder-only language model (prefill + decode)."""
        return self.family in DECODER_FAMILIES

    @property
    def kv_head_count(self) -> int:
        """Key/value heads (grouped-query attention shares each among heads // kv_heads query heads)."""
        return self.kv_heads or self.heads

    @property
    def kv_dim(self) -> int:
        """Width of the K (and V) projection: kv heads x head width."""
        return self.kv_head_count * self.head_dim

    @property
    def tokens(self) -> int:
        """Rows of every token-wise GEMM: batch x seq_len."""
        return self.batch * self.seq_len

    def check(self):
        """Semantic checks across fields."""
        if self.hidden % self.heads:
            yield "heads", f"must divide hidden ({self.hidden}), got {self.heads}"
        if self.is_decoder:
            if self.heads % self.kv_head_count:
                yield "kv_heads", f"must divide heads ({self.heads}), got {self.kv_heads}"
            if self.vocab <= 0:
                yield "vocab", f"a {self.family} workload needs vocab > 0, got {self.vocab}"
            if self.seq_len + self.gen_tokens > self.max_positions:
                yield "gen_tokens", (f"prompt ({self.seq_len}) + generated tokens ({self.gen_tokens}) must be <= "
                                     f"max_positions ({self.max_positions})")
            return
        for key in ("gen_tokens", "kv_heads"):
            if getattr(self, key):
                yield key, f"only decoder families ({', '.join(DECODER_FAMILIES)}) have {key}"
        if self.activation != "gelu" or self.norm != "layernorm" or self.positions != "learned":
            yield "activation", "an encoder is modelled with GELU, LayerNorm and learned positions only"
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

    def with_overrides(self, seq_len: int | None = None, batch: int | None = None,
                       gen_tokens: int | None = None, decode_samples: int | None = None) -> WorkloadSpec:
        """A copy with ``seq_len``/``batch`` (decoders: ``gen_tokens``, ``decode_samples``) replaced (None keeps
        the value)."""
        changes: dict[str, int] = {}
        if gen_tokens is not None:
            changes["gen_tokens"] = gen_tokens
        if decode_samples is not None:
            changes["decode_samples"] = decode_samples
        if seq_len is not None:
            changes["seq_len"] = seq_len
        if batch is not None:
            changes["batch"] = batch
        return replace(self, **changes) if changes else self  # type: ignore[arg-type]
