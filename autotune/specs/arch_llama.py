"""Parsers for the Llama-style decoders: RMSNorm, rotary positions, gated FFN, GQA.

Covers llama, mistral, mixtral, qwen2, qwen2_moe, qwen3, qwen3_moe, gemma, gemma2,
gemma3_text and phi3. They differ only in which tensors a layer stores; each difference
below names the Hugging Face `transformers` module (`modeling_<type>.py`) it follows.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from autotune.specs.arch_common import (
    ConfigReader,
    LayerCount,
    MoeShape,
    assemble,
    decoder_shape,
    expert_count_check,
    gated_mlp_params,
    gqa_attention_params,
    linear_params,
    rms_norm_params,
    sliding_layers_from_types,
)
from autotune.specs.model import ModelSpec


@dataclass(frozen=True, kw_only=True)
class _Family:
    """What one model_type's decoder layer holds beyond the common Llama layout."""

    qkv_bias: str | bool
    """True/False, or the config key that switches the q/k/v biases (default false)."""
    o_bias: str | bool
    norms_per_layer: int
    qk_norm: bool = False
    """Qwen3 / Gemma-3: an RMSNorm of width head_dim on queries and one on keys."""
    mlp_bias: str | bool = False
    tied_default: bool = False
    """`tie_word_embeddings` when the config does not say (the config class's default)."""
    max_positions_default: int
    """`max_position_embeddings` when the config does not say (the config class's default)."""


# Defaults are those of each `configuration_<type>.py` in transformers 4.4x.
_FAMILIES: dict[str, _Family] = {
    # LlamaAttention: q/k/v/o bias = config.attention_bias; LlamaMLP bias = config.mlp_bias.
    "llama": _Family(qkv_bias="attention_bias", o_bias="attention_bias", norms_per_layer=2,
                     mlp_bias="mlp_bias", max_positions_default=2048),
    "mistral": _Family(qkv_bias=False, o_bias=False, norms_per_layer=2, max_positions_default=131072),
    "mixtral": _Family(qkv_bias=False, o_bias=False, norms_per_layer=2, max_positions_default=131072),
    # Qwen2Attention: q/k/v with bias, o_proj without.
    "qwen2": _Family(qkv_bias=True, o_bias=False, norms_per_layer=2, max_positions_default=32768),
    "qwen2_moe": _Family(qkv_bias=True, o_bias=False, norms_per_layer=2, max_positions_default=32768),
    # Qwen3Attention: bias = config.attention_bias on all four; q_norm and k_norm.
    "qwen3": _Family(qkv_bias="attention_bias", o_bias="attention_bias", norms_per_layer=2, qk_norm=True,
                     max_positions_default=32768),
    "qwen3_moe": _Family(qkv_bias="attention_bias", o_bias="attention_bias", norms_per_layer=2,
                         qk_norm=True, max_positions_default=32768),
    # Gemma ties the LM head to the embeddings by default.
    "gemma": _Family(qkv_bias="attention_bias", o_bias="attention_bias", norms_per_layer=2,
                     tied_default=True, max_positions_default=8192),
    # Gemma2DecoderLayer: input, post-attention, pre-feedforward and post-feedforward norms.
    "gemma2": _Family(qkv_bias="attention_bias", o_bias="attention_bias", norms_per_layer=4,
                      tied_default=True, max_positions_default=8192),
    "gemma3_text": _Family(qkv_bias="attention_bias", o_bias="attention_bias", norms_per_layer=4,
                           qk_norm=True, tied_default=True, max_positions_default=131072),
    # Phi3: fused qkv_proj and gate_up_proj, no biases; the fusion does not change the counts.
    "phi3": _Family(qkv_bias=False, o_bias=False, norms_per_layer=2, max_positions_default=4096),
}

LLAMA_STYLE_TYPES: tuple[str, ...] = tuple(sorted(_FAMILIES))


def _switch(cfg: ConfigReader, setting: str | bool) -> bool:
    return setting if isinstance(setting, bool) else cfg.flag(setting, default=False)


def parse_llama_style(cfg: ConfigReader, model_type: str) -> ModelSpec:
    """Returns the ModelSpec of a Llama-style config (`model_type` in LLAMA_STYLE_TYPES)."""
    family = _FAMILIES[model_type]
    num_layers, hidden, heads, kv_heads, head_dim = decoder_shape(cfg)
    vocab = cfg.integer("vocab_size")
    intermediate = cfg.integer("intermediate_size")
    max_positions = cfg.integer("max_position_embeddings", default=family.max_positions_default)
    tied = cfg.flag("tie_word_embeddings", default=family.tied_default)

    attention = gqa_attention_params(hidden, heads, kv_heads, head_dim,
                                     qkv_bias=_switch(cfg, family.qkv_bias), o_bias=_switch(cfg, family.o_bias))
    norms = family.norms_per_layer * rms_norm_params(hidden)
    if family.qk_norm:
        norms += 2 * rms_norm_params(head_dim)
    dense_ffn = gated_mlp_params(hidden, intermediate, bias=_switch(cfg, family.mlp_bias))

    ffn_of_layer, moe = _ffn_builder(cfg, model_type, hidden=hidden, num_layers=num_layers, dense_ffn=dense_ffn)
    layers = []
    for index in range(num_layers):
        ffn_total, ffn_active, is_moe = ffn_of_layer(index)
        layers.append(LayerCount(total=attention + norms + ffn_total, active=attention + norms + ffn_active,
                                 moe=is_moe))

    embedding = vocab * hidden
    final = rms_norm_params(hidden) + (0 if tied else vocab * hidden)
    window, sliding = _sliding(cfg, model_type, num_layers)
    return assemble(cfg, model_type=model_type, num_layers=num_layers, hidden=hidden, intermediate=intermediate,
                    heads=heads, kv_heads=kv_heads, head_dim=head_dim, vocab=vocab, max_positions=max_positions,
                    tied=tied, embedding_params=embedding, final_params=final, layers=layers, moe=moe,
                    sliding_window=window, sliding_layers=sliding)


