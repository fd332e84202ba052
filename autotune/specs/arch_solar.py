"""Parser for Upstage Solar Open (model_type solar_open; Solar-Open-100B).

Follows `models/solar_open/modeling_solar_open.py` in Hugging Face transformers: a GLM-4.5-style
MoE in which every decoder layer (SolarOpenDecoderLayer builds SolarOpenMoE whatever
`first_k_dense_replace` says) holds q/k/v projections with biases when `attention_bias` is set
(o_proj never), input and post-attention RMSNorms, a sigmoid router whose weight (experts x hidden)
and `e_score_correction_bias` (experts) the checkpoint stores, `n_routed_experts` SwiGLU experts of
width `moe_intermediate_size`, and one shared MLP of width moe_intermediate_size x n_shared_experts.
(Upstage's older Solar models, e.g. SOLAR-10.7B, are model_type llama.)
"""
from __future__ import annotations

from autotune.specs.arch_common import (
    ConfigReader,
    LayerCount,
    MoeShape,
    assemble,
    attention_shape,
    expert_count_check,
    gated_mlp_params,
    linear_params,
    rms_norm_params,
)
from autotune.specs.model import ModelSpec


def parse_solar_open(cfg: ConfigReader, model_type: str) -> ModelSpec:
    """Returns the ModelSpec of a Solar Open config (SolarOpenConfig defaults where a key is absent)."""
    num_layers = cfg.integer("num_hidden_layers", default=48)
    hidden = cfg.integer("hidden_size", default=4096)
    heads = cfg.integer("num_attention_heads", default=64)
    kv_heads = cfg.integer("num_key_value_heads", default=8)
    if not cfg.has("head_dim"):
        # SolarOpenConfig declares head_dim = 128 as its default, not hidden_size // heads.
        cfg = ConfigReader({**cfg.data, "head_dim": 128}, cfg.source)
    head_dim = attention_shape(cfg, hidden=hidden, heads=heads, kv_heads=kv_heads)
    vocab = cfg.integer("vocab_size", default=196_608)
    max_positions = cfg.integer("max_position_embeddings", default=131_072)
    tied = cfg.flag("tie_word_embeddings", default=False)
    experts = cfg.integer("n_routed_experts", default=128, maximum=1 << 16)
    top_k = cfg.integer("num_experts_per_tok", default=8, maximum=1 << 16)
    expert_count_check(cfg, experts=experts, top_k=top_k, top_k_key="num_experts_per_tok")
    width = cfg.integer("moe_intermediate_size", default=1280, maximum=1 << 22)
    shared_count = cfg.integer("n_shared_experts", default=1, minimum=0, maximum=1 << 10)
    bias = cfg.flag("attention_bias", default=False)

    attention = (linear_params(hidden, heads * head_dim, bias=bias)
                 + 2 * linear_params(hidden, kv_heads * head_dim, bias=bias)
                 + linear_params(heads * head_dim, hidden, bias=False))
    norms = 2 * rms_norm_params(hidden)
    expert = gated_mlp_params(hidden, width)
    router = experts * hidden + experts
    shared = gated_mlp_params(hidden, width * shared_count) if shared_count else 0
    layer = LayerCount(total=attention + norms + router + experts * expert + shared,
                       active=attention + norms + router + top_k * expert + shared, moe=True)
    moe = MoeShape(num_experts=experts, experts_per_token=top_k, num_shared_experts=shared_count,
                   expert_params=expert, intermediate_size=width)
    final = rms_norm_params(hidden) + (0 if tied else vocab * hidden)
    # intermediate_size sizes no tensor (no layer is dense); as for the other MoE parsers it is kept as the
    # FFN width a token's activations span: 10240 on Solar-Open-100B = 8 routed x 1280 (top-k x width if absent).
    intermediate = cfg.integer("intermediate_size", default=top_k * width, maximum=1 << 22)
    return assemble(cfg, model_type=model_type, num_layers=num_layers, hidden=hidden, intermediate=intermediate,
                    heads=heads, kv_heads=kv_heads, head_dim=head_dim, vocab=vocab, max_positions=max_positions,
                    tied=tied, embedding_params=vocab * hidden, final_params=final, layers=[layer] * num_layers,
                    moe=moe)
