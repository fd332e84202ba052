"""Parser for OpenAI gpt-oss (model_type gpt_oss): MoE with biases and attention sinks.

Follows `modeling_gpt_oss.py` in Hugging Face transformers: q/k/v/o projections with
biases, one learned sink logit per head, a router with a bias, and experts whose fused
gate_up and down projections carry per-expert biases. Parameters are counted logically;
the published checkpoints store the expert weights as MXFP4 blocks plus scales.
"""
from __future__ import annotations

from autotune.specs.arch_common import (
    ConfigReader,
    LayerCount,
    MoeShape,
    assemble,
    decoder_shape,
    expert_count_check,
    gqa_attention_params,
    linear_params,
    rms_norm_params,
    sliding_layers_from_types,
)
from autotune.specs.model import ModelSpec


def parse_gpt_oss(cfg: ConfigReader, model_type: str) -> ModelSpec:
    """Returns the ModelSpec of a gpt-oss config."""
    num_layers, hidden, heads, kv_heads, head_dim = decoder_shape(cfg)
    vocab = cfg.integer("vocab_size")
    width = cfg.integer("intermediate_size")
    max_positions = cfg.integer("max_position_embeddings", default=131072)
    tied = cfg.flag("tie_word_embeddings", default=False)
    bias = cfg.flag("attention_bias", default=True)
    experts = cfg.integer("num_local_experts", maximum=1 << 16)
    top_k = cfg.integer("num_experts_per_tok", "experts_per_token", default=4, maximum=1 << 16)
    expert_count_check(cfg, experts=experts, top_k=top_k, top_k_key="num_experts_per_tok")

    # GptOssAttention: biased projections and `sinks`, one logit per head.
    attention = gqa_attention_params(hidden, heads, kv_heads, head_dim, qkv_bias=bias, o_bias=bias) + heads
    norms = 2 * rms_norm_params(hidden)
    # GptOssExperts: gate_up_proj (hidden x 2 width) and down_proj (width x hidden), each with a bias.
    expert = linear_params(hidden, 2 * width, bias=True) + linear_params(width, hidden, bias=True)
    router = linear_params(hidden, experts, bias=True)
    layer = LayerCount(total=attention + norms + router + experts * expert,
                       active=attention + norms + router + top_k * expert, moe=True)

    window = cfg.integer("sliding_window", default=128, maximum=1 << 30)
    sliding = sliding_layers_from_types(cfg, num_layers)
    if sliding is None:
        # GptOssConfig default: layers alternate sliding / full, starting with sliding.
        sliding = tuple(index % 2 == 0 for index in range(num_layers))
    moe = MoeShape(num_experts=experts, experts_per_token=top_k, num_shared_experts=0, expert_params=expert,
                   intermediate_size=width)
    final = rms_norm_params(hidden) + (0 if tied else vocab * hidden)
    return assemble(cfg, model_type=model_type, num_layers=num_layers, hidden=hidden, intermediate=width,
                    heads=heads, kv_heads=kv_heads, head_dim=head_dim, vocab=vocab, max_positions=max_positions,
                    tied=tied, embedding_params=vocab * hidden, final_params=final, layers=[layer] * num_layers,
                    moe=moe, sliding_window=window, sliding_layers=sliding)