_FfnOfLayer = Callable[[int], "tuple[int, int, bool]"]


def _ffn_builder(cfg: ConfigReader, model_type: str, *, hidden: int, num_layers: int,
                 dense_ffn: int) -> tuple[_FfnOfLayer, MoeShape | None]:
    """Returns a function layer index -> (FFN scalars, scalars a token uses, is MoE), and the MoE shape."""
    if model_type == "mixtral":
        return _mixtral_ffn(cfg, hidden=hidden)
    if model_type in ("qwen2_moe", "qwen3_moe"):
        return _qwen_moe_ffn(cfg, model_type, hidden=hidden, num_layers=num_layers, dense_ffn=dense_ffn)
    return (lambda _index: (dense_ffn, dense_ffn, False)), None


def _mixtral_ffn(cfg: ConfigReader, *, hidden: int) -> tuple[_FfnOfLayer, MoeShape]:
    # MixtralSparseMoeBlock: a bias-free router (gate) and num_local_experts SwiGLU experts.
    experts = cfg.integer("num_local_experts", maximum=1 << 16)
    top_k = cfg.integer("num_experts_per_tok", default=2, maximum=1 << 16)
    expert_count_check(cfg, experts=experts, top_k=top_k, top_k_key="num_experts_per_tok")
    width = cfg.integer("intermediate_size")
    expert = gated_mlp_params(hidden, width)
    router = linear_params(hidden, experts, bias=False)
    shape = MoeShape(num_experts=experts, experts_per_token=top_k, num_shared_experts=0, expert_params=expert,
                     intermediate_size=width)
    return (lambda _index: (router + experts * expert, router + top_k * expert, True)), shape


def _qwen_moe_ffn(cfg: ConfigReader, model_type: str, *, hidden: int, num_layers: int,
                  dense_ffn: int) -> tuple[_FfnOfLayer, MoeShape]:
    # Qwen2MoeSparseMoeBlock: router, experts, and (Qwen2-MoE only) one shared expert whose
    # output is scaled by a sigmoid shared_expert_gate (Linear(hidden, 1), no bias).
    experts = cfg.integer("num_experts", maximum=1 << 16)
    top_k = cfg.integer("num_experts_per_tok", maximum=1 << 16)
    expert_count_check(cfg, experts=experts, top_k=top_k, top_k_key="num_experts_per_tok")
    width = cfg.integer("moe_intermediate_size", maximum=1 << 22)
    step = cfg.integer("decoder_sparse_step", default=1, maximum=num_layers)
    dense_only = set(cfg.int_list("mlp_only_layers", maximum=num_layers - 1))
    expert = gated_mlp_params(hidden, width)
    router = linear_params(hidden, experts, bias=False)
    shared = 0
    if model_type == "qwen2_moe":
        # Qwen2MoeConfig's default (5632) is what transformers builds when the key is absent; 0 disables it.
        shared_width = cfg.integer("shared_expert_intermediate_size", default=5632, minimum=0, maximum=1 << 22)
        if shared_width:
            shared = gated_mlp_params(hidden, shared_width) + linear_params(hidden, 1, bias=False)
    shape = MoeShape(num_experts=experts, experts_per_token=top_k, num_shared_experts=1 if shared else 0,
                     expert_params=expert, intermediate_size=width)

    def ffn(index: int) -> tuple[int, int, bool]:
        # Qwen2MoeDecoderLayer: sparse when not listed in mlp_only_layers and (i + 1) % step == 0.
        if index in dense_only or (index + 1) % step:
            return dense_ffn, dense_ffn, False
        return router + experts * expert + shared, router + top_k * expert + shared, True

    return ffn, shape


def _sliding(cfg: ConfigReader, model_type: str, num_layers: int) -> tuple[int | None, tuple[bool, ...]]:
    """Returns (window, per-layer flags) of the layers that attend within a sliding window."""
    window = cfg.optional_integer("sliding_window")
    explicit = sliding_layers_from_types(cfg, num_layers)
    if model_type in ("gemma2", "gemma3_text"):
        window = window if window is not None else 4096  # Gemma2Config default sliding_window
        if explicit is not None:
            return window, explicit
        if model_type == "gemma2":
            # Gemma2: layers 0, 2, 4, ... are local (sliding), the others global.
            return window, tuple(index % 2 == 0 for index in range(num_layers))
        # Gemma3: every `sliding_window_pattern`-th layer is global, the others local.
        pattern = cfg.integer("sliding_window_pattern", default=6, maximum=num_layers + 1)
        return window, tuple((index + 1) % pattern != 0 for index in range(num_layers))
    if window is None:
        return None, ()
    if model_type in ("qwen2", "qwen2_moe", "qwen3", "qwen3_moe"):
        # Qwen2Attention: the window applies only with use_sliding_window, and only to
        # layers at index >= max_window_layers.
        if not cfg.flag("use_sliding_window", default=False):
            return None, ()
        if explicit is not None:
            return window, explicit
        first = cfg.integer("max_window_layers", default=num_layers, minimum=0, maximum=1 << 16)
        return window, tuple(index >= first for index in range(num_layers))
    if explicit is not None:
        return window, explicit
    if model_type in ("mistral", "mixtral", "phi3"):
        # One window for every layer (Mistral-7B-v0.1: 4096; Phi-3-mini-4k: 2047).
        return window, (True,) * num_layers
    return None, ()
