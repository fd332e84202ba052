"""ModelSpec: the facts of a transformer checkpoint that memory, compute and traffic depend on.

A ModelSpec is built by `autotune.specs.model_loader.load_model` from a Hugging Face
`config.json`; every count here is exact for the checkpoint (every tensor it stores), so
that weights in bytes are the checkpoint's size in that format.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autotune.specs.dtypes import USER_DTYPES, bytes_per_element
from autotune.specs.quantization import UNQUANTIZED_BYTES, CheckpointQuantization


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """One decoder-only transformer, as its config.json describes it."""

    name: str
    """Short preset name (`llama-3.1-70b`) or the path the user gave."""
    hf_id: str | None
    """Hugging Face id (`meta-llama/Llama-3.1-70B`) where known (a preset's, or a config's `_name_or_path`)."""
    model_type: str
    num_layers: int
    hidden_size: int
    intermediate_size: int
    """Dense FFN width (for MoE models: the dense layers' width, if any)."""
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    max_position_embeddings: int
    tie_word_embeddings: bool

    # Parameter counts, exact (every tensor the checkpoint stores).
    embedding_params: int
    """Token embeddings plus learned position embeddings (held by the first pipeline stage)."""
    final_params: int
    """Final norm plus the LM head when it is not tied (held by the last pipeline stage)."""
    layer_params: tuple[int, ...]
    """Parameters of each decoder layer, all experts included (len == num_layers)."""
    layer_active_params: tuple[int, ...]
    """Parameters of each decoder layer that one token uses (routed top-k + shared experts)."""

    # Mixture of experts (all zero for dense models).
    num_experts: int = 0
    experts_per_token: int = 0
    num_shared_experts: int = 0
    expert_params: int = 0
    """Parameters of one routed expert (gate, up, down)."""
    moe_intermediate_size: int = 0
    """FFN width of one routed expert (0 for dense models)."""
    moe_layers: tuple[bool, ...] = ()
    """Per layer: True where the FFN is routed experts (empty for dense models)."""

    # Attention shape, for FLOPs and the KV cache.
    attention_qk_head_dim: int = 0
    """Width of one head's query-key dot product (MLA: nope + rope); 0 means head_dim."""
    attention_v_head_dim: int = 0
    """Width of one head's value vector; 0 means head_dim."""
    kv_cache_elements_per_token_per_layer: int = 0
    """Elements cached per token per layer: 2 x kv_heads x head_dim (GQA), or the MLA latent."""
    kv_cache_shardable: bool = True
    """False for MLA, whose compressed latent is replicated on every tensor-parallel rank."""
    sliding_window: int | None = None
    """Context cap of the sliding-window layers, when the model has any."""
    sliding_layers: tuple[bool, ...] = ()
    """Per layer: True where the layer attends only within `sliding_window` (empty: none)."""
    lm_head_input_dim: int = 0
    """Width the LM head projects from when it is not hidden_size (OPT-350m: 512); 0 means hidden_size."""
    rope_extended_positions: int = 0
    """Context the config's rope_scaling extends the model to (yarn/dynamic/linear); 0: none (`autotune.specs.rope`)."""
    vision_params: int = 0
    """Parameters of a multimodal checkpoint's vision tower and projector (held in memory with the
    first pipeline stage, unused by text tokens); 0 for text-only checkpoints."""

    quantization: CheckpointQuantization | None = None
    """How the checkpoint stores its weights (config.json `quantization_config`); None: unquantized."""

    # Where the checkpoint lives, for the commands we emit.
    checkpoint: str | None = None
    """The local folder the user gave (a config.json's folder), which engines load; None: use `hf_id`."""

    @property
    def serving_id(self) -> str:
        """Returns what an engine's MODEL argument must be: the local folder, else the HF id, else the name."""
        return self.checkpoint or self.hf_id or self.name

    @property
    def short_name(self) -> str:
        """Returns a name without a path, for artifact names: the local folder's, the preset's or the id's last part."""
        if self.checkpoint is not None:
            folder = Path(self.checkpoint)
            # `--model .` names the current folder; its own name is the model's.
            return folder.name or folder.resolve().name or "model"
        last = self.name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        return last[:-len(".json")] if last.lower().endswith(".json") else last

    @property
    def total_params(self) -> int:
        """Returns every parameter the checkpoint stores (tied embeddings once; a vision tower included)."""
        return self.embedding_params + sum(self.layer_params) + self.final_params + self.vision_params

    @property
    def active_params(self) -> int:
        """Returns the parameters one text token touches (equal to total for dense text-only models)."""
        return self.embedding_params + sum(self.layer_active_params) + self.final_params

    @property
    def lm_head_params(self) -> int:
        """Returns the parameters of the output projection, used for every generated token."""
        return self.vocab_size * (self.lm_head_input_dim or self.hidden_size)

    @property
    def checkpoint_dtype(self) -> str | None:
        """Returns the checkpoint's native weight format (fp8, fp4, int4, int8), or None when unquantized."""
        return self.quantization.dtype if self.quantization is not None else None

    @property
    def routed_expert_params(self) -> int:
        """Returns the parameters of every routed expert of every MoE layer (0 for dense models)."""
        return sum(self.moe_layers) * self.num_experts * self.expert_params

    def decoder_bytes_per_param(self, dtype: str) -> tuple[float, float]:
        """Returns bytes per decoder-layer parameter served in `dtype`: (non-expert, routed-expert).

        In the checkpoint's own format the checkpoint's layout holds (gpt-oss MXFP4: experts 4.25
        bits, the rest 16-bit); in any other format every decoder weight takes that format's bytes.
        """
        quant = self.quantization
        if quant is None or dtype != quant.dtype:
            size = bytes_per_element(dtype)
            return size, size
        return (UNQUANTIZED_BYTES if quant.experts_only else quant.bytes_per_param), quant.bytes_per_param

    @property
    def max_context_len(self) -> int:
        """Returns the longest context (tokens) the model supports: max_position_embeddings, or the
        rope-scaled length where the config's rope_scaling extends it further."""
        return max(self.max_position_embeddings, self.rope_extended_positions)

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def qk_head_dim(self) -> int:
        return self.attention_qk_head_dim or self.head_dim

    @property
    def v_head_dim(self) -> int:
        return self.attention_v_head_dim or self.head_dim

    def weight_bytes(self, dtype: str) -> float:
        """Returns the bytes of all weights stored in `dtype` (the checkpoint's own size in its own format)."""
        if self.quantization is None or dtype != self.quantization.dtype:
            return self.total_params * bytes_per_element(dtype)
        # Quantized checkpoints keep the embeddings, the LM head (and norms) and a vision tower in 16-bit.
        dense, expert = self.decoder_bytes_per_param(dtype)
        boundary = self.embedding_params + self.final_params + self.vision_params
        routed = self.routed_expert_params
        return routed * expert + (self.total_params - routed - boundary) * dense + boundary * UNQUANTIZED_BYTES

    def kv_cache_bytes_per_token(self, kv_dtype: str = "bf16") -> float:
        """Returns the KV-cache bytes one token adds over all layers (no window cap)."""
        return self.num_layers * self.kv_cache_elements_per_token_per_layer * bytes_per_element(kv_dtype)

    def attended_tokens(self, context_len: int) -> int:
        """Returns the sum over layers of the tokens a query at position `context_len` attends to."""
        if not self.sliding_layers or self.sliding_window is None:
            return self.num_layers * context_len
        capped = min(context_len, self.sliding_window)
        return sum(capped if sliding else context_len for sliding in self.sliding_layers)

    def kv_cache_bytes(self, context_len: int, kv_dtype: str = "bf16") -> float:
        """Returns the KV-cache bytes of one sequence of `context_len` tokens, window caps applied."""
        return (self.attended_tokens(context_len) * self.kv_cache_elements_per_token_per_layer
                * bytes_per_element(kv_dtype))

    def linear_flops_per_token(self) -> float:
        """Returns the matmul FLOPs of one token through every layer and the LM head (2 per MAC)."""
        return 2.0 * (sum(self.layer_active_params) + self.lm_head_params)

    def attention_flops_per_token(self, context_len: int) -> float:
        """Returns the score and value FLOPs of one token attending to `context_len` tokens."""
        per_token = 2.0 * self.num_attention_heads * (self.qk_head_dim + self.v_head_dim)
        return per_token * self.attended_tokens(context_len)

    def prefill_flops(self, prompt_len: int) -> float:
        """Returns the FLOPs of a prefill of `prompt_len` tokens (causal: average context len/2)."""
        linear = self.linear_flops_per_token() * prompt_len
        # Causal attention: token i attends to i + 1 tokens; the sum over i is about len^2 / 2.
        attention = self.attention_flops_per_token(prompt_len) * prompt_len / 2.0
        return linear + attention

    def decode_flops_per_token(self, context_len: int) -> float:
        """Returns the FLOPs of one decode step of one sequence at `context_len`."""
        return self.linear_flops_per_token() + self.attention_flops_per_token(context_len)

    def to_dict(self, *, context_len: int = 2048) -> dict[str, Any]:
        """Returns the model's facts as JSON-ready data; FLOPs are per token at `context_len`."""
        return {
            "name": self.name,
            "hf_id": self.hf_id,
            "model_type": self.model_type,
            "total_params": self.total_params,
            "active_params": self.active_params,
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "qk_head_dim": self.qk_head_dim,
            "v_head_dim": self.v_head_dim,
            "vocab_size": self.vocab_size,
            "max_position_embeddings": self.max_position_embeddings,
            "max_context_len": self.max_context_len,
            "checkpoint": None if self.quantization is None else {
                **self.quantization.to_dict(), "weight_bytes": math.ceil(self.weight_bytes(self.quantization.dtype))},
            "tie_word_embeddings": self.tie_word_embeddings,
            "embedding_params": self.embedding_params,
            "final_params": self.final_params,
            "vision_params": self.vision_params,
            "num_experts": self.num_experts,
            "experts_per_token": self.experts_per_token,
            "num_shared_experts": self.num_shared_experts,
            "expert_params": self.expert_params,
            "num_moe_layers": sum(self.moe_layers),
            "kv_cache_elements_per_token_per_layer": self.kv_cache_elements_per_token_per_layer,
            # All layers, bf16, no window cap: what one more token of context costs.
            "kv_cache_bytes_per_token": math.ceil(self.kv_cache_bytes_per_token("bf16")),
            "kv_cache_shardable": self.kv_cache_shardable,
            "sliding_window": self.sliding_window,
            "num_sliding_layers": sum(self.sliding_layers),
            # 4-bit formats pack two values per byte; an odd count rounds up to a whole byte.
            "weight_bytes": {dtype: math.ceil(self.weight_bytes(dtype)) for dtype in USER_DTYPES},
            "flops_per_token": {
                "context_len": context_len,
                "prefill_linear": round(self.linear_flops_per_token()),
                "prefill_attention": round(self.attention_flops_per_token(context_len) / 2.0),
                "decode_linear": round(self.linear_flops_per_token()),
                "decode_attention": round(self.attention_flops_per_token(context_len)),
            },
        }
